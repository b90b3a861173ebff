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


class TensorFlowEngine(object):
    """The frozen graph in a TensorFlow session (any TensorFlow the venv has)."""

    def __init__(self, graph_def, signature, precision="fp32", digest=None):
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.Session(graph=self.graph)
        self.input = self.graph.get_tensor_by_name(signature.image.name + ":0")
        self.outputs = [self.graph.get_tensor_by_name(n + ":0") for n in signature.output_names()]
        self.version = tf.__version__.split("-")[0]

    def run(self, image):
        return self.session.run(self.outputs, {self.input: image})

    def labels(self, image):
        return self.session.run(self.outputs[1], {self.input: image})

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
        logits = self.names[0] + ":0"
        if not any(logits in out.get_names() for out in model.outputs):
            model.add_outputs([logits])
        return model

    def _request(self, shape):
        """The infer request of the model compiled for ``shape``, least recently used evicted."""
        if shape in self.compiled:
            self.compiled.move_to_end(shape)
            return self.compiled[shape]
        while len(self.compiled) >= self.COMPILED_SIZES:
            self.compiled.popitem(last=False)
        self.model.reshape({self.model.inputs[0]: openvino_api.partial_shape(shape)})
        compiled = self.core.compile_model(self.model, "CPU", self.settings)
        if self.mapped:
            # The compiled model holds its own copy; the file's pages are read again if needed.
            release_file_pages(self.mapped)
        order = [_output_index(compiled, name) for name in self.names]
        self.compiled[shape] = compiled.create_infer_request(), order
        return self.compiled[shape]

    def run(self, image):
        return [np.array(value) for value in self._outputs(image)]

    def labels(self, image):
        return np.array(self._outputs(image)[1])

    def _outputs(self, image):
        """The outputs in ``names``' order: views of the engine's own memory, valid until the next
        run (copying only what is wanted: a tile's logits are 84 bytes a pixel)."""
        request, order = self._request(tuple(image.shape))
        results = request.infer({0: image}, share_outputs=True)
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
    for i, out in enumerate(compiled.outputs):
        if name in out.get_names() or name + ":0" in out.get_names():
            return i
    raise ValueError("the model has no output %s" % name)


def conversion_error(error):
    """The line of an OpenVINO conversion failure that names the ops (its wording differs between
    releases), else its last line that is not a source location."""
    lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if re.search(r"no (translator|conversion rule)", line, re.I)]
    plain = [line for line in lines if not re.match(r"(Exception from|Check ')", line)]
    return (named or plain or lines or ["unknown error"])[0]


class OnnxRuntimeEngine(object):
    """ONNX Runtime's CPU execution provider."""

    def __init__(self, path, signature, precision="fp32", digest=None):
        ort = importlib.import_module("onnxruntime")
        self.version = ort.__version__
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.input = signature.image.name + ":0"
        self.outputs = [name + ":0" for name in signature.output_names()]

    def run(self, image):
        return self.session.run(self.outputs, {self.input: image})

    def labels(self, image):
        return self.session.run(self.outputs[1:], {self.input: image})[0]

    def close(self):
        self.session = None


class TFLiteEngine(object):
    """TensorFlow Lite's interpreter (the one in TensorFlow) on a model whose input size was fixed
    at export; an image of another size is refused in one line."""

    # What TF 2.x's interpreter says at every start: it is deprecated from 2.20 (the successor,
    # LiteRT, is another package), and its delegate's INFO line.
    NOISE = re.compile(r"INFO: Created TensorFlow Lite")

    def __init__(self, path, signature, precision="fp32", digest=None):
        with warnings.catch_warnings(), console.stderr_without(self.NOISE):
            warnings.filterwarnings("ignore", "(?s).*tf.lite.Interpreter is deprecated")
            self.interpreter = tf.lite.Interpreter(model_path=path)
            self.interpreter.allocate_tensors()
        image = self.interpreter.get_input_details()[0]
        self.index, self.shape = image["index"], tuple(int(d) for d in image["shape"])
        self.input_size = self.shape[:2]
        by_name = {d["name"].split(":")[0]: d["index"]
                   for d in self.interpreter.get_output_details()}
        self.outputs = [by_name[name] for name in signature.output_names()]
        self.version = tf.__version__.split("-")[0]

    def run(self, image):
        self._invoke(image)
        return [self.interpreter.get_tensor(index) for index in self.outputs]

    def labels(self, image):
        self._invoke(image)
        return self.interpreter.get_tensor(self.outputs[1])

    def _invoke(self, image):
        if image.shape != self.shape:
            raise ValueError("this TFLite model takes %dx%d images (its input size is fixed at "
                             "export), not %dx%d: resize them, or export one with --input-size "
                             "%dx%d" % (self.shape[:2] + image.shape[:2] + image.shape[:2]))
        self.interpreter.set_tensor(self.index, image)
        self.interpreter.invoke()

    def close(self):
        self.interpreter = None


ENGINES = {"tf": TensorFlowEngine, "openvino": OpenVINOEngine, "onnxruntime": OnnxRuntimeEngine,
           "tflite": TFLiteEngine}
