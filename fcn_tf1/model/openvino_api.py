"""OpenVINO's Python API across the releases fcn_tf1 meets (2023.1, the newest for Python 3.7, to
2026.4): the one place that knows where each piece lives. TensorFlow-free (the int8 quantizer's
interpreter imports it too)."""
import importlib


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


def saver():
    """``save(model, xml_path)`` of this OpenVINO, weights kept fp32 (save_model's default
    compresses them to fp16; before save_model, serialize kept them)."""
    ov = module()
    if hasattr(ov, "save_model"):
        return lambda m, path: ov.save_model(m, path, compress_to_fp16=False)
    return importlib.import_module("openvino.runtime").serialize
