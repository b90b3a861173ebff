"""PASCAL VOC 2012 segmentation: JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/Segmentation/."""
import os

from fcn_tf1.data.images import DataError, read_image, read_label_png
from fcn_tf1.data.source import DataSource

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
               "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")


def read_split(path):
    """Sample ids, one per line, from a split file."""
    try:
        with open(path) as f:
            ids = [line.strip().split()[0] for line in f if line.strip()]
    except FileNotFoundError:
        raise DataError(path, "no such split file")
    if not ids:
        raise DataError(path, "the split is empty")
    return ids


class SplitDataset(DataSource):
    """A split file of ids naming (image, label) file pairs; subclasses say where and how."""

    num_classes = len(VOC_CLASSES)
    class_names = VOC_CLASSES
    read_label = None  # a function: path -> class indices [H, W]

    def __init__(self, root, split, split_file):
        self.root, self.split, self.split_file = root, split, split_file
        self.ids = read_split(split_file)

    def __len__(self):
        return len(self.ids)

    def paths(self, i):
        """(image path, label path) of sample i."""
        raise NotImplementedError

    def name(self, i):
        return self.paths(i)[0]

    def load(self, i):
        image_path, label_path = self.paths(i)
        return read_image(image_path), self.read_label(label_path)


# The paper's evaluation split: the reference's 736 images of VOC2011 val that SBD does not train on.
SEG11VALID = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seg11valid.txt")


def year_folder(root, years):
    """``root``'s ``VOC<year>`` (or ``VOCdevkit/VOC<year>``) for the first of ``years`` it holds,
    else ``root`` itself (the year's folder given directly)."""
    for year in years:
        for sub in ("VOC" + year, os.path.join("VOCdevkit", "VOC" + year)):
            if os.path.isdir(os.path.join(root, sub)):
                return os.path.join(root, sub)
    return root


class VOCDataset(SplitDataset):
    """``split`` ('train', 'val', ..., or 'seg11valid', shipped here) of a VOC2012 or VOC2011
    folder (or a VOCdevkit, or the folder holding one)."""

    read_label = staticmethod(read_label_png)

    def __init__(self, root, split="train"):
        root = year_folder(root, ("2012", "2011"))
        split_file = os.path.join(root, "ImageSets", "Segmentation", split + ".txt")
        if split == "seg11valid" and not os.path.isfile(split_file):
            split_file = SEG11VALID
        super().__init__(root, split, split_file)

    def paths(self, i):
        return (os.path.join(self.root, "JPEGImages", self.ids[i] + ".jpg"),
                os.path.join(self.root, "SegmentationClass", self.ids[i] + ".png"))
