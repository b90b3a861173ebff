import pytest

from fcn_tf1.tf_compat import tf


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
