"""Pretrained VGG16 weights: the four files users have, read in conv form (paper section 3.1).

``read_vgg16(path)`` recognises the format from the content:
  keras-h5  ``vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`` (block1_conv1 ... fc1, fc2,
            predictions; dense kernels (25088, 4096) flattened from pool5's 7x7x512 in HWC order)
  slim-ckpt TF-slim's ``vgg_16.ckpt`` (vgg_16/conv1/conv1_1/weights, vgg_16/fc6/weights [7,7,512,4096])
  caffe-npy the Caffe-converted ``vgg16.npy`` of the TF ports (a pickled dict name -> [W, b])
  caffemodel the VGG authors' ``VGG_ILSVRC_16_layers.caffemodel`` (fc6 / fc7 / fc8 InnerProduct)
and returns ``{layer: (kernel, bias)}`` with fc6 [7, 7, 512, 4096], fc7 [1, 1, 4096, 4096] and fc8
[1, 1, 4096, 1000] where the file has it; ``.convention`` is the input convention the file implies.
"""
import collections
import logging
import os

import numpy as np

from fcn_tf1.ground.names import CAFFE_BGR, CONFIG_FILE, SLIM_RGB
from fcn_tf1.numbers.vgg16_shapes import CONV_LAYERS, layer_shapes

log = logging.getLogger(__name__)

FC8_SHAPE = (1, 1, 4096, 1000)
KERAS_NAMES = dict([(layer, "block%s_conv%s" % tuple(layer[4:].split("_"))) for layer in CONV_LAYERS]
                   + [("fc6", "fc1"), ("fc7", "fc2"), ("fc8", "predictions")])
HDF5_MAGIC, NPY_MAGIC = b"\x89HDF\r\n\x1a\n", b"\x93NUMPY"


class WeightsError(ValueError):
    """A weight file that cannot initialise VGG16; the message names the file and the problem."""


class VGG16Weights(collections.OrderedDict):
    """``{layer: (kernel, bias)}`` plus ``.format``, ``.convention`` and ``.path``."""
    format = convention = path = None
    width = 1.0


def expected_shapes(width=1.0):
    """{layer: kernel shape} a file must hold; fc8 has 1000 ImageNet classes."""
    shapes = layer_shapes(width)
    shapes["fc8"] = shapes["fc7"][:3] + (FC8_SHAPE[3],)
    return shapes


def _sniff(path):
    if path.endswith(".caffemodel"):
        return "caffemodel"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except (IsADirectoryError, FileNotFoundError):
        return "slim-ckpt"  # a V2 checkpoint prefix (vgg_16.ckpt.index beside it) is not a file
    if head.startswith(HDF5_MAGIC):
        return "keras-h5"
    if head.startswith(NPY_MAGIC):
        return "caffe-npy"
    if head.startswith(b"\x80"):  # pickle protocol 2+: never unpickled bare, .npy wraps it
        raise WeightsError("%s: a raw Python pickle, not a NumPy .npy file; save the weights with "
                           "numpy.save(path, dict_of_arrays)" % path)
    return "slim-ckpt"


def _read_keras_h5(path, open_checkpoint=None):
    import h5py
    raw = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for layer, keras in KERAS_NAMES.items():
            if keras not in root:
                continue
            group = root[keras]
            names = [n.decode("utf8") if isinstance(n, bytes) else n
                     for n in group.attrs.get("weight_names", [])]
            if len(names) != 2:
                raise WeightsError("%s: layer %s has %d weights, expected kernel and bias"
                                   % (path, keras, len(names)))
            raw[layer] = (np.asarray(group[names[0]]), np.asarray(group[names[1]]))
    return raw


def _read_slim_ckpt(path, open_checkpoint):
    """``open_checkpoint(path)``: TensorFlow's reader of the checkpoint (``has_tensor``,
    ``get_tensor``), handed in by the caller (``model.checkpoints.read_vgg16``): this layer has no
    TensorFlow."""
    if open_checkpoint is None:
        raise WeightsError("%s: a TF-slim checkpoint, which only TensorFlow reads; read it with "
                           "fcn_tf1.model.checkpoints.read_vgg16" % path)
    try:
        reader = open_checkpoint(path)
    except Exception as error:  # the reader raises several error types for a bad file
        raise WeightsError("%s: not a readable VGG16 weight file (%s)"
                           % (path, " ".join(str(error).split())[:200]))
    raw = {}
    for layer in expected_shapes():
        scope = "vgg_16/%s/%s" % (layer.split("_")[0], layer) if layer.startswith("conv") \
            else "vgg_16/" + layer
        if reader.has_tensor(scope + "/weights"):
            raw[layer] = (reader.get_tensor(scope + "/weights"), reader.get_tensor(scope + "/biases"))
    return raw


def _read_caffe_npy(path, open_checkpoint=None):
    from fcn_tf1.ground.untrusted import UntrustedFileError, load_pickled_npy
    try:
        data = load_pickled_npy(path)
    except UntrustedFileError as error:
        raise WeightsError(str(error))
    except Exception as error:  # a malformed pickle raises many types; none is a bug of ours
        raise WeightsError("%s: cannot read as caffe-npy, truncated or not a VGG16 weight file "
                           "(%s: %s)" % (path, type(error).__name__, " ".join(str(error).split())[:200]))
    if not isinstance(data, dict):
        raise WeightsError("%s: expected a pickled dict of layer -> [W, b]" % path)
    return {layer: (np.asarray(data[layer][0]), np.asarray(data[layer][1]))
            for layer in expected_shapes() if layer in data}


def _read_caffemodel(path, open_checkpoint=None):
    from fcn_tf1.numbers.caffe_nets import is_fcn, read_vgg16_backbone
    from fcn_tf1.numbers.caffemodel import CaffeModel, CaffeModelError
    try:
        with CaffeModel(path) as model:
            if is_fcn(model):
                raise WeightsError("%s: an FCN, not a VGG16 backbone: python -m fcn_tf1.weights "
                                   "convert it to a run folder, then train --init-from it" % path)
            return read_vgg16_backbone(model)
    except CaffeModelError as error:
        raise WeightsError(str(error))


# format -> (reader(path, open_checkpoint), the input convention the file's weights were trained
# with); only TF-slim's checkpoint needs TensorFlow's ``open_checkpoint``.
READERS = {"keras-h5": (_read_keras_h5, "caffe"), "slim-ckpt": (_read_slim_ckpt, "slim"),
           "caffe-npy": (_read_caffe_npy, "caffe"), "caffemodel": (_read_caffemodel, "caffe")}


def _to_conv(layer, kernel, shape):
    """Dense (inputs, outputs) matrices become conv kernels by a reshape: pool5 is flattened in
    HWC order, so row (h * 7 + w) * 512 + c of fc6 is kernel[h, w, c]."""
    if kernel.ndim == 2 and layer.startswith("fc") and kernel.size == int(np.prod(shape)):
        return kernel.reshape(shape)
    return kernel


def file_convention(path):
    """The input convention a VGG16 file's weights were trained with, from its format alone."""
    return _convention(_sniff(path))


def _convention(fmt):
    return CAFFE_BGR if READERS[fmt][1] == "caffe" else SLIM_RGB


def read_vgg16(path, width=1.0, open_checkpoint=None):
    """Read a VGG16 weight file; raises WeightsError naming the file, layer and shapes on problems.

    ``width`` < 1 reads the reduced-width files the tests write; real files are width 1.0. A
    TF-slim checkpoint needs ``open_checkpoint`` (TensorFlow's reader; see ``_read_slim_ckpt``).
    """
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise WeightsError("%s: no such file" % path)
    fmt = _sniff(path)
    reader, convention = READERS[fmt][0], _convention(fmt)
    try:
        raw = reader(path, open_checkpoint)
    except WeightsError:
        raise
    except (OSError, ValueError, KeyError, IndexError, EOFError, TypeError) as error:
        raise WeightsError("%s: cannot read as %s, truncated or not a VGG16 weight file (%s)"
                           % (path, fmt, " ".join(str(error).split())[:200]))
    missing = [layer for layer in expected_shapes() if layer.startswith("conv") and layer not in raw]
    has_fc = [layer for layer in ("fc6", "fc7") if layer in raw]
    if len(has_fc) == 1:
        missing.append("fc6" if "fc7" in raw else "fc7")
    if missing and os.path.isfile(os.path.join(os.path.dirname(path), CONFIG_FILE)):
        raise WeightsError("%s: a checkpoint of an fcn_tf1 run (a trained FCN), not VGG16 "
                           "weights; evaluate and export take its folder (--checkpoint-dir %s), "
                           "train takes it as --init-from" % (path, os.path.dirname(path) or "."))
    if missing:
        raise WeightsError("%s: layer %s missing (read as %s)" % (path, ", ".join(missing), fmt))
    weights = VGG16Weights()
    weights.format, weights.convention, weights.path, weights.width = fmt, convention, path, width
    for layer, shape in expected_shapes(width).items():
        if layer not in raw:
            continue
        kernel = _to_conv(layer, np.asarray(raw[layer][0], np.float32), shape)
        bias = np.asarray(raw[layer][1], np.float32)
        if kernel.shape != shape or bias.shape != shape[-1:]:
            raise WeightsError("%s: layer %s has kernel %s and bias %s, a model of width %g "
                               "needs %s and %s%s" % (
                                   path, layer, kernel.shape, bias.shape, width, shape, shape[-1:],
                                   "" if width == 1 else " (real VGG16 files need --width 1)"))
        weights[layer] = (kernel, bias)
    return weights
