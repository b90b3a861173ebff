"""Upsampling by transposed convolution, and the one place that decides output sizes.

A stride-s 'SAME' conv maps n to ceil(n / s): with s = 2 both 33 and 34 give 17, so the transposed conv
cannot know which size to give back. ``tf.nn.conv2d_transpose`` takes an explicit ``output_shape``;
``tf.layers.conv2d_transpose`` has none and always gives n * s ('same') or (n - 1) * s + k ('valid')
(TensorFlow issues 19236 and 833). A *shape fix* (strategy) decides how the input is prepared for the
backbone and how each upsampled tensor is matched to its target (the skip's score map or the input);
they all live in ``SHAPE_FIXES`` below, chosen by name, so the heads never branch on a strategy.

Alignment: with 'SAME' padding and an output of n * s, TensorFlow pads the transposed conv by s / 2
before, so input cell i's bilinear kernel is centred on output pixel i * s + (s - 1) / 2 -- the centre
of the s x s block that cell covers. ``crop`` and ``pad`` keep that alignment at every size;
``output_shape`` with a target smaller than n * s makes TensorFlow pad more before and shifts the map.
"""
import collections

import numpy as np

from fcn_tf1.ground.names import SHAPE_FIX_APIS, UPSAMPLINGS, pair_problem
from fcn_tf1.ground.tf_compat import tf


def bilinear_kernel(size, channels):
    """A [size, size, channels, channels] transposed-conv kernel doing per-channel bilinear upsampling.

    As in the Caffe reference's ``upsample_filt``: weights fall off linearly from the kernel's centre,
    and channel c only feeds channel c.
    """
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    ramp = 1 - np.abs(np.arange(size) - center) / factor
    kernel = np.zeros((size, size, channels, channels), np.float32)
    kernel[:, :, range(channels), range(channels)] = np.outer(ramp, ramp)[:, :, None]
    return kernel


def spatial_size(x):
    """(height, width) of an NHWC tensor: Python ints where static, scalar tensors where not."""
    static = x.shape.as_list()
    dynamic = tf.shape(x)
    return tuple(static[i] if static[i] is not None else dynamic[i] for i in (1, 2))


def _static(size):
    return size if isinstance(size, int) else None


def crop(x, size, offset=0, name=None):
    """``x[:, offset:offset + h, offset:offset + w, :]`` for ``size`` = (h, w), static where it can be."""
    h, w = size
    out = tf.identity(x[:, offset:offset + h, offset:offset + w, :], name=name)
    out.set_shape([None, _static(h), _static(w), None])
    return out


def transposed_conv(x, channels, stride, name, api, padding, output_size, trainable=True,
                    size=None):
    """Upsample ``x`` by ``stride`` with a bilinear-initialised, bias-free kernel of ``size`` (by
    default 2 * stride).

    ``api='layers'`` uses ``tf.layers.conv2d_transpose`` (the size follows from ``padding``);
    ``api='nn'`` uses ``tf.nn.conv2d_transpose`` with ``output_shape`` = ``output_size``. Both create
    the variable ``<name>/kernel``, so checkpoints move between the two.
    """
    size = size or 2 * stride
    init = tf.constant_initializer(bilinear_kernel(size, channels))
    if api == "layers":
        return tf.layers.conv2d_transpose(x, channels, size, stride, padding=padding.lower(),
                                          use_bias=False, kernel_initializer=init,
                                          trainable=trainable, name=name)
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [size, size, channels, channels], initializer=init,
                                 trainable=trainable)
        h, w = output_size
        batch = x.shape.as_list()[0] or tf.shape(x)[0]  # static where known: shapes fold
        out = tf.nn.conv2d_transpose(x, kernel, tf.stack([batch, h, w, channels]),
                                     [1, stride, stride, 1], padding=padding)
        out.set_shape([x.shape[0], _static(h), _static(w), channels])
        return out


class ShapeFix(object):
    """How the graph gets from the input to logits of the input's size. Subclasses override parts.

    The default is the naive graph: the input as it is, fc6 'SAME', every transposed conv 'SAME'
    giving n * stride, and ``match`` left to the subclass.
    """
    name = None
    fixes = True          # gives H x W for every input size
    fc_conv_padding = "SAME"
    first_conv_padding = "SAME"
    deconv_padding = "SAME"
    caffe_pooling = False  # 3x3 pools in Caffe's ceil mode (else 'SAME'; 2x2 pools agree anyway)

    @property
    def apis(self):
        return SHAPE_FIX_APIS[self.name]

    def prepare(self, images):
        """The images the backbone sees."""
        return images

    def output_size(self, x, stride, target, kernel):
        """The size the ``nn`` API is asked for when upsampling ``x`` towards ``target`` with a
        ``kernel``-wide transposed conv."""
        h, w = spatial_size(x)
        return h * stride, w * stride

    def match(self, up, target, name):
        """``up`` made to ``target``'s spatial size (or an error where this fix cannot)."""
        raise NotImplementedError

    def fuse(self, up, skip, name, offset):
        """The skip connection: ``up`` (upsampled 2x) plus the skip's score map; ``offset``: the
        backbone's crop for this layer in the reference's geometry."""
        return tf.add(self.match(up, skip, name + "_match"), skip, name=name)

    def finish(self, up, images, offset, name="score"):
        """The final upsampled scores matched to the original ``images``."""
        return self.match(up, images, name)


def _layer(tensor):
    """The name of the layer that made ``tensor``, relative to the current name scope."""
    name, scope = tensor.op.name, tf.get_default_graph().get_name_scope()
    if scope and name.startswith(scope + "/"):
        name = name[len(scope) + 1:]
    return name.split("/")[0]


def _size_text(size):
    return "x".join(str(s) if isinstance(s, int) else "?" for s in size)


class OutputShape(ShapeFix):
    name = "output_shape"

    def output_size(self, x, stride, target, kernel):
        return spatial_size(target)

    def match(self, up, target, name):
        return tf.identity(up, name=name)


class SetShape(ShapeFix):
    name = "set_shape"
    fixes = False

    def match(self, up, target, name):
        size = spatial_size(target)
        try:
            up.set_shape([None, _static(size[0]), _static(size[1]), None])
        except ValueError as error:
            raise ValueError("shape_fix='set_shape' cannot make %s (%s) the size of %s (%s): set_shape "
                             "only restores static shape information, it cannot resize (%s)"
                             % (_layer(up), _size_text(up.shape.as_list()[1:3]), _layer(target),
                                _size_text(size), error))
        # Plain set_shape would let a wrong size through at run time when shapes are dynamic.
        check = tf.assert_equal(tf.shape(up)[1:3], tf.shape(target)[1:3], message=(
            "shape_fix='set_shape': %s and %s differ in size; set_shape cannot resize"
            % (_layer(up), _layer(target))))
        with tf.control_dependencies([check]):
            return tf.identity(up, name=name)


class Reshape(ShapeFix):
    name = "reshape"
    fixes = False

    def match(self, up, target, name):
        h, w = spatial_size(target)
        batch, _, _, channels = up.shape.as_list()
        try:
            return tf.reshape(up, [batch or tf.shape(up)[0], h, w, channels], name=name)
        except ValueError as error:
            raise ValueError("shape_fix='reshape' cannot make %s (%s) the size of %s (%s): %s"
                             % (_layer(up), _size_text(up.shape.as_list()[1:3]), _layer(target),
                                _size_text((h, w)), error))


class Crop(ShapeFix):
    name = "crop"

    def match(self, up, target, name):
        return crop(up, spatial_size(target), name=name)


class Pad(Crop):
    name = "pad"

    def prepare(self, images):
        h, w = spatial_size(images)
        # Pad the bottom/right with zeros, i.e. the mean colour after preprocessing.
        padded = tf.pad(images, [[0, 0], [0, (-h) % 32], [0, (-w) % 32], [0, 0]], name="pad_input")
        padded.set_shape([images.shape[0], _static(h + (-h) % 32), _static(w + (-w) % 32),
                          images.shape[3]])
        return padded


class Pad100(ShapeFix):
    """The Caffe reference: pad 100 before the first conv, fc6 'VALID', Caffe's pools, 'valid'
    deconvs, the backbone's fixed crops."""
    name = "pad100"
    fc_conv_padding = "VALID"
    first_conv_padding = "VALID"
    deconv_padding = "VALID"
    caffe_pooling = True
    PAD = 100

    def prepare(self, images):
        p = self.PAD
        padded = tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], name="pad100")
        h, w = spatial_size(images)
        padded.set_shape([images.shape[0], _static(h + 2 * p), _static(w + 2 * p), images.shape[3]])
        return padded

    def output_size(self, x, stride, target, kernel):
        h, w = spatial_size(x)
        return (h - 1) * stride + kernel, (w - 1) * stride + kernel

    def fuse(self, up, skip, name, offset):
        # The skip's score map is the larger one here: it is cropped to the upsampled map (Caffe's
        # score_pool4c / score_pool3c).
        return tf.add(up, crop(skip, spatial_size(up), offset, name=name + "_crop"), name=name)

    def finish(self, up, images, offset, name="score"):
        return crop(up, spatial_size(images), offset, name=name)


REGISTRY = collections.OrderedDict(
    (fix.name, fix) for fix in (OutputShape(), SetShape(), Reshape(), Crop(), Pad(), Pad100()))


def valid_combinations():
    """Every accepted (upsampling, shape_fix) pair."""
    return tuple((api, name) for name, fix in REGISTRY.items() for api in UPSAMPLINGS
                 if api in fix.apis)


def get_shape_fix(name, upsampling):
    """The registered shape fix ``name``, checked against the upsampling API."""
    problem = pair_problem(upsampling, name)
    if problem:
        raise ValueError(problem)
    return REGISTRY[name]
