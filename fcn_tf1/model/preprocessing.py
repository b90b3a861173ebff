"""The input convention (channel order and mean) and the in-graph preprocessing that follows it."""
from fcn_tf1.ground.names import SLIM_RGB
from fcn_tf1.ground.tf_compat import tf


def preprocess(images, convention=SLIM_RGB):
    """RGB images (uint8 or float, 0-255) [..., 3] -> float32 in the model's channel order, mean removed."""
    images = tf.cast(images, tf.float32)
    if convention.channel_order == "BGR":
        # A non-negative axis: TFLite's REVERSE_V2 refuses -1 when it runs (TF 1.15).
        images = tf.reverse(images, axis=[images.shape.ndims - 1])
    return tf.subtract(images, tf.constant(convention.mean, tf.float32), name="preprocessed")
