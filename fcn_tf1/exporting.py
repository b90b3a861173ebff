"""Export a trained model: a frozen GraphDef (no variables) and a SavedModel, written atomically.

The graph takes ``image`` (uint8 RGB, [H, W, 3] or [N, H, W, 3], any H and W), preprocesses it inside
(channel order and mean of the weights used), and gives ``logits`` and ``prediction``. The model's
config travels inside the graph (the string constant ``fcn_tf1_config``) and in a side-car JSON.
"""
import json
import os

from fcn_tf1 import __version__, fileutil
from fcn_tf1.inference import INPUT, LOGITS, PREDICTION, ModelConfig, build_inference_graph
from fcn_tf1.tf_compat import TF_VERSION, tf

CONFIG_NODE = "fcn_tf1_config"
FROZEN_NAME = "frozen_model.pb"


def sidecar_path(graph_path):
    """``model.pb`` -> ``model.pb.json`` (never a run's own ``model.json``)."""
    return graph_path + ".json"


def _metadata(config, checkpoint):
    data = config.to_dict()
    data.update({"inputs": {INPUT: "uint8 RGB [H, W, 3] or [N, H, W, 3]"},
                 "outputs": {LOGITS: "float32 [..., H, W, num_classes]",
                             PREDICTION: "int32 [..., H, W]"},
                 "checkpoint": os.path.basename(checkpoint), "fcn_tf1": __version__,
                 "tensorflow": TF_VERSION})
    return data


def _restored_session(run_dir, checkpoint):
    """(session, config, checkpoint, metadata) with the inference graph of ``run_dir`` restored."""
    config = ModelConfig.load(run_dir)
    checkpoint = checkpoint or tf.train.latest_checkpoint(run_dir)
    if not checkpoint:
        raise ValueError("%s: no checkpoint to export" % run_dir)
    image, logits, prediction = build_inference_graph(config)
    metadata = _metadata(config, checkpoint)
    tf.constant(json.dumps(metadata, sort_keys=True), name=CONFIG_NODE)
    session = tf.Session()
    model_variables = tf.global_variables()
    tf.train.Saver(model_variables).restore(session, checkpoint)
    return session, (image, logits, prediction), metadata


def strip_default_attrs(graph_def):
    """Drop attributes left at their default value, as SavedModel's ``strip_default_attrs`` does,
    so that a TensorFlow without them (1.15 reading a 2.x export) can still import the graph."""
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
    for node in graph_def.node:
        for attr in graph.get_operation_by_name(node.name).op_def.attr:
            if (attr.HasField("default_value") and attr.name in node.attr
                    and node.attr[attr.name] == attr.default_value):
                del node.attr[attr.name]
    return graph_def


def export_frozen(run_dir, output, checkpoint=None):
    """Freeze the latest (or given) checkpoint of ``run_dir`` into ``output`` (+ side-car JSON)."""
    with tf.Graph().as_default():
        session, _, metadata = _restored_session(run_dir, checkpoint)
        with session:
            frozen = tf.graph_util.convert_variables_to_constants(
                session, tf.get_default_graph().as_graph_def(), [LOGITS, PREDICTION, CONFIG_NODE])
    # Deterministic map order: the same checkpoint always gives the same bytes.
    frozen = strip_default_attrs(frozen)
    fileutil.write_bytes(output, frozen.SerializeToString(deterministic=True))
    fileutil.write_json(sidecar_path(output), metadata)
    return metadata


def export_saved_model(run_dir, export_dir, checkpoint=None):
    """A SavedModel with the ``serving_default`` signature image -> logits, prediction."""
    with tf.Graph().as_default():
        session, (image, logits, prediction), metadata = _restored_session(run_dir, checkpoint)
        with session:
            signature = tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={INPUT: image}, outputs={LOGITS: logits, PREDICTION: prediction})

            def build(directory):
                builder = tf.saved_model.builder.SavedModelBuilder(directory)
                builder.add_meta_graph_and_variables(
                    session, [tf.saved_model.tag_constants.SERVING],
                    signature_def_map={"serving_default": signature}, strip_default_attrs=True)
                builder.save()
                fileutil.write_json(os.path.join(directory, "fcn_tf1.json"), metadata)

            fileutil.replace_dir(build, export_dir)
    return metadata


def export_onnx(frozen_path, onnx_path, opset=13):
    """Convert a frozen fcn_tf1 graph to ONNX with tf2onnx (the ``onnx`` extra).

    The ONNX model takes ``image:0`` as uint8 [H, W, 3] with dynamic H and W (ONNX needs a known
    rank) and gives ``logits:0`` and ``prediction:0``.
    """
    try:
        import tf2onnx
    except ImportError:
        raise ValueError("--onnx needs tf2onnx and onnxruntime: pip install 'fcn_tf1[onnx]'")
    from fcn_tf1.predict import FrozenModel
    FrozenModel(frozen_path).close()  # refuses a file that is not an fcn_tf1 graph
    graph_def = tf.GraphDef()
    with open(frozen_path, "rb") as f:
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default() as graph:
        image = tf.placeholder(tf.uint8, [None, None, 3], name=INPUT)
        tf.import_graph_def(graph_def, input_map={INPUT + ":0": image}, name="")
        ranked = tf.graph_util.extract_sub_graph(graph.as_graph_def(), [LOGITS, PREDICTION])
    model, _ = tf2onnx.convert.from_graph_def(
        ranked, input_names=[INPUT + ":0"], output_names=[LOGITS + ":0", PREDICTION + ":0"],
        opset=opset)
    fileutil.write_bytes(onnx_path, model.SerializeToString())
