"""Every variant x upsampling API x shape fix on odd and even sizes, static and dynamic inputs."""
import numpy as np
import pytest

import fcn_tf1
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.upsample import get_shape_fix, valid_combinations
from fcn_tf1.workflows import comparison

FIXING = [fix for fix in fcn_tf1.SHAPE_FIXES if get_shape_fix(fix, "nn").fixes]


def test_public_names_list_every_variant_api_and_strategy():
    assert fcn_tf1.VARIANTS == ("fcn32s", "fcn16s", "fcn8s")
    assert fcn_tf1.UPSAMPLINGS == ("nn", "layers")
    assert set(fcn_tf1.SHAPE_FIXES) == {"output_shape", "set_shape", "reshape", "crop", "pad",
                                        "pad100"}
    assert FIXING == ["output_shape", "crop", "pad", "pad100"]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("variant,upsampling,shape_fix", comparison.all_cells())
def test_every_size(variant, upsampling, shape_fix, dynamic):
    outcomes = comparison.probe(variant, upsampling, shape_fix, dynamic=dynamic)
    assert [o.size for o in outcomes] == list(comparison.SIZES)
    fixes = get_shape_fix(shape_fix, upsampling).fixes
    for outcome in outcomes:
        assert outcome.status == comparison.expected_status(fixes, outcome.size, dynamic), outcome
        if outcome.status == comparison.OK:
            assert outcome.shape == outcome.size
        else:
            # A clear error naming the strategy or TensorFlow's own reason, never a wrong size.
            assert shape_fix in outcome.error or "reshape" in outcome.error, outcome


@pytest.mark.parametrize("upsampling,shape_fix",
                         [pair for pair in valid_combinations() if pair[1] in FIXING])
def test_fixing_strategies_keep_static_shape(graph, upsampling, shape_fix):
    images = tf.placeholder(tf.float32, [2, 33, 65, 3])
    for variant in fcn_tf1.VARIANTS:
        with tf.variable_scope(variant):
            logits = fcn_tf1.build_fcn(images, 4, variant, upsampling, shape_fix, width=1 / 16.)
        assert logits.shape.as_list() == [2, 33, 65, 4]


def test_33_versus_34(session):
    """The whole problem in one test: stride 2 maps 33 and 34 to 17, and back only one of them."""
    x33 = tf.placeholder(tf.float32, [1, 33, 33, 1])
    x34 = tf.placeholder(tf.float32, [1, 34, 34, 1])
    conv = lambda x: tf.layers.conv2d(x, 1, 3, 2, padding="same", reuse=tf.AUTO_REUSE, name="c")
    assert conv(x33).shape.as_list() == conv(x34).shape.as_list() == [1, 17, 17, 1]
    # tf.layers.conv2d_transpose cannot be told the size: 17 always comes back as 34.
    up = tf.layers.conv2d_transpose(conv(x33), 1, 4, 2, padding="same")
    assert up.shape.as_list() == [1, 34, 34, 1]

    images = tf.placeholder(tf.float32, [1, 33, 33, 3])
    with pytest.raises(ValueError, match="set_shape.*upscore2 \\(4x4\\).*score_pool4 \\(3x3\\)"):
        fcn_tf1.build_fcn(images, 2, "fcn16s", "layers", "set_shape", width=1 / 16.)
    with pytest.raises(ValueError, match="Cannot reshape"):
        with tf.variable_scope("reshape"):
            fcn_tf1.build_fcn(images, 2, "fcn16s", "layers", "reshape", width=1 / 16.)

    # The same graph with a dynamic input fails only at run time -- with a clear message.
    dynamic = tf.placeholder(tf.float32, [1, None, None, 3])
    with tf.variable_scope("dynamic"):
        naive = fcn_tf1.build_fcn(dynamic, 2, "fcn16s", "layers", "set_shape", width=1 / 16.)
    with tf.variable_scope("fixed"):
        fixed = fcn_tf1.build_fcn(dynamic, 2, "fcn16s", "nn", "output_shape", width=1 / 16.)
    session.run(tf.global_variables_initializer())
    for size in (33, 34):
        out = session.run(fixed, {dynamic: np.zeros((1, size, size, 3))})
        assert out.shape == (1, size, size, 2)
    assert session.run(naive, {dynamic: np.zeros((1, 64, 64, 3))}).shape == (1, 64, 64, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="set_shape.*upscore2.*score_pool4"):
        session.run(naive, {dynamic: np.zeros((1, 33, 33, 3))})


def test_invalid_combination_lists_the_valid_ones(graph):
    images = tf.placeholder(tf.float32, [1, 32, 32, 3])
    with pytest.raises(ValueError) as error:
        fcn_tf1.build_fcn(images, 2, "fcn8s", "layers", "output_shape")
    # The one check of the pair (the model config's too): the valid fixes of the API, its default.
    assert str(error.value).endswith("with layers choose one of set_shape, reshape, crop, pad, "
                                     "pad100 (default: crop)")
    from fcn_tf1.model.config import ModelConfig
    with pytest.raises(ValueError) as config_error:
        ModelConfig(2, upsampling="layers", shape_fix="output_shape")
    assert str(config_error.value) == str(error.value)
    for kwargs, word in [({"variant": "fcn4s"}, "variant"), ({"upsampling": "keras"}, "upsampling"),
                         ({"shape_fix": "resize"}, "shape_fix"),
                         ({"train_upsampling": "some"}, "train_upsampling")]:
        with pytest.raises(ValueError, match=word):
            fcn_tf1.build_fcn(images, 2, **kwargs)
