"""VGG16 as a fully convolutional network (paper section 3.1).

Layer and variable names follow the paper and the weight files: ``conv1_1/kernel`` ... ``conv5_3/bias``,
``fc6/kernel`` [7, 7, 512, 4096], ``fc7/kernel`` [1, 1, 4096, 4096]. fc6 and fc7 are convolutions, so the
net takes any input size; ``fc_conv_padding`` chooses fc6's padding as in TF-slim's ``nets/vgg.py``.
"""
import collections

from fcn_tf1.ground.names import BLOCKS, FC_CHANNELS
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.numbers.vgg16_shapes import scaled

FC_PADDINGS = ("SAME", "VALID")


def conv_relu(net, channels, kernel_size, name, padding="SAME", trainable=True):
    return tf.layers.conv2d(net, channels, kernel_size, padding=padding, activation=tf.nn.relu,
                            name=name, trainable=trainable)


def max_pool(net, name):
    # 'SAME' pooling maps n to ceil(n / 2), as Caffe's ceil-mode pooling does, so no input is too small.
    return tf.layers.max_pooling2d(net, 2, 2, padding="SAME", name=name)


def vgg16(images, width=1.0, fc_conv_padding="SAME", is_training=False, dropout_rate=0.5,
          first_conv_padding="SAME"):
    """Build the VGG16 backbone on preprocessed ``images`` [N, H, W, 3].

    Args:
      width: channel multiplier; 1.0 is the real VGG16 (and the only width pretrained weights fit).
      fc_conv_padding: 'SAME' keeps fc6's output at ceil(H / 32) (any input works); 'VALID' is the
        exact FC-as-conv of the paper (needs pool5 >= 7x7, i.e. H, W >= 193).
      is_training: applies dropout (rate ``dropout_rate``) after fc6 and fc7.
      first_conv_padding: 'VALID' for conv1_1 reproduces Caffe's pad-100 input (the caller pads).

    Returns:
      (fc7, end_points): the fc7 map and an ordered dict of every layer's output by name.
    """
    if fc_conv_padding not in FC_PADDINGS:
        raise ValueError("fc_conv_padding must be one of %s, got %r" % (FC_PADDINGS, fc_conv_padding))
    end_points = collections.OrderedDict()
    net = images
    for block, count, channels in BLOCKS:
        for i in range(1, count + 1):
            name = "conv%d_%d" % (block, i)
            padding = first_conv_padding if name == "conv1_1" else "SAME"
            net = end_points[name] = conv_relu(net, scaled(channels, width), 3, name, padding)
        net = end_points["pool%d" % block] = max_pool(net, "pool%d" % block)
    fc = scaled(FC_CHANNELS, width)
    net = end_points["fc6"] = conv_relu(net, fc, 7, "fc6", padding=fc_conv_padding)
    net = tf.layers.dropout(net, dropout_rate, training=is_training, name="drop6")
    net = end_points["fc7"] = conv_relu(net, fc, 1, "fc7")
    net = tf.layers.dropout(net, dropout_rate, training=is_training, name="drop7")
    return net, end_points
