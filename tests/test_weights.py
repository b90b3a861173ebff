"""Pretrained VGG16 files in the three formats users have, written here in the exact formats."""
import os
import subprocess
import sys

import numpy as np
import pytest

from fcn_tf1.model.checkpoints import read_vgg16
from fcn_tf1.numbers import vgg16_weights as W
from fcn_tf1.workflows.conversion import convert_weights
from fcn_tf1.workflows.initialisation import backbone_assignments
from tests.caffe_files import write_vgg16_caffemodel
from tests.helpers import classifier_logits, dense, random_weights, write_caffe_npy, write_keras_h5, write_slim_ckpt
from fcn_tf1.ground.names import CAFFE_BGR, SLIM_RGB
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.vgg16 import vgg16

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


WRITERS = {"keras-h5": (write_keras_h5, "vgg16.h5", CAFFE_BGR),
           "slim-ckpt": (write_slim_ckpt, "vgg_16.ckpt", SLIM_RGB),
           "caffe-npy": (write_caffe_npy, "vgg16.npy", CAFFE_BGR),
           "caffemodel": (write_vgg16_caffemodel, "VGG_ILSVRC_16_layers.caffemodel", CAFFE_BGR)}


def roundtrip(tmp_path, fmt, width, fc=True):
    writer, name, _ = WRITERS[fmt]
    original = random_weights(width, fc=fc)
    path = str(tmp_path / name)
    writer(path, original)
    return original, read_vgg16(path, width)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_each_format_reads_back_exactly(tmp_path, fmt):
    original, read = roundtrip(tmp_path, fmt, 1 / 8.)
    assert read.format == fmt and read.convention == WRITERS[fmt][2]
    assert list(read) == list(original)
    for layer, (kernel, bias) in original.items():
        np.testing.assert_array_equal(read[layer][0], kernel)
        np.testing.assert_array_equal(read[layer][1], bias)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_full_size_files_read_with_vgg16_shapes(tmp_path, fmt):
    original, read = roundtrip(tmp_path, fmt, 1.0)
    assert read["fc6"][0].shape == (7, 7, 512, 4096) and read["fc7"][0].shape == (1, 1, 4096, 4096)
    assert read["fc8"][0].shape == (1, 1, 4096, 1000)
    for layer in ("conv1_1", "conv5_3", "fc6", "fc8"):
        np.testing.assert_array_equal(read[layer][0], original[layer][0])


def test_notop_file_leaves_fc_to_scratch(tmp_path, caplog):
    _, read = roundtrip(tmp_path, "keras-h5", 1 / 8., fc=False)
    assert "fc6" not in read and "conv5_3" in read
    with tf.Graph().as_default():
        vgg16(tf.placeholder(tf.float32, [1, 32, 32, 3]), width=1 / 8.)
        backbone_assignments(read, tf.global_variables())
    assert "no fc6/fc7" in caplog.text


def dense_classifier(pool5_window, raw):
    """VGG16's classifier straight from the file's FC matrices: flatten pool5, matmul, relu."""
    x = pool5_window.reshape(1, -1)
    for layer in ("fc6", "fc7", "fc8"):
        kernel, bias = raw[layer]
        x = x.dot(dense(layer, kernel)) + bias
        x = np.maximum(x, 0) if layer != "fc8" else x
    return x[0]


@pytest.mark.parametrize("fmt,width", [("caffe-npy", 1 / 8.), ("keras-h5", 1.0),
                                       ("caffemodel", 1 / 8.)])
def test_fc_as_conv_equals_the_dense_classifier(tmp_path, fmt, width):
    original, read = roundtrip(tmp_path, fmt, width)
    rng = np.random.RandomState(0)
    images = [rng.uniform(-120, 120, (1, 224, 224, 3)).astype(np.float32),
              rng.uniform(-120, 120, (1, 256, 256, 3)).astype(np.float32)]
    (pool5_224, logits_224), (pool5_256, logits_256) = classifier_logits(read, width, images)
    assert logits_224.shape == (1, 1, 1, 1000) and logits_256.shape == (1, 2, 2, 1000)
    scale = np.abs(logits_224).max()
    np.testing.assert_allclose(logits_224[0, 0, 0], dense_classifier(pool5_224[0], original),
                               rtol=1e-4, atol=1e-4 * scale)
    # 256x256: cell (i, j) is the classifier on the window of the 224x224 patch at (32i, 32j).
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(
                logits_256[0, i, j], dense_classifier(pool5_256[0, i:i + 7, j:j + 7], original),
                rtol=1e-4, atol=1e-4 * np.abs(logits_256).max())


def test_refusals_name_the_problem(tmp_path):
    weights = random_weights(1 / 8.)
    del weights["conv4_2"]
    write_caffe_npy(str(tmp_path / "missing.npy"), weights)
    with pytest.raises(W.WeightsError, match="missing.npy: layer conv4_2 missing"):
        read_vgg16(str(tmp_path / "missing.npy"), 1 / 8.)

    weights = random_weights(1 / 8.)
    weights["conv3_1"] = (weights["conv3_1"][0][..., :-1], weights["conv3_1"][1][:-1])
    write_keras_h5(str(tmp_path / "shape.h5"), weights)
    with pytest.raises(W.WeightsError, match=r"shape.h5: layer conv3_1 has kernel \(3, 3, 16, 31\)"
                                             r".*width 0.125 needs \(3, 3, 16, 32\)"):
        read_vgg16(str(tmp_path / "shape.h5"), 1 / 8.)

    write_keras_h5(str(tmp_path / "full.h5"), random_weights(1 / 8.))
    data = open(str(tmp_path / "full.h5"), "rb").read()
    open(str(tmp_path / "cut.h5"), "wb").write(data[:len(data) // 2])
    with pytest.raises(W.WeightsError, match="cut.h5: cannot read as keras-h5"):
        read_vgg16(str(tmp_path / "cut.h5"), 1 / 8.)
    open(str(tmp_path / "junk.ckpt"), "wb").write(b"not a checkpoint at all")
    with pytest.raises(W.WeightsError, match="junk.ckpt: not a readable VGG16 weight file"):
        read_vgg16(str(tmp_path / "junk.ckpt"))

    read = read_vgg16(str(tmp_path / "full.h5"), 1 / 8.)
    with tf.Graph().as_default(), pytest.raises(
            W.WeightsError, match=r"conv1_1 kernel is \(3, 3, 3, 8\), the graph's is \(3, 3, 3, 16\): "
                                  "these pretrained weights need a model of width 0.125"):
        vgg16(tf.placeholder(tf.float32, [1, 32, 32, 3]), width=0.25)
        backbone_assignments(read, tf.global_variables())


def test_cli_inspect_and_convert(tmp_path):
    original = random_weights(1.0 / 8)
    write_slim_ckpt(str(tmp_path / "vgg_16.ckpt"), original)
    with pytest.raises(W.WeightsError, match="vgg_16.ckpt: a TF-slim checkpoint, which only "
                                             "TensorFlow reads"):
        W.read_vgg16(str(tmp_path / "vgg_16.ckpt"), 1 / 8.)  # the numbers layer has none
    weights = read_vgg16(str(tmp_path / "vgg_16.ckpt"), 1 / 8.)
    prefix = convert_weights(weights, str(tmp_path / "out"))
    reader = tf.train.NewCheckpointReader(prefix)
    np.testing.assert_array_equal(reader.get_tensor("conv2_1/kernel"), original["conv2_1"][0])
    np.testing.assert_array_equal(reader.get_tensor("fc6/bias"), original["fc6"][1])
    result = subprocess.run([sys.executable, "-m", "fcn_tf1.weights", "inspect",
                             str(tmp_path / "nothing.h5")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("fcn_tf1.weights: error:") and "nothing.h5" in \
        result.stderr and len(result.stderr.strip().splitlines()) == 1
