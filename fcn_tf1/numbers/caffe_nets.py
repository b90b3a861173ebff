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

from fcn_tf1.ground.names import SKIP_SCALES, backbone_problem
from fcn_tf1.numbers.backbone_shapes import REGISTRY as BACKBONES
from fcn_tf1.numbers.caffemodel import CaffeModelError

# The final deconvolution of each variant: the reference names FCN-32s's "upscore".
FINAL = {"fcn32s": ("upscore", "upscore32", 32), "fcn16s": ("upscore16", "upscore16", 16),
         "fcn8s": ("upscore8", "upscore8", 8)}
SKIPS = {"fcn32s": (), "fcn16s": ("pool4",), "fcn8s": ("pool4", "pool3")}

FCN = collections.namedtuple("FCN", "backbone variant num_classes width scale_skips variables")


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
    """The geometry (``backbone_shapes``) of the backbone in ``model``, told by its first layer."""
    named = [backbone for backbone in BACKBONES.values() if backbone.first_layer in model.by_name]
    if len(named) != 1:
        raise CaffeModelError("%s: no backbone fcn_tf1 knows (a first layer named %s)" % (
            model.path, " or ".join(backbone.first_layer for backbone in BACKBONES.values())))
    return named[0]


def read_fcn(model):
    """The FCN in ``model`` (a ``CaffeModel``) as ``FCN(backbone, variant, num_classes, width,
    scale_skips, {variable name: array})``; a layer missing or of another shape is a one-line
    error."""
    path = model.path
    scores = sorted(name for name in model.by_name if name.startswith("score_fr"))
    if scores != ["score_fr"]:
        raise CaffeModelError("%s: an FCN scored by %s (several heads or streams, as SIFT Flow's "
                              "two tasks or NYUDv2's late fusion): fcn_tf1 converts FCNs of one "
                              "score_fr only, so far" % (path, ", ".join(scores)))
    backbone = backbone_of(model)
    variant = ("fcn8s" if "score_pool3" in model.by_name else
               "fcn16s" if "score_pool4" in model.by_name else "fcn32s")
    problem = backbone_problem(backbone.name, variant)
    if problem:
        raise CaffeModelError("%s: %s" % (path, problem))
    score_w, _ = _blobs(model, "score_fr", 2, path)
    conv1_w = _blobs(model, backbone.first_layer, 2, path)[0]
    if score_w.ndim != 4 or conv1_w.ndim != 4:
        raise CaffeModelError("%s: score_fr / %s are not convolutions" % (path, backbone.first_layer))
    num_classes, width = int(score_w.shape[0]), conv1_w.shape[0] / float(backbone.first_channels)
    shapes = backbone.layer_shapes(width)
    variables = _backbone(model, shapes)
    fc = shapes["fc7"][3]
    # The layers before each skip's pool (VGG16's: the only backbone with skips).
    inputs = {"score_pool4": "conv4_3", "score_pool3": "conv3_3"}
    for name in ["score_fr"] + ["score_" + pool for pool in SKIPS[variant]]:
        kernel, bias = _blobs(model, name, 2, path)
        channels = fc if name == "score_fr" else shapes[inputs[name]][3]
        _expect(path, name, kernel, (num_classes, channels, 1, 1))
        _expect(path, name, bias.reshape(-1), (num_classes,), "biases")
        variables[name + "/kernel"] = conv_kernel(kernel)
        variables[name + "/bias"] = np.array(bias.reshape(-1), np.float32)
    caffe_final, ours_final, stride = FINAL[variant]
    deconvs = [(caffe_final, ours_final, stride)] + [
        (name, name, 2) for name in ("upscore2", "upscore_pool4")[:len(SKIPS[variant])]]
    for caffe_name, name, stride in deconvs:
        kernel = _blobs(model, caffe_name, 1, path)[0]
        size = backbone.upscore_kernel(stride)
        _expect(path, caffe_name, kernel, (num_classes, num_classes, size, size))
        variables[name + "/kernel"] = conv_kernel(kernel)
    return FCN(backbone.name, variant, num_classes, width, _skip_scaling(model, variant),
               variables)


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


def _backbone(model, shapes):
    """{variable: array} of the backbone's layers of kernel ``shapes``; fc6 / fc7 as Convolution
    (FCN files) or InnerProduct (the ImageNet classifiers, fc6's input flattened as C x H x W)."""
    path, variables = model.path, collections.OrderedDict()
    for name, shape in shapes.items():
        kernel, bias = _blobs(model, name, 2, path)
        caffe_shape = (shape[3], shape[2], shape[0], shape[1])
        if name in ("fc6", "fc7") and kernel.ndim == 2:  # InnerProduct [out, in]
            _expect(path, name, kernel, (shape[3], int(np.prod(shape[:3]))))
            kernel = kernel.reshape(caffe_shape)
        _expect(path, name, kernel, caffe_shape)
        _expect(path, name, bias.reshape(-1), (shape[3],), "biases")
        variables[name + "/kernel"] = conv_kernel(kernel)
        variables[name + "/bias"] = np.array(bias.reshape(-1), np.float32)
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
