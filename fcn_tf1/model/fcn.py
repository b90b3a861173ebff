"""FCN-32s, FCN-16s and FCN-8s heads on a backbone (paper sections 4.1-4.2; VGG16 or AlexNet).

Names follow the Caffe reference (voc-fcn8s/net.py): score_fr, upscore2, score_pool4, fuse_pool4,
upscore_pool4, score_pool3, fuse_pool3, and the final upscore32 / upscore16 / upscore8.
"""
import collections
import contextlib

from fcn_tf1.ground.names import (DEFAULT_BACKBONE, DEFAULT_SHAPE_FIX, SHAPE_FIXES, SKIP_SCALES,
                                  TRAIN_UPSAMPLING, UPSAMPLINGS, VARIANTS)
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.backbones import get_backbone
from fcn_tf1.model.upsample import get_shape_fix, transposed_conv

FINAL_STRIDE = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}

__all__ = ["build_fcn", "build_fcn_with_end_points", "build_heads_with_end_points", "VARIANTS",
           "UPSAMPLINGS", "SHAPE_FIXES"]


def score(net, num_classes, name):
    """A 1x1 conv to class scores, zero-initialised as in the paper."""
    return tf.layers.conv2d(net, num_classes, 1, kernel_initializer=tf.zeros_initializer(),
                            name=name)


def build_fcn_with_end_points(images, num_classes, variant="fcn8s", upsampling="nn",
                              shape_fix=None, width=1.0, is_training=False,
                              train_upsampling="2x", scale_skips=False, backbone=DEFAULT_BACKBONE):
    """Build an FCN; returns (logits [N, H, W, num_classes], end_points). See ``build_fcn``."""
    logits, end_points = build_heads_with_end_points(
        images, [(None, num_classes)], variant, upsampling, shape_fix, width, is_training,
        train_upsampling, scale_skips, backbone)
    return logits[0], end_points


def build_heads_with_end_points(images, heads, variant="fcn8s", upsampling="nn", shape_fix=None,
                                width=1.0, is_training=False, train_upsampling="2x",
                                scale_skips=False, backbone=DEFAULT_BACKBONE, fusion=None):
    """Build an FCN of one or several heads (SIFT Flow's semantic and geometric tasks) on one
    input or several (NYUDv2's colour with depth or HHA): ``heads`` is [(name, classes)], a name
    None for the one head of a model; each head has its own layers, named as the reference's with
    ``_<name>`` appended (score_fr_semantic, ...). ``images``: a preprocessed [N, H, W, C], or an
    ordered {modality: [N, H, W, C]} of several fused by ``fusion`` (names.FUSIONS): "early"
    concatenates them into one stream's input, "late" builds a stream per input (its layers under
    ``<modality>/``) whose score_fr are averaged into ``score_fused``.
    Returns ([logits [N, H, W, classes] per head], end_points)."""
    if variant not in VARIANTS:
        raise ValueError("variant must be one of %s, got %r" % (VARIANTS, variant))
    if train_upsampling not in TRAIN_UPSAMPLING:
        raise ValueError("train_upsampling must be one of %s, got %r"
                         % (TRAIN_UPSAMPLING, train_upsampling))
    fix = get_shape_fix(shape_fix or DEFAULT_SHAPE_FIX.get(upsampling), upsampling)
    backbone = get_backbone(backbone, variant)
    streams = _streams(images, fusion)
    end_points = collections.OrderedDict()
    tops = collections.OrderedDict()
    for name, stream in streams.items():
        with _scope(name):
            tops[name], points = backbone.build(fix.prepare(stream), width, fix, is_training)
        end_points.update(((name + "/" if name else "") + k, v) for k, v in points.items())
    first = next(iter(streams.values()))

    def score_fr(layer, num_classes):
        """score_fr of the one stream, or the mean of every stream's (the reference's coeff)."""
        scores = []
        for name, top in tops.items():
            with _scope(name):
                scores.append(score(top, num_classes, layer))
        if len(scores) == 1:
            return scores[0]
        return tf.add_n([tf.multiply(s, 1.0 / len(scores)) for s in scores],
                        name=layer.replace("score_fr", "score_fused"))

    logits = [_head(first, score_fr, end_points, name, classes, variant, upsampling, fix,
                    backbone, train_upsampling, scale_skips) for name, classes in heads]
    return logits, end_points


def _scope(name):
    """The variable scope of a stream of a late fusion, none for the one stream."""
    return tf.variable_scope(name) if name else contextlib.ExitStack()


def _streams(images, fusion):
    """{stream name (None for the one): its preprocessed input [N, H, W, C]}."""
    if isinstance(images, dict):
        inputs = [(name, tf.convert_to_tensor(x, tf.float32)) for name, x in images.items()]
    else:
        inputs = [(None, tf.convert_to_tensor(images, tf.float32))]
    for name, x in inputs:
        if x.shape.ndims != 4:
            raise ValueError("images must be [N, H, W, C], got %s" % x.shape)
    if len(inputs) == 1:
        return collections.OrderedDict([(None, inputs[0][1])])
    if fusion == "early":
        return collections.OrderedDict([(None, tf.concat([x for _, x in inputs], -1,
                                                         name="fused_input"))])
    if fusion == "late":
        return collections.OrderedDict(inputs)
    raise ValueError("%d inputs need a fusion, one of early, late" % len(inputs))


def _head(images, score_fr, end_points, head, num_classes, variant, upsampling, fix, backbone,
          train_upsampling, scale_skips):
    """One head's logits: score_fr (``score_fr(layer, classes)``), the skips of ``variant`` and
    the final upscore (reference names, plus ``_<head>`` for a head of a model of several)."""
    def named(layer):
        return layer if head is None else "%s_%s" % (layer, head)

    def upscore(net, stride, layer, target):
        trainable = train_upsampling == "all" or (train_upsampling == "2x" and stride == 2)
        kernel = backbone.upscore_kernel(stride)
        up = transposed_conv(net, num_classes, stride, named(layer), upsampling,
                             fix.deconv_padding, fix.output_size(net, stride, target, kernel),
                             trainable, kernel)
        end_points[named(layer)] = up
        return up

    def skip(pool):
        features = end_points[pool]
        if scale_skips:
            features = tf.multiply(features, SKIP_SCALES[pool], name=named("scale_" + pool))
        net = end_points[named("score_" + pool)] = score(features, num_classes,
                                                         named("score_" + pool))
        return net

    def fuse(net, pool, upscore_layer, layer):
        features = skip(pool)
        net = end_points[named(layer)] = fix.fuse(upscore(net, 2, upscore_layer, features),
                                                  features, named(layer),
                                                  backbone.crop_offsets[layer])
        return net

    net = end_points[named("score_fr")] = score_fr(named("score_fr"), num_classes)
    if variant in ("fcn16s", "fcn8s"):
        net = fuse(net, "pool4", "upscore2", "fuse_pool4")
    if variant == "fcn8s":
        net = fuse(net, "pool3", "upscore_pool4", "fuse_pool3")
    stride = FINAL_STRIDE[variant]
    layer = "upscore%d" % stride
    logits = end_points[named("score")] = fix.finish(upscore(net, stride, layer, images), images,
                                                     backbone.crop_offsets[layer], named("score"))
    return logits


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
