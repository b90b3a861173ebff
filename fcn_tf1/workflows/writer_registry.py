"""One writer per export format (``ground/formats.py``): ``check`` refuses a path before anything is
written, ``write`` writes it and says what it wrote. ``python -m fcn_tf1.export`` checks every
requested output, then writes each in the registry's order (the frozen graph first: the others are
made from it or beside it)."""
import collections
import sys

from fcn_tf1.ground import fileutil, machine
from fcn_tf1.ground.formats import FORMATS, sidecar_path
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.export_readers import weights_path
from fcn_tf1.workflows import export_writers, quantization

# What an export run writes: the run and checkpoint it reads, --force, the frozen graph's path
# (the others' source), the fixed input size of the formats that need one, --int8's plan, and
# --tta's augmentation (a numbers.tta.TTA) for the formats that take it.
ExportPlan = collections.namedtuple("ExportPlan",
                                    "run_dir checkpoint force frozen input_size int8 tta")
# --int8: {"calibration", "validation"}: {"source", "what"}, the images calibrated on, the gate.
Int8Plan = collections.namedtuple("Int8Plan", "data calibration_images max_drop")


class RunWriter(object):
    """A format written from the run's checkpoint: ``checker`` refuses a path before anything is
    written, ``exporter`` writes it, ``line(path)`` says what it wrote."""

    def __init__(self, checker, exporter, line):
        self.checker, self.exporter, self.line = checker, exporter, line

    def check(self, path, plan):
        self.checker(path, plan.run_dir, plan.checkpoint, plan.force)

    def write(self, path, plan):
        self.exporter(plan.run_dir, path, plan.checkpoint, plan.force, plan.tta)
        return self.line(path) + (" with TTA %s inside" % plan.tta.describe() if plan.tta else "")


class OnnxWriter(object):
    """ONNX, converted from the frozen graph just written."""

    def check(self, path, plan):
        fileutil.check_output(path, fileutil.contains_marker, plan.force, [plan.frozen],
                              "ONNX model")

    def write(self, path, plan):
        export_writers.export_onnx(plan.frozen, path, force=plan.force)
        return "ONNX: %s" % path


class _DescribedWriter(object):
    """A format of a fixed input size whose config goes in a side-car (TFLite, OpenCV)."""
    what, export, problem = None, None, None

    def check(self, path, plan):
        export_writers.check_described_output(path, plan.run_dir, plan.checkpoint, plan.force,
                                              self.what)
        problem = self.problem(ModelConfig.load(plan.run_dir).signature)
        if problem:
            raise ValueError(problem)

    def write(self, path, plan):
        self.export(plan.run_dir, path, plan.input_size, plan.checkpoint, plan.force)
        return "%s: %s (+ %s), input %dx%d" % ((self.what, path, sidecar_path(path))
                                               + tuple(plan.input_size))


class TFLiteWriter(_DescribedWriter):
    what, export = "TFLite model", staticmethod(export_writers.export_tflite)
    problem = staticmethod(export_writers.tflite_problem)


class OpenCVWriter(_DescribedWriter):
    what, export = "OpenCV graph", staticmethod(export_writers.export_opencv)
    problem = staticmethod(export_writers.opencv_problem)


class IRWriter(object):
    """The int8 IR: its data and tools checked first, written only within the gate."""

    def check(self, path, plan):
        quantization.check_int8_output(path, plan.run_dir, plan.checkpoint, plan.force)
        config = ModelConfig.load(plan.run_dir)
        if len(config.heads) > 1 or len(config.inputs) > 1:
            raise ValueError("--int8: the model has %s; the int8 gate calibrates and measures "
                             "models of one image and one head, so far" % (
                                 " and ".join(i.modality for i in config.inputs) + " inputs"
                                 if len(config.inputs) > 1 else "%d heads (%s)" % (
                                     len(config.heads), ", ".join(h.name for h in config.heads))))
        for split in plan.int8.data.values():
            quantization.check_split(split["source"], config.num_classes, split["what"],
                                     config.modality)
        quantization.check_can_quantize()

    def write(self, path, plan):
        note = machine.int8_note()
        if note:
            print("note: " + note, file=sys.stderr)
        data = plan.int8.data
        measured = quantization.export_int8(
            plan.frozen, path, plan.run_dir, data["calibration"], data["validation"],
            plan.int8.calibration_images, plan.int8.max_drop, plan.force)
        return "int8: %s (+ %s, %s), within --max-drop %g of fp32 on %s:\n%s" % (
            path, weights_path(path), sidecar_path(path), plan.int8.max_drop,
            data["validation"]["what"], quantization.format_measured(measured))


# One writer per format of ``ground/formats.py``.
WRITERS = {"pb": RunWriter(export_writers.check_frozen_output, export_writers.export_frozen,
                          lambda path: "frozen graph: %s (+ %s)" % (path, sidecar_path(path))),
           "saved_model": RunWriter(export_writers.check_saved_model_output,
                                    export_writers.export_saved_model,
                                    lambda path: "SavedModel: %s" % path),
           "onnx": OnnxWriter(),
           "tflite": TFLiteWriter(), "opencv": OpenCVWriter(), "ir": IRWriter()}


def export_all(outputs, plan, say=print):
    """Write ``outputs`` ({format name: path}, the frozen graph among them) in the registry's
    order, after every one of them passed its checks; ``say`` each writer's line."""
    ordered = [(name, outputs[name]) for name in FORMATS if name in outputs]
    for name, path in ordered:
        WRITERS[name].check(path, plan)
    for name, path in ordered:
        say(WRITERS[name].write(path, plan))
