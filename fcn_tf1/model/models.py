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

from fcn_tf1.ground.names import (AUTO, CONFIG_NODE, MARKER,
                                  RUNTIME_SPECS, VERSION)
from fcn_tf1.ground.tf_compat import TF_VERSION, tf
from fcn_tf1.model import checkpoints, runtimes
from fcn_tf1.model.export_readers import measured_precisions, open_export
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_heads_graph


def _each_image(feeds):
    """[{input name: one image}] of a batch's feeds."""
    count = len(next(iter(feeds.values())))
    return [{name: array[i] for name, array in feeds.items()} for i in range(count)]


class LoadedModel(object):
    """A session with an ``input`` placeholder and ``outputs`` [logits, prediction]."""
    session = input = outputs = config = None
    input_size = None  # (H, W) of a model that takes one size only
    metadata = {}

    def run(self, image):
        """(logits, labels) for an RGB uint8 image [H, W, 3] or batch [N, H, W, 3] (a model of
        several inputs: {modality: array}); a model of several heads gives each head's in turn
        (logits, labels, logits, labels, ...)."""
        return self.session.run(self.outputs, self._feed(image))

    def predict(self, image):
        """The labels alone (the logits are not fetched); a model of several heads stacks its
        heads' on a last axis."""
        return runtimes.stacked(self.session.run(self.outputs[1::2], self._feed(image)))

    def _feed(self, image):
        """The feed dict of an input, or of {modality: array} for a model of several."""
        if not isinstance(image, dict):
            return {self.input: image}
        tensors = {t.op.name: t for t in self.input} if isinstance(self.input, list) else {
            self.input.op.name: self.input}
        missing = sorted(set(tensors) - set(image))
        if missing:
            raise ValueError("the model takes %s; %s missing" % (
                " and ".join(tensors), " and ".join(missing)))
        return {tensors[name]: value for name, value in image.items() if name in tensors}

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def graph_metadata(config, checkpoint, tta=None):
    """The config an export carries (in its ``CONFIG_NODE`` and side-car): the model config plus
    its signature (what the graph takes and gives), where it came from and what wrote it, and the
    test-time augmentation inside it, if any."""
    data = config.to_dict()
    data.update({"signature": config.signature.to_dict(),
                 "checkpoint": os.path.basename(checkpoint), MARKER: VERSION,
                 "tensorflow": TF_VERSION})
    if tta is not None:
        data["tta"] = tta.to_dict()
    return data


class CheckpointModel(LoadedModel):
    """The inference graph of ``run_dir``'s config (and its ``CONFIG_NODE``) with the latest (or
    the given) checkpoint restored, with ``tta`` inside when given; ``metadata`` is what an export
    of it carries."""

    def __init__(self, run_dir, checkpoint=None, config=None, tta=None):
        self.config = config or ModelConfig.load(run_dir)
        self.checkpoint = checkpoints.chosen(run_dir, checkpoint)
        self.metadata = graph_metadata(self.config, self.checkpoint, tta)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.input, self.outputs = build_heads_graph(self.config, tta=tta)
            tf.constant(json.dumps(self.metadata, sort_keys=True), name=CONFIG_NODE)
            self.session = tf.Session()
            checkpoints.restore(tf.train.Saver(), self.session, self.checkpoint)

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
        with tempfile.TemporaryDirectory(prefix="fcn_tf1_model_") as work:
            # TensorFlow takes the parsed GraphDef; the others read a copy of the checked bytes.
            # Not kept once the engine has it: at full width it is half a gigabyte.
            opened = open_export(path, None if self.spec.graph_def else work)
            self.metadata, self.config = opened.metadata, opened.config
            self.signature = opened.signature
            tried = ([precision] if precision != AUTO else runtimes.auto_candidates(
                measured_precisions(opened), self.runtime, path))
            self.precision, self.engine = self._first_engine(opened, tried)
        if self.spec.graph_def:
            self.session, self.input, self.outputs = (self.engine.session, self.engine.input,
                                                      self.engine.outputs)
        self.num_classes = self.config.num_classes
        # (H, W) when the engine takes one size only (a TFLite export's, fixed at export).
        self.input_size = getattr(self.engine, "input_size", None)

    def _first_engine(self, opened, precisions):
        """(precision, engine) of the first of ``precisions`` this CPU computes (the last one's
        refusal is raised)."""
        for i, precision in enumerate(precisions):
            try:
                source = opened.parsed if self.spec.graph_def else opened.copy
                return precision, runtimes.ENGINES[self.runtime](
                    source, self.signature, precision, digest=opened.digest)
            except ValueError:
                if i == len(precisions) - 1:
                    raise

    def describe(self):
        """What runs the model, for the commands to print: ``openvino 2023.1.0 fp32``."""
        return "%s %s %s" % (self.runtime, self.engine.version, self.precision)

    def run(self, image):
        feeds, batched = self._checked(image)
        if not batched or self.spec.graph_def:
            return self.engine.run(feeds)
        return [np.stack(outputs) for outputs in zip(*(self.engine.run(one)
                                                       for one in _each_image(feeds)))]

    def predict(self, image):
        """The labels alone: the engine copies no logits out."""
        feeds, batched = self._checked(image)
        if not batched or self.spec.graph_def:
            return self.engine.labels(feeds)
        return np.stack([self.engine.labels(one) for one in _each_image(feeds)])

    def _checked(self, image):
        """({input name: array}, whether they are batches) of an image, or of {modality: array}
        for a model of several inputs; one line for a dtype, rank or size the model does not
        take."""
        named = image if isinstance(image, dict) else {self.signature.inputs[0].name: image}
        feeds, batched, sizes = {}, None, set()
        for want in self.signature.inputs:
            if want.name not in named:
                raise ValueError("the model takes %s; no %s given"
                                 % (self.signature.describe_input(), want.name))
            array = np.asarray(named[want.name])
            rank = len(want.shape)
            if (array.dtype != np.dtype(want.dtype) or array.ndim not in (rank, rank + 1)
                    or (rank == 3 and array.shape[-1] != want.shape[-1])
                    or batched not in (None, array.ndim == rank + 1)):
                raise ValueError("the model takes %s (or a batch of them), not %s %s"
                                 % (self.signature.describe_input(), array.dtype,
                                    list(array.shape)))
            batched = array.ndim == rank + 1
            sizes.add(array.shape[:2 + batched][-2:] if rank == 2 else array.shape[-3:-1])
            feeds[want.name] = array
        if len(sizes) > 1:
            raise ValueError("the inputs differ in size: %s" % ", ".join(
                "%s %s" % (name, list(a.shape)) for name, a in feeds.items()))
        return feeds, batched

    def close(self):
        self.engine.close()
