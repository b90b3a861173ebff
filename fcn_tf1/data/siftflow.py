"""SIFT Flow as the reference trains and scores it (``siftflow_layers.py``): 2,688 outdoor photos of
256x256, each labelled twice, with 33 semantic classes and 3 geometric ones, for the FCNs of two
heads. ``<root>/<split>.txt`` lists the ids; the photo is
``Images/spatial_envelope_256x256_static_8outdoorcategories/<id>.jpg``, its labels the ``S`` maps
of the ``.mat`` files of that name under ``SemanticLabels/`` (0 unlabelled, 1-33) and
``GeoLabels/`` (-1 and 0 unlabelled, 1-3), both shifted down by one with unlabelled pixels void
(255), as the reference's data layer does."""
import os

import numpy as np

from fcn_tf1.data.images import DataError, read_image, read_mat_map
from fcn_tf1.data.voc import SplitDataset
from fcn_tf1.ground.names import IGNORE_LABEL

FOLDER = "spatial_envelope_256x256_static_8outdoorcategories"
# The 33 object classes, 1-33 in SemanticLabels, and the 3 geometric ones, 1-3 in GeoLabels, as
# the reference's data/sift-flow/classes.txt lists them.
SEMANTIC = (
    "awning", "balcony", "bird", "boat", "bridge", "building", "bus", "car", "cow", "crosswalk",
    "desert", "door", "fence", "field", "grass", "moon", "mountain", "person", "plant", "pole",
    "river", "road", "rock", "sand", "sea", "sidewalk", "sign", "sky", "staircase", "streetlight",
    "sun", "tree", "window")
GEOMETRIC = ("sky", "horizontal", "vertical")
# The heads of its FCNs: (name, classes, label folder, smallest number its maps hold).
HEADS = (("semantic", SEMANTIC, "SemanticLabels", 0), ("geometric", GEOMETRIC, "GeoLabels", -1))


def read_labels(path, classes, smallest):
    """Class indices [H, W] (0..classes-1, void 255) of one head's ``.mat``: 1.. become 0.., the
    rest (0, and the geometric maps' -1) void."""
    values = read_mat_map(path, "S", "a SIFT Flow label file", len(classes), smallest) - 1
    values[values < 0] = IGNORE_LABEL
    return values.astype(np.uint8)


class SIFTFlowDataset(SplitDataset):
    """``split`` ('trainval', 'test', ...) of a SIFT Flow folder in the reference's layout: RGB
    photos and a label map per head, stacked as [H, W, 2] (semantic, geometric)."""

    class_names = SEMANTIC
    num_classes = len(SEMANTIC)
    heads = tuple((name, classes) for name, classes, _, _ in HEADS)

    def __init__(self, root, split="trainval"):
        super().__init__(root, split, os.path.join(root, split + ".txt"))

    def paths(self, i):
        return ((os.path.join(self.root, "Images", FOLDER, self.ids[i] + ".jpg"),) +
                tuple(os.path.join(self.root, folder, FOLDER, self.ids[i] + ".mat")
                      for _, _, folder, _ in HEADS))

    def load(self, i):
        image_path, *label_paths = self.paths(i)
        image = read_image(image_path)
        labels = [read_labels(path, classes, smallest)
                  for path, (_, classes, _, smallest) in zip(label_paths, HEADS)]
        for path, label in zip(label_paths, labels):
            if label.shape != image.shape[:2]:
                raise DataError(path, "labels of %dx%d for an image of %dx%d"
                                % (label.shape + image.shape[:2]))
        return image, np.stack(labels, -1)
