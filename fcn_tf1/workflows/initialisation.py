"""Where a fresh run's weights come from: a pretrained backbone file, or a coarser FCN's checkpoint
(32s -> 16s -> 8s). An initialiser is read and checked when made, before any training starts;
``prepare(variables)``, called while the graph is built, readies the variables and returns what
fills them once the session exists (``fill(session)``), or None when their initialisers do it."""
import logging

import numpy as np

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model import checkpoints
from fcn_tf1.model.backbones import REGISTRY as BACKBONES
from fcn_tf1.numbers.vgg16_weights import WeightsError

log = logging.getLogger(__name__)


class InitError(RuntimeError):
    """An initialiser that cannot be used; the message names the file."""


class BackboneInit(object):
    """The backbone from its pretrained ImageNet file (VGG16's, CaffeNet's); fc8 is dropped."""

    def __init__(self, path, width=1.0, backbone="vgg16"):
        self.weights = BACKBONES[backbone].read_weights(path, width)
        self.convention = self.weights.convention

    def prepare(self, variables):
        ops, feed = backbone_assignments(self.weights, variables)
        return lambda session: session.run(ops, feed)


class CheckpointInit(object):
    """Every variable that a coarser FCN's checkpoint holds with the same shape, through
    ``tf.train.init_from_checkpoint`` with one entry per variable (the others start fresh)."""

    def __init__(self, checkpoint_dir, log=print):
        self.path = checkpoints.latest(checkpoint_dir) or checkpoint_dir
        try:
            self.shapes = tf.train.NewCheckpointReader(self.path).get_variable_to_shape_map()
        except Exception as error:  # the reader raises several error types for a bad file
            raise InitError("--init-from %s: no readable checkpoint (%s)"
                            % (checkpoint_dir, " ".join(str(error).split())[:200]))
        self.log = log

    def prepare(self, variables):
        copied = {v.op.name: v for v in variables if self.shapes.get(v.op.name) == v.shape.as_list()}
        fresh = sorted(v.op.name for v in variables if v.op.name not in copied)
        self.log("init from %s: %d variables copied; new: %s"
                 % (self.path, len(copied), ", ".join(fresh) or "none"))
        tf.train.init_from_checkpoint(self.path, copied)
        return None


def backbone_assignments(weights, variables):
    """(assign ops, feed dict) that load ``weights`` into the backbone ``variables`` of the graph,
    into each stream of a late fusion (``<modality>/conv1_1`` ...); fc8 is dropped. An early
    fusion's first kernel, of more input channels than the file's, takes the file's in its first
    channels and zeros in the others (the fused inputs start out ignored). Raises WeightsError
    before anything runs when the graph cannot take them."""
    by_name = {v.op.name: v for v in variables}
    first = next(iter(weights))
    prefixes = sorted(name[:-len(first + "/kernel")] for name in by_name
                      if name.endswith(first + "/kernel")) or [""]
    ops, feed = [], {}
    for prefix in prefixes:
        for layer, values in weights.items():
            if layer == "fc8":
                continue
            for name, value in zip(("kernel", "bias"), values):
                var = by_name.get("%s%s/%s" % (prefix, layer, name))
                if var is None:
                    raise WeightsError("the graph has no variable %s%s/%s to load %s into"
                                       % (prefix, layer, name, weights.path))
                value = _widened(value, var.shape.as_list()) if layer == first else value
                if var.shape.as_list() != list(value.shape):
                    raise WeightsError("%s: layer %s %s is %s, the graph's is %s: these "
                                       "pretrained weights need a model of width %g" % (
                                           weights.path, layer, name, value.shape,
                                           tuple(var.shape.as_list()), weights.width))
                placeholder = tf.placeholder(tf.float32, value.shape)
                ops.append(var.assign(placeholder))
                feed[placeholder] = value
    if "fc6" not in weights:
        log.warning("%s has no fc6/fc7 (a notop file): they start from scratch", weights.path)
    return ops, feed


def _widened(kernel, shape):
    """The first layer's ``kernel`` [kh, kw, in, out] with zeros for the extra input channels of
    a kernel of ``shape`` (an early fusion's); else as it is."""
    if kernel.ndim != 4 or len(shape) != 4 or shape[2] <= kernel.shape[2] or \
            list(kernel.shape[:2]) + list(kernel.shape[3:]) != shape[:2] + shape[3:]:
        return kernel
    widened = np.zeros(shape, np.float32)
    widened[:, :, :kernel.shape[2]] = kernel
    return widened
