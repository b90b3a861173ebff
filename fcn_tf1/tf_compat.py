"""The one place that imports TensorFlow: the v1 graph API on TensorFlow 1.15 and on 2.x.

Every other module does ``from fcn_tf1.tf_compat import tf`` and uses the v1 API (placeholders,
sessions, ``tf.layers``) through it, so the same code runs on both major versions: on 2.x this is
``tf.compat.v1`` with the v2 behaviour switched off (graph mode, reference variables, v1 control
flow), which also keeps exported graphs readable by TensorFlow 1.15.
"""
import os
import warnings

from fcn_tf1.choices import TENSORFLOW_NEWEST_TESTED as NEWEST_TESTED
from fcn_tf1.choices import TENSORFLOW_SUPPORTED as SUPPORTED


# The values of TF_USE_LEGACY_KERAS that TensorFlow takes for yes.
LEGACY_KERAS = ("1", "true", "True")


class UntestedVersionWarning(UserWarning):
    """TensorFlow is newer than the newest release fcn_tf1 is tested on."""


def major_minor(version):
    return tuple(int(part) for part in version.split(".")[:2])


def version_problem(version):
    """Why fcn_tf1 cannot run on this TensorFlow release, or None."""
    if major_minor(version) == (1, 15) or major_minor(version) >= (2, 13):
        return None
    return "fcn_tf1 runs on TensorFlow %s, found %s: pip install 'fcn_tf1[tf]'" % (SUPPORTED,
                                                                                     version)


def keras_problem(version, environ, has_tf_keras):
    """Why ``tf.layers`` will not work, or None: TensorFlow 2.16+ ships Keras 3, which dropped it;
    Keras 2 comes back as the tf-keras package, chosen by TF_USE_LEGACY_KERAS=1 (which 2.15 honours
    too, and then needs tf-keras as well)."""
    legacy = environ.get("TF_USE_LEGACY_KERAS") in LEGACY_KERAS
    if major_minor(version) < (2, 16):
        if legacy and not has_tf_keras and major_minor(version) >= (2, 15):
            return ("TF_USE_LEGACY_KERAS=%s asks TensorFlow %s for the tf-keras package, which is "
                    "not installed: unset it, or pip install 'tf-keras==%d.%d.*'"
                    % ((environ["TF_USE_LEGACY_KERAS"], version) + major_minor(version)))
        return None
    if not has_tf_keras:
        return ("fcn_tf1 on TensorFlow %s needs Keras 2 for tf.layers: pip install 'tf-keras==%d.%d.*'"
                % ((version,) + major_minor(version)))
    if not legacy:
        return ("fcn_tf1 on TensorFlow %s needs Keras 2 for tf.layers: set TF_USE_LEGACY_KERAS=1 "
                "before TensorFlow is used (it is %s; fcn_tf1's commands set it unless you did)"
                % (version, repr(environ["TF_USE_LEGACY_KERAS"]) if "TF_USE_LEGACY_KERAS" in
                   environ else "unset"))
    return None


def untested_note(version):
    """What to say of a release newer than the newest tested, or None."""
    if major_minor(version) <= NEWEST_TESTED:
        return None
    return ("TensorFlow %s is newer than the newest release fcn_tf1 is tested on (%d.%d): it may "
            "work; %s are supported" % ((version,) + NEWEST_TESTED + (SUPPORTED,)))


def _has_tf_keras():
    import importlib.util
    return importlib.util.find_spec("tf_keras") is not None


try:
    import tensorflow as _tf
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "fcn_tf1 needs TensorFlow %s: pip install 'fcn_tf1[tf]' (CPU) or 'fcn_tf1[gpu]' (%s)"
        % (SUPPORTED, error)) from None

TF_VERSION = _tf.__version__
_MAJOR = major_minor(TF_VERSION)[0]
_PROBLEM = version_problem(TF_VERSION) or keras_problem(TF_VERSION, os.environ, _has_tf_keras())
if _PROBLEM:
    raise ImportError(_PROBLEM)
if untested_note(TF_VERSION):
    warnings.warn(untested_note(TF_VERSION), UntestedVersionWarning)

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
