"""Trained models loaded for inference, one interface for every kind: ``run(image) -> (logits,
labels)``, ``predict(image) -> labels``, ``config``, and ``with`` to close them.

``CheckpointModel`` restores a training run's checkpoint into the inference graph (evaluation and
export use it); ``FrozenModel`` loads an exported GraphDef, checked before anything of it runs.
"""
import json
import os

from fcn_tf1.ground.names import CONFIG_NODE, INPUT, LOGITS, MARKER, PREDICTION, VERSION
from fcn_tf1.ground.tf_compat import TF_VERSION, tf
from fcn_tf1.ground.untrusted import check_graph_def
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph


class LoadedModel(object):
    """A session with an ``input`` placeholder and ``outputs`` [logits, prediction]."""
    session = input = outputs = config = None

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
        self.checkpoint = checkpoint or tf.train.latest_checkpoint(run_dir)
        if not self.checkpoint:
            raise ValueError("%s: no checkpoint (model.ckpt-*) in the run folder" % run_dir)
        self.metadata = graph_metadata(self.config, self.checkpoint)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.input, logits, prediction = build_inference_graph(self.config)
            tf.constant(json.dumps(self.metadata, sort_keys=True), name=CONFIG_NODE)
            self.session = tf.Session()
            tf.train.Saver().restore(self.session, self.checkpoint)
        self.outputs = [logits, prediction]

    def global_step(self):
        """The training step the checkpoint was saved at."""
        return int(tf.train.NewCheckpointReader(self.checkpoint).get_tensor("global_step"))


class FrozenModel(LoadedModel):
    """A frozen fcn_tf1 graph, refused in one line unless it is one (its ops checked, its config
    read from the node's bytes) before anything of it runs."""

    def __init__(self, path):
        graph_def = read_graph_def(path)
        names = {node.name: node for node in graph_def.node}
        missing = [n for n in (INPUT, LOGITS, PREDICTION, CONFIG_NODE) if n not in names]
        if missing:
            raise ValueError("%s: not an fcn_tf1 graph (no node %s)" % (path, ", ".join(missing)))
        check_graph_def(graph_def, path)
        self.metadata = _read_metadata(names[CONFIG_NODE], path)
        self.config = ModelConfig.from_dict(self.metadata, path)
        self.num_classes = self.config.num_classes
        self.path, self.graph = path, tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.Session(graph=self.graph)
        self.input = self.graph.get_tensor_by_name(INPUT + ":0")
        self.outputs = [self.graph.get_tensor_by_name(n + ":0") for n in (LOGITS, PREDICTION)]


def read_graph_def(path):
    """The GraphDef in ``path``, parsed (not imported, nothing runs); one-line errors."""
    if not os.path.isfile(path):
        raise ValueError("%s: no such file" % path)
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError("%s: empty file, not a frozen graph" % path)
    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception:  # protobuf's DecodeError differs between implementations
        raise ValueError("%s: not a TensorFlow GraphDef (.pb)" % path)
    return graph_def


def _read_metadata(node, path):
    """The JSON config in an export's string constant node."""
    try:
        value = node.attr["value"].tensor.string_val[0]
        data = json.loads(value.decode("utf-8"))
    except (IndexError, ValueError, UnicodeDecodeError) as error:
        raise ValueError("%s: the graph's %s is not a JSON config (%s)" % (path, node.name, error))
    if not isinstance(data, dict):
        raise ValueError("%s: the graph's %s is not a JSON object" % (path, node.name))
    return data
