"""Export files read as untrusted input: a frozen GraphDef, an ONNX model, a TensorFlow Lite model
or an int8 OpenVINO IR, parsed (nothing of it runs), refused in one line unless it is an fcn_tf1
export (its ops checked by ``ground.untrusted``; its config read from its own bytes, or for TFLite
and the IR from the side-car that names the files' SHA-256)."""
import collections
import hashlib
import json
import os

from fcn_tf1.ground.formats import FORMATS, readable_format, readable_text, sidecar_path
from fcn_tf1.ground.names import CONFIG_NODE
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.ground.untrusted import (check_graph_def, check_ir_xml, check_onnx_model,
                                      check_tflite_ops)
from fcn_tf1.model.config import ModelConfig, read_json_object
from fcn_tf1.model.signature import Signature
from fcn_tf1.numbers.tflite_model import NotTFLite, operator_codes

# An export read once and checked: its format record, its bytes' SHA-256, the config it carries
# (``metadata``: the model config, its signature, what wrote it; ``config`` and ``signature`` made
# from it), what the reader parsed (a GraphDef for TensorFlow, else None) and, when asked for, a
# private copy of the checked bytes.
OpenedExport = collections.namedtuple(
    "OpenedExport", "path format digest metadata config signature parsed copy")


def open_export(path, work=None):
    """The export ``path`` read once, checked by its format's reader (nothing of it runs), refused
    in one line unless it is an fcn_tf1 export; with ``work``, the checked bytes copied there (a
    runtime reads what was checked, whatever happens to ``path`` meanwhile)."""
    fmt = readable_format(path)
    reader = READERS[fmt.name]
    data = _read_bytes(path, fmt.what)
    parsed, metadata = reader.parse(data, path)
    copy = None
    if work is not None:
        copy = os.path.join(work, "model" + fmt.suffixes[0])
        with open(copy, "wb") as f:
            f.write(data)
        reader.copy_beside(path, copy, metadata)
    config, signature = export_signature(metadata, path)
    return OpenedExport(path, fmt, file_digest(data), metadata, config, signature, parsed, copy)


def read_frozen(path):
    """(GraphDef, config dict) of an fcn_tf1 frozen graph, checked."""
    return _parse_frozen(_read_bytes(path, FORMATS["pb"].what), path)


def _parse_frozen(data, path):
    graph_def = parse_graph_def(data, path)
    names = {node.name: node for node in graph_def.node}
    if CONFIG_NODE not in names:
        raise ValueError("%s: not an fcn_tf1 graph (no node %s)" % (path, CONFIG_NODE))
    check_graph_def(graph_def, path)
    metadata = _read_metadata(names[CONFIG_NODE], path)
    missing = [n for n in export_signature(metadata, path)[1].tensor_names() if n not in names]
    if missing:
        raise ValueError("%s: not the graph its config describes (no node %s)"
                         % (path, ", ".join(missing)))
    return graph_def, metadata


def export_signature(metadata, path):
    """(ModelConfig, Signature) of an export's config: the signature it carries, or for an export
    of fcn_tf1 0.3 the one its model config implies."""
    config = ModelConfig.from_dict(metadata, path)
    return config, Signature.from_metadata(metadata, config, path)


def _parse_onnx(data, path):
    """(ModelProto, config dict) of an fcn_tf1 ONNX export's bytes, checked (``untrusted``)."""
    try:
        import onnx
    except ImportError:
        raise ValueError("%s: reading ONNX files needs the onnx package; pip install "
                         "'fcn_tf1[onnx]'" % path)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # protobuf's DecodeError differs between implementations
        raise ValueError("%s: not an ONNX model" % path)
    config = {entry.key: entry.value for entry in model.metadata_props}.get(CONFIG_NODE)
    if not model.graph.node or config is None:
        raise ValueError("%s: not an fcn_tf1 ONNX export (no %s metadata)" % (path, CONFIG_NODE))
    check_onnx_model(model, path)
    return model, _parse_metadata(config, path, CONFIG_NODE)


def _parse_tflite(data, path):
    """(None, config dict) of an fcn_tf1 TFLite export's bytes, its ops checked; the config is
    the side-car's, which must name these bytes' SHA-256."""
    try:
        codes = operator_codes(data)
    except NotTFLite as error:
        raise ValueError("%s: not a TensorFlow Lite model (%s)" % (path, error))
    check_tflite_ops(codes, path)
    return None, described_config(path, data)


def _parse_ir(data, path):
    """(None, config dict) of an fcn_tf1 int8 IR's .xml bytes, its layers checked; the config is
    the side-car's, which must name these bytes' SHA-256 (and the .bin's, checked as it is
    copied)."""
    metadata = described_config(path, data)
    check_ir_xml(data, path)
    return None, metadata


def weights_path(xml_path):
    """An IR's weights: ``model.xml`` -> ``model.bin``, where OpenVINO looks for them."""
    return os.path.splitext(xml_path)[0] + ".bin"


def described_config(path, data):
    """The config in the side-car of the export ``path`` whose bytes are ``data`` (TFLite,
    OpenCV, IR); a one-line ValueError unless the side-car names their SHA-256."""
    sidecar = sidecar_path(path)
    if not os.path.isfile(sidecar):
        raise ValueError("%s: no %s beside it; fcn_tf1 writes the config of %s there (python -m "
                         "fcn_tf1.export)" % (path, os.path.basename(sidecar), " and ".join(
                             f.what for f in FORMATS.values() if f.sidecar == "beside")))
    metadata = read_json_object(sidecar, "fcn_tf1 export config")
    if metadata.get("sha256") != file_digest(data):
        raise ValueError("%s: describes another file (the SHA-256 of %s differs); export again"
                         % (sidecar, path))
    return metadata


def file_digest(data):
    return hashlib.sha256(data).hexdigest()


def path_digest(path):
    """The SHA-256 of the file ``path``, read block by block."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


class _Reader(object):
    """A format's reader: ``parse(data, path) -> (parsed, metadata)`` and the files it needs
    beside the copy of its checked bytes."""
    parse = None

    @staticmethod
    def copy_beside(path, copy, metadata):
        """Nothing: the file is whole."""


class FrozenGraphReader(_Reader):
    parse = staticmethod(_parse_frozen)


class OnnxReader(_Reader):
    parse = staticmethod(_parse_onnx)


class TFLiteReader(_Reader):
    parse = staticmethod(_parse_tflite)


class IRReader(_Reader):
    parse = staticmethod(_parse_ir)

    @staticmethod
    def copy_beside(path, copy, metadata):
        """The weights, copied and checked against the SHA-256 the side-car names."""
        copy_if_digest(weights_path(path), weights_path(copy), metadata.get("weights_sha256"))


# One reader per format that a runtime runs (``ground/formats.py``).
READERS = {"pb": FrozenGraphReader, "onnx": OnnxReader, "tflite": TFLiteReader, "ir": IRReader}


def copy_if_digest(source, target, sha256):
    """Copy ``source`` to ``target`` block by block; a one-line ValueError (and no ``target``)
    unless its bytes have the SHA-256 ``sha256``."""
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as f, open(target, "wb") as out:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
                out.write(block)
    except OSError as error:
        raise ValueError("%s: %s" % (source, error.strerror or error))
    if digest.hexdigest() != sha256:
        os.remove(target)
        raise ValueError("%s: not the weights its side-car names (their SHA-256 differs); export "
                         "again" % source)


def measured_precisions(opened):
    """What export --int8 measured for the export ``opened`` (an ``OpenedExport``) on the run's
    validation split ({"max_drop", "measured": {...}}): from its own side-car, or the one beside a
    file that carries its config inside when it names these bytes; else None."""
    if opened.format.sidecar == "beside":
        return opened.metadata.get("precisions")
    try:
        gate = read_json_object(sidecar_path(opened.path), "side-car").get("precisions")
    except ValueError:
        return None
    return gate if gate and gate.get("sha256") == opened.digest else None


# What takes a SavedModel, for the messages that meet one where an export file is wanted.
SAVED_MODEL_HINT = ("a SavedModel is for %s; predict, evaluate and bench take %s (a run's "
                    "frozen_model.pb is one)" % (FORMATS["saved_model"].client, readable_text()))


def _read_bytes(path, what):
    if os.path.isdir(path):
        kind = ("a SavedModel folder" if os.path.isfile(os.path.join(path, "saved_model.pb"))
                else "a folder")
        raise ValueError("%s: %s, not %s; %s" % (path, kind, what, SAVED_MODEL_HINT))
    if not os.path.isfile(path):
        raise ValueError("%s: no such file" % path)
    if os.path.basename(path) == "saved_model.pb":
        raise ValueError("%s: the graph of a SavedModel, not %s; %s" % (path, what,
                                                                       SAVED_MODEL_HINT))
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError("%s: empty file, not %s" % (path, what))
    return data


def read_graph_def(path):
    """The GraphDef in ``path``, parsed (not imported, nothing runs); one-line errors."""
    return parse_graph_def(_read_bytes(path, FORMATS["pb"].what), path)


def parse_graph_def(data, path):
    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception:  # protobuf's DecodeError differs between implementations
        raise ValueError("%s: not a TensorFlow GraphDef (.pb)" % path)
    return graph_def


def _read_metadata(node, path):
    """The JSON config in an export's string constant node."""
    try:
        value = node.attr["value"].tensor.string_val[0].decode("utf-8")
    except (IndexError, UnicodeDecodeError) as error:
        raise ValueError("%s: the graph's %s is not a JSON config (%s)" % (path, node.name, error))
    return _parse_metadata(value, path, node.name)


def _parse_metadata(text, path, name):
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError("%s: the graph's %s is not a JSON config (%s)" % (path, name, error))
    if not isinstance(data, dict):
        raise ValueError("%s: the graph's %s is not a JSON object" % (path, name))
    return data
