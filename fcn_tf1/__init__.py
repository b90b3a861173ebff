"""fcn_tf1: Fully Convolutional Networks (arXiv 1411.4038) on VGG16 in TensorFlow 1.x graph mode.

The modules directly in this package are the commands (``python -m fcn_tf1.<tool>``); the library
lies beneath them in layers: ``workflows``, ``data`` and ``model``, ``numbers``, ``ground``.
``import fcn_tf1`` is light: TensorFlow is imported on first use of ``build_fcn`` or ``preprocess``
(an ImportError saying what to install or activate when it is missing), so that
``python -m fcn_tf1.<tool> --help`` answers at once and a command without TensorFlow says so in
one line.
"""
from fcn_tf1.ground.lazy import export_lazily
from fcn_tf1.ground.names import SHAPE_FIXES, UPSAMPLINGS, VARIANTS  # noqa: F401 (TensorFlow-free)
from fcn_tf1.ground.names import VERSION as __version__  # noqa: F401

export_lazily(__name__, {"build_fcn": "fcn_tf1.model.fcn",
                         "preprocess": "fcn_tf1.model.preprocessing"})
__all__ = ["SHAPE_FIXES", "UPSAMPLINGS", "VARIANTS", "build_fcn", "preprocess"]
