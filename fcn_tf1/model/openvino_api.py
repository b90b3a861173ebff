"""OpenVINO's Python API across the releases fcn_tf1 meets (2023.1, the newest for Python 3.7, to
2026.4): the one place that knows where each piece lives. TensorFlow-free (the int8 quantizer's
interpreter imports it too)."""
import contextlib
import ctypes
import importlib

from fcn_tf1.ground.machine import libc


def module():
    return importlib.import_module("openvino")


def _api():
    """Where Core, Model and PartialShape live: ``openvino`` from 2023.1's successors on,
    ``openvino.runtime`` before."""
    ov = module()
    return ov if hasattr(ov, "Model") and hasattr(ov, "Core") else importlib.import_module(
        "openvino.runtime")


def version():
    """'2023.1.0': the release, without its build suffix."""
    return getattr(module(), "__version__", "?").split("-")[0]


def core():
    return _api().Core()


def partial_shape(dims):
    return _api().PartialShape(list(dims))


def model(results, parameters):
    return _api().Model(results, parameters)


def opset():
    """The operator set the bench's MatMul is built with (opset8; under ``openvino.runtime``
    before 2024)."""
    try:
        return importlib.import_module("openvino.opset8")
    except ImportError:
        return importlib.import_module("openvino.runtime.opset8")


def capabilities(core_):
    """What the CPU plugin computes in ('BF16', 'FP32', 'INT8', ...), the calling thread's signal
    stack kept (``signal_stack_kept``)."""
    with signal_stack_kept():
        return core_.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class _Stack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def _current_stack():
    """The calling thread's alternate signal stack as a ``_Stack``, or None off libc."""
    now = _Stack()
    if libc() is None or libc().sigaltstack(None, ctypes.byref(now)) != 0:
        return None
    return now


def signal_stack():
    """(address, flags, size) of the calling thread's alternate signal stack, or None off libc."""
    now = _current_stack()
    return None if now is None else (now.ss_sp, now.ss_flags, now.ss_size)


@contextlib.contextmanager
def signal_stack_kept():
    """Put the calling thread's alternate signal stack back after OpenVINO: its CPU plugin (2023.1
    to 2026.4) probes the CPU on an alternate signal stack of its own and leaves it set; once that
    memory is freed, the next signal the thread takes (Ctrl-C or SIGTERM while training: Python's
    handlers run on the alternate stack) crashes the process."""
    before = _current_stack()
    try:
        yield
    finally:
        if before is not None:
            libc().sigaltstack(ctypes.byref(before), None)


def saver():
    """``save(model, xml_path)`` of this OpenVINO, weights kept fp32 (save_model's default
    compresses them to fp16; before save_model, serialize kept them)."""
    ov = module()
    if hasattr(ov, "save_model"):
        return lambda m, path: ov.save_model(m, path, compress_to_fp16=False)
    return importlib.import_module("openvino.runtime").serialize
