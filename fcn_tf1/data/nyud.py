"""NYUDv2 as the reference trains and scores it (``nyud_layers.py``): the 40-class task of Gupta et
al. (ECCV 2014) on the colour images or the HHA encoding of depth. ``<root>/<split>.txt`` lists the
ids (the reference trains on ``trainval`` and scores on ``test``); inputs are
``data/images/img_<id>.png`` (colour) or ``data/hha/img_<id>.png`` (HHA, 3 channels), labels
``segmentation/img_<id>.mat`` (``segmentation``: 0 unlabelled, 1-40 the classes), shifted to 0-39
with 0 becoming the void label 255, as the reference's data layer shifts them."""
import os

import numpy as np

from fcn_tf1.data.images import DataError, read_input, read_mat_map
from fcn_tf1.data.voc import SplitDataset
from fcn_tf1.ground.names import IGNORE_LABEL

# Gupta et al.'s 40 classes, 1-40 in the MAT files.
CLASSES = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
    "floor mat", "clothes", "ceiling", "books", "refrigerator", "television", "paper", "towel",
    "shower curtain", "box", "whiteboard", "person", "night stand", "toilet", "sink", "lamp",
    "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop")


def read_segmentation(path):
    """Class indices [H, W] (0-39, void 255) of a ``segmentation/img_<id>.mat``."""
    shifted = read_mat_map(path, "segmentation", "an NYUDv2 label file", len(CLASSES)) - 1
    shifted[shifted < 0] = IGNORE_LABEL
    return shifted.astype(np.uint8)


# Each modality's folder under data/.
FOLDERS = {"image": "images", "hha": "hha", "depth": "depth"}


class NYUDDataset(SplitDataset):
    """``split`` ('train', 'val', 'trainval', 'test') of an NYUDv2 folder in the reference's
    layout, its colour images (``modalities`` ('image',)), HHA (('hha',)) or several inputs fused
    (('image', 'depth') early, ('image', 'hha') late; ``load``'s image is then {modality: array},
    depth uint16 [H, W]): 40 classes, unlabelled pixels void."""

    class_names = CLASSES
    num_classes = len(CLASSES)
    read_label = staticmethod(read_segmentation)

    def __init__(self, root, split="train", modalities=("image",), fusion=None):
        self.modality = modalities[0]
        self.inputs = tuple(modalities) if len(modalities) > 1 else None
        self.fusion = fusion
        super().__init__(root, split, os.path.join(root, split + ".txt"))

    def input_path(self, i, modality):
        return os.path.join(self.root, "data", FOLDERS[modality], "img_%s.png" % self.ids[i])

    def paths(self, i):
        return (self.input_path(i, self.modality),
                os.path.join(self.root, "segmentation", "img_%s.mat" % self.ids[i]))

    def load(self, i):
        if not self.inputs:
            return super().load(i)
        label = read_segmentation(self.paths(i)[1])
        inputs = {}
        for modality in self.inputs:
            path = self.input_path(i, modality)
            inputs[modality] = read_input(path, modality)
            if inputs[modality].shape[:2] != label.shape:
                raise DataError(path, "%dx%d, its labels %dx%d" % (
                    inputs[modality].shape[:2] + label.shape))
        return inputs, label
