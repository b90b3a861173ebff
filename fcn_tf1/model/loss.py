"""The training objective: pixelwise softmax cross-entropy over the labelled pixels."""
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.ground.tf_compat import tf


def segmentation_loss(logits, labels, num_classes, reduction="mean", class_weights=None):
    """Pixelwise softmax cross-entropy, skipping label 255; summed (Caffe's unnormalised) or averaged
    over the labelled pixels. ``class_weights`` (one per class) scale each pixel's term by its true
    class's weight (class balancing); the average stays over the pixel count."""
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, IGNORE_LABEL)
    safe = tf.where(valid, labels, tf.zeros_like(labels))
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    weight = tf.cast(valid, tf.float32)
    if class_weights is not None:
        weight *= tf.gather(tf.constant(class_weights, tf.float32, [num_classes]), safe)
    total = tf.reduce_sum(xent * weight)
    if reduction == "sum":
        return total
    return total / tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)
