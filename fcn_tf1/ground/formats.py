"""The export formats: one record each, free of TensorFlow (``--help`` texts, the docs' table and the
runtimes' choice read it). A format's reader lives in ``model/export_readers.py`` and its writer in
``workflows/export_writers.py``, each registered under the record's name; a test fails when a record
has no reader or writer, or a readable suffix reaches no runtime.

Adding a format: one record here, its reader and its writer (docs/architecture.md).
"""
import collections
import os

# name: the registry key; suffixes: the file names it has (empty: a folder); flag: the export flag
# that writes it; what: how messages name it; precisions: what it computes in, its default first
# (a runtime computes the ones it has of these); sidecar: where its config lives ("inside" the
# file, "beside" it in PATH.json naming the file's SHA-256); runtimes: the runtimes of fcn_tf1
# that run it, in the order the default takes them (none: it is for a client of its own);
# client: what runs it outside fcn_tf1; fixed_size: its input size is fixed at export
# (--input-size); tta: export --tta can bake test-time augmentation into it; help: the export
# flag's help.
Format = collections.namedtuple(
    "Format", "name suffixes flag what precisions sidecar runtimes client fixed_size tta help")

FORMATS = collections.OrderedDict((record.name, record) for record in (
    Format("pb", (".pb",), "--output", "a frozen graph (.pb)", ("fp32", "bf16"), "inside",
           ("openvino", "tf"), "tf.import_graph_def", False, True,
           "the frozen graph (.pb, required); a .json side-car lands beside it"),
    Format("saved_model", (), "--saved-model", "a SavedModel folder", ("fp32",), "inside",
           (), "TF Serving, tf.saved_model.loader", False, True,
           "also write a SavedModel here (signatures serving_default and serving_bytes)"),
    Format("onnx", (".onnx",), "--onnx", "an ONNX model (.onnx)", ("fp32", "bf16"), "inside",
           ("openvino", "onnxruntime"), "ONNX Runtime", False, False,
           "also convert the frozen graph to ONNX (tf2onnx; pip install 'fcn_tf1[onnx]'); "
           "dynamic H and W"),
    Format("tflite", (".tflite",), "--tflite", "a TFLite model (.tflite)", ("fp32",), "beside",
           ("tflite",), "tf.lite.Interpreter", True, False,
           "also write a TensorFlow Lite model (fp32, input of --input-size, fixed; its config "
           "in PATH.json)"),
    Format("opencv", (".pb",), "--opencv", "a frozen graph for OpenCV's dnn (.pb)", ("fp32",),
           "beside", (), "cv2.dnn.readNetFromTensorflow", True, False,
           "also write a frozen graph for OpenCV's cv2.dnn.readNetFromTensorflow (float NCHW blob "
           "of --input-size in, logits out; its blobFromImage parameters and config in "
           "PATH.json)"),
    Format("ir", (".xml",), "--int8", "an int8 OpenVINO IR (.xml and its .bin)", ("int8",),
           "beside", ("openvino",), "OpenVINO", False, False,
           "also write an int8 OpenVINO IR (PATH.xml, its .bin, PATH.xml.json), calibrated on "
           "--data's --calibration-split and written only when its mean IU on "
           "--validation-split is within --max-drop of fp32's"),
))
# What a file of an unknown suffix is taken for (a run's frozen_model.pb, a graph named model.bin).
DEFAULT_READABLE = "pb"


def readable():
    """The formats fcn_tf1's runtimes run, in registry order."""
    return [record for record in FORMATS.values() if record.runtimes]


def readable_format(path):
    """The record of the export ``path`` by its suffix, among the formats a runtime runs (an
    unknown suffix: a frozen graph)."""
    suffix = os.path.splitext(path)[1].lower()
    for record in readable():
        if suffix in record.suffixes:
            return record
    return FORMATS[DEFAULT_READABLE]


def readable_text():
    """'a frozen graph (.pb), an ONNX model (.onnx), ...': for help texts."""
    return ", ".join(record.what for record in readable())


def clients_text():
    """'not a SavedModel folder (for TF Serving, ...) or ...': the formats for clients of their own,
    for help texts."""
    return "not " + " or ".join("%s (for %s)" % (record.what, record.client)
                                for record in FORMATS.values() if not record.runtimes)


def formats_read_by(runtime):
    """The records ``runtime`` runs."""
    return [record for record in readable() if runtime in record.runtimes]


def flag_dest(record):
    """The attribute argparse gives the record's export flag: ``--saved-model`` -> ``saved_model``."""
    return record.flag[2:].replace("-", "_")


def sidecar_path(export_path):
    """``model.pb`` -> ``model.pb.json``: an export's config beside it (never a run's own
    ``model.json``)."""
    return export_path + ".json"
