"""The reference's FCN-AlexNet (voc-fcn-alexnet): CaffeNet as a second backbone, converted from a
.caffemodel and proven against OpenCV's Caffe importer at odd sizes, on every runtime; trained from
CaffeNet's ImageNet weights; refused in one line where it has no head."""
import json
import os

import numpy as np
import pytest

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.numbers.caffemodel import CaffeModel
from fcn_tf1.train import default_preset, main as train_main
from fcn_tf1.weights import describe_caffemodel
from fcn_tf1.workflows import conversion, export_writers
from tests.caffe_files import (alexnet_deploy_prototxt, alexnet_layers, caffenet_layers,
                               write_caffemodel)
from tests.helpers import AGREEMENT
from tests.test_caffe import assert_close, fcn_tf1_maps, opencv_maps
from tests.test_runtimes import HAS_ONNX, HAS_OPENVINO, _bf16_supported

MAPS = ("norm1", "norm2", "pool5", "score_fr", "score")
SIZES = [(97, 131), (130, 75)]  # odd and even sizes: Caffe's ceil-mode pools differ between them


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A voc-fcn-alexnet of random weights at width 1/8 (5 classes) and its converted run."""
    work = tmp_path_factory.mktemp("alexnet")
    model = str(work / "fcn-alexnet.caffemodel")
    write_caffemodel(model, alexnet_layers(5, 1 / 8., seed=4))
    run = str(work / "run")
    config = conversion.convert_fcn(model, run)
    frozen = str(work / "frozen.pb")
    export_writers.export_frozen(run, frozen)
    return {"work": work, "caffemodel": model, "run": run, "config": config, "pb": frozen}


def test_converted_fcn_alexnet_computes_what_caffe_computes(converted):
    config = converted["config"]
    assert (config.backbone, config.variant, config.width, config.shape_fix) == (
        "alexnet", "fcn32s", 1 / 8., "pad100")
    with CaffeModel(converted["caffemodel"]) as opened:
        assert "fcn32s on alexnet, 5 classes, width 0.125" in describe_caffemodel(opened)
    for i, size in enumerate(SIZES):
        deploy = str(converted["work"] / ("deploy%d.prototxt" % i))
        with open(deploy, "w") as f:
            f.write(alexnet_deploy_prototxt(5, 1 / 8., *size))
        image = np.random.RandomState(i).randint(0, 256, size + (3,)).astype(np.uint8)
        theirs = opencv_maps(converted["caffemodel"], deploy, image, MAPS)
        assert_close(fcn_tf1_maps(converted["run"], image, MAPS), theirs)
        with FrozenModel(converted["pb"], "tf") as exported:
            assert_close({"score": exported.run(image)[0]}, {"score": theirs["score"]})


def _runs(converted):
    """(runtime, precision, file) of every runtime and precision here on the converted net."""
    runs = []
    if HAS_OPENVINO:
        runs.append(("openvino", "fp32", converted["pb"]))
        if _bf16_supported():
            runs.append(("openvino", "bf16", converted["pb"]))
    if HAS_ONNX:
        onnx = str(converted["work"] / "m.onnx")
        export_writers.export_onnx(converted["pb"], onnx)
        runs.append(("onnxruntime", "fp32", onnx))
    tflite = str(converted["work"] / "m.tflite")
    export_writers.export_tflite(converted["run"], tflite, SIZES[0])
    return runs + [("tflite", "fp32", tflite)]


def test_fcn_alexnet_labels_as_tensorflow_on_every_runtime(converted):
    image = np.random.RandomState(7).randint(0, 256, SIZES[0] + (3,)).astype(np.uint8)
    with FrozenModel(converted["pb"], "tf") as model:
        logits, labels = model.run(image)
    assert len(np.unique(labels)) >= 3  # labels that vary: agreement is not trivial
    for runtime, precision, path in _runs(converted):
        with FrozenModel(path, runtime, precision) as model:
            got_logits, got_labels = model.run(image)
        assert (got_labels == labels).mean() >= AGREEMENT[precision], (runtime, precision)
        if precision == "fp32":
            assert np.abs(got_logits - logits).max() <= 1e-4 * np.abs(logits).max(), runtime


def test_fcn_alexnet_trains_from_caffenets_imagenet_weights(tmp_path, capsys):
    caffenet = str(tmp_path / "bvlc_reference_caffenet.caffemodel")
    layers = caffenet_layers(1 / 16.)
    write_caffemodel(caffenet, layers, name="CaffeNet")
    with CaffeModel(caffenet) as opened:
        assert describe_caffemodel(opened).endswith(
            "ImageNet weights of the alexnet backbone (BGR, ImageNet mean) for train --backbone "
            "alexnet --backbone-weights")
    args = ["--backbone", "alexnet", "--backbone-weights", caffenet, "--width", "0.0625",
            "--steps", "2", "--synthetic-size", "8", "--checkpoint-root", str(tmp_path)]
    assert train_main(args) == 0
    run = tmp_path / "synthetic-alexnet-fcn32s"
    config = json.loads((run / "model.json").read_text())
    assert (config["backbone"], config["variant"], config["convention"]["channel_order"]) == (
        "alexnet", "fcn32s", "BGR")
    start = tf.train.NewCheckpointReader(str(run / "model.ckpt-0"))
    for name, _, (kernel, bias) in layers[:7]:
        if name == "fc6":  # InnerProduct over pool5's C x 6 x 6
            kernel = kernel.reshape(kernel.shape[0], -1, 6, 6)
        elif name == "fc7":
            kernel = kernel[:, :, None, None]
        np.testing.assert_array_equal(start.get_tensor(name + "/kernel"),
                                      np.transpose(kernel, (2, 3, 1, 0)), err_msg=name)
        np.testing.assert_array_equal(start.get_tensor(name + "/bias"), bias, err_msg=name)
    assert (run / "frozen_model.pb").stat().st_size > 0
    capsys.readouterr()


@pytest.mark.parametrize("args,message", [
    (["--variant", "fcn8s"], "the alexnet backbone has the fcn32s head only, as the reference's "
                             "nets on it, not fcn8s"),
    (["--backbone-weights", "vgg16.npy"], "vgg16.npy: AlexNet's weights are read from Caffe's "
                                          "bvlc_reference_caffenet.caffemodel")])
def test_what_alexnet_cannot_take_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    assert train_main(["--backbone", "alexnet", "--steps", "1", "--synthetic-size", "4",
                       "--checkpoint-root", str(tmp_path)] + args) == 1
    assert capsys.readouterr().err.strip().splitlines() == ["fcn_tf1.train: error: " + message]
    assert os.listdir(str(tmp_path)) == []


def test_a_run_of_another_backbone_is_no_start_for_alexnet(tmp_path, capsys):
    vgg = tmp_path / "vgg"
    vgg.mkdir()
    ModelConfig(5, "fcn32s", 1 / 8.).save(str(vgg))
    assert train_main(["--backbone", "alexnet", "--init-from", str(vgg), "--checkpoint-root",
                       str(tmp_path / "runs")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "fcn_tf1.train: error: --init-from %s: its backbone is vgg16, this model's alexnet" % vgg]
    assert not os.path.exists(str(tmp_path / "runs"))


def test_a_reference_file_alexnet_has_no_head_for_is_one_line(tmp_path):
    layers = alexnet_layers(3, 1 / 16.)
    path = str(tmp_path / "odd.caffemodel")
    write_caffemodel(path, layers + [("score_pool4", "Convolution", layers[-2][2])])
    with pytest.raises(ValueError, match="odd.caffemodel: the alexnet backbone has the fcn32s head "
                                         "only, as the reference's nets on it, not fcn16s"):
        conversion.convert_fcn(path, str(tmp_path / "run"))
    write_caffemodel(path, [(name.replace("conv1", "conv0"), kind, blobs)
                            for name, kind, blobs in layers])
    with pytest.raises(ValueError, match="odd.caffemodel: no backbone fcn_tf1 knows"):
        conversion.convert_fcn(path, str(tmp_path / "run"))
    assert not os.path.exists(str(tmp_path / "run"))


def test_a_model_config_of_alexnet_with_skips_is_refused():
    with pytest.raises(ValueError, match="the alexnet backbone has the fcn32s head only"):
        ModelConfig(5, "fcn8s", backbone="alexnet")
    with pytest.raises(ValueError, match="backbone must be one of vgg16, alexnet, got 'resnet'"):
        ModelConfig(5, "fcn32s", backbone="resnet")


def test_real_data_trains_by_the_references_recipe_for_the_backbone():
    assert [default_preset(data, backbone) for data, backbone in (
        ("synthetic", "alexnet"), ("voc", "alexnet"), ("folder", "vgg16"))] == [
        "quick", "alexnet", "heavy"]
