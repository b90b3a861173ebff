"""The backbone and heads: names, parameter counts, bilinear initialisation, FC layers as convs."""
import numpy as np
import pytest

import fcn_tf1
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.fcn import build_fcn_with_end_points
from fcn_tf1.model.upsample import UPSAMPLINGS, bilinear_kernel, transposed_conv
from fcn_tf1.model.vgg16 import vgg16
from fcn_tf1.numbers.vgg16_shapes import LAYERS, layer_shapes

VGG16_CONV_FC_PARAMS = 134260544  # conv1_1 ... fc7 of VGG16 (138,357,544 with fc8)


def count(variables):
    return sum(int(np.prod(v.shape.as_list())) for v in variables)


@pytest.mark.parametrize("train_upsampling,learned", [
    ("2x", ["upscore2", "upscore_pool4"]), ("all", ["upscore2", "upscore_pool4", "upscore8"]),
    ("none", [])])
def test_full_width_parameter_count(graph, train_upsampling, learned):
    images = tf.placeholder(tf.float32, [1, 500, 500, 3])
    logits = fcn_tf1.build_fcn(images, 21, "fcn8s", train_upsampling=train_upsampling)
    assert logits.shape.as_list() == [1, 500, 500, 21]
    heads = (4096 + 1) * 21 + (512 + 1) * 21 + (256 + 1) * 21 + 4 * 4 * 21 * 21 * len(
        [n for n in learned if n != "upscore8"]) + 16 * 16 * 21 * 21 * ("upscore8" in learned)
    assert count(tf.trainable_variables()) == VGG16_CONV_FC_PARAMS + heads
    names = {v.op.name for v in tf.trainable_variables()}
    assert {"conv1_1/kernel", "conv5_3/bias", "fc6/kernel", "fc7/kernel", "score_fr/kernel",
            "score_pool4/kernel", "score_pool3/kernel"} <= names
    assert {n + "/kernel" for n in learned} == {n for n in names if n.startswith("upscore")}
    assert tf.get_default_graph().get_tensor_by_name("fc6/kernel:0").shape.as_list() == [
        7, 7, 512, 4096]


def test_layer_shapes_match_the_graph(graph):
    images = tf.placeholder(tf.float32, [1, 64, 64, 3])
    _, end_points = vgg16(images, width=0.25)
    variables = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    for layer, shape in layer_shapes(0.25).items():
        assert variables[layer + "/kernel"] == list(shape)
    assert list(layer_shapes()) == list(LAYERS)
    assert {"pool3", "pool4", "pool5", "fc6", "fc7"} <= set(end_points)
    assert end_points["pool3"].shape.as_list() == [1, 8, 8, 64]


def test_score_layers_start_at_zero_and_deconvs_bilinear(session):
    images = tf.placeholder(tf.float32, [1, 40, 40, 3])
    _, end_points = build_fcn_with_end_points(images, 3, width=1 / 16.)
    session.run(tf.global_variables_initializer())
    for name in ("score_fr", "score_pool4", "score_pool3"):
        kernel, bias = session.run(["%s/kernel:0" % name, "%s/bias:0" % name])
        assert not kernel.any() and not bias.any()
    np.testing.assert_array_equal(session.run("upscore8/kernel:0"), bilinear_kernel(16, 3))


def test_dropout_only_when_training(session):
    images = tf.constant(np.random.RandomState(0).uniform(0, 1, (1, 64, 64, 3)), tf.float32)
    with tf.variable_scope("net"):
        fc7_train, _ = vgg16(images, width=1 / 16., is_training=True)
    with tf.variable_scope("net", reuse=True):
        fc7_eval, _ = vgg16(images, width=1 / 16., is_training=False)
    session.run(tf.global_variables_initializer())
    np.testing.assert_array_equal(session.run(fc7_eval), session.run(fc7_eval))
    assert not np.array_equal(session.run(fc7_train), session.run(fc7_train))


@pytest.mark.parametrize("api", UPSAMPLINGS)
@pytest.mark.parametrize("stride", [2, 8, 32])
def test_bilinear_upsampling_interpolates(session, api, stride):
    """Alignment: input cell i is centred on output pixel i * s + (s - 1) / 2."""
    n = 6
    ramp = np.tile(np.arange(n, dtype=np.float32) * 3 + 1, (n, 1))
    maps = np.stack([ramp, np.full((n, n), 2.5, np.float32)], -1)[None]
    up = transposed_conv(tf.constant(maps), 2, stride, "up", api, "SAME", (n * stride, n * stride))
    session.run(tf.global_variables_initializer())
    out = session.run(up)[0]
    assert out.shape == (n * stride, n * stride, 2)
    u = (np.arange(n * stride) - (stride - 1) / 2.0) / stride   # input coordinate of each output pixel
    interior = (u >= 0) & (u <= n - 1)
    expected_row = np.interp(u[interior], np.arange(n), ramp[0])
    inner = out[interior][:, interior]
    np.testing.assert_allclose(inner[..., 0], np.tile(expected_row, (interior.sum(), 1)), rtol=1e-5)
    np.testing.assert_allclose(inner[..., 1], 2.5, rtol=1e-6)


def _dense(pool5_window, weights):
    """The VGG16 classifier as FC layers on one 7x7 pool5 window (flatten, matmul)."""
    x = pool5_window.reshape(-1)
    for layer, relu in (("fc6", True), ("fc7", True), ("score", False)):
        kernel, bias = weights[layer]
        x = x.dot(kernel.reshape(-1, kernel.shape[-1])) + bias
        x = np.maximum(x, 0) if relu else x
    return x


def test_fully_connected_layers_are_convolutions(session):
    """Paper section 3.1: the conv net's score at cell (i, j) is the FC classifier on the pool5 window
    at (i, j) -- the 224x224 patch at offset (32i, 32j), as the larger image's features see it."""
    images = tf.placeholder(tf.float32, [1, None, None, 3])
    fc7, end_points = vgg16(images, width=1 / 16., fc_conv_padding="VALID")
    scores = tf.layers.conv2d(fc7, 5, 1, kernel_initializer=tf.random_normal_initializer(0, 0.1),
                              bias_initializer=tf.random_normal_initializer(0, 0.1), name="score")
    session.run(tf.global_variables_initializer())
    weights = {layer: session.run(["%s/kernel:0" % layer, "%s/bias:0" % layer])
               for layer in ("fc6", "fc7", "score")}
    rng = np.random.RandomState(0)
    for h, w in ((224, 224), (288, 256)):
        image = rng.uniform(-100, 100, (1, h, w, 3)).astype(np.float32)
        pool5, score_map = session.run([end_points["pool5"], scores], {images: image})
        assert score_map.shape[1:3] == ((h - 224) // 32 + 1, (w - 224) // 32 + 1)
        for i in range(score_map.shape[1]):
            for j in range(score_map.shape[2]):
                dense = _dense(pool5[0, i:i + 7, j:j + 7], weights)
                np.testing.assert_allclose(score_map[0, i, j], dense, rtol=1e-4, atol=1e-4)
