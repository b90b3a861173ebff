"""export --int8: an int8 OpenVINO IR of a frozen graph, written only when it keeps the mean IU.

The frozen graph is converted by this venv's OpenVINO, quantized by NNCF (``quantizer``, in an
interpreter that has it: a TF1 venv's numpy is too old for NNCF) on calibration images of a data
set, then fp32, bf16 (where the CPU computes it) and int8 are measured on its validation split: mean
IU, labels equal to fp32's, seconds per image. The IR is written only when int8's mean IU is within
``max_drop`` of fp32's; the measurements go into its side-car and the frozen graph's (what
``--precision auto`` reads).
"""
import collections
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from fcn_tf1.ground import fileutil, untrusted
from fcn_tf1.model import runtimes
from fcn_tf1.model.config import ModelConfig, read_json_object
from fcn_tf1.ground.formats import FORMATS, readable_format, sidecar_path
from fcn_tf1.model.export_readers import file_digest, path_digest, weights_path
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.numbers.metrics import confusion, scores
from fcn_tf1.workflows import export_writers, isolated, quantizer
from fcn_tf1.workflows.evaluation import checked_samples

# Where ./dev.sh int8-venv puts the quantizer's interpreter.
PROJECT_INT8_PYTHON = os.path.join(isolated.PACKAGE_ROOT, ".venv-int8", "bin", "python")


def nncf_python():
    """The interpreter that quantizes: this one when it has NNCF, else $FCN_TF1_INT8_PYTHON, else
    the checkout's .venv-int8; a one-line ValueError when there is none."""
    if quantizer.has_nncf():
        return sys.executable
    chosen = os.environ.get("FCN_TF1_INT8_PYTHON")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise ValueError("FCN_TF1_INT8_PYTHON=%s: not an interpreter that runs" % chosen)
        return chosen
    if os.access(PROJECT_INT8_PYTHON, os.X_OK):
        return PROJECT_INT8_PYTHON
    raise ValueError("--int8: NNCF, the quantizer, is not in %s (it needs numpy >= 1.19, "
                     "TensorFlow 1.15 pins numpy < 1.19): make its venv once with "
                     "`./dev.sh int8-venv`, or set FCN_TF1_INT8_PYTHON to a Python with nncf and "
                     "openvino" % sys.executable)


def check_can_quantize():
    """One line when this venv has no OpenVINO (it converts and measures) or no NNCF interpreter
    is found."""
    if not runtimes.installed("openvino"):
        raise ValueError("--int8: OpenVINO converts and runs the int8 IR, and %s has none; pip "
                         "install 'fcn_tf1[openvino]'" % sys.executable)
    nncf_python()


def check_int8_output(output, run_dir, checkpoint=None, force=False):
    """Refuse (one line) an int8 IR path that is not ``.xml``, or whose .xml, .bin or side-car
    would replace a user's file."""
    if readable_format(output) is not FORMATS["ir"]:
        raise ValueError("--int8 %s: not %s" % (output, FORMATS["ir"].what))
    export_writers.check_described_output(output, run_dir, checkpoint, force, "int8 IR")
    fileutil.check_output(weights_path(output), _weights_are_ours, force,
                          export_writers.run_inputs(run_dir, checkpoint), "int8 IR weights")


def _weights_are_ours(path):
    xml = os.path.splitext(path)[0] + ".xml"
    try:
        described = read_json_object(sidecar_path(xml), "side-car")
        return described.get("weights_sha256") == path_digest(path)
    except (OSError, ValueError):
        return False


def check_split(source, num_classes, what, modality=None):
    """One line for a split without images, or (``num_classes`` not None) of another class count,
    or (``modality`` not None) of another input than the model's."""
    if len(source) == 0:
        raise ValueError("%s: no images" % what)
    if num_classes is not None and source.num_classes != num_classes:
        raise ValueError("%s: %d classes, the model %d" % (what, source.num_classes, num_classes))
    if modality is not None and source.modality != modality:
        raise ValueError("%s: %s input, the model takes %s" % (what, source.modality, modality))


def write_calibration(source, count, folder, num_classes, what, size=None):
    """Up to ``count`` images of ``source``, evenly spread over it, saved as .npy in ``folder`` at
    one size, ``size`` or their most common one (others resized): OpenVINO corrupts memory in a
    transposed convolution of dynamic output size, so the quantizer's model is static. Returns
    (number, size). One line for an empty set or one of another class count (``num_classes``
    None: any)."""
    check_split(source, num_classes, what)
    os.makedirs(folder)
    picks = sorted(set(np.linspace(0, len(source) - 1, min(count, len(source))).round().astype(int)))
    images = [source.load(int(i))[0] for i in picks]
    size = tuple(size or collections.Counter(i.shape[:2] for i in images).most_common(1)[0][0])
    for j, image in enumerate(images):
        if image.shape[:2] != size:
            image = np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR))
        np.save(os.path.join(folder, "%05d.npy" % j), image)
    return len(images), size


def measure(predictors, source, num_classes, runs=3):
    """{precision: {"mean_iou", "same_labels", "seconds_per_image"}} of ``predictors``
    ({precision: predict}, fp32 among them) on ``source``; same_labels: the share of labels equal
    to fp32's; seconds: the median of ``runs`` on its first image, once compiled for its size. The
    samples are checked as evaluate checks them (``checked_samples``)."""
    hists = {p: np.zeros((num_classes, num_classes), np.int64) for p in predictors}
    same, total = dict.fromkeys(predictors, 0), 0
    for image, label in checked_samples(source, num_classes, "measure"):
        labels = {p: predict(image) for p, predict in predictors.items()}
        for precision in predictors:
            hists[precision] += confusion(label, labels[precision], num_classes)
            same[precision] += int((labels[precision] == labels["fp32"]).sum())
        total += label.size
    first = source.load(0)[0]
    return {p: {"mean_iou": float(scores(hists[p])["mean_iou"]),
                "same_labels": same[p] / float(max(total, 1)),
                "seconds_per_image": _median_seconds(predict, first, runs)}
            for p, predict in predictors.items()}


def _median_seconds(predict, image, runs):
    predict(image)  # compiled for this size
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        predict(image)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_gate(measured, max_drop):
    """A one-line ValueError when int8's mean IU falls more than ``max_drop`` below fp32's."""
    drop = measured["fp32"]["mean_iou"] - measured["int8"]["mean_iou"]
    if drop > max_drop:
        raise ValueError("--max-drop %g: int8's mean IU %.4f is %.4f below fp32's %.4f on the "
                         "validation split; the int8 IR is not written (a larger --max-drop "
                         "writes it anyway)" % (max_drop, measured["int8"]["mean_iou"], drop,
                                                measured["fp32"]["mean_iou"]))


def quantize_graph(frozen_path, calibration, count, work, what="calibration", size=None):
    """(path of the int8 IR in ``work``, fp32 FrozenModel of ``frozen_path`` on OpenVINO, the
    quantizer's facts): the graph converted here, quantized by NNCF on ``count`` images of
    ``calibration`` (at ``size``, else their most common size; with ``size``, of any class count)
    in the interpreter that has it."""
    python = nncf_python()
    fp32 = FrozenModel(frozen_path, "openvino", "fp32")
    try:
        images, size = write_calibration(calibration, count, os.path.join(work, "calibration"),
                                         None if size else fp32.num_classes, what, size)
        fp32_xml, int8_xml = (os.path.join(work, name) for name in ("fp32.xml", "int8.xml"))
        runtimes.save_ir(fp32.engine.model, fp32_xml)
        facts = isolated.call("fcn_tf1.workflows.quantizer:quantize", {
            "fp32_xml": fp32_xml, "calibration_dir": os.path.join(work, "calibration"),
            "int8_xml": int8_xml, "size": list(size)}, python=python)
    except BaseException:
        fp32.close()
        raise
    return int8_xml, fp32, dict(facts, images=images, size=list(size))


def export_int8(frozen_path, output, run_dir, calibration, validation, count, max_drop,
                force=False):
    """Quantize the frozen graph ``frozen_path`` of ``run_dir`` (``quantize_graph``), measure fp32,
    bf16 (where the CPU computes it) and int8 on ``validation`` ({"source", "what"};
    ``calibration`` the same), and write the int8 IR to ``output`` (.xml, .bin, side-car) only when
    it passes ``max_drop``. Returns the measurements."""
    check_int8_output(output, run_dir, force=force)
    with tempfile.TemporaryDirectory(prefix="fcn_tf1_int8_") as work:
        int8_xml, fp32, facts = quantize_graph(frozen_path, calibration["source"], count, work,
                                               calibration["what"])
        models = {"fp32": fp32, "int8": _IRModel(int8_xml, fp32.signature)}
        try:
            bf16 = _bf16_or_none(frozen_path)
            models.update({"bf16": bf16} if bf16 else {})
            measured = measure({p: m.predict for p, m in models.items()}, validation["source"],
                               fp32.num_classes)
        finally:
            for model in models.values():
                model.close()
        check_gate(measured, max_drop)
        gate = {"max_drop": max_drop, "validation": validation["what"], "measured": measured}
        _write_ir(int8_xml, output, dict(fp32.metadata, signature=fp32.signature.to_dict(),
                                         precisions=gate, openvino_int8=dict(
                                             facts, calibration=calibration["what"])))
        _add_to_sidecar(frozen_path, dict(gate, sha256=path_digest(frozen_path)))
    return measured


def quantize_export(frozen_path, output, calibration, count, size):
    """The int8 IR of ``frozen_path`` written to ``output`` without measuring or gating it (the
    bench's model of random weights), calibrated on ``count`` images of ``calibration`` at
    ``size``."""
    with tempfile.TemporaryDirectory(prefix="fcn_tf1_int8_") as work:
        int8_xml, fp32, facts = quantize_graph(frozen_path, calibration, count, work, size=size)
        fp32.close()
        _write_ir(int8_xml, output, dict(fp32.metadata, signature=fp32.signature.to_dict(),
                                         openvino_int8=facts))


class _IRModel(object):
    """The int8 IR before it is written: OpenVINO's engine of it, ``predict`` and ``close``."""

    def __init__(self, path, signature):
        self.engine = runtimes.OpenVINOEngine(path, signature, "int8")
        self.input = signature.image.name

    def predict(self, image):
        return self.engine.labels({self.input: image})

    def close(self):
        self.engine.close()


def _bf16_or_none(frozen_path):
    try:
        return FrozenModel(frozen_path, "openvino", "bf16")
    except ValueError:  # this CPU does not compute bf16
        return None


def _write_ir(int8_xml, output, metadata):
    """The IR's weights, then its .xml, then the side-car naming both (written last: a set cut
    short is refused, never half-read)."""
    with open(weights_path(int8_xml), "rb") as f:
        weights = f.read()
    with open(int8_xml, "rb") as f:
        xml = f.read()
    fileutil.write_bytes(weights_path(output), weights)
    metadata = dict(metadata, weights_sha256=file_digest(weights))
    export_writers.write_described(output, xml, metadata)


def _add_to_sidecar(frozen_path, gate):
    """The measurements into the frozen graph's side-car, for ``--precision auto`` on it."""
    sidecar = sidecar_path(frozen_path)
    if fileutil.json_is_ours(sidecar):
        data = read_json_object(sidecar, "side-car")
        fileutil.write_json(sidecar, dict(data, precisions=gate))


def format_measured(measured):
    """The measurements as a table, fp32 first."""
    lines = ["  %-9s %8s %13s %9s" % ("precision", "mean IU", "labels = fp32", "s/image")]
    for precision in ("fp32", "bf16", "int8"):
        if precision in measured:
            m = measured[precision]
            lines.append("  %-9s %8.4f %12.2f%% %9.4f" % (precision, m["mean_iou"],
                                                         100 * m["same_labels"],
                                                         m["seconds_per_image"]))
    return "\n".join(lines)


def exportable_ir_ops():
    """{"openvino X + nncf Y": [layer types]} of the int8 IRs of ``export_writers.every_fix_frozen``,
    converted by this venv's OpenVINO and quantized by NNCF on one random image (for
    ``ground/ir_ops.json``; ``python -m fcn_tf1.export --list-ops`` where NNCF is at hand)."""
    python = nncf_python()
    signature = ModelConfig(2).signature  # every_fix_frozen's tensor names
    with tempfile.TemporaryDirectory(prefix="fcn_tf1_ir_ops_") as work:
        jobs = []
        for i, (config, frozen) in enumerate(export_writers.every_fix_frozen()):
            size, stem = export_writers.op_list_size(config.shape_fix), os.path.join(work, str(i))
            with open(stem + ".pb", "wb") as f:
                f.write(frozen.SerializeToString())
            engine = runtimes.OpenVINOEngine(stem + ".pb", signature)
            runtimes.save_ir(engine.model, stem + "-fp32.xml")
            os.makedirs(stem)
            np.save(os.path.join(stem, "0.npy"), np.random.RandomState(i).randint(
                0, 256, size + (3,), dtype=np.uint8))
            jobs.append({"fp32_xml": stem + "-fp32.xml", "calibration_dir": stem,
                         "int8_xml": stem + "-int8.xml", "size": list(size)})
        [facts] = {(f["openvino"], f["nncf"]) for f in isolated.call(
            "fcn_tf1.workflows.quantizer:quantize_all", {"jobs": jobs}, python=python)}
        types = set()
        for job in jobs:
            with open(job["int8_xml"], "rb") as f:
                types |= untrusted.ir_layer_types(f.read(), job["int8_xml"])
    return {"openvino %s + nncf %s" % (engine.version, facts[1]): sorted(types)}
