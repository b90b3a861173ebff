"""Trained models loaded for inference, one interface for every kind: ``run(image) -> (logits,
labels)``, ``predict(image) -> labels``, ``config``, and ``with`` to close them.

``CheckpointModel`` restores a training run's checkpoint into the inference graph (evaluation and
export use it); ``FrozenModel`` loads an export (frozen GraphDef or ONNX), checked before anything of
it runs, on TensorFlow, OpenVINO or ONNX Runtime (``runtimes``).
"""
import json
import os
import tempfile

import numpy as np

from fcn_tf1.ground.names import (AUTO, CONFIG_NODE, INPUT, LOGITS, MARKER, PREDICTION,
                                  RUNTIME_SPECS, VERSION)
from fcn_tf1.ground.tf_compat import TF_VERSION, tf
from fcn_tf1.model import checkpoints, runtimes
from fcn_tf1.model.exports import checked_copy, measured_precisions, read_frozen
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph


class LoadedModel(object):
    """A session with an ``input`` placeholder and ``outputs`` [logits, prediction]."""
    session = input = outputs = config = None
    input_size = None  # (H, W) of a model that takes one size only

    def run(self, image):
        """(logits, labels) for an RGB uint8 image [H, W, 3] or batch [N, H, W, 3]."""
        return self.session.run(self.outputs, {self.input: image})

    def predict(self, image):
        return self.run(image)[1]

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def graph_metadata(config, checkpoint):
    """The config an export carries (in its ``CONFIG_NODE`` and side-car): the model config plus
    what the graph takes and gives, where it came from and what wrote it."""
    data = config.to_dict()
    data.update({"inputs": {INPUT: "uint8 RGB [H, W, 3] or [N, H, W, 3]"},
                 "outputs": {LOGITS: "float32 [..., H, W, num_classes]",
                             PREDICTION: "int32 [..., H, W]"},
                 "checkpoint": os.path.basename(checkpoint), MARKER: VERSION,
                 "tensorflow": TF_VERSION})
    return data


class CheckpointModel(LoadedModel):
    """The inference graph of ``run_dir``'s config (and its ``CONFIG_NODE``) with the latest (or
    the given) checkpoint restored; ``metadata`` is what an export of it carries."""

    def __init__(self, run_dir, checkpoint=None, config=None):
        self.config = config or ModelConfig.load(run_dir)
        self.checkpoint = checkpoints.chosen(run_dir, checkpoint)
        self.metadata = graph_metadata(self.config, self.checkpoint)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.input, logits, prediction = build_inference_graph(self.config)
            tf.constant(json.dumps(self.metadata, sort_keys=True), name=CONFIG_NODE)
            self.session = tf.Session()
            checkpoints.restore(tf.train.Saver(), self.session, self.checkpoint)
        self.outputs = [logits, prediction]

    def global_step(self):
        """The training step the checkpoint was saved at."""
        return int(tf.train.NewCheckpointReader(self.checkpoint).get_tensor("global_step"))


class FrozenModel(LoadedModel):
    """An export (frozen graph ``.pb``, ``.onnx``, ``.tflite`` or an int8 IR ``.xml``) on one
    runtime (``runtimes.RUNTIMES``; default: the first installed that reads the file) at
    ``precision`` (default: the file's own, ``runtimes.default_precision``; "auto": the fastest
    that the export measured within its gate), refused in one line unless it is an fcn_tf1 export
    (its ops checked, its config read from its own bytes or a side-car naming them) before anything
    of it runs."""

    def __init__(self, path, runtime=None, precision=None):
        precision = runtimes.default_precision(precision, path)
        self.runtime = runtimes.choose(runtime, precision, path)
        self.path = path
        self.spec = RUNTIME_SPECS[self.runtime]
        if self.spec.graph_def:
            graph_def, self.metadata = read_frozen(path)
            self.precision = "fp32" if precision == AUTO else precision
            self.engine = runtimes.ENGINES[self.runtime](graph_def, self.precision)
            self.session, self.input, self.outputs = (self.engine.session, self.engine.input,
                                                      self.engine.outputs)
        else:
            with tempfile.TemporaryDirectory(prefix="fcn_tf1_model_") as work:
                copy, self.metadata, digest = checked_copy(path, work)
                tried = ([precision] if precision != AUTO else runtimes.auto_candidates(
                    measured_precisions(path, self.metadata, digest), self.runtime, path))
                self.precision, self.engine = self._first_engine(tried, copy, digest)
        self.config = ModelConfig.from_dict(self.metadata, path)
        self.num_classes = self.config.num_classes
        # (H, W) when the engine takes one size only (a TFLite export's, fixed at export).
        self.input_size = getattr(self.engine, "input_size", None)

    def _first_engine(self, precisions, copy, digest):
        """(precision, engine) of the first of ``precisions`` this CPU computes (the last one's
        refusal is raised)."""
        for i, precision in enumerate(precisions):
            try:
                return precision, runtimes.ENGINES[self.runtime](copy, precision, digest=digest)
            except ValueError:
                if i == len(precisions) - 1:
                    raise

    def describe(self):
        """What runs the model, for the commands to print: ``openvino 2023.1.0 fp32``."""
        return "%s %s %s" % (self.runtime, self.engine.version, self.precision)

    def run(self, image):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (3, 4) or image.shape[-1] != 3:
            raise ValueError("image must be uint8 RGB [H, W, 3] or [N, H, W, 3], not %s %s"
                             % (image.dtype, list(image.shape)))
        if image.ndim == 3 or self.spec.graph_def:
            return self.engine.run(image)
        logits, labels = zip(*(self.engine.run(one) for one in image))
        return np.stack(logits), np.stack(labels)

    def close(self):
        self.engine.close()
