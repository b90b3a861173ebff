"""Each backbone's geometry, free of TensorFlow: its layers' kernel shapes at any width (what a weight
file must hold), the kernel of its final upsampling and the crops of the reference's pad-100 nets.
One class per backbone and one entry in ``REGISTRY``; ``model/backbones.py`` builds them.
"""
import collections

from fcn_tf1.ground.names import FC_CHANNELS
from fcn_tf1.numbers import vgg16_shapes


class VGG16Shapes(object):
    name = "vgg16"
    first_layer = "conv1_1"   # the layer a Caffe file is recognised by
    first_channels = 64       # its outputs at width 1.0: a file's width is its count over this
    # Crop offsets of voc-fcn{32,16,8}s/net.py, by the name of the layer they produce.
    crop_offsets = {"fuse_pool4": 5, "fuse_pool3": 9, "upscore32": 19, "upscore16": 27,
                    "upscore8": 31}
    groups = {}

    def layer_shapes(self, width=1.0):
        return vgg16_shapes.layer_shapes(width)

    def upscore_kernel(self, stride):
        return 2 * stride


class AlexNetShapes(object):
    """CaffeNet as voc-fcn-alexnet/net.py has it: conv1 11x11 stride 4, 3x3 stride-2 pools (Caffe's
    ceil mode) with LRN after pool1 and pool2, conv2/4/5 in two groups, fc6 6x6."""
    name = "alexnet"
    first_layer = "conv1"
    first_channels = 96
    # (layer, kernel, stride, outputs at width 1.0, groups, the layers that follow it)
    CONVS = (("conv1", 11, 4, 96, 1, ("pool1", "norm1")), ("conv2", 5, 1, 256, 2, ("pool2", "norm2")),
             ("conv3", 3, 1, 384, 1, ()), ("conv4", 3, 1, 384, 2, ()),
             ("conv5", 3, 1, 256, 2, ("pool5",)))
    FC6_KERNEL = 6
    # Caffe's LRN: x / (k + alpha / n * sum of x^2 over n channels) ^ beta
    LRN = collections.namedtuple("LRN", "local_size alpha beta k")(5, 1e-4, 0.75, 1.0)
    crop_offsets = {"upscore32": 18}
    groups = {name: groups for name, _, _, _, groups, _ in CONVS if groups > 1}

    @staticmethod
    def channels(count, width):
        # Even at every width: the grouped layers split their inputs and outputs in two.
        return 2 * max(1, int(round(count * width / 2.)))

    def layer_shapes(self, width=1.0):
        """``{layer: kernel shape}``, a grouped layer's inputs per group as Caffe stores them."""
        shapes, inputs = collections.OrderedDict(), 3
        for name, kernel, _, count, groups, _ in self.CONVS:
            out = self.channels(count, width)
            shapes[name] = (kernel, kernel, inputs // groups, out)
            inputs = out
        fc = vgg16_shapes.scaled(FC_CHANNELS, width)
        shapes["fc6"] = (self.FC6_KERNEL, self.FC6_KERNEL, inputs, fc)
        shapes["fc7"] = (1, 1, fc, fc)
        return shapes

    def upscore_kernel(self, stride):
        return 63  # voc-fcn-alexnet's upscore: 63 wide, stride 32


REGISTRY = collections.OrderedDict((shapes.name, shapes) for shapes in (VGG16Shapes(), AlexNetShapes()))
