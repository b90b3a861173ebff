"""How far a model's scores reach: the halo that exact tiling needs, measured on the model's own graph.

A score depends on the input pixels of its receptive field: 404 px across for fc7 of VGG16 with a 7x7
fc6 (355 for AlexNet's), more through the transposed convolutions and skips that follow, shifted by the shape fix (pad100
crops, output_shape's padding). Rather than a table per variant and shape fix, the geometry is
measured: the graph of the same variant and shape fix at the smallest width, every kernel 1 and every
bias 0, is fed inputs that are 0 but for one pixel. Its scores are then positive exactly where that
pixel reaches (no weight cancels another; ReLU and max pooling pass positive values), and a score's
receptive field reaches as far as the pixels that reach it.
"""
import functools

import numpy as np

from fcn_tf1.ground.tf_compat import tf

# The total stride of the backbone: tile origins lie on this grid, so every pooling sees the windows
# it sees in the whole image.
STRIDE = 32
# The probe: taller than any reach on either side of its centre; the reach is the same along both
# axes (square kernels, the same rules), so it is measured down the rows of a narrow probe.
_PROBE_HEIGHT, _PROBE_WIDTH = 20 * STRIDE, 3 * STRIDE


def halo(config, length=0):
    """The farthest, in pixels, that an input pixel reaches a score of ``config``'s model (any
    width) along an axis of ``length`` px, over every position on the stride grid. It depends on
    the length modulo the stride (output_shape's padding follows it): measured once for each."""
    return _measured(config.backbone, config.variant, config.upsampling, config.shape_fix,
                     config.scale_skips, length % STRIDE)


@functools.lru_cache(maxsize=None)
def _measured(backbone, variant, upsampling, shape_fix, scale_skips, residue):
    from fcn_tf1.model.config import ModelConfig
    geometry = ModelConfig(1, variant, 1 / 64., upsampling, shape_fix, scale_skips=scale_skips,
                           backbone=backbone)
    height = _PROBE_HEIGHT + residue
    centre = height // 2 - STRIDE // 2
    impulses = np.zeros((STRIDE, height, _PROBE_WIDTH, 3), np.float32)
    for k in range(STRIDE):  # the impulse at every offset from the stride grid
        impulses[k, centre + k, _PROBE_WIDTH // 2] = 1
    with tf.Graph().as_default(), tf.Session() as session:
        images = tf.placeholder(tf.float32, impulses.shape)
        try:
            scores = geometry.build(images)
        except ValueError as error:  # a shape fix that takes some sizes only
            raise ValueError("the receptive field cannot be measured at %d px: %s"
                             % (height, str(error).split(" (")[0]))
        session.run([v.assign((tf.zeros_like if v.op.name.endswith("bias") else tf.ones_like)(v))
                     for v in tf.global_variables()])
        reached = session.run(scores, {images: impulses})[..., 0] > 0
    far = 0
    for k in range(STRIDE):
        hit = np.flatnonzero(reached[k].any(axis=1))
        if not hit.size or hit[0] == 0 or hit[-1] == height - 1:
            raise ValueError("the receptive field of %s with shape fix %s reaches beyond a %d px "
                             "probe" % (variant, shape_fix, height))
        far = max(far, centre + k - hit[0], hit[-1] - centre - k)
    return int(far)
