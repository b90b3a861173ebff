"""The input convention (channel order and mean) and the in-graph preprocessing that follows it."""
import collections

from fcn_tf1.ground.names import SLIM_RGB
from fcn_tf1.ground.tf_compat import tf


def preprocess(images, convention=SLIM_RGB):
    """RGB images (uint8 or float, 0-255) [..., 3] -> float32 in the model's channel order, mean
    removed; depth (convention LOG, [..., 1] in millimetres) -> log depth minus its mean, a pixel
    without a reading (0, whose log the reference's data layer leaves at -inf) at the mean (0)."""
    images = tf.cast(images, tf.float32)
    if convention.channel_order == "LOG":
        logs = tf.log(tf.maximum(images, 1.0)) - convention.mean[0]
        return tf.where(images > 0, logs, tf.zeros_like(images), name="preprocessed")
    if convention.channel_order == "BGR":
        # A non-negative axis: TFLite's REVERSE_V2 refuses -1 when it runs (TF 1.15).
        images = tf.reverse(images, axis=[images.shape.ndims - 1])
    return tf.subtract(images, tf.constant(convention.mean, tf.float32), name="preprocessed")


def preprocessed(config, images):
    """A batch of a model's input preprocessed by its convention, or of each of {modality: batch}
    of a model of several (a depth batch [N, H, W] given its channel axis)."""
    if not isinstance(images, dict):
        return preprocess(images, config.convention)
    return collections.OrderedDict(
        (item.modality, preprocess(images[item.modality] if images[item.modality].shape.ndims == 4
                                   else images[item.modality][..., None], item.convention))
        for item in config.inputs)
