"""Pretrained weights written for fcn_tf1: a VGG16 backbone as a TF1 checkpoint in fcn_tf1's
variable names, a trained reference FCN (``.caffemodel``) as a run folder."""
import glob
import os

from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import MARKER, REFERENCE_BGR, REFERENCE_DATA, VERSION, ReferenceData
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph
from fcn_tf1.numbers.caffe_nets import is_fcn, read_fcn
from fcn_tf1.numbers.caffemodel import CaffeModel

CONVERTED_FILES = ("vgg16.ckpt.index", "vgg16.ckpt.data-00000-of-00001", "checkpoint",
                   "convention.json")


def convert_weights(weights, output_dir, force=False):
    """Write ``weights`` (``read_vgg16``'s result) as a TF1 checkpoint in fcn_tf1's variable names
    (+ convention.json); returns the checkpoint prefix. Files of an earlier conversion are
    replaced; any other file of those names only with ``force``, the input never."""
    marker = os.path.join(output_dir, "convention.json")
    inputs = [weights.path] + glob.glob(glob.escape(weights.path) + ".*")
    for name in CONVERTED_FILES:
        fileutil.check_output(os.path.join(output_dir, name),
                              lambda _: fileutil.json_is_ours(marker), force, inputs)
    with tf.Graph().as_default():
        variables = []
        for layer, (kernel, bias) in weights.items():
            with tf.variable_scope(layer):
                variables.append(tf.get_variable("kernel", initializer=kernel))
                variables.append(tf.get_variable("bias", initializer=bias))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            os.makedirs(output_dir, exist_ok=True)
            prefix = tf.train.Saver(variables).save(session, os.path.join(output_dir, "vgg16.ckpt"),
                                                    write_meta_graph=False)
    fileutil.write_json(marker, {"channel_order": weights.convention.channel_order,
                                 "mean": list(weights.convention.mean), MARKER: VERSION})
    return prefix


def read_class_names(path, count):
    """``count`` class names, one a line, from ``path``; a wrong count is a one-line error."""
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if len(names) != count:
        raise ValueError("%s: %d class names for a model of %d classes" % (path, len(names), count))
    return names


def reference_data(counts, data=None, inputs=None):
    """(the reference data set an FCN of heads of ``counts`` classes and of ``inputs`` (the
    modalities of a fusion, None for one input) was trained on, or None, its ``ReferenceData``):
    ``data`` when given, else the one data set of those; two data sets that share them (NYUDv2's
    color and HHA nets) need ``data``. Other counts: VOC's input."""
    counts = tuple(counts)
    candidates = [name for name, facts in REFERENCE_DATA.items()
                  if (facts.fusion is None) == (inputs is None)
                  and (inputs is None or tuple(m for m, _ in facts.inputs) == tuple(inputs))]
    if data is not None:
        facts = REFERENCE_DATA[data]
        if data not in candidates:
            raise ValueError("--data %s: its nets take %s, this one %s" % (
                data, " and ".join(m for m, _ in facts.inputs),
                " and ".join(inputs) if inputs else "one input"))
        if facts.classes != counts:
            raise ValueError("--data %s: its nets have %s classes, this one %s"
                             % (data, _counts(facts.classes), _counts(counts)))
        return data, facts
    named = [name for name in candidates if REFERENCE_DATA[name].classes == counts]
    if len(named) > 1:
        raise ValueError("a %s-class FCN is one of the reference's %s nets, which the file "
                         "cannot tell apart (each takes another input or mean): say which with "
                         "--data" % (_counts(counts), " / ".join(named)))
    if not named and inputs is not None:
        raise ValueError("an FCN of %s fused, which no reference data set fcn_tf1 knows "
                         "takes" % " and ".join(inputs))
    data = named[0] if named else None
    return data, REFERENCE_DATA[data] if data else ReferenceData(
        (("image", REFERENCE_BGR),), counts, None)


def _counts(counts):
    return " + ".join(str(c) for c in counts)


def fcn_config(fcn, class_names=None, data=None):
    """The ModelConfig of a reference FCN: its Caffe geometry (pad 100, fc6 'VALID', the
    reference's crops), the inputs and conventions of its data set (``reference_data``), its
    fusion and heads; the class names of that data set where fcn_tf1 reads it (VOC, NYUDv2, SIFT
    Flow)."""
    from fcn_tf1.data.registry import reference_class_names
    data, facts = reference_data([classes for _, classes in fcn.heads], data, fcn.inputs)
    if class_names is not None and len(fcn.heads) > 1:
        raise ValueError("--class-names: the FCN has %d heads (%s); their names are SIFT Flow's"
                         % (len(fcn.heads), ", ".join(name for name, _ in fcn.heads)))
    names = [class_names] if class_names else reference_class_names(data)
    names = names or [None] * len(fcn.heads)
    heads = None if len(fcn.heads) == 1 else [
        {"name": name, "class_names": head_names} for (name, _), head_names in zip(fcn.heads,
                                                                                  names)]
    inputs = None if fcn.fusion is None else [
        {"modality": modality, "convention": convention} for modality, convention in facts.inputs]
    (modality, convention), = facts.inputs[:1]
    return ModelConfig(fcn.heads[0][1], fcn.variant, fcn.width, "nn", "pad100", convention,
                       names[0], fcn.scale_skips, backbone=fcn.backbone, modality=modality,
                       heads=heads, inputs=inputs, fusion=fcn.fusion)


def convert_fcn(path, output_dir, class_names_file=None, force=False, data=None):
    """Write the reference FCN in ``path`` (a ``.caffemodel``) as a run folder (checkpoint at step
    0 + model.json) that evaluate, export, predict and train --init-from take; class names from
    ``class_names_file`` (one a line); ``data``: the reference data set it was trained on, when
    its class count does not tell (``reference_data``). It is built aside and moved into place whole; an existing
    ``output_dir`` is replaced only with ``force``."""
    fileutil.check_output(output_dir, lambda p: os.path.isdir(p) and not os.listdir(p), force,
                          [path], "run folder")
    with CaffeModel(path) as model:
        if not is_fcn(model):
            raise ValueError("%s: not an FCN (no score_fr): a VGG16 backbone converts to a "
                             "checkpoint; give --vgg16-weights the file itself" % path)
        fcn = read_fcn(model)
    try:
        config = fcn_config(fcn, class_names_file and read_class_names(class_names_file,
                                                                       fcn.heads[0][1]), data)
    except ValueError as error:
        raise ValueError("%s: %s" % (path, error))

    def build(directory):
        with tf.Graph().as_default():
            build_inference_graph(config)
            step = tf.train.get_or_create_global_step()
            model_variables = [v for v in tf.global_variables() if v is not step]
            unknown = sorted(set(fcn.variables) - {v.op.name for v in model_variables})
            if unknown:  # a bug of ours: the mapping names a variable the model lacks
                raise RuntimeError("no variable %s in the %s graph" % (unknown[0], config.variant))
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                for var in model_variables:
                    var.load(fcn.variables[var.op.name], session)
                os.makedirs(directory)
                tf.train.Saver().save(session, os.path.join(directory, "model.ckpt"),
                                      global_step=0, write_meta_graph=False, write_state=False)
        # A relative path: the folder is built aside and then moved.
        tf.train.update_checkpoint_state(directory, "model.ckpt-0")
        config.save(directory)

    fileutil.replace_dir(build, output_dir)
    return config
