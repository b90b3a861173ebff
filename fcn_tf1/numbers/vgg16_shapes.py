"""The VGG16 backbone's layers and kernel shapes at any width, fc6 / fc7 in conv form."""
import collections

from fcn_tf1.ground.names import BLOCKS, FC_CHANNELS

CONV_LAYERS = tuple("conv%d_%d" % (block, i) for block, count, _ in BLOCKS for i in range(1, count + 1))
LAYERS = CONV_LAYERS + ("fc6", "fc7")


def scaled(channels, width):
    """Channel count of a layer at ``width`` (1.0 = real VGG16), at least 1."""
    return max(1, int(round(channels * width)))


def layer_shapes(width=1.0):
    """``{layer: kernel shape}`` of the backbone at ``width``, fc6/fc7 in conv form."""
    shapes = collections.OrderedDict()
    in_channels = 3
    for block, count, channels in BLOCKS:
        for i in range(1, count + 1):
            out = scaled(channels, width)
            shapes["conv%d_%d" % (block, i)] = (3, 3, in_channels, out)
            in_channels = out
    fc = scaled(FC_CHANNELS, width)
    shapes["fc6"] = (7, 7, in_channels, fc)
    shapes["fc7"] = (1, 1, fc, fc)
    return shapes
