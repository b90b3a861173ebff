"""Names a module offers but imports on first use, so that importing it (``--help``) stays free of
TensorFlow."""
import importlib
import sys
import types


class _LazyModule(types.ModuleType):
    # A module subclass instead of PEP 562's module __getattr__, which Python 3.6 lacks.
    _lazy = {}

    def __getattr__(self, name):
        if name not in self._lazy:
            raise AttributeError("module %r has no attribute %r" % (self.__name__, name))
        value = getattr(importlib.import_module(self._lazy[name]), name)
        setattr(self, name, value)
        return value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._lazy))


def export_lazily(module_name, names):
    """Let module ``module_name`` offer each ``{name: defining module}`` as an attribute, imported
    when first asked for (``from module import name`` included)."""
    module = sys.modules[module_name]
    module.__class__ = type("LazyModule", (_LazyModule,), {"_lazy": dict(names)})
