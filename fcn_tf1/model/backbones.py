"""The backbones by name: each is its geometry (``numbers/backbone_shapes.py``) plus a builder of
(top, end_points) on the images a shape fix prepares, in the fix's paddings, and the reader of its
pretrained ImageNet weights. Adding a backbone is one class here, its geometry there and its entry in
``names.BACKBONE_SPECS``."""
import collections

from fcn_tf1.ground.names import BACKBONE_SPECS, REFERENCE_BGR, backbone_problem
from fcn_tf1.model.alexnet import alexnet
from fcn_tf1.model.checkpoints import read_vgg16
from fcn_tf1.model.vgg16 import vgg16
from fcn_tf1.numbers import vgg16_weights
from fcn_tf1.numbers.backbone_shapes import AlexNetShapes, VGG16Shapes
from fcn_tf1.numbers.caffe_nets import is_fcn, read_classifier
from fcn_tf1.numbers.caffemodel import CaffeModel, CaffeModelError


class VGG16(VGG16Shapes):
    def build(self, images, width, fix, is_training):
        return vgg16(images, width, fix.fc_conv_padding, is_training,
                     first_conv_padding=fix.first_conv_padding)

    def read_weights(self, path, width):
        return read_vgg16(path, width)

    def convention_of(self, path):
        return vgg16_weights.file_convention(path)


class AlexNet(AlexNetShapes):
    def build(self, images, width, fix, is_training):
        return alexnet(images, width, fix.fc_conv_padding, is_training,
                       first_conv_padding=fix.first_conv_padding, caffe_pooling=fix.caffe_pooling)

    def read_weights(self, path, width):
        """CaffeNet's ImageNet weights from Caffe's file, fc8 included."""
        if not path.endswith(".caffemodel"):
            raise vgg16_weights.WeightsError("%s: AlexNet's weights are read from %s" % (
                path, BACKBONE_SPECS[self.name].weights))
        weights = vgg16_weights.VGG16Weights()
        try:
            with CaffeModel(path) as model:
                if is_fcn(model):
                    raise vgg16_weights.WeightsError(
                        "%s: an FCN, not a CaffeNet backbone: python -m fcn_tf1.weights convert it "
                        "to a run folder, then train --init-from it" % path)
                weights.update(read_classifier(model, self, width))
        except CaffeModelError as error:
            raise vgg16_weights.WeightsError(str(error))
        weights.format, weights.path, weights.width = "caffemodel", path, width
        weights.convention = self.convention_of(path)
        return weights

    def convention_of(self, path):
        return REFERENCE_BGR  # the reference's data layer subtracts the ImageNet mean it used


REGISTRY = collections.OrderedDict((backbone.name, backbone) for backbone in (VGG16(), AlexNet()))


def get_backbone(name, variant):
    """The registered backbone ``name``, checked against the head ``variant``."""
    problem = backbone_problem(name, variant)
    if problem:
        raise ValueError(problem)
    return REGISTRY[name]
