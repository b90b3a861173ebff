"""The engines that run an exported model (which formats each reads: ``ground/formats.py``), fp32
everywhere, bf16 on OpenVINO where the CPU computes it, int8 from the int8 IR. Each is
``Engine(source, signature, precision, digest)`` with ``run(image) -> (logits, labels)`` for one
image of the signature's input and ``close()``; tensor names come from the model's signature.
``models.FrozenModel`` checks the file first: TensorFlow gets the checked GraphDef, the others a
private copy of the checked file and its SHA-256 (``digest``: OpenVINO keeps its conversion of a
frozen graph under it, ``ir_cache``).
"""
import collections
import importlib
import importlib.util
import re
import warnings

import numpy as np

from fcn_tf1.ground import console
from fcn_tf1.ground.formats import formats_read_by, readable, readable_format
from fcn_tf1.ground.machine import release_file_pages
from fcn_tf1.ground.names import AUTO, PRECISIONS, RUNTIME_SPECS, RUNTIMES
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model import openvino_api
from fcn_tf1.model.ir_cache import IRCache


def default_precision(precision, path):
    """``precision``, or when None the file's own (its format's first: int8 for an int8 IR)."""
    return precision or readable_format(path).precisions[0]


def _check_precision(precision, fmt, path):
    """The one check of a precision against the file's format: it names the formats that hold it."""
    if precision not in PRECISIONS + (AUTO,):
        raise ValueError("--precision %s: not one of %s" % (precision, ", ".join(PRECISIONS)))
    if precision != AUTO and precision not in fmt.precisions:
        holders = [f for f in readable() if precision in f.precisions]
        raise ValueError("%s: %s runs in %s only; %s runs from %s (python -m fcn_tf1.export %s)"
                         % (path, fmt.what, " or ".join(fmt.precisions), precision,
                            " or ".join(f.what for f in holders),
                            " or ".join(f.flag for f in holders)))


def installed(runtime):
    return importlib.util.find_spec(RUNTIME_SPECS[runtime].module) is not None


def choose(runtime, precision, path):
    """The runtime to use for ``path``: ``runtime`` if named (refused in one line when it is not
    installed or cannot read the file), else the first installed of those its format names."""
    fmt = readable_format(path)
    _check_precision(precision, fmt, path)
    if runtime is None:
        runtime = next((r for r in fmt.runtimes if installed(r)), None)
        if runtime is None:
            raise ValueError("%s: no installed runtime reads %s; pip install 'fcn_tf1[%s]'"
                             % (path, fmt.what, RUNTIME_SPECS[fmt.runtimes[0]].extra))
    if runtime not in RUNTIMES:
        raise ValueError("--runtime %s: not one of %s" % (runtime, ", ".join(RUNTIMES)))
    spec = RUNTIME_SPECS[runtime]
    if not installed(runtime):
        raise ValueError("--runtime %s: not installed; pip install 'fcn_tf1[%s]'"
                         % (runtime, spec.extra))
    if runtime not in fmt.runtimes:
        theirs = formats_read_by(runtime)
        raise ValueError("%s: --runtime %s reads only %s; make one with python -m fcn_tf1.export %s"
                         % (path, runtime, " or ".join(f.what for f in theirs),
                            " or ".join(f.flag for f in theirs)))
    if precision != AUTO and precision not in spec.precisions:
        raise ValueError("--precision %s: only --runtime %s computes in %s" % (
            precision, " or ".join(r for r in RUNTIMES if precision in RUNTIME_SPECS[r].precisions),
            precision))
    return runtime


def stacked(labels):
    """The labels of a model's one head, or of its several heads stacked on a last axis."""
    return labels[0] if len(labels) == 1 else np.stack(labels, -1)


class TensorFlowEngine(object):
    """The frozen graph in a TensorFlow session (any TensorFlow the venv has)."""

    def __init__(self, graph_def, signature, precision="fp32", digest=None):
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.Session(graph=self.graph)
        self.inputs = {i.name: self.graph.get_tensor_by_name(i.name + ":0")
                       for i in signature.inputs}
        self.input = self.inputs[signature.inputs[0].name]
        self.outputs = [self.graph.get_tensor_by_name(n + ":0") for n in signature.output_names()]
        self.version = tf.__version__.split("-")[0]

    def run(self, feeds):
        """The outputs for ``feeds`` ({input name: array}); ``labels`` the labels alone."""
        return self.session.run(self.outputs, self._feed(feeds))

    def labels(self, feeds):
        return stacked(self.session.run(self.outputs[1::2], self._feed(feeds)))

    def _feed(self, feeds):
        return {self.inputs[name]: value for name, value in feeds.items()}

    def close(self):
        self.session.close()


class OpenVINOEngine(object):
    """OpenVINO's CPU plugin, latency hint, asked for the precision explicitly (on a bf16 CPU it
    computes in bf16 unless told f32). The model is compiled for each input size it meets (static
    shapes), the last ``COMPILED_SIZES`` kept: with dynamic shapes OpenVINO 2023.1's CPU plugin
    corrupts memory in a transposed convolution whose output size is an input (the output_shape
    fix), crashing or mislabelling at the third size; static shapes are exact at every size."""

    COMPILED_SIZES = 3
    # The formats whose conversion is kept (``ir_cache``): a frozen graph's takes seconds.
    KEPT_CONVERSIONS = ("pb",)

    def __init__(self, path, signature, precision="fp32", digest=None):
        self.names = signature.output_names()
        self.input_names = [i.name for i in signature.inputs]
        self.core = openvino_api.core()
        self.version = openvino_api.version()
        if precision == "bf16":
            check_bf16(openvino_api.capabilities(self.core))
        self.from_cache = False
        self.model, self.mapped = self._read(path, digest)
        # An int8 IR computes its quantized layers in int8 whatever the hint; the rest in f32.
        self.settings = {"PERFORMANCE_HINT": "LATENCY",
                         "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        self.compiled = collections.OrderedDict()  # shape -> (infer request, output order)

    def _read(self, path, digest):
        """(the model, the file its weights are mapped from or None). A frozen graph's conversion
        is kept as IR for the next process (``ir_cache``) and read back from there: its weights
        are then pages of a file, which ``_request`` releases once compiled."""
        slow = readable_format(path).name in self.KEPT_CONVERSIONS
        cache = IRCache(self.version) if digest and slow else None
        if cache is None:
            return self._convert(path), None
        model = cache.load(self.core, digest)
        self.from_cache = model is not None
        if model is None:
            converted = self._convert(path)
            cache.store(openvino_api.saver(), converted, digest)
            model = cache.load(self.core, digest)
            if model is None:  # not stored (a full disk): the conversion in memory
                return converted, None
        return model, cache.weights(digest)

    def _convert(self, path):
        try:
            model = self.core.read_model(path)
        except RuntimeError as error:
            raise ValueError("OpenVINO %s cannot read the model: %s" % (self.version,
                                                                         conversion_error(error)))
        for logits in self.names[0::2]:
            if not any(logits + ":0" in out.get_names() for out in model.outputs):
                model.add_outputs([logits + ":0"])
        return model

    def _request(self, shapes):
        """The infer request of the model compiled for ``shapes`` (of its inputs in the
        signature's order), least recently used evicted."""
        if shapes in self.compiled:
            self.compiled.move_to_end(shapes)
            return self.compiled[shapes]
        while len(self.compiled) >= self.COMPILED_SIZES:
            self.compiled.popitem(last=False)
        self.model.reshape({self.model.inputs[_port_index(self.model.inputs, name)]:
                            openvino_api.partial_shape(shape)
                            for name, shape in zip(self.input_names, shapes)})
        compiled = self.core.compile_model(self.model, "CPU", self.settings)
        if self.mapped:
            # The compiled model holds its own copy; the file's pages are read again if needed.
            release_file_pages(self.mapped)
        order = [_output_index(compiled, name) for name in self.names]
        self.compiled[shapes] = compiled.create_infer_request(), order
        return self.compiled[shapes]

    def run(self, feeds):
        return [np.array(value) for value in self._outputs(feeds)]

    def labels(self, feeds):
        return stacked([np.array(labels) for labels in self._outputs(feeds)[1::2]])

    def _outputs(self, feeds):
        """The outputs in ``names``' order: views of the engine's own memory, valid until the next
        run (copying only what is wanted: a tile's logits are 84 bytes a pixel)."""
        arrays = [feeds[name] for name in self.input_names]
        request, order = self._request(tuple(tuple(a.shape) for a in arrays))
        results = request.infer(dict(enumerate(arrays)), share_outputs=True)
        values = list(results.values()) if hasattr(results, "values") else list(results)
        return [values[i] for i in order]

    def close(self):
        self.compiled.clear()
        self.model = None


def save_ir(model, path):
    """Write an OpenVINO model as IR (``path`` .xml and its .bin), weights as they are."""
    openvino_api.saver()(model, path)


def auto_candidates(gate, runtime, path):
    """--precision auto: the precisions to try in turn, fastest first: those ``runtime`` computes
    from ``path``'s format whose measurement (``gate``: {"max_drop", "measured": {precision:
    {"mean_iou", "seconds_per_image"}}}, from export --int8) stays within the gate, then the
    file's default. A precision this CPU cannot compute is skipped when the engine refuses it."""
    fmt, spec = readable_format(path), RUNTIME_SPECS[runtime]
    own = fmt.precisions
    measured = (gate or {}).get("measured", {})
    reference = measured.get("fp32", {}).get("mean_iou")
    passing = [p for p in own if p in spec.precisions and p in measured and reference is not None
               and reference - measured[p]["mean_iou"] <= gate["max_drop"]]
    passing.sort(key=lambda p: measured[p]["seconds_per_image"])
    return passing + [p for p in (default_precision(None, path),) if p not in passing]


def check_bf16(capabilities):
    if "BF16" not in capabilities:
        raise ValueError("--precision bf16: this CPU does not compute bf16 (OpenVINO sees %s); use "
                         "--precision fp32" % ", ".join(capabilities))


def _output_index(compiled, name):
    return _port_index(compiled.outputs, name, "output")


def _port_index(ports, name, what="input"):
    """The index of the port (an input or output of an OpenVINO model) of tensor ``name``."""
    for i, port in enumerate(ports):
        if name in port.get_names() or name + ":0" in port.get_names():
            return i
    raise ValueError("the model has no %s %s" % (what, name))


def conversion_error(error):
    """The line of an OpenVINO conversion failure that names the ops (its wording differs between
    releases), else its last line that is not a source location."""
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if re.search(r"no (translator|conversion rule)", line, re.I)]
    plain = [line for line in lines if not re.match(r"(Exception from|Check ')", line)]
    return (named or plain or lines or ["unknown error"])[0]


def _onnx_feeds(feeds):
    return {name + ":0": value for name, value in feeds.items()}


class OnnxRuntimeEngine(object):
    """ONNX Runtime's CPU execution provider."""

    def __init__(self, path, signature, precision="fp32", digest=None):
        ort = importlib.import_module("onnxruntime")
        self.version = ort.__version__
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.outputs = [name + ":0" for name in signature.output_names()]

    def run(self, feeds):
        return self.session.run(self.outputs, _onnx_feeds(feeds))

    def labels(self, feeds):
        return stacked(self.session.run(self.outputs[1::2], _onnx_feeds(feeds)))

    def close(self):
        self.session = None


_UINT16 = []


def tflite_takes_uint16():
    """Whether this TensorFlow's TFLite interpreter can be given a uint16 tensor (a depth input):
    2.13 and 2.15 refuse one ("Got value of type NOTYPE"), 2.21 takes it; asked once, of a model of
    one Cast (TensorFlow 1.15's converter is a separate program: its interpreter is not asked)."""
    if not _UINT16 and tf.__version__.startswith("1."):
        _UINT16.append(False)
    if not _UINT16:
        with tf.Graph().as_default() as graph:
            depth = tf.placeholder(tf.uint16, [1], name="depth")
            out = tf.cast(depth, tf.float32, name="out")
            with tf.Session(graph=graph) as session, console.stderr_without(console.EVERYTHING):
                data = tf.lite.TFLiteConverter.from_session(session, [depth], [out]).convert()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "(?s).*tf.lite.Interpreter is deprecated")
                interpreter = tf.lite.Interpreter(model_content=data)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                                   np.ones([1], np.uint16))
            _UINT16.append(True)
        except ValueError:
            _UINT16.append(False)
    return _UINT16[0]


class TFLiteEngine(object):
    """TensorFlow Lite's interpreter (the one in TensorFlow) on a model whose input size was fixed
    at export; an image of another size is refused in one line."""

    # What TF 2.x's interpreter says at every start: it is deprecated from 2.20 (the successor,
    # LiteRT, is another package), and its delegate's INFO line.
    NOISE = re.compile(r"INFO: Created TensorFlow Lite")

    def __init__(self, path, signature, precision="fp32", digest=None):
        uint16 = [i.name for i in signature.inputs if i.dtype == "uint16"]
        if uint16 and not tflite_takes_uint16():
            raise ValueError("the model takes %s as uint16, which this TensorFlow's (%s) TFLite "
                             "interpreter cannot be given (2.21's can): run it on TensorFlow 2.21 "
                             "or its frozen graph on another runtime"
                             % (uint16[0], tf.__version__.split("-")[0]))
        with warnings.catch_warnings(), console.stderr_without(self.NOISE):
            warnings.filterwarnings("ignore", "(?s).*tf.lite.Interpreter is deprecated")
            self.interpreter = tf.lite.Interpreter(model_path=path)
            self.interpreter.allocate_tensors()
        details = {d["name"].split(":")[0]: d for d in self.interpreter.get_input_details()}
        self.inputs = {i.name: (details[i.name]["index"], tuple(int(d) for d in
                                                               details[i.name]["shape"]))
                       for i in signature.inputs}
        self.shape = self.inputs[signature.inputs[0].name][1]
        self.input_size = self.shape[:2]
        by_name = {d["name"].split(":")[0]: d["index"]
                   for d in self.interpreter.get_output_details()}
        self.outputs = [by_name[name] for name in signature.output_names()]
        self.version = tf.__version__.split("-")[0]

    def run(self, feeds):
        self._invoke(feeds)
        return [self.interpreter.get_tensor(index) for index in self.outputs]

    def labels(self, feeds):
        self._invoke(feeds)
        return stacked([self.interpreter.get_tensor(index) for index in self.outputs[1::2]])

    def _invoke(self, feeds):
        for name, image in feeds.items():
            index, shape = self.inputs[name]
            if image.shape != shape:
                raise ValueError("this TFLite model takes %dx%d images (its input size is fixed "
                                 "at export), not %dx%d: resize them, or export one with "
                                 "--input-size %dx%d" % (shape[:2] + image.shape[:2] +
                                                         image.shape[:2]))
            self.interpreter.set_tensor(index, image)
        self.interpreter.invoke()

    def close(self):
        self.interpreter = None


ENGINES = {"tf": TensorFlowEngine, "openvino": OpenVINOEngine, "onnxruntime": OnnxRuntimeEngine,
           "tflite": TFLiteEngine}
