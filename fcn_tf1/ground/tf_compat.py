"""The one place that imports TensorFlow: the v1 graph API on TensorFlow 1.15 and on 2.x.

Every other module does ``from fcn_tf1.ground.tf_compat import tf`` and uses the v1 API (placeholders,
sessions, ``tf.layers``) through it, so the same code runs on both major versions: on 2.x this is
``tf.compat.v1`` with the v2 behaviour switched off (graph mode, reference variables, v1 control
flow), which also keeps exported graphs readable by TensorFlow 1.15.
"""
import os
import warnings

from fcn_tf1.ground.tf_versions import (UntestedVersionWarning, has_tf_keras, keras_problem, major_minor,
                                 missing_tensorflow, untested_note, version_problem)

try:
    import tensorflow as _tf
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(missing_tensorflow(error)) from None

TF_VERSION = _tf.__version__
_MAJOR = major_minor(TF_VERSION)[0]
_PROBLEM = version_problem(TF_VERSION) or keras_problem(TF_VERSION, os.environ, has_tf_keras())
if _PROBLEM:
    raise ImportError(_PROBLEM)
_NOTE = untested_note(TF_VERSION)
if _NOTE:
    warnings.warn(_NOTE, UntestedVersionWarning)

tf = _tf.compat.v1
if _MAJOR >= 2:
    # Its own deprecation notice about resource variables is the point of the call: not shown.
    _verbosity = tf.logging.get_verbosity()
    tf.logging.set_verbosity(tf.logging.ERROR)
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(_verbosity)


def quiet():
    """Silence TensorFlow's Python-side deprecation chatter (call from entry points only)."""
    tf.logging.set_verbosity(tf.logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # TF 2.x's Keras warns at every tf.layers call that the v1 graph code makes on purpose.
    warnings.filterwarnings("ignore", message=r"`tf\.layers\.", category=UserWarning)


def optimize_for_inference(graph_def, inputs, outputs, input_dtype):
    """TensorFlow's optimize_for_inference tool (strip unused nodes, fold constants)."""
    from tensorflow.python.tools import optimize_for_inference_lib
    return optimize_for_inference_lib.optimize_for_inference(graph_def, inputs, outputs,
                                                             input_dtype)


def onednn_enabled():
    """Whether this TensorFlow build uses oneDNN (MKL-DNN), e.g. intel-tensorflow."""
    try:
        from tensorflow.python.framework import test_util
        return bool(test_util.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


def error_line(error):
    """The first line of what went wrong in a TensorFlow error. TF 2.x puts a preamble and the
    defining stack before it ("Graph execution error:", "Detected at node ...", "Node: '...'")."""
    lines = [line.strip() for line in (getattr(error, "message", None) or str(error)).splitlines()]
    if lines and lines[0].startswith("Graph execution error"):
        after = [i for i, line in enumerate(lines) if line.startswith("Node: ")]
        lines = lines[after[0] + 1:] if after else lines[1:]
    lines = [line for line in lines if line]
    return lines[0] if lines else type(error).__name__


def gpu_count():
    """How many GPUs this TensorFlow build can use."""
    return len(tf.config.experimental.list_physical_devices("GPU"))
