"""fcn_tf1: Fully Convolutional Networks (arXiv 1411.4038) on VGG16 in TensorFlow 1.x graph mode.

``import fcn_tf1`` is light: TensorFlow is imported on first use of ``build_fcn`` or the name
tuples, so that ``python -m fcn_tf1.<tool> --help`` answers at once.
"""
import importlib
import importlib.util
import sys
import types

__version__ = "0.1.0"

from fcn_tf1.tf_versions import missing_tensorflow  # noqa: E402 (TensorFlow-free)

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError(missing_tensorflow())

# Public names and the module that defines each; loaded on first access.
_LAZY = {"build_fcn": "fcn", "VARIANTS": "fcn", "UPSAMPLINGS": "fcn", "SHAPE_FIXES": "fcn"}
__all__ = sorted(_LAZY)


class _LazyModule(types.ModuleType):
    # A module subclass instead of PEP 562's module __getattr__, which Python 3.6 lacks.
    def __getattr__(self, name):
        if name not in _LAZY:
            raise AttributeError("module 'fcn_tf1' has no attribute %r" % name)
        value = getattr(importlib.import_module("fcn_tf1." + _LAZY[name]), name)
        setattr(self, name, value)
        return value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_LAZY))


sys.modules[__name__].__class__ = _LazyModule
