import pytest

from fcn_tf1.ground import tf_versions
# The suite runs as the commands do: Keras 2 on TensorFlow 2.16+ (a setting of the user's wins).
tf_versions.choose_keras_2()

from fcn_tf1.ground.tf_compat import tf  # noqa: E402 (after the switch)


@pytest.fixture
def graph():
    """A fresh default graph for the test."""
    with tf.Graph().as_default() as g:
        tf.set_random_seed(0)
        yield g


@pytest.fixture
def session(graph):
    with tf.Session(graph=graph) as s:
        yield s
