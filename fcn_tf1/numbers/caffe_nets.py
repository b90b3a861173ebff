"""What a ``.caffemodel`` is to fcn_tf1: one of the reference's FCNs (fcn.berkeleyvision.org's
voc-fcn32s / 16s / 8s, at-once 8s, PASCAL-Context, NYUD colour, voc-fcn-alexnet) or the ImageNet
VGG16 (``VGG_ILSVRC_16_layers``), with every blob in TensorFlow's layout and checked against the
shapes fcn_tf1 builds. The backbone is told by the first layer's name (``backbone_shapes``).

Caffe's Convolution weights are [out, in, kh, kw], TensorFlow's [kh, kw, in, out]; a Deconvolution's
are [in, out, kh, kw] and ``conv2d_transpose`` takes [kh, kw, out, in]: both are the same transpose
(2, 3, 1, 0), since Caffe's deconvolution and TensorFlow's transposed convolution are both the adjoint
of a cross-correlation (no kernel flip).
"""
import collections

import numpy as np

from fcn_tf1.ground.names import MODALITY_SPECS, SKIP_SCALES, backbone_problem
from fcn_tf1.numbers.backbone_shapes import REGISTRY as BACKBONES
from fcn_tf1.numbers.caffemodel import CaffeModelError

# The final deconvolution of each variant: the reference names FCN-32s's "upscore".
FINAL = {"fcn32s": ("upscore", "upscore32", 32), "fcn16s": ("upscore16", "upscore16", 16),
         "fcn8s": ("upscore8", "upscore8", 8)}
SKIPS = {"fcn32s": (), "fcn16s": ("pool4",), "fcn8s": ("pool4", "pool3")}

# The tasks of the reference's FCNs of several heads (siftflow-fcn*): the suffix of their layers'
# names in a .caffemodel and the head's name in fcn_tf1 (its exports' logits_<head>, ...).
TASKS = collections.OrderedDict([("sem", "semantic"), ("geo", "geometric")])

# NYUDv2's fusions: a late fusion's stream per input, its layers' suffix in a .caffemodel
# (conv1_1color ... score_frcolor) and its input; an early fusion's first layer's suffix
# (conv1_1_bgrd) and the inputs it concatenates, in order.
STREAMS = collections.OrderedDict([("color", "image"), ("hha", "hha")])
EARLY = collections.OrderedDict([("_bgrd", ("image", "depth"))])
# A stream: its inputs' modalities (None: the one input), its layers' suffix in the file and its
# variables' prefix here (a late fusion's <modality>/).
Stream = collections.namedtuple("Stream", "modalities suffix prefix")

FCN = collections.namedtuple("FCN", "backbone variant heads width scale_skips variables inputs "
                             "fusion")


def conv_kernel(blob):
    """A Caffe Convolution / Deconvolution weight blob in TensorFlow's layout."""
    return np.array(np.transpose(blob, (2, 3, 1, 0)), np.float32, order="C")  # a copy, not a view


def _blobs(model, name, count, path):
    layer = model.by_name.get(name)
    if layer is None:
        raise CaffeModelError("%s: no layer %s, which this FCN needs" % (path, name))
    if len(layer.blobs) != count:
        raise CaffeModelError("%s: layer %s has %d blobs, expected %d" % (
            path, name, len(layer.blobs), count))
    return layer.blobs


def _expect(path, name, array, shape, what="weights"):
    if tuple(array.shape) != tuple(shape):
        raise CaffeModelError("%s: layer %s %s are %s, expected %s" % (
            path, name, what, tuple(array.shape), tuple(shape)))


def is_fcn(model):
    """Whether ``model`` scores fc7 (``score_fr``, or a head's ``score_fr_<task>``)."""
    return any(name.startswith("score_fr") for name in model.by_name)


def backbone_of(model):
    """The geometry (``backbone_shapes``) of the backbone in ``model``, told by its first layer
    (the first of a fusion's stream, or its early fusion's own)."""
    suffixes = [""] + list(STREAMS) + list(EARLY)
    named = [backbone for backbone in BACKBONES.values()
             if any(backbone.first_layer + suffix in model.by_name for suffix in suffixes)]
    if len(named) != 1:
        raise CaffeModelError("%s: no backbone fcn_tf1 knows (a first layer named %s)" % (
            model.path, " or ".join(backbone.first_layer for backbone in BACKBONES.values())))
    return named[0]


def layout_of(model, backbone):
    """(fusion or None, [Stream]) of the file: one stream, an early fusion's one stream of several
    inputs, or a late fusion's stream per input."""
    first = backbone.first_layer
    late = [Stream((modality,), suffix, modality + "/") for suffix, modality in STREAMS.items()
            if first + suffix in model.by_name]
    if len(late) > 1:
        return "late", late
    for suffix, modalities in EARLY.items():
        if first + suffix in model.by_name:
            return "early", [Stream(modalities, "", "")]
    return None, [Stream((None,), "", "")]


def read_fcn(model):
    """The FCN in ``model`` (a ``CaffeModel``) as ``FCN(backbone, variant, heads, width,
    scale_skips, {variable name: array}, inputs, fusion)``: ``heads`` [(name, classes)] (name None
    for an FCN of one, else the task of each, SIFT Flow's semantic and geometric), ``inputs`` the
    modalities of a fusion's inputs (None for an FCN of one), ``fusion`` its kind (NYUDv2's
    color-d early, color-hha late); a layer missing or of another shape is a one-line error."""
    path = model.path
    backbone = backbone_of(model)
    fusion, streams = layout_of(model, backbone)
    heads = _heads(model) if fusion != "late" else [(None, "", "")]
    first = heads[0][2]
    variant = ("fcn8s" if "score_pool3" + first in model.by_name else
               "fcn16s" if "score_pool4" + first in model.by_name else "fcn32s")
    problem = backbone_problem(backbone.name, variant)
    if problem:
        raise CaffeModelError("%s: %s" % (path, problem))
    width, variables = None, collections.OrderedDict()
    for stream in streams:
        layer = backbone.first_layer + _first_suffix(stream, fusion)
        conv1_w = _blobs(model, layer, 2, path)[0]
        if conv1_w.ndim != 4:
            raise CaffeModelError("%s: %s is not a convolution" % (path, layer))
        width = conv1_w.shape[0] / float(backbone.first_channels)
        shapes = backbone.layer_shapes(width)
        channels = sum(MODALITY_SPECS[m].channels for m in stream.modalities if m)
        variables.update(_backbone(model, shapes, stream, channels or 3,
                                   _first_suffix(stream, fusion)))
    classes = []
    for name, ours, theirs in heads:
        classes.append((name, _head(model, variant, backbone, shapes, ours, theirs, variables,
                                    streams if fusion == "late" else None)))
    inputs = None if fusion is None else tuple(m for s in streams for m in s.modalities)
    return FCN(backbone.name, variant, classes, width, _skip_scaling(model, variant), variables,
               inputs, fusion)


def _first_suffix(stream, fusion):
    """The suffix of the first layer's name: an early fusion's (_bgrd), else the stream's."""
    if fusion == "early":
        return next(iter(EARLY))
    return stream.suffix


def _heads(model):
    """[(head name, our layers' suffix, the file's)] of the file's score_fr layers: score_fr
    alone, or one per task of the reference's (score_fr_sem, score_fr_geo)."""
    scores = sorted(name for name in model.by_name if name.startswith("score_fr"))
    if scores == ["score_fr"]:
        return [(None, "", "")]
    tasks = [name[len("score_fr_"):] for name in scores if name.startswith("score_fr_")]
    if len(tasks) != len(scores) or not set(tasks) <= set(TASKS):
        raise CaffeModelError("%s: an FCN scored by %s: fcn_tf1 converts FCNs of one score_fr, "
                              "the heads %s or the streams %s" % (
                                  model.path, ", ".join(scores),
                                  ", ".join("score_fr_" + t for t in TASKS),
                                  ", ".join("score_fr" + s for s in STREAMS)))
    return [(TASKS[task], "_" + TASKS[task], "_" + task) for task in TASKS if task in tasks]


def _head(model, variant, backbone, shapes, ours, theirs, variables, streams=None):
    """Read one head's layers (the file's names end in ``theirs``, ours in ``ours``; a late
    fusion's score_fr one per stream) into ``variables``; returns its class count."""
    path = model.path
    scored = [("score_fr" + theirs, "score_fr" + ours)] if streams is None else [
        ("score_fr" + stream.suffix, stream.prefix + "score_fr") for stream in streams]
    score_w, _ = _blobs(model, scored[0][0], 2, path)
    if score_w.ndim != 4:
        raise CaffeModelError("%s: %s is not a convolution" % (path, scored[0][0]))
    num_classes, fc = int(score_w.shape[0]), shapes["fc7"][3]
    # The layers before each skip's pool (VGG16's: the only backbone with skips).
    inputs = {"score_pool4": "conv4_3", "score_pool3": "conv3_3"}
    layers = scored + [("score_%s%s" % (pool, theirs), "score_%s%s" % (pool, ours))
                       for pool in SKIPS[variant]]
    for caffe_name, name in layers:
        kernel, bias = _blobs(model, caffe_name, 2, path)
        channels = fc if "score_fr" in name else shapes[inputs[name[:len("score_pool4")]]][3]
        _expect(path, caffe_name, kernel, (num_classes, channels, 1, 1))
        _expect(path, caffe_name, bias.reshape(-1), (num_classes,), "biases")
        variables[name + "/kernel"] = conv_kernel(kernel)
        variables[name + "/bias"] = np.array(bias.reshape(-1), np.float32)
    caffe_final, ours_final, stride = FINAL[variant]
    deconvs = [(caffe_final, ours_final, stride)] + [
        (name, name, 2) for name in ("upscore2", "upscore_pool4")[:len(SKIPS[variant])]]
    for caffe_name, name, stride in deconvs:
        kernel = _blobs(model, caffe_name + theirs, 1, path)[0]
        size = backbone.upscore_kernel(stride)
        _expect(path, caffe_name + theirs, kernel, (num_classes, num_classes, size, size))
        variables[name + ours + "/kernel"] = conv_kernel(kernel)
    return num_classes


def _skip_scaling(model, variant):
    """Whether the file is the at-once FCN-8s: its Scale layers hold the reference's factors."""
    present = ["scale_" + pool for pool in SKIP_SCALES if "scale_" + pool in model.by_name]
    if not present:
        return False
    if variant != "fcn8s" or len(present) != 2:
        raise CaffeModelError("%s: %s without the at-once FCN-8s's other layers"
                              % (model.path, ", ".join(present)))
    for pool, factor in SKIP_SCALES.items():
        name = "scale_" + pool
        blobs = model.by_name[name].blobs
        if blobs and not np.allclose(np.asarray(blobs[0]), factor):
            raise CaffeModelError("%s: layer %s scales by %s, the reference's at-once FCN-8s by %g"
                                  % (model.path, name, np.asarray(blobs[0]).ravel()[:3], factor))
    return True


def _backbone(model, shapes, stream=None, channels=3, first_suffix=""):
    """{variable: array} of the backbone's layers of kernel ``shapes``; fc6 / fc7 as Convolution
    (FCN files) or InnerProduct (the ImageNet classifiers, fc6's input flattened as C x H x W).
    ``stream``: a fusion's (its layers' suffix in the file, its variables' prefix here); the first
    layer takes ``channels`` and has ``first_suffix``."""
    path, variables = model.path, collections.OrderedDict()
    stream = stream or Stream((None,), "", "")
    for i, (layer, shape) in enumerate(shapes.items()):
        name = layer + (first_suffix if i == 0 else stream.suffix)
        if i == 0:
            shape = shape[:2] + (channels,) + shape[3:]
        kernel, bias = _blobs(model, name, 2, path)
        caffe_shape = (shape[3], shape[2], shape[0], shape[1])
        if layer in ("fc6", "fc7") and kernel.ndim == 2:  # InnerProduct [out, in]
            _expect(path, name, kernel, (shape[3], int(np.prod(shape[:3]))))
            kernel = kernel.reshape(caffe_shape)
        _expect(path, name, kernel, caffe_shape)
        _expect(path, name, bias.reshape(-1), (shape[3],), "biases")
        variables[stream.prefix + layer + "/kernel"] = conv_kernel(kernel)
        variables[stream.prefix + layer + "/bias"] = np.array(bias.reshape(-1), np.float32)
    return variables


def read_vgg16_backbone(model):
    """The ImageNet VGG16 (``VGG_ILSVRC_16_layers.caffemodel``) as {layer: (kernel, bias)} in conv
    form, fc8 included, as ``vgg16_weights.read_vgg16`` gives for the other formats."""
    return read_classifier(model, BACKBONES["vgg16"])


def read_classifier(model, backbone, width=None):
    """An ImageNet classifier of ``backbone``'s layers (VGG16, CaffeNet) as {layer: (kernel,
    bias)} in conv form, fc8 included where the file has it; ``width`` (default: the file's)."""
    names = list(backbone.layer_shapes())
    missing = [name for name in names if name not in model.by_name]
    if missing:
        raise CaffeModelError("%s: not a %s or FCN Caffe model (no layer %s)"
                              % (model.path, backbone.name, ", ".join(missing[:3])))
    first = _blobs(model, backbone.first_layer, 2, model.path)[0].shape[0]
    shapes = backbone.layer_shapes(width or first / float(backbone.first_channels))
    variables = _backbone(model, shapes)
    weights = collections.OrderedDict(
        (name, (variables[name + "/kernel"], variables[name + "/bias"])) for name in shapes)
    if "fc8" in model.by_name:
        kernel, bias = _blobs(model, "fc8", 2, model.path)
        weights["fc8"] = (conv_kernel(kernel.reshape(kernel.shape[:2] + (1, 1))),
                          np.array(bias.reshape(-1), np.float32))
    return weights
