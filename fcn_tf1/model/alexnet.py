"""CaffeNet (AlexNet as Caffe trains it) as a fully convolutional network: the backbone of the
reference's voc-fcn-alexnet.

Layer and variable names follow the reference: ``conv1/kernel`` [11, 11, 3, 96] ... ``conv5``, ``fc6``
[6, 6, 256, 4096], ``fc7``; ``norm1`` / ``norm2`` are Caffe's LRN. A grouped layer keeps Caffe's one
kernel of [k, k, inputs / 2, outputs]: group g convolves input half g with output half g.
"""
import collections

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.vgg16 import conv_relu
from fcn_tf1.numbers.backbone_shapes import AlexNetShapes

SHAPES = AlexNetShapes()


def grouped_conv_relu(net, shape, groups, stride, name, padding="SAME"):
    """A convolution whose inputs and outputs split into ``groups`` that only see each other."""
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", shape, initializer=tf.glorot_uniform_initializer())
        bias = tf.get_variable("bias", shape[3:], initializer=tf.zeros_initializer())
        parts = [tf.nn.conv2d(x, k, [1, stride, stride, 1], padding)
                 for x, k in zip(tf.split(net, groups, axis=3), tf.split(kernel, groups, axis=3))]
        return tf.nn.relu(tf.nn.bias_add(tf.concat(parts, axis=3), bias))


def max_pool(net, name, caffe_ceil):
    """A 3x3 stride-2 max pool: ceil(n / 2) outputs ('SAME'), or Caffe's ceil((n - 3) / 2) + 1
    windows from the first row: one zero row and column after the input (which is ReLU's, so >= 0)
    and 'VALID' give exactly those."""
    if caffe_ceil:
        net = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]], name=name + "_ceil")
    return tf.layers.max_pooling2d(net, 3, 2, padding="VALID" if caffe_ceil else "SAME", name=name)


def lrn(net, name):
    """Caffe's across-channel LRN: TensorFlow's alpha is per squared input, Caffe's per window."""
    p = SHAPES.LRN
    return tf.nn.local_response_normalization(net, depth_radius=p.local_size // 2, bias=p.k,
                                              alpha=p.alpha / p.local_size, beta=p.beta, name=name)


def alexnet(images, width=1.0, fc_conv_padding="SAME", is_training=False, dropout_rate=0.5,
            first_conv_padding="SAME", caffe_pooling=False):
    """Build the CaffeNet backbone on preprocessed ``images`` [N, H, W, 3]; returns (fc7,
    end_points) as ``vgg16.vgg16`` does. ``caffe_pooling``: Caffe's ceil-mode pools (the reference's
    pad-100 geometry), else 'SAME' pools that keep every map at ceil(n / stride)."""
    end_points = collections.OrderedDict()
    shapes = SHAPES.layer_shapes(width)
    net = images
    for name, kernel, stride, _, groups, following in SHAPES.CONVS:
        padding = first_conv_padding if name == "conv1" else "SAME"
        if groups == 1:
            net = tf.layers.conv2d(net, shapes[name][3], kernel, stride, padding=padding,
                                   activation=tf.nn.relu, name=name)
        else:
            net = grouped_conv_relu(net, shapes[name], groups, stride, name, padding)
        end_points[name] = net
        for layer in following:
            net = end_points[layer] = (lrn(net, layer) if layer.startswith("norm") else
                                       max_pool(net, layer, caffe_pooling))
    net = end_points["fc6"] = conv_relu(net, shapes["fc6"][3], SHAPES.FC6_KERNEL, "fc6",
                                        padding=fc_conv_padding)
    net = tf.layers.dropout(net, dropout_rate, training=is_training, name="drop6")
    net = end_points["fc7"] = conv_relu(net, shapes["fc7"][3], 1, "fc7")
    net = tf.layers.dropout(net, dropout_rate, training=is_training, name="drop7")
    return net, end_points
