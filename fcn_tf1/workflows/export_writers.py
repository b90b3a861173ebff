"""Export a trained model: a frozen GraphDef (no variables) and a SavedModel, written atomically.

The graph takes ``image`` (uint8 RGB, [H, W, 3] or [N, H, W, 3], any H and W), preprocesses it inside
(channel order and mean of the weights used), and gives ``logits`` and ``prediction``. The model's
config travels inside the graph (the string constant ``fcn_tf1_config``) and in a side-car JSON.
"""
import contextlib
import glob
import json
import os
import sys
import tempfile

from fcn_tf1.ground import console, fileutil
from fcn_tf1.ground.formats import sidecar_path
from fcn_tf1.ground.names import (BACKBONE_SPECS, BYTES_SIGNATURE, CAFFE_BGR, CONFIG_FILE,
                                  CONFIG_NODE, FIXING, LOG_DEPTH, NYUD_COLOR, NYUD_HHA,
                                  SAVED_MODEL_MARKER, SLIM_RGB, VARIANTS)
from fcn_tf1.ground.tf_compat import TF_VERSION, error_line, tf
from fcn_tf1.ground.untrusted import check_graph_def, check_tflite_ops
from fcn_tf1.model import checkpoints, runtimes
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_bytes_graph, build_inference_graph
from fcn_tf1.model.export_readers import (described_config, export_signature, file_digest,
                                          read_frozen)
from fcn_tf1.model.models import CheckpointModel, graph_metadata
from fcn_tf1.model.signature import Signature
from fcn_tf1.model.upsample import valid_combinations
from fcn_tf1.numbers.palette import palette
from fcn_tf1.numbers.tflite_model import operator_codes
from fcn_tf1.numbers.tta import TTA


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


def _freeze(session, signature):
    """The session's graph with its variables as constants, cut to the signature's outputs and the
    config, default attrs dropped."""
    frozen = tf.graph_util.convert_variables_to_constants(
        session, session.graph.as_graph_def(), signature.output_names() + [CONFIG_NODE])
    return strip_default_attrs(frozen)


def exportable_op_types(width=1 / 32.):
    """The op types of the frozen graphs of every variant x API x shape_fix x at-once x input
    convention on this TensorFlow: what ``untrusted.check_graph_def`` admits
    (``python -m fcn_tf1.export --list-ops``)."""
    ops = set()
    for variant in VARIANTS:
        for upsampling, shape_fix in valid_combinations():
            # The convention's ops do not depend on the rest: BGR rides along with at-once, and
            # export --tta's with the default's.
            for scale_skips, convention in ((False, SLIM_RGB), (True, CAFFE_BGR)):
                config = ModelConfig(2, variant, width, upsampling, shape_fix, convention,
                                     scale_skips=scale_skips)
                ops.update(_frozen_ops(config, None))
                if (upsampling, shape_fix) == valid_combinations()[0] and not scale_skips:
                    ops.update(_frozen_ops(config, TTA(True, (0.5, 1.0))))
    for config in list(other_backbones(width)) + list(other_layouts(width)):
        ops.update(_frozen_ops(config, None))
    return sorted(ops)


def other_layouts(width):
    """A model of each fusion of several inputs (NYUDv2's colour with log depth early, with HHA
    late), in the reference's geometry: their own ops are the depth's preprocessing, the
    concatenation and the mean of the streams' scores."""
    for second, convention, fusion in (("depth", LOG_DEPTH, "early"), ("hha", NYUD_HHA, "late")):
        yield ModelConfig(2, "fcn32s", width, "nn", "pad100", NYUD_COLOR, fusion=fusion,
                          inputs=[{"modality": "image", "convention": NYUD_COLOR},
                                  {"modality": second, "convention": convention}])


def other_backbones(width):
    """The finest FCN of each backbone but VGG16 (whose graphs hold every head's op) in the default
    and the reference's geometry: a backbone's own ops depend on the shape fix only through its
    paddings and pools, which these two cover."""
    for backbone, spec in list(BACKBONE_SPECS.items())[1:]:
        for upsampling, shape_fix in (valid_combinations()[0], ("nn", "pad100")):
            yield ModelConfig(2, spec.variants[-1], width, upsampling, shape_fix, CAFFE_BGR,
                              backbone=backbone)


def _frozen_ops(config, tta):
    with tf.Graph().as_default(), tf.Session() as session:
        build_inference_graph(config, tta=tta)
        tf.constant("{}", name=CONFIG_NODE)
        session.run(tf.global_variables_initializer())
        return {node.op for node in _freeze(session, config.signature).node}


def export_frozen(run_dir, output, checkpoint=None, force=False, tta=None):
    """Freeze the latest (or given) checkpoint of ``run_dir`` into ``output`` (+ side-car JSON),
    with ``tta`` inside when given; an existing ``output`` is replaced only when fcn_tf1 wrote it
    (or ``force``)."""
    check_frozen_output(output, run_dir, checkpoint, force)
    with CheckpointModel(run_dir, checkpoint, tta=tta) as model:
        frozen = _freeze(model.session, model.config.signature)
    # Deterministic map order: the same checkpoint always gives the same bytes.
    fileutil.write_bytes(output, frozen.SerializeToString(deterministic=True))
    fileutil.write_json(sidecar_path(output), model.metadata)
    return model.metadata


def run_inputs(run_dir, checkpoint=None):
    """The files an export reads: never to be written over."""
    prefix = checkpoint or checkpoints.latest(run_dir) or ""
    return [run_dir, os.path.join(run_dir, CONFIG_FILE)] + glob.glob(glob.escape(prefix) + ".*")


def saved_model_is_ours(path):
    return os.path.isdir(path) and fileutil.json_is_ours(os.path.join(path, SAVED_MODEL_MARKER))


def check_frozen_output(output, run_dir, checkpoint=None, force=False):
    """Refuse (one line) a frozen-graph path or its side-car that would replace a user's file."""
    inputs = run_inputs(run_dir, checkpoint)
    fileutil.check_output(output, fileutil.contains_marker, force, inputs, "frozen graph")
    fileutil.check_output(sidecar_path(output), fileutil.json_is_ours, force, inputs, "side-car")


# What a SavedModel folder of fcn_tf1's holds: replacing it deletes nothing else.
SAVED_MODEL_NAMES = {"saved_model.pb", "variables", "assets", "assets.extra", SAVED_MODEL_MARKER}


def check_saved_model_output(export_dir, run_dir, checkpoint=None, force=False):
    """Refuse a SavedModel folder that is, or holds, the run, or a folder fcn_tf1 did not write;
    ``force`` replaces a file or an empty folder there, never a folder holding other files (the
    whole folder is replaced, so they would be deleted)."""
    inputs = run_inputs(run_dir, checkpoint)
    fileutil.check_output(export_dir, saved_model_is_ours, True, inputs, "SavedModel")
    if os.path.isdir(export_dir):
        foreign = sorted(set(os.listdir(export_dir)) - SAVED_MODEL_NAMES)
        if foreign:
            raise ValueError("%s: holds %s, not written by fcn_tf1; a SavedModel replaces the whole "
                             "folder, so it is written only into a new folder, an empty one or one "
                             "of its own (--force deletes nothing else): choose another folder"
                             % (export_dir, ", ".join(foreign[:3]) +
                                (" and %d more" % (len(foreign) - 3) if len(foreign) > 3 else "")))
        if not os.listdir(export_dir) or saved_model_is_ours(export_dir):
            return
    fileutil.check_output(export_dir, saved_model_is_ours, force, inputs, "SavedModel")


def export_saved_model(run_dir, export_dir, checkpoint=None, force=False, tta=None):
    """A SavedModel with the signatures ``serving_default`` (image -> logits, prediction; with
    ``tta`` inside when given) and ``serving_bytes`` (TF Serving's encoded images,
    ``inference.build_bytes_graph``, without TTA); an existing ``export_dir`` is replaced only
    when fcn_tf1 wrote it (or ``force``)."""
    check_saved_model_output(export_dir, run_dir, checkpoint, force)
    with CheckpointModel(run_dir, checkpoint, tta=tta) as model, model.graph.as_default():
        names = model.config.signature
        placeholders = model.input if isinstance(model.input, list) else [model.input]
        signature = tf.saved_model.signature_def_utils.predict_signature_def(
            inputs={item.name: tensor for item, tensor in zip(names.inputs, placeholders)},
            outputs=dict(zip(names.output_names(), model.outputs)))
        signatures = {"serving_default": signature}
        if len(names.inputs) == 1:  # encoded images: of a model of one image
            inputs, outputs = build_bytes_graph(model.config, [palette(head.class_colours)
                                                               for head in model.config.heads])
            signatures[BYTES_SIGNATURE] = tf.saved_model.signature_def_utils.predict_signature_def(
                inputs, outputs)

        def build(directory):
            builder = tf.saved_model.builder.SavedModelBuilder(directory)
            builder.add_meta_graph_and_variables(
                model.session, [tf.saved_model.tag_constants.SERVING],
                signature_def_map=signatures, strip_default_attrs=True)
            builder.save()
            fileutil.write_json(os.path.join(directory, SAVED_MODEL_MARKER), model.metadata)

        fileutil.replace_dir(build, export_dir)
    return model.metadata


def ranked_graph_def(graph_def, signature):
    """The graph with its inputs of known rank, the signature's [H, W, C] (ONNX needs the rank),
    cut to the signature's outputs."""
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, input_map=_placeholders(signature), name="")
        return tf.graph_util.extract_sub_graph(graph.as_graph_def(), signature.output_names())


def _placeholders(signature, size=None):
    """{input name:0: a placeholder of its dtype and shape} (its [H, W] ``size`` when given)."""
    return {item.name + ":0": tf.placeholder(item.dtype, item.shape if size is None else
                                             list(size) + item.shape[2:], name=item.name)
            for item in signature.inputs}


def export_onnx(frozen_path, onnx_path, opset=13, force=False):
    """Convert a frozen fcn_tf1 graph to ONNX with tf2onnx (the ``onnx`` extra).

    The ONNX model takes ``image:0`` as uint8 [H, W, 3] with dynamic H and W (ONNX needs a known
    rank) and gives ``logits:0`` and ``prediction:0``.
    """
    try:
        import tf2onnx
    except ImportError:
        raise ValueError("--onnx needs tf2onnx and onnxruntime: pip install 'fcn_tf1[onnx]'")
    fileutil.check_output(onnx_path, fileutil.contains_marker, force, [frozen_path], "ONNX model")
    graph_def, metadata = read_frozen(frozen_path)  # refuses a file that is not an fcn_tf1 graph
    signature = export_signature(metadata, frozen_path)[1]
    metadata = dict(metadata, signature=signature.to_dict())
    model, _ = tf2onnx.convert.from_graph_def(
        ranked_graph_def(graph_def, signature),
        input_names=[item.name + ":0" for item in signature.inputs],
        output_names=[name + ":0" for name in signature.output_names()], opset=opset)
    # The config travels in the ONNX model too (and marks the file as ours).
    entry = model.metadata_props.add()
    entry.key, entry.value = CONFIG_NODE, json.dumps(metadata, sort_keys=True)
    fileutil.write_bytes(onnx_path, model.SerializeToString())


def described_is_ours(path):
    """An export whose side-car fcn_tf1 wrote and names the export's SHA-256 (TFLite, OpenCV)."""
    if not fileutil.json_is_ours(sidecar_path(path)):
        return False
    try:
        with open(path, "rb") as f:
            described_config(path, f.read())
    except (OSError, ValueError):
        return False
    return True


def check_described_output(output, run_dir, checkpoint=None, force=False, what="export"):
    """Refuse (one line) an export path or its side-car that would replace a user's file."""
    inputs = run_inputs(run_dir, checkpoint)
    fileutil.check_output(output, described_is_ours, force, inputs, what)
    fileutil.check_output(sidecar_path(output), fileutil.json_is_ours, force, inputs, "side-car")


def write_described(output, data, metadata):
    """The export's bytes, then its side-car: the config plus the bytes' SHA-256."""
    fileutil.write_bytes(output, data)
    fileutil.write_json(sidecar_path(output), dict(metadata, sha256=file_digest(data)))


def converter_problem(signature):
    """Why this TensorFlow's TFLite converter cannot convert a model of ``signature``, or None."""
    if len(signature.inputs) > 1 and TF_VERSION.startswith("1."):
        # TOCO converts every input to one type (inference_input_type): not uint8 and uint16.
        return ("--tflite: the model takes %s; TensorFlow 1.15's converter gives every input one "
                "type: export it with TensorFlow 2" % " and ".join(i.name for i in signature.inputs))
    return None


def tflite_problem(signature):
    """Why this TensorFlow cannot export a model of ``signature`` to TFLite and run it, or None."""
    problem = converter_problem(signature)
    if problem:
        return problem
    uint16 = [i.name for i in signature.inputs if i.dtype == "uint16"]
    if uint16 and not runtimes.tflite_takes_uint16():
        return ("--tflite: the model takes %s as uint16, which this TensorFlow's (%s) TFLite "
                "interpreter cannot be given (2.21's can): export it with TensorFlow 2.21"
                % (uint16[0], TF_VERSION.split("-")[0]))
    return None


def opencv_problem(signature):
    """Why OpenCV's graph cannot hold a model of ``signature``, or None."""
    if len(signature.inputs) > 1:
        return ("--opencv: the model takes %s; OpenCV's graph takes one image blob"
                % " and ".join(i.name for i in signature.inputs))
    return None


def to_tflite(graph_def, size, signature):
    """TensorFlow Lite bytes of a frozen fcn_tf1 graph with its input fixed at ``size`` (H, W):
    the signature's input [H, W, C] in, its outputs (``logits`` [H, W, C] and ``prediction``
    [H, W]) out."""
    problem = converter_problem(signature)
    if problem:
        raise ValueError(problem)
    with tf.Graph().as_default() as graph:
        placeholders = _placeholders(signature, size)
        try:
            tf.import_graph_def(graph_def, input_map=placeholders, name="")
        except ValueError as error:
            raise ValueError("the model cannot take %dx%d images: %s"
                             % (size + (error_line(error),)))
        outputs = [graph.get_tensor_by_name(out + ":0") for out in signature.output_names()]
        with tf.Session() as session:
            converter = tf.lite.TFLiteConverter.from_session(
                session, [placeholders[i.name + ":0"] for i in signature.inputs], outputs)
            if TF_VERSION.startswith("1."):
                # TOCO makes every input float unless told that this uint8 one stays (scale 1).
                converter.inference_input_type = tf.uint8
                converter.quantized_input_stats = {signature.image.name: (0.0, 1.0)}
            try:
                with console.stderr_without(console.EVERYTHING), _converter_on_path():
                    return converter.convert()  # (the hold: TF 2.15's MLIR statistics)
            except Exception as error:  # ConverterError's module differs between releases
                raise ValueError("TensorFlow Lite's converter failed at %dx%d: %s"
                                 % (size + (" ".join(str(error).split())[-300:],)))


@contextlib.contextmanager
def _converter_on_path():
    """TensorFlow 1.15 converts in a child process, ``toco_from_protos``, looked up on PATH: the
    venv's bin folder is there only in an activated venv, so it is put there for the call. Its
    files go to a folder of the call's own, removed after (1.15 leaves one in TMPDIR)."""
    saved, saved_tempdir = os.environ.get("PATH"), tempfile.tempdir
    os.environ["PATH"] = os.pathsep.join(
        [os.path.dirname(sys.executable)] + ([saved] if saved else []))
    try:
        with tempfile.TemporaryDirectory(prefix="fcn_tf1_tflite_") as own:
            tempfile.tempdir = own
            yield
    finally:
        tempfile.tempdir = saved_tempdir
        if saved is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = saved


def export_tflite(run_dir, output, size, checkpoint=None, force=False):
    """A TensorFlow Lite model of the run's checkpoint at the input size ``size`` (H, W), fp32,
    with its config (and the file's SHA-256) in the side-car ``<output>.json``."""
    check_described_output(output, run_dir, checkpoint, force, "TFLite model")
    problem = tflite_problem(ModelConfig.load(run_dir).signature)
    if problem:
        raise ValueError(problem)
    with CheckpointModel(run_dir, checkpoint) as model:
        signature = model.config.signature
        frozen = _freeze(model.session, signature)
    data = to_tflite(frozen, tuple(size), signature)
    check_tflite_ops(operator_codes(data), output)  # what predict will check, before writing
    fixed = signature.with_size(size)
    metadata = dict(model.metadata, tflite={"input_size": list(size)}, signature=fixed.to_dict())
    write_described(output, data, metadata)
    return metadata


def every_fix_frozen(width=1 / 32., layouts=False):
    """(shape fix, frozen GraphDef) of FCN-8s at-once with the BGR convention (the graph that holds
    every op type the other VGG16 nets hold) for every API x shape fix, then ``other_backbones``
    and (``layouts``) ``other_layouts``, random weights."""
    configs = [ModelConfig(2, "fcn8s", width, upsampling, shape_fix, CAFFE_BGR, scale_skips=True)
               for upsampling, shape_fix in valid_combinations()]
    for config in configs + list(other_backbones(width)) + (
            list(other_layouts(width)) if layouts else []):
        with tf.Graph().as_default(), tf.Session() as session:
            build_inference_graph(config)
            tf.constant("{}", name=CONFIG_NODE)
            session.run(tf.global_variables_initializer())
            yield config, _freeze(session, config.signature)


def op_list_size(shape_fix):
    """An odd size where the fix allows one (the fixing ones), else a multiple of 32."""
    return (35, 37) if shape_fix in FIXING else (64, 64)


def exportable_tflite_ops(width=1 / 32.):
    """The TFLite builtin operator codes of ``every_fix_frozen`` on this TensorFlow's converter, at
    ``op_list_size`` (``python -m fcn_tf1.export --list-ops``)."""
    codes = set()
    # TensorFlow 1.15's converter takes one input type (to_tflite refuses several).
    for config, frozen in every_fix_frozen(width, not TF_VERSION.startswith("1.")):
        tflite = to_tflite(frozen, op_list_size(config.shape_fix), config.signature)
        codes.update(code for code, _ in operator_codes(tflite))
    return sorted(codes)


def opencv_graph(run_dir, size, checkpoint=None):
    """(GraphDef, export metadata, ModelConfig) of a graph that OpenCV's
    ``cv2.dnn.readNetFromTensorflow`` loads: float32 ``image`` [1, H, W, 3] of the fixed ``size``,
    preprocessed outside (``blob_parameters``),
    ``logits`` out; built with tf.nn.conv2d_transpose whatever the run's API (the variables are the
    same), so that every shape is a constant and no op is foreign to OpenCV."""
    config = ModelConfig.load(run_dir)
    problem = opencv_problem(config.signature)
    if problem:
        raise ValueError(problem)
    path = checkpoints.chosen(run_dir, checkpoint)
    signature = opencv_signature(config.signature, size)
    with tf.Graph().as_default() as graph, tf.Session() as session:
        image = tf.placeholder(tf.float32, [1] + list(size) + [3], name=signature.image.name)
        nn = ModelConfig.from_dict(dict(config.to_dict(), upsampling="nn"))
        for head, logits in zip(signature.heads, nn.build_heads(image)):
            tf.identity(logits, name=head.logits)
        checkpoints.restore(tf.train.Saver(), session, path)
        frozen = tf.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), [head.logits for head in signature.heads])
    metadata = dict(graph_metadata(config, path), signature=signature.to_dict())
    return strip_default_attrs(frozen), metadata, config


def opencv_signature(signature, size):
    """What the OpenCV graph takes and gives: a float32 NCHW blob [3, H, W] of the fixed ``size``,
    preprocessed outside by ``blobFromImage``; logits [C, H, W] per head, no labels (argmax over
    axis 1 of the batch)."""
    image = signature.image._replace(dtype="float32", shape=[signature.image.shape[2]] + list(size),
                                     preprocessing=None)
    return Signature([image], [head._replace(prediction=None) for head in signature.heads])


def blob_parameters(convention):
    """What ``cv2.dnn.blobFromImage`` takes to prepare a BGR image (``cv2.imread``'s) for the
    model: OpenCV subtracts ``mean`` after swapping to RGB when ``swapRB``."""
    return {"scalefactor": 1.0, "mean": list(convention.mean),
            "swapRB": convention.channel_order == "RGB"}


def export_opencv(run_dir, output, size, checkpoint=None, force=False):
    """A frozen graph for OpenCV's dnn module (``opencv_graph``) with its config, the
    ``blobFromImage`` parameters and the file's SHA-256 in the side-car ``<output>.json``."""
    check_described_output(output, run_dir, checkpoint, force, "OpenCV graph")
    graph_def, metadata, config = opencv_graph(run_dir, tuple(size), checkpoint)
    check_graph_def(graph_def, output)  # only ops an fcn_tf1 export holds
    metadata = dict(metadata, opencv={"input_size": list(size),
                                      "blobFromImage": blob_parameters(config.convention)})
    write_described(output, graph_def.SerializeToString(deterministic=True), metadata)
    return metadata
