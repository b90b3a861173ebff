"""FCN-32s, FCN-16s and FCN-8s heads on a backbone (paper sections 4.1-4.2; VGG16 or AlexNet).

Names follow the Caffe reference (voc-fcn8s/net.py): score_fr, upscore2, score_pool4, fuse_pool4,
upscore_pool4, score_pool3, fuse_pool3, and the final upscore32 / upscore16 / upscore8.
"""
import collections

from fcn_tf1.ground.names import (DEFAULT_BACKBONE, DEFAULT_SHAPE_FIX, SHAPE_FIXES, SKIP_SCALES,
                                  TRAIN_UPSAMPLING, UPSAMPLINGS, VARIANTS)
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.backbones import get_backbone
from fcn_tf1.model.upsample import get_shape_fix, transposed_conv

FINAL_STRIDE = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}

__all__ = ["build_fcn", "build_fcn_with_end_points", "VARIANTS", "UPSAMPLINGS", "SHAPE_FIXES"]


def score(net, num_classes, name):
    """A 1x1 conv to class scores, zero-initialised as in the paper."""
    return tf.layers.conv2d(net, num_classes, 1, kernel_initializer=tf.zeros_initializer(),
                            name=name)


def build_fcn_with_end_points(images, num_classes, variant="fcn8s", upsampling="nn",
                              shape_fix=None, width=1.0, is_training=False,
                              train_upsampling="2x", scale_skips=False, backbone=DEFAULT_BACKBONE):
    """Build an FCN; returns (logits [N, H, W, num_classes], end_points). See ``build_fcn``."""
    if variant not in VARIANTS:
        raise ValueError("variant must be one of %s, got %r" % (VARIANTS, variant))
    if train_upsampling not in TRAIN_UPSAMPLING:
        raise ValueError("train_upsampling must be one of %s, got %r"
                         % (TRAIN_UPSAMPLING, train_upsampling))
    fix = get_shape_fix(shape_fix or DEFAULT_SHAPE_FIX.get(upsampling), upsampling)
    backbone = get_backbone(backbone, variant)
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.ndims != 4 or images.shape.as_list()[3] not in (3, None):
        raise ValueError("images must be [N, H, W, 3], got %s" % images.shape)

    fc7, end_points = backbone.build(fix.prepare(images), width, fix, is_training)
    end_points = collections.OrderedDict(end_points)

    def upscore(net, stride, name, target):
        trainable = train_upsampling == "all" or (train_upsampling == "2x" and stride == 2)
        kernel = backbone.upscore_kernel(stride)
        up = transposed_conv(net, num_classes, stride, name, upsampling, fix.deconv_padding,
                             fix.output_size(net, stride, target, kernel), trainable, kernel)
        end_points[name] = up
        return up

    def skip(pool):
        features = end_points[pool]
        if scale_skips:
            features = tf.multiply(features, SKIP_SCALES[pool], name="scale_" + pool)
        net = end_points["score_" + pool] = score(features, num_classes, "score_" + pool)
        return net

    net = end_points["score_fr"] = score(fc7, num_classes, "score_fr")
    if variant in ("fcn16s", "fcn8s"):
        pool4 = skip("pool4")
        net = end_points["fuse_pool4"] = fix.fuse(upscore(net, 2, "upscore2", pool4), pool4,
                                                  "fuse_pool4", backbone.crop_offsets["fuse_pool4"])
    if variant == "fcn8s":
        pool3 = skip("pool3")
        net = end_points["fuse_pool3"] = fix.fuse(upscore(net, 2, "upscore_pool4", pool3), pool3,
                                                  "fuse_pool3", backbone.crop_offsets["fuse_pool3"])
    stride = FINAL_STRIDE[variant]
    layer = "upscore%d" % stride
    logits = end_points["score"] = fix.finish(upscore(net, stride, layer, images), images,
                                              backbone.crop_offsets[layer])
    return logits, end_points


def build_fcn(images, num_classes, variant="fcn8s", upsampling="nn", shape_fix=None,
              width=1.0, is_training=False, train_upsampling="2x", scale_skips=False,
              backbone=DEFAULT_BACKBONE):
    """Build FCN-32s, -16s or -8s on preprocessed ``images`` [N, H, W, 3]; returns logits [N, H, W, C].

    Args:
      num_classes: output channels (21 for PASCAL VOC).
      variant: one of ``VARIANTS``.
      upsampling: 'nn' (``tf.nn.conv2d_transpose`` with an explicit output_shape) or 'layers'
        (``tf.layers.conv2d_transpose``, which cannot be told its output size).
      shape_fix: how upsampled maps are matched to their skip / the input, one of ``SHAPE_FIXES``;
        ``output_shape`` needs ``upsampling='nn'``; default: output_shape for 'nn', crop for
        'layers' (``DEFAULT_SHAPE_FIX``).
      width: channel multiplier of the backbone (1.0 = the real VGG16 / CaffeNet).
      is_training: dropout on.
      train_upsampling: which transposed convs learn: '2x' (upscore2 / upscore_pool4, the CVPR
        paper's text), 'none' (the reference's nets: all fixed bilinear) or 'all'.
      scale_skips: scale pool4 by 0.01 and pool3 by 1e-4 before scoring (the "at-once" FCN-8s).
      backbone: one of ``names.BACKBONES`` (``model/backbones.py``); AlexNet has FCN-32s only.
    """
    return build_fcn_with_end_points(images, num_classes, variant, upsampling, shape_fix, width,
                                     is_training, train_upsampling, scale_skips, backbone)[0]
