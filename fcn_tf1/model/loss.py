"""The training objective: pixelwise softmax cross-entropy over the labelled pixels."""
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.ground.tf_compat import tf


def segmentation_loss(logits, labels, num_classes, reduction="mean"):
    """Pixelwise softmax cross-entropy, skipping label 255; summed (Caffe's unnormalised) or averaged."""
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, IGNORE_LABEL)
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.where(valid, labels, tf.zeros_like(labels)), logits=logits)
    total = tf.reduce_sum(xent * tf.cast(valid, tf.float32))
    if reduction == "sum":
        return total
    return total / tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)
