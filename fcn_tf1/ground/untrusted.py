"""Files users hand us, read without running them: pickled ``.npy`` dicts and GraphDefs.

A pickle can call any importable function and a GraphDef can hold ops that read, write or run
anything (``ReadFile``, ``WriteFile``, ``PyFunc``): both are checked here, in one place, before use.
This lowers the risk of a hostile file; it does not remove it (TensorFlow 1.15's own kernels have
published, unpatched advisories for malformed inputs).
"""
import io
import json
import os
import pickle
import xml.etree.ElementTree as ElementTree

import numpy as np

# What a pickled dict of numpy arrays needs, under numpy 1's and numpy 2's module names; the
# codecs entry decodes the bytes that Python 3 writes in protocol 2 pickles.
PICKLE_GLOBALS = frozenset([
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"), ("codecs", "encode"),
])
EXPORT_OPS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_ops.json")
TFLITE_OPS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tflite_ops.json")
IR_OPS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ir_ops.json")


class UntrustedFileError(ValueError):
    """A user's file that is refused because using it could run code; the message says why."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in PICKLE_GLOBALS:
            raise UntrustedFileError("the pickle calls %s.%s; only numpy arrays, numbers, strings "
                                     "and plain containers are read" % (module, name))
        return super().find_class(module, name)


def load_pickled_npy(path):
    """The object in an ``.npy`` file holding a pickled object (e.g. the caffe-tensorflow
    ``vgg16.npy`` dict), unpickled with only numpy arrays and plain containers admitted; a plain
    numeric array is returned as is."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        try:
            # Python 2's pickles (the published vgg16.npy) hold byte strings: latin1 keeps them.
            array = _ArraysOnly(io.BytesIO(f.read()), encoding="latin1").load()
        except UntrustedFileError as error:
            raise UntrustedFileError("%s: refused: %s" % (path, error))
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError("%s: the pickled array does not match its .npy header" % path)
    return array.item() if array.shape == () else array


def export_ops():
    """{TensorFlow major.minor: [op types]} that fcn_tf1's exports contain, as derived by
    ``python -m fcn_tf1.export --list-ops`` on every TensorFlow that CI runs."""
    with open(EXPORT_OPS_FILE) as f:
        return json.load(f)


def allowed_ops():
    """Every op type an fcn_tf1 export can hold, under any supported TensorFlow (a graph exported
    under one version is loaded under another)."""
    return frozenset(op for ops in export_ops().values() for op in ops)


def check_graph_def(graph_def, path):
    """Refuse a GraphDef with an op an fcn_tf1 export cannot contain, or with functions."""
    if graph_def.library.function:
        raise UntrustedFileError("%s: refused: the graph defines functions (%s); fcn_tf1 exports "
                                 "have none" % (path, graph_def.library.function[0].signature.name))
    allowed = allowed_ops()
    foreign = sorted({node.op for node in graph_def.node} - allowed)
    if foreign:
        node = next(n for n in graph_def.node if n.op == foreign[0])
        raise UntrustedFileError("%s: refused: op %s (node %r) is not one an fcn_tf1 export "
                                 "contains%s" % (path, foreign[0], node.name,
                                                 "" if len(foreign) == 1 else
                                                 " (also %s)" % ", ".join(foreign[1:])))


def check_tflite_ops(codes, path):
    """Refuse a TFLite model (``codes``: its [(builtin code, custom code)]) with a custom op (Flex
    ops included: they run TensorFlow kernels, file I/O among them) or a builtin op that no
    fcn_tf1 export holds (``tflite_ops.json``, derived like ``export_ops.json``)."""
    custom = sorted({name for _, name in codes if name is not None})
    if custom:
        raise UntrustedFileError("%s: refused: custom op %s; fcn_tf1's TFLite exports use "
                                 "TensorFlow Lite's builtin ops only" % (path, custom[0]))
    with open(TFLITE_OPS_FILE) as f:
        allowed = {code for version in json.load(f).values() for code in version}
    foreign = sorted({code for code, _ in codes} - allowed)
    if foreign:
        raise UntrustedFileError("%s: refused: builtin op %s is not one an fcn_tf1 TFLite export "
                                 "contains" % (path, ", ".join(str(c) for c in foreign)))


# ONNX's own operator sets: their ops compute on tensors only. Any other domain names a custom op,
# code a runtime would have to load.
ONNX_DOMAINS = ("", "ai.onnx")
ONNX_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL: the tensor's bytes are read from a file


def _onnx_graphs(graph):
    """``graph`` and the subgraphs its nodes carry (If / Loop bodies), depth first."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            for sub in list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else []):
                for inner in _onnx_graphs(sub):
                    yield inner


def check_onnx_model(model, path):
    """Refuse an ONNX model with custom-domain ops, model-local functions or tensors whose bytes
    live in other files (a path in a model file must not make us read the user's files)."""
    if len(model.functions):
        raise UntrustedFileError("%s: refused: the model defines functions (%s); fcn_tf1 exports "
                                 "have none" % (path, model.functions[0].name))
    for graph in _onnx_graphs(model.graph):
        for node in graph.node:
            if node.domain not in ONNX_DOMAINS:
                raise UntrustedFileError("%s: refused: op %s of domain %r (node %r) is not an ONNX "
                                         "operator" % (path, node.op_type, node.domain, node.name))
        tensors = list(graph.initializer) + [a.t for n in graph.node for a in n.attribute
                                             if a.HasField("t")]
        for tensor in tensors:
            if tensor.data_location == ONNX_EXTERNAL or len(tensor.external_data):
                raise UntrustedFileError("%s: refused: tensor %r is stored in another file; "
                                         "fcn_tf1 exports hold their weights inside"
                                         % (path, tensor.name))


def ir_layer_types(data, path):
    """The layer types of an OpenVINO IR's .xml bytes. A document type (where entities that
    expand without end or read files are declared) is refused before the XML is parsed."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UntrustedFileError("%s: refused: the XML declares a document type or entities; "
                                 "OpenVINO IR has none" % path)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ValueError("%s: not an OpenVINO IR (%s)" % (path, error))
    if root.tag != "net":
        raise ValueError("%s: not an OpenVINO IR (its root is <%s>, not <net>)" % (path, root.tag))
    return {layer.get("type") for layer in root.iter("layer")}


def check_ir_xml(data, path):
    """Refuse an IR with a layer type that no fcn_tf1 int8 export holds (``ir_ops.json``, derived
    by ``python -m fcn_tf1.export --list-ops`` where OpenVINO and NNCF are): an unknown type is
    what a custom extension would have to run."""
    with open(IR_OPS_FILE) as f:
        allowed = {op for ops in json.load(f).values() for op in ops}
    foreign = sorted(ir_layer_types(data, path) - allowed, key=str)
    if foreign:
        raise UntrustedFileError("%s: refused: layer type %s is not one an fcn_tf1 int8 export "
                                 "contains" % (path, ", ".join(str(t) for t in foreign)))
