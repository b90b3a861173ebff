"""NYUDv2 in the reference's layout: colour and HHA PNGs, the 40-class task's MAT files shifted to
0-39 with unlabelled pixels void, the split files, and the commands; converted nyud-fcn32s-color
and -hha runs take its class names and are scored on it, each on its own input."""
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from fcn_tf1.data.nyud import CLASSES, NYUDDataset
from fcn_tf1.data.source import DataSource
from fcn_tf1.data.validate import check_dataset
from fcn_tf1.evaluate import main as evaluate_main
from fcn_tf1.export import main as export_main
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.models import CheckpointModel, FrozenModel
from fcn_tf1.train import main as train_main
from fcn_tf1.workflows import conversion
from tests.caffe_files import (fcn_layers, fused_deploy_prototxt, fused_layers,
                               write_caffemodel)
from tests.helpers import random_weights, write_caffe_npy
from tests.test_caffe import assert_close

SIZE = (41, 53)


def write_nyud(root, splits, seed=0):
    """An NYUDv2 folder: {split: [ids]}; each image's left half is its class's colour, the rest
    noise labelled 0-40 (0 unlabelled); the HHA PNGs are the images' channels reversed, the depth
    PNGs (16-bit) 1000 mm times the class on the left half, noise with holes (0) elsewhere."""
    for folder in ("data/images", "data/hha", "data/depth", "segmentation"):
        os.makedirs(os.path.join(root, folder))
    rng = np.random.RandomState(seed)
    for split, ids in splits.items():
        for name in ids:
            number = rng.randint(1, 5)
            labels = rng.randint(0, len(CLASSES) + 1, SIZE).astype(np.uint8)
            labels[:, :SIZE[1] // 2] = number
            image = rng.randint(0, 60, SIZE + (3,)).astype(np.uint8)
            image[:, :SIZE[1] // 2] = 50 * number
            Image.fromarray(image).save(os.path.join(root, "data", "images", "img_%s.png" % name))
            Image.fromarray(image[..., ::-1].copy()).save(
                os.path.join(root, "data", "hha", "img_%s.png" % name))
            depth = rng.randint(0, 9000, SIZE).astype(np.uint16)
            depth[:, :SIZE[1] // 2] = 1000 * number
            Image.fromarray(depth).save(os.path.join(root, "data", "depth", "img_%s.png" % name))
            scipy.io.savemat(os.path.join(root, "segmentation", "img_%s.mat" % name),
                             {"segmentation": labels})
        with open(os.path.join(root, split + ".txt"), "w") as f:
            f.write("".join(name + "\n" for name in ids))
    return root


def test_labels_shift_to_the_40_classes_with_unlabelled_void(tmp_path):
    root = write_nyud(str(tmp_path), {"test": ["5001", "5002"]})
    data = NYUDDataset(root, "test")
    assert data.num_classes == 40 and data.class_names[:3] == ("wall", "floor", "cabinet")
    for i in range(len(data)):
        image, label = data.load(i)
        numbers = scipy.io.loadmat(data.paths(i)[1])["segmentation"].astype(int)
        assert image.shape == SIZE + (3,) and label.dtype == np.uint8
        np.testing.assert_array_equal(label, np.where(numbers == 0, IGNORE_LABEL, numbers - 1))
    assert check_dataset(data) == []
    hha = NYUDDataset(root, "test", ("hha",))
    assert hha.modality == "hha"
    np.testing.assert_array_equal(hha.load(0)[0], data.load(0)[0][..., ::-1])
    np.testing.assert_array_equal(hha.load(0)[1], data.load(0)[1])


def test_a_bad_label_file_or_split_names_its_file(tmp_path):
    root = write_nyud(str(tmp_path), {"train": ["1", "2", "3", "4"]})
    seg = os.path.join(root, "segmentation")
    scipy.io.savemat(os.path.join(seg, "img_1.mat"), {"labels": np.zeros(SIZE, np.uint8)})
    scipy.io.savemat(os.path.join(seg, "img_2.mat"), {"segmentation": np.full(SIZE, 41, np.uint8)})
    with open(os.path.join(seg, "img_3.mat"), "wb") as f:
        f.write(b"\x80\x03cos\nsystem\nq\x00.")  # a pickle is not a MAT file: never run
    os.remove(os.path.join(root, "data", "images", "img_4.png"))
    text = "\n".join(check_dataset(NYUDDataset(root, "train")))
    assert "img_1.mat: not an NYUDv2 label file (no segmentation)" in text
    assert "img_2.mat: segmentation holds numbers outside 0-40" in text
    assert "img_3.mat: cannot read .mat" in text
    assert "img_4.png" in text


def test_nyud_trains_and_converted_nets_are_scored_on_their_own_inputs(tmp_path, capsys):
    root = write_nyud(str(tmp_path / "nyud"), {"trainval": ["1", "2", "3"], "test": ["4", "5"]})
    color, hha = (["--data", name, "--data-dir", root] for name in ("nyud", "nyud-hha"))
    assert train_main(hha + ["--train-split", "trainval", "--val-split", "test", "--steps", "2",
                             "--width", "0.0625", "--preset", "quick", "--checkpoint-root",
                             str(tmp_path / "runs")]) == 0
    assert "wall" in capsys.readouterr().out  # the per-class IU names the data set's classes
    trained = tmp_path / "runs" / "nyud-hha-fcn8s"
    with FrozenModel(str(trained / "frozen_model.pb")) as exported:
        assert exported.config.modality == "hha" and exported.signature.image.name == "hha"
        assert exported.run(NYUDDataset(root, "test", ("hha",)).load(0)[0])[1].shape == SIZE
    model = str(tmp_path / "nyud.caffemodel")
    write_caffemodel(model, fcn_layers("fcn32s", 40, 1 / 16.))
    for data, flags in (("nyud-color", color), ("nyud-hha", hha)):
        run = str(tmp_path / data)
        assert tuple(conversion.convert_fcn(model, run, data=data).class_names) == CLASSES
        assert evaluate_main(["--checkpoint-dir", run, "--split", "test"] + flags) == 0
        out = capsys.readouterr().out
        assert "mean_iou" in out and "night stand" in out
    assert evaluate_main(["--checkpoint-dir", str(tmp_path / "nyud-hha"), "--split", "test"] +
                         color) == 1
    assert capsys.readouterr().err.strip() == ("fcn_tf1.evaluate: error: the model takes hha "
                                               "input, the data set gives image (--data nyud)")
    # export --int8 calibrates only on the model's own input (checked before anything is written).
    out = tmp_path / "int8"
    assert export_main(["--checkpoint-dir", str(trained), "--output", str(out / "m.pb"), "--int8",
                        str(out / "m.xml"), "--calibration-split", "trainval",
                        "--validation-split", "test"] + color) == 1
    assert capsys.readouterr().err.strip() == ("fcn_tf1.export: error: --data nyud, trainval "
                                               "split: image input, the model takes hha")
    assert not out.exists()


@pytest.mark.parametrize("fusion,size", [("early", (83, 117)), ("late", (99, 75))])
def test_fused_nets_compute_what_caffe_computes(tmp_path, fusion, size):
    """nyud-fcn32s-color-d (BGR and log depth concatenated: conv1_1_bgrd on 4 channels) and
    nyud-fcn32s-color-hha (a stream each, score_fr averaged 0.5 / 0.5): converted without --data
    (their layers say which), equal to Caffe's scores through OpenCV; a depth of 0 (no reading)
    counts as the mean log depth."""
    cv2 = pytest.importorskip("cv2")
    model, deploy = str(tmp_path / "fused.caffemodel"), str(tmp_path / "deploy.prototxt")
    write_caffemodel(model, fused_layers(fusion, 40, 1 / 16.))
    with open(deploy, "w") as f:
        f.write(fused_deploy_prototxt(fusion, 40, 1 / 16., *size))
    config = conversion.convert_fcn(model, str(tmp_path / "run"))
    second = "depth" if fusion == "early" else "hha"
    assert [i.modality for i in config.inputs] == ["image", second] and config.fusion == fusion
    assert tuple(config.class_names) == CLASSES
    rng = np.random.RandomState(4)
    image = rng.randint(0, 256, size + (3,)).astype(np.uint8)
    other = (rng.randint(500, 9000, size).astype(np.uint16) if second == "depth" else
             rng.randint(0, 256, size + (3,)).astype(np.uint8))
    if second == "depth":
        other[:5, :7] = 0  # no reading: the mean log depth (0 after preprocessing) in both
    net = cv2.dnn.readNetFromCaffe(deploy, model)
    net.setInput((image[..., ::-1] - np.float32([116.190, 97.203, 92.318])).transpose(
        2, 0, 1)[None].astype(np.float32), "color")
    if second == "depth":
        logd = np.where(other > 0, np.log(np.maximum(other, 1).astype(np.float32)) - 7.844, 0)
        net.setInput(logd[None, None].astype(np.float32), "depth")
    else:
        net.setInput((other - np.float32([132.431, 94.076, 118.477])).transpose(
            2, 0, 1)[None].astype(np.float32), "hha")
    theirs = net.forward("score")[0].transpose(1, 2, 0)
    with CheckpointModel(str(tmp_path / "run")) as ours:
        logits, labels = ours.run({"image": image, second: other})
    assert_close({"score": logits}, {"score": theirs})
    # predict pairs the files by name: the mask is the labels of this image with this depth / HHA
    from fcn_tf1.predict import main as predict_main
    from fcn_tf1.workflows import export_writers
    for folder, array in (("images", image), (second, other)):
        os.makedirs(str(tmp_path / folder))
        Image.fromarray(array).save(str(tmp_path / folder / "x.png"))
    export_writers.export_frozen(str(tmp_path / "run"), str(tmp_path / "m.pb"))
    assert predict_main([str(tmp_path / "images"), "--graph", str(tmp_path / "m.pb"), "--input",
                         "%s=%s" % (second, tmp_path / second), "--output-dir",
                         str(tmp_path / "masks")]) == 0
    mask = np.asarray(Image.open(str(tmp_path / "masks" / "x.png")))
    assert len(np.unique(labels)) > 2 and (mask == labels).mean() > 0.999
    _agree_on_every_runtime(tmp_path, {"image": image, second: other}, logits, size)


def _agree_on_every_runtime(tmp_path, feeds, logits, size):
    """The export of both inputs on ONNX Runtime, OpenVINO and (TensorFlow 2) TFLite: TensorFlow's
    logits; TensorFlow 1.15's TFLite converter refuses two input types in one line."""
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.model.runtimes import tflite_takes_uint16
    from fcn_tf1.workflows import export_writers
    from tests.test_runtimes import HAS_ONNX, HAS_OPENVINO
    runs = [("openvino", str(tmp_path / "m.pb"))] if HAS_OPENVINO else []
    if HAS_ONNX:
        export_writers.export_onnx(str(tmp_path / "m.pb"), str(tmp_path / "m.onnx"))
        runs.append(("onnxruntime", str(tmp_path / "m.onnx")))
    tflite = str(tmp_path / "m.tflite")
    refused = ("TensorFlow 1.15's converter gives every input one" if TF_VERSION.startswith("1.")
               else "as uint16, which this TensorFlow's" if "depth" in feeds
               and not tflite_takes_uint16() else None)  # 2.13 and 2.15's cannot be given one
    if refused:
        with pytest.raises(ValueError, match=refused):
            export_writers.export_tflite(str(tmp_path / "run"), tflite, size)
    else:
        export_writers.export_tflite(str(tmp_path / "run"), tflite, size)
        runs.append(("tflite", tflite))
    for runtime, path in runs:
        with FrozenModel(path, runtime) as exported:
            theirs = exported.run(feeds)[0]
        assert np.abs(theirs - logits).max() <= 1e-4 * np.abs(logits).max(), runtime


def test_fused_inputs_train_evaluate_export_and_predict_in_pairs(tmp_path, capsys):
    """--data nyud-color-d / nyud-color-hha: both inputs of each image read (depth as its 16-bit
    PNG stores it), a model of both trained (late fusion: FCN-32s), scored, exported and run on
    pairs of files; a missing or 8-bit depth is one line naming the file."""
    from fcn_tf1.predict import main as predict_main
    root = write_nyud(str(tmp_path / "nyud"), {"trainval": ["1", "2", "3"], "test": ["4", "5"]})
    data = NYUDDataset(root, "test", ("image", "depth"), "early")
    inputs, label = data.load(0)
    assert inputs["depth"].dtype == np.uint16 and inputs["depth"].shape == SIZE
    np.testing.assert_array_equal(inputs["image"], NYUDDataset(root, "test").load(0)[0])
    weights = random_weights(1 / 16.)
    write_caffe_npy(str(tmp_path / "vgg16.npy"), weights)
    for name, variant in (("nyud-color-d", "fcn8s"), ("nyud-color-hha", "fcn32s")):
        flags = ["--data", name, "--data-dir", root]
        assert train_main(flags + ["--train-split", "trainval", "--val-split", "test", "--steps",
                                   "2", "--width", "0.0625", "--preset", "quick",
                                   "--vgg16-weights", str(tmp_path / "vgg16.npy"),
                                   "--checkpoint-root", str(tmp_path / "runs")]) == 0
        run = tmp_path / "runs" / ("%s-%s" % (name, variant))
        start = tf.train.NewCheckpointReader(str(run / "model.ckpt-0"))
        if name == "nyud-color-d":  # the file's kernel on BGR, zeros on depth: starts as colour
            kernel = start.get_tensor("conv1_1/kernel")
            np.testing.assert_array_equal(kernel[:, :, :3], weights["conv1_1"][0])
            assert kernel.shape[2] == 4 and not kernel[:, :, 3].any()
        else:  # each stream starts from the file
            for stream in ("image/", "hha/"):
                for layer in ("conv1_1", "fc7"):
                    np.testing.assert_array_equal(start.get_tensor(stream + layer + "/kernel"),
                                                  weights[layer][0])
        assert evaluate_main(["--checkpoint-dir", str(run), "--split", "test"] + flags) == 0
        assert "mean_iou" in capsys.readouterr().out
    with FrozenModel(str(run / "frozen_model.pb")) as exported:
        assert [i.name for i in exported.signature.inputs] == ["image", "hha"]
        assert exported.config.fusion == "late"
    frozen = str(tmp_path / "runs" / "nyud-color-d-fcn8s" / "frozen_model.pb")
    images = os.path.join(root, "data", "images")
    masks = str(tmp_path / "masks")
    depths = os.path.join(root, "data", "depth")
    os.remove(os.path.join(depths, "img_2.png"))
    Image.fromarray(np.zeros(SIZE, np.uint8)).save(os.path.join(depths, "img_3.png"))
    Image.fromarray(np.ones((9, 7), np.uint16)).save(os.path.join(depths, "img_4.png"))
    text = "\n".join(check_dataset(NYUDDataset(root, "test", ("image", "depth"), "early")))
    assert os.path.join(depths, "img_4.png") + ": 9x7, its labels 41x53" in text
    assert predict_main([images, "--graph", frozen, "--output-dir", masks, "--input",
                         "depth=" + depths]) == 1
    err = capsys.readouterr().err
    assert "img_2.png: no depth for it in " in err and "img_3.png: not a 16-bit depth PNG" in err
    assert "img_4.png: 9x7, its image %s 41x53" % os.path.join(images, "img_4.png") in err
    assert sorted(os.listdir(masks)) == ["img_1.png", "img_5.png"]
    with FrozenModel(frozen, "tf") as exported:  # each mask of its own pair of files
        pair = NYUDDataset(root, "test", ("image", "depth"), "early").load(1)[0]
        np.testing.assert_array_equal(np.asarray(Image.open(os.path.join(masks, "img_5.png"))),
                                      exported.predict(pair))
    assert predict_main([images, "--graph", frozen, "--output-dir", masks]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "the model takes image and depth: give the folder of its depth with --input depth=DIR")


def test_crops_flips_and_scales_move_every_input_with_the_labels():
    """Colour, depth (uint16) and labels through the training pipeline's random scale, flip and
    crop (padding depth with 0, no reading, labels with void): each pixel's three stay together."""
    from fcn_tf1.data.pipeline import make_dataset

    class Pairs(DataSource):
        inputs, fusion, num_classes, class_names = ("image", "depth"), "early", 40, CLASSES

        def __len__(self):
            return 4

        def load(self, i):
            label = np.kron(np.random.RandomState(i).randint(0, 40, (5, 9)),
                            np.ones((6, 6), np.uint8)).astype(np.uint8)  # blocks: nearest = exact
            image = np.stack([label * 6, label, np.full_like(label, i)], -1)
            return {"image": image, "depth": (label.astype(np.uint16) + 1) * 1000}, label

    with tf.Graph().as_default(), tf.Session() as session:
        data = make_dataset(Pairs(), 4, (40, 40), flip=True, scale_range=(1.0, 1.0), seed=5,
                            mean_rgb={"image": (1, 2, 3), "depth": (0,)})
        inputs, labels = session.run(tf.data.make_one_shot_iterator(data).get_next())
    assert inputs["depth"].dtype == np.uint16 and inputs["depth"].shape == (4, 40, 40)
    real = labels != IGNORE_LABEL
    assert real.any() and (~real).any()
    np.testing.assert_array_equal(inputs["image"][..., 1][real], labels[real])
    np.testing.assert_array_equal(inputs["depth"][real], (labels[real].astype(int) + 1) * 1000)
    assert (inputs["depth"][~real] == 0).all() and (inputs["image"][~real] == (1, 2, 3)).all()


class _SecondTells(DataSource):
    """Images whose class (near or far) only their second input shows: the depth (300 mm or 20 m)
    of an early fusion, the HHA's first channel of a late one; the colour is grey noise."""
    num_classes, class_names = 2, ("near", "far")

    def __init__(self, count, seed, second):
        self.count, self.seed, self.inputs = count, seed, ("image", second)

    def __len__(self):
        return self.count

    def load(self, i):
        rng = np.random.RandomState(self.seed * 1000 + i)
        near_far = i % 2
        image = rng.randint(110, 130, (64, 64, 3)).astype(np.uint8)
        if self.inputs[1] == "depth":
            other = (300 + 20000 * near_far + rng.randint(0, 100, (64, 64))).astype(np.uint16)
        else:
            other = rng.randint(0, 60, (64, 64, 3)).astype(np.uint8)
            other[..., 0] += 120 * near_far
        return {"image": image, self.inputs[1]: other}, np.full((64, 64), near_far, np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("fusion,second", [("early", "depth"), ("late", "hha")])
def test_a_fused_model_learns_from_its_second_input(tmp_path, fusion, second):
    """300 steps from random weights (the quick preset, width 1/16) label perfectly what only the
    depth (early fusion) or the HHA (late) shows (seeds 0-4 all learn)."""
    from fcn_tf1.ground.names import LOG_DEPTH, SLIM_RGB
    from fcn_tf1.model.config import ModelConfig
    from fcn_tf1.workflows import evaluation, recipes, training
    inputs = [{"modality": "image", "convention": SLIM_RGB},
              {"modality": second, "convention": LOG_DEPTH if second == "depth" else SLIM_RGB}]
    config = ModelConfig(2, "fcn32s", 1 / 16., class_names=["near", "far"], inputs=inputs,
                         fusion=fusion)
    options = recipes.options_for("quick", steps=300, save_every=10 ** 6, summary_every=10 ** 6)
    training.train(str(tmp_path / "run"), config, _SecondTells(16, 0, second), options)
    result = evaluation.evaluate_run(str(tmp_path / "run"), _SecondTells(8, 1, second),
                                     write=False)
    assert result["mean_iou"] == 1.0
