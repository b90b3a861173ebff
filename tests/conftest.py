import os
import shutil
import tempfile

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


def pytest_configure(config):
    # OpenVINO's IR cache of the tests' exports (and their commands') goes to a folder of the
    # run's, not to the user's ~/.cache.
    if "FCN_TF1_CACHE_DIR" not in os.environ:
        os.environ["FCN_TF1_CACHE_DIR"] = config._fcn_tf1_cache = tempfile.mkdtemp(
            prefix="fcn_tf1_cache_")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_fcn_tf1_cache", ""), ignore_errors=True)
