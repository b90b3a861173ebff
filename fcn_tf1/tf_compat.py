"""The one place that imports TensorFlow: the v1 graph API on TensorFlow 1.15 and on 2.x.

Every other module does ``from fcn_tf1.tf_compat import tf`` and uses the v1 API (placeholders,
sessions, ``tf.layers``) through it, so the same code runs on both major versions.
"""
try:
    import tensorflow as _tf
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "fcn_tf1 needs TensorFlow 1.15: pip install 'fcn_tf1[tf]' (CPU) or 'fcn_tf1[gpu]' "
        "(%s)" % error) from None

TF_VERSION = _tf.__version__
if not TF_VERSION.startswith("1.15"):
    raise ImportError("fcn_tf1 needs TensorFlow 1.15, found %s: pip install 'fcn_tf1[tf]'" % TF_VERSION)

tf = _tf.compat.v1


def quiet():
    """Silence TensorFlow's Python-side deprecation chatter (call from entry points only)."""
    import warnings
    tf.logging.set_verbosity(tf.logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
