"""The Semantic Boundaries Dataset (Hariharan et al.): dataset/img/*.jpg, dataset/cls/*.mat, train.txt."""
import os

import numpy as np

from fcn_tf1.data.images import DataError, read_mat
from fcn_tf1.data.voc import SplitDataset


def read_cls_mat(path):
    """Class indices [H, W] from an SBD ``cls/*.mat`` (the struct GTcls, field Segmentation)."""
    mat = read_mat(path, struct_as_record=False, squeeze_me=True)
    try:
        return np.asarray(mat["GTcls"].Segmentation, np.uint8)
    except (KeyError, AttributeError):
        raise DataError(path, "not an SBD cls file (no GTcls.Segmentation)")


class SBDDataset(SplitDataset):
    """``split`` ('train' or 'val') of SBD's ``dataset`` folder (or benchmark_RELEASE holding it)."""

    read_label = staticmethod(read_cls_mat)

    def __init__(self, root, split="train"):
        if os.path.isdir(os.path.join(root, "dataset")):
            root = os.path.join(root, "dataset")
        super().__init__(root, split, os.path.join(root, split + ".txt"))

    def paths(self, i):
        return (os.path.join(self.root, "img", self.ids[i] + ".jpg"),
                os.path.join(self.root, "cls", self.ids[i] + ".mat"))
