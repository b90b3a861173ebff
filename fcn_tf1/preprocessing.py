"""The input convention (channel order and mean) and the in-graph preprocessing that follows it."""
import collections

from fcn_tf1.tf_compat import tf

# channel_order: the order the first conv expects; mean: per channel, in that order, on 0-255 pixels.
Convention = collections.namedtuple("Convention", "channel_order mean")

# Caffe-trained VGG16 (Keras h5 in 'caffe' mode, vgg16.npy): BGR, ImageNet mean in BGR.
CAFFE_BGR = Convention("BGR", (103.939, 116.779, 123.68))
# TF-slim's vgg_16.ckpt: RGB, the same ImageNet mean in RGB.
SLIM_RGB = Convention("RGB", (123.68, 116.78, 103.94))


def convention_to_dict(convention):
    return {"channel_order": convention.channel_order, "mean": list(convention.mean)}


def convention_from_dict(data):
    if data["channel_order"] not in ("RGB", "BGR") or len(data["mean"]) != 3:
        raise ValueError("not an input convention: %r" % (data,))
    return Convention(data["channel_order"], tuple(float(m) for m in data["mean"]))


def preprocess(images, convention=SLIM_RGB):
    """RGB images (uint8 or float, 0-255) [..., 3] -> float32 in the model's channel order, mean removed."""
    images = tf.cast(images, tf.float32)
    if convention.channel_order == "BGR":
        images = tf.reverse(images, axis=[-1])
    return tf.subtract(images, tf.constant(convention.mean, tf.float32), name="preprocessed")
