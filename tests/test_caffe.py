"""The reference's trained FCNs as .caffemodel files: read without Caffe, converted to run folders,
and proven against OpenCV's Caffe importer on odd sizes, map by map."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fcn_tf1.ground.names import CONFIG_FILE
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.fcn import build_heads_with_end_points
from fcn_tf1.model.models import CheckpointModel, FrozenModel
from fcn_tf1.model.preprocessing import preprocess
from fcn_tf1.numbers.caffemodel import CaffeModel, CaffeModelError
from fcn_tf1.numbers.vgg16_weights import WeightsError
from fcn_tf1.workflows import conversion, export_writers
from fcn_tf1.model.checkpoints import read_vgg16
from tests.caffe_files import (deploy_prototxt, fcn_layers, vgg16_deploy_prototxt, write_caffemodel,
                               write_vgg16_caffemodel)
from tests.helpers import classifier_logits, random_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAPS = ("score_fr", "fuse_pool4", "fuse_pool3", "score")
MAPS_OF = {"fcn32s": MAPS[:1] + MAPS[3:], "fcn16s": MAPS[:2] + MAPS[3:], "fcn8s": MAPS}


def caffe_files(tmp_path, variant, width, size, atonce=False, classes=5, seed=0):
    """(caffemodel, deploy prototxt) of a random reference FCN."""
    model = str(tmp_path / ("%s.caffemodel" % variant))
    write_caffemodel(model, fcn_layers(variant, classes, width, seed, atonce))
    deploy = str(tmp_path / "deploy.prototxt")
    with open(deploy, "w") as f:
        f.write(deploy_prototxt(variant, classes, width, size[0], size[1], atonce))
    return model, deploy


def opencv_maps(model, deploy, image, names, mean=(104.00699, 116.66877, 122.67892), bgr=True):
    """Caffe's maps by OpenCV's importer, NHWC; the input prepared as the reference's data layer
    does (BGR, or the file's order with ``bgr=False`` (HHA), minus ``mean``, VOC's by default)."""
    cv2 = pytest.importorskip("cv2")
    net = cv2.dnn.readNetFromCaffe(deploy, model)
    mean = np.array(mean, np.float32)
    ordered = image[..., ::-1] if bgr else image
    net.setInput((ordered.astype(np.float32) - mean).transpose(2, 0, 1)[None])
    return {name: out[0].transpose(1, 2, 0) for name, out in zip(names, net.forward(list(names)))}


def fcn_tf1_maps(run_dir, image, names):
    """The same maps from fcn_tf1's graph of the converted run, restored from its checkpoint."""
    config = ModelConfig.load(run_dir)
    with tf.Graph().as_default():
        images = tf.placeholder(tf.uint8, [1, None, None, 3])
        _, points = build_heads_with_end_points(
            preprocess(images, config.convention), [(h.name, h.num_classes) for h in config.heads],
            config.variant, config.upsampling, config.shape_fix, config.width,
            scale_skips=config.scale_skips, backbone=config.backbone)
        with tf.Session() as session:
            tf.train.Saver().restore(session, tf.train.latest_checkpoint(run_dir))
            values = session.run([points[name] for name in names], {images: image[None]})
    return {name: value[0] for name, value in zip(names, values)}


def assert_close(ours, theirs):
    """Every map within 1e-4 of its largest magnitude; the labels equal but where Caffe's own top
    two scores are closer than that (a tie at float32 precision)."""
    for name in theirs:
        scale = np.abs(theirs[name]).max()
        assert ours[name].shape == theirs[name].shape, name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-4 * scale,
                                   err_msg=name)
    scores = theirs["score"]
    top2 = np.sort(scores, -1)[..., -2:]
    tie = top2[..., 1] - top2[..., 0] < 1e-4 * np.abs(scores).max()
    differ = ours["score"].argmax(-1) != scores.argmax(-1)
    assert not (differ & ~tie).any() and differ.sum() <= max(1, differ.size // 10000)


@pytest.mark.parametrize("variant,atonce,size", [
    ("fcn32s", False, (97, 131)), ("fcn16s", False, (131, 97)), ("fcn8s", False, (97, 131)),
    ("fcn8s", True, (101, 75))])
def test_converted_reference_fcn_computes_what_caffe_computes(tmp_path, variant, atonce, size):
    model, deploy = caffe_files(tmp_path, variant, 1 / 8., size, atonce)
    run = str(tmp_path / "run")
    config = conversion.convert_fcn(model, run)
    assert (config.variant, config.num_classes, config.width, config.shape_fix,
            config.scale_skips) == (variant, 5, 1 / 8., "pad100", atonce)
    image = np.random.RandomState(1).randint(0, 256, size + (3,)).astype(np.uint8)
    theirs = opencv_maps(model, deploy, image, MAPS_OF[variant])
    assert_close(fcn_tf1_maps(run, image, MAPS_OF[variant]), theirs)
    frozen = str(tmp_path / "frozen.pb")
    export_writers.export_frozen(run, frozen)
    with FrozenModel(frozen) as exported:
        logits, labels = exported.run(image)
    assert_close({"score": logits}, {"score": theirs["score"]})


# SIFT Flow's heads: the file's layer suffix, ours, their classes.
SIFTFLOW = (("_sem", "_semantic", 33), ("_geo", "_geometric", 3))


@pytest.mark.parametrize("variant,size", [("fcn32s", (75, 99)), ("fcn16s", (99, 75)),
                                          ("fcn8s", (83, 101))])
def test_siftflow_fcns_compute_both_heads_as_caffe_does(tmp_path, variant, size):
    """siftflow-fcn32s / 16s / 8s: one backbone, a semantic (33) and a geometric (3) head, each
    equal to Caffe's map by map; SIFT Flow's mean, the heads' names and class names in the config;
    the frozen export gives logits_<head> and prediction_<head> of each."""
    heads = [(theirs, classes) for theirs, _, classes in SIFTFLOW]
    model = str(tmp_path / "siftflow.caffemodel")
    write_caffemodel(model, fcn_layers(variant, width=1 / 16., heads=heads))
    deploy = str(tmp_path / "deploy.prototxt")
    with open(deploy, "w") as f:
        f.write(deploy_prototxt(variant, None, 1 / 16., size[0], size[1], heads=heads))
    run = str(tmp_path / "run")
    config = conversion.convert_fcn(model, run)
    assert [(h.name, h.num_classes, h.class_names[-1]) for h in config.heads] == [
        ("semantic", 33, "window"), ("geometric", 3, "vertical")]
    assert config.convention == ("BGR", (114.578, 115.294, 108.353))
    image = np.random.RandomState(3).randint(0, 256, size + (3,)).astype(np.uint8)
    names = [m + ours for _, ours, _ in SIFTFLOW for m in MAPS_OF[variant]]
    theirs = opencv_maps(model, deploy, image, [m + t for t, _, _ in SIFTFLOW
                                                for m in MAPS_OF[variant]],
                         mean=config.convention.mean)
    ours = fcn_tf1_maps(run, image, names)
    for (suffix, mine, _) in SIFTFLOW:
        assert_close({m: ours[m + mine] for m in MAPS_OF[variant]},
                     {m: theirs[m + suffix] for m in MAPS_OF[variant]})
    frozen = str(tmp_path / "frozen.pb")
    export_writers.export_frozen(run, frozen)
    with FrozenModel(frozen) as exported:
        outputs = exported.run(image)
        labels = exported.predict(image)
    assert [h.logits for h in exported.signature.heads] == ["logits_semantic", "logits_geometric"]
    for (suffix, _, _), logits, prediction, index in zip(SIFTFLOW, outputs[::2], outputs[1::2],
                                                          range(2)):
        assert_close({"score": logits}, {"score": theirs["score" + suffix]})
        np.testing.assert_array_equal(prediction, logits.argmax(-1))
        np.testing.assert_array_equal(labels[..., index], prediction)


def test_nyuds_color_and_hha_fcns_take_their_own_inputs_and_are_never_guessed(tmp_path):
    """NYUDv2's color and HHA nets both have 40 classes: the file cannot say which, so conversion
    needs --data; nyud-color then subtracts NYUDv2's colour mean from BGR, nyud-hha its HHA mean
    from the HHA channels in their file's order, each computing what Caffe computes."""
    size = (83, 117)
    model, deploy = caffe_files(tmp_path, "fcn32s", 1 / 16., size, classes=40)
    run = str(tmp_path / "run")
    from fcn_tf1.weights import describe_caffemodel
    with CaffeModel(model) as opened:
        assert ("Caffe geometry (pad100), the data set (and its mean) to be named with --data: "
                "nyud-color or nyud-hha" in describe_caffemodel(opened))
    with pytest.raises(ValueError, match=r"fcn32s.caffemodel: a 40-class FCN is one of the "
                                         r"reference's nyud-color / nyud-hha nets"):
        conversion.convert_fcn(model, run)
    with pytest.raises(ValueError, match="--data voc: its nets have 21 classes, this one 40"):
        conversion.convert_fcn(model, run, data="voc")
    assert not os.path.exists(run)
    image = np.random.RandomState(2).randint(0, 256, size + (3,)).astype(np.uint8)
    for data, mean, bgr in (("nyud-color", (116.190, 97.203, 92.318), True),
                            ("nyud-hha", (132.431, 94.076, 118.477), False)):
        config = conversion.convert_fcn(model, run, data=data, force=True)
        assert config.convention == ("BGR" if bgr else "RGB", mean)
        assert config.modality == ("image" if bgr else "hha")
        theirs = opencv_maps(model, deploy, image, MAPS_OF["fcn32s"], mean=mean, bgr=bgr)
        assert_close(fcn_tf1_maps(run, image, MAPS_OF["fcn32s"]), theirs)


def _coordinate_offsets():
    """The crops of voc-fcn*s/net.py and voc-fcn-alexnet/net.py derived as Caffe's coord_map
    derives them, from each layer's kernel, stride and pad (a layer maps y to a * y + b in its
    input's coordinates)."""
    from fractions import Fraction

    def conv(k, s=1, p=0):
        return Fraction(s), Fraction(k - 1, 2) - p

    def deconv(k, s):
        a, b = conv(k, s)
        return 1 / a, -b / a

    def to_data(maps):
        a_total, b_total = Fraction(1), Fraction(0)
        for a, b in maps:
            a_total, b_total = a_total * a, a_total * b + b_total
        return a_total, b_total
    blocks = [[conv(3, 1, 100), conv(3, 1, 1)], [conv(3, 1, 1)] * 2] + [[conv(3, 1, 1)] * 3] * 3
    pools = []
    for block in blocks:
        pools.append((pools[-1] if pools else []) + block + [conv(2, 2)])
    score_fr = pools[4] + [conv(7), conv(1), conv(1)]
    up2, up4 = score_fr + [deconv(4, 2)], score_fr + [deconv(4, 2), deconv(4, 2)]
    offsets = {}
    for name, upper, lower in (("fuse_pool4", up2, pools[3]), ("fuse_pool3", up4, pools[2])):
        (_, b1), (a2, b2) = to_data(upper), to_data(lower + [conv(1)])
        offsets[name] = (b1 - b2) / a2
    for name, path in (("upscore32", score_fr + [deconv(64, 32)]),
                       ("upscore16", up2 + [deconv(32, 16)]), ("upscore8", up4 + [deconv(16, 8)])):
        a, b = to_data(path)
        offsets[name] = -b / a
    # voc-fcn-alexnet: conv1 11x11/4 pad 100, 3x3/2 pools, conv2 pad 2, fc6 6x6, upscore 63/32.
    alexnet = ([conv(11, 4, 100), conv(3, 2), conv(5, 1, 2), conv(3, 2)] + [conv(3, 1, 1)] * 3 +
               [conv(3, 2), conv(6), conv(1), conv(1), deconv(63, 32)])
    a, b = to_data(alexnet)
    offsets["alexnet upscore32"] = -b / a
    return offsets


def test_the_reference_geometry_holds_without_opencv(tmp_path):
    """Crops, BGR order and mean pinned by first principles, where no OpenCV is installed."""
    from fcn_tf1.numbers.backbone_shapes import REGISTRY as BACKBONES
    offsets = _coordinate_offsets()
    assert offsets == {"fuse_pool4": 5, "fuse_pool3": 9, "upscore32": 19, "upscore16": 27,
                       "upscore8": 31, "alexnet upscore32": 18}
    assert {("alexnet " if name == "alexnet" else "") + layer: offset
            for name, backbone in BACKBONES.items()
            for layer, offset in backbone.crop_offsets.items()} == offsets
    model, _ = caffe_files(tmp_path, "fcn8s", 1 / 16., (35, 41))
    run = str(tmp_path / "run")
    conversion.convert_fcn(model, run)
    frozen = str(tmp_path / "frozen.pb")
    export_writers.export_frozen(run, frozen)
    image = np.random.RandomState(2).randint(0, 256, (35, 41, 3)).astype(np.uint8)
    with FrozenModel(frozen, "tf") as exported:
        graph = exported.engine.graph
        first = [op for op in graph.get_operations() if op.type == "Conv2D"][0]
        crops = {op.name.split("/")[-1]: op.inputs[0].op for op in graph.get_operations()
                 if op.type == "Identity" and op.inputs and op.inputs[0].op.type == "StridedSlice"}
        seen = {name: exported.session.run(slice_op.inputs[1])[1:3].tolist()
                for name, slice_op in crops.items()}
        fed = exported.session.run(first.inputs[0], {exported.input: image})
    assert seen == {"fuse_pool4_crop": [5, 5], "fuse_pool3_crop": [9, 9], "score": [31, 31]}
    # The export does the reference's preparation inside: BGR, its mean, no scaling, pad 100.
    mean_bgr = np.array([104.00699, 116.66877, 122.67892], np.float32)
    expected = np.pad(image[..., ::-1].astype(np.float32) - mean_bgr, [(100, 100), (100, 100), (0, 0)],
                      mode="constant")
    np.testing.assert_allclose(fed[0], expected, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(333, 500), (500, 375)])
def test_full_width_fcn8s_matches_caffe_at_odd_sizes(tmp_path, size):
    model, deploy = caffe_files(tmp_path, "fcn8s", 1.0, size, classes=21)
    run = str(tmp_path / "run")
    conversion.convert_fcn(model, run)
    image = np.random.RandomState(2).randint(0, 256, size + (3,)).astype(np.uint8)
    assert_close(fcn_tf1_maps(run, image, MAPS), opencv_maps(model, deploy, image, MAPS))


def test_the_reader_takes_old_files_v1_layers_legacy_shapes_unpacked_floats(tmp_path):
    layers = fcn_layers("fcn32s", 3, 1 / 16.)
    new, old = str(tmp_path / "new.caffemodel"), str(tmp_path / "old.caffemodel")
    write_caffemodel(new, layers)
    write_caffemodel(old, [(n, k, b) for n, k, b in layers], v1=True, legacy_shape=True,
                     packed=False)
    with CaffeModel(new) as a, CaffeModel(old) as b:
        assert [x.name for x in a.layers] == [x.name for x in b.layers] == [x[0] for x in layers]
        assert [x.type for x in b.layers] == [x[1] for x in layers]
        for (name, _, blobs), layer in zip(layers, b.layers):
            for expected, read in zip(blobs, layer.blobs):
                np.testing.assert_array_equal(read.reshape(expected.shape), expected, err_msg=name)
        np.testing.assert_array_equal(a.by_name["score_fr"].blobs[0], layers[-2][2][0])


def test_weights_inspect_and_convert_commands(tmp_path):
    model, _ = caffe_files(tmp_path, "fcn16s", 1 / 16., (64, 64), classes=3)
    names = tmp_path / "classes.txt"
    names.write_text("sky\nroad\ncar\n")

    def weights(*args):
        return subprocess.run([sys.executable, "-m", "fcn_tf1.weights"] + list(args), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    result = weights("inspect", model)
    assert result.returncode == 0, result.stderr
    assert "upscore16        Deconvolution  3x3x32x32" in result.stdout
    assert "fcn16s on vgg16, 3 classes, width 0.0625" in result.stdout
    run = str(tmp_path / "run")
    result = weights("convert", model, "--output", run, "--class-names", str(names))
    assert result.returncode == 0, result.stderr
    assert ModelConfig.load(run).class_names == ["sky", "road", "car"]
    with CheckpointModel(run) as loaded:
        assert loaded.global_step() == 0
    result = weights("convert", model, "--output", run)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "fcn_tf1.weights: error: %s: exists and was not written by fcn_tf1; choose another path "
        "or pass --force to replace it" % run]
    assert weights("convert", model, "--output", run, "--force").returncode == 0
    assert ModelConfig.load(run).class_names == ["class_0", "class_1", "class_2"]


@pytest.mark.parametrize("damage,message", [
    (lambda data: data[:len(data) // 2], "not a readable .caffemodel (truncated or another format"),
    (lambda data: b'name: "FCN"\nlayer { name: "conv1_1" }\n',
     "not a readable .caffemodel (truncated or another format"),
    (lambda data: b"", "empty file, not a Caffe model")])
def test_damaged_files_are_one_line_and_write_nothing(tmp_path, damage, message):
    model, _ = caffe_files(tmp_path, "fcn8s", 1 / 16., (64, 64))
    with open(model, "rb") as f:
        data = f.read()
    with open(model, "wb") as f:
        f.write(damage(data))
    with pytest.raises(CaffeModelError, match="^%s: %s" % (model, message.replace("(", r"\("))):
        conversion.convert_fcn(model, str(tmp_path / "run"))
    assert not os.path.exists(str(tmp_path / "run"))


def test_another_network_or_shape_is_refused_naming_the_layer(tmp_path):
    alexnet = str(tmp_path / "alexnet.caffemodel")
    write_caffemodel(alexnet, [("conv1", "Convolution", [np.zeros((96, 3, 11, 11), np.float32)]),
                               ("fc8", "InnerProduct", [np.zeros((1000, 4096), np.float32)])])
    with pytest.raises(ValueError, match="alexnet.caffemodel: not an FCN"):
        conversion.convert_fcn(alexnet, str(tmp_path / "run"))
    layers = fcn_layers("fcn16s", 5, 1 / 16.)
    name, kind, blobs = layers[-2]  # score_pool4 with one channel too many
    layers[-2] = (name, kind, [np.zeros((5, blobs[0].shape[1] + 1, 1, 1), np.float32), blobs[1]])
    odd = str(tmp_path / "odd.caffemodel")
    write_caffemodel(odd, layers)
    with pytest.raises(CaffeModelError, match=r"odd.caffemodel: layer score_pool4 weights are "
                                              r"\(5, 33, 1, 1\), expected \(5, 32, 1, 1\)"):
        conversion.convert_fcn(odd, str(tmp_path / "run"))
    # SIFT Flow's two heads without their deconvolutions; streams of a late fusion that none of
    # the reference's has: FCNs, not VGG16 backbones, refused as what they are.
    heads = [(name.replace("score_fr", "score_fr_" + task), kind, blobs)
             for task in ("sem", "geo") for name, kind, blobs in fcn_layers("fcn32s", 3, 1 / 16.)
             if name == "score_fr"]
    two = str(tmp_path / "siftflow.caffemodel")
    write_caffemodel(two, fcn_layers("fcn32s", 3, 1 / 16.)[:-2] + heads)
    with pytest.raises(CaffeModelError, match="siftflow.caffemodel: no layer upscore_sem, which "
                                              "this FCN needs"):
        conversion.convert_fcn(two, str(tmp_path / "run"))
    fused = str(tmp_path / "fused.caffemodel")
    write_caffemodel(fused, fcn_layers("fcn32s", 3, 1 / 16.)[:-2] + [
        (name.replace("_sem", "rgb").replace("_geo", "depth"), kind, blobs)
        for name, kind, blobs in heads])
    message = ("fused.caffemodel: an FCN scored by score_frdepth, score_frrgb: fcn_tf1 converts "
               "FCNs of one score_fr, the heads score_fr_sem, score_fr_geo or the streams "
               "score_frcolor, score_frhha")
    with pytest.raises(CaffeModelError, match=re.escape(message)):
        conversion.convert_fcn(fused, str(tmp_path / "run"))
    with pytest.raises(WeightsError, match="siftflow.caffemodel: an FCN, not a VGG16 backbone"):
        read_vgg16(two, 1 / 16.)
    assert not os.path.exists(str(tmp_path / "run"))
    assert not os.path.exists(str(tmp_path / "run") + "/" + CONFIG_FILE)


def test_the_imagenet_vgg16_caffemodel_classifies_as_caffe_does(tmp_path):
    """VGG_ILSVRC_16_layers.caffemodel (fc6-fc8 InnerProduct, fc6's input C x H x W) as a backbone:
    fcn_tf1's fc-as-conv classifier on a 224x224 image gives OpenCV's fc8."""
    cv2 = pytest.importorskip("cv2")
    width = 1 / 8.
    path, deploy = str(tmp_path / "VGG_ILSVRC_16_layers.caffemodel"), str(tmp_path / "vgg.prototxt")
    write_vgg16_caffemodel(path, random_weights(width))
    with open(deploy, "w") as f:
        f.write(vgg16_deploy_prototxt(width))
    weights = read_vgg16(path, width)
    assert weights.format == "caffemodel" and weights.convention.channel_order == "BGR"
    from fcn_tf1.weights import describe_caffemodel
    with CaffeModel(path) as model:
        assert describe_caffemodel(model).endswith(
            "ImageNet weights of the vgg16 backbone (BGR, ImageNet mean) for train --backbone "
            "vgg16 --backbone-weights")
    image = np.random.RandomState(3).uniform(-120, 120, (1, 224, 224, 3)).astype(np.float32)
    net = cv2.dnn.readNetFromCaffe(deploy, path)
    net.setInput(image.transpose(0, 3, 1, 2).copy())
    theirs = net.forward("fc8").reshape(-1)
    (_, ours), = classifier_logits(weights, width, [image])
    np.testing.assert_allclose(ours.reshape(-1), theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())


def test_training_starts_from_a_converted_reference_fcn(tmp_path):
    from fcn_tf1.train import main as train_main
    model, _ = caffe_files(tmp_path, "fcn32s", 1 / 16., (64, 64))
    coarse = str(tmp_path / "fcn32s")
    conversion.convert_fcn(model, coarse)
    assert train_main(["--variant", "fcn16s", "--init-from", coarse, "--width", "0.0625",
                       "--steps", "1", "--batch-size", "2", "--crop-size", "48", "--no-eval",
                       "--no-export", "--synthetic-size", "4", "--checkpoint-root",
                       str(tmp_path), "--run", "fine"]) == 0
    fine = str(tmp_path / "fine")
    assert ModelConfig.load(fine).convention == ModelConfig.load(coarse).convention
    start = tf.train.NewCheckpointReader(fine + "/model.ckpt-0")
    converted = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(coarse))
    for name in ("conv1_1/kernel", "fc6/kernel", "score_fr/bias"):
        np.testing.assert_array_equal(start.get_tensor(name), converted.get_tensor(name))
