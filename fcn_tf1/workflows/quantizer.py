"""Post-training int8 quantization of an OpenVINO IR with NNCF, run in an interpreter that has NNCF
(``workflows.isolated``): NNCF needs numpy >= 1.19 and TensorFlow 1.15 pins numpy < 1.19, so for a
TF1 venv this is another venv's Python (``./dev.sh int8-venv``). TensorFlow-free: OpenVINO, NNCF
and numpy only. The IR it writes is read by OpenVINO 2023.1 as well (checked in the tests)."""
import glob
import importlib.util
import os

import numpy as np

from fcn_tf1.model import openvino_api


def has_nncf():
    return all(importlib.util.find_spec(m) is not None for m in ("nncf", "openvino"))


def quantize(fp32_xml, calibration_dir, int8_xml, size):
    """Write the int8 IR of ``fp32_xml`` to ``int8_xml`` (+ ``.bin``), calibrated on the images
    ``calibration_dir/*.npy`` (uint8 [H, W, 3], ``size`` (H, W): the model is made static, as the
    engines run it) and with the float weights kept fp32 (``save_model`` would halve them)."""
    import nncf
    model = openvino_api.core().read_model(fp32_xml)
    model.reshape({model.inputs[0]: openvino_api.partial_shape(list(size) + [3])})
    paths = sorted(glob.glob(os.path.join(calibration_dir, "*.npy")))
    dataset = nncf.Dataset(paths, lambda path: np.load(path))
    quantized = nncf.quantize(model, dataset, subset_size=len(paths))
    openvino_api.saver()(quantized, int8_xml)
    return {"nncf": nncf.__version__, "openvino": openvino_api.version(),
            "images": len(paths)}


def quantize_all(jobs):
    """``quantize(**job)`` for each of ``jobs`` in one process (NNCF's import takes seconds)."""
    return [quantize(**job) for job in jobs]
