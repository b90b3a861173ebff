"""PASCAL-Context (Mottaghi et al., CVPR 2014) as the reference trains and scores it: the 59-class
task. Images and splits are VOC2010's (``JPEGImages/<id>.jpg``, ``ImageSets/Main/<split>.txt``);
labels are the annotations' ``trainval/<id>.mat`` (``LabelMap``: ids into ``labels.txt``'s full
list, 1-based), mapped to ``59_labels.txt``'s classes (1-59, in its order; every other id is 0,
background) as the reference's ``pascalcontext_layers.py`` maps them."""
import os

import numpy as np

from fcn_tf1.data.images import DataError, read_mat_map
from fcn_tf1.data.voc import SplitDataset, year_folder

LABELS, TASK_LABELS, MATS = "labels.txt", "59_labels.txt", "trainval"
# Three task classes that the full list names otherwise (looked up by those names).
RENAMED = {"diningtable": "table", "bedcloth": "bedclothes", "clothes": "cloth"}


def read_label_list(path):
    """The class names of an ``<id>: <name>`` file, ids 1, 2, ... in order, spaces removed."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except UnicodeDecodeError:
        raise DataError(path, "not a readable text file (not UTF-8)")
    except OSError as error:
        raise DataError(path, "not a readable text file (%s)" % (error.strerror or error))
    names = []
    for number, line in enumerate(lines, 1):
        index, sep, name = line.partition(":")
        if not sep or index.strip() != str(number) or not name.strip():
            raise DataError(path, "line %d is not '%d: <name>'" % (number, number))
        names.append(name.replace(" ", ""))
    if not names:
        raise DataError(path, "no classes")
    return names


def task_lookup(full, task, path):
    """An array taking each full-list id (0 and 1..len(full)) to its task class (0: background)."""
    lookup = np.zeros(len(full) + 1, np.uint8)
    for k, name in enumerate(task, 1):
        wanted = RENAMED.get(name, name)
        if wanted not in full:
            raise DataError(path, "class %r is not in %s" % (wanted, LABELS))
        lookup[full.index(wanted) + 1] = k
    return lookup


def read_label_map(path, lookup):
    """Task class indices [H, W] of an annotation ``.mat`` (its ``LabelMap``)."""
    return lookup[read_mat_map(path, "LabelMap", "a PASCAL-Context annotation", len(lookup) - 1)]


class PascalContextDataset(SplitDataset):
    """``split`` ('train', 'val') of VOC2010 in ``root`` with the annotations in ``context_dir``
    (``trainval/``, ``labels.txt``, ``59_labels.txt``): 60 classes with the real files."""

    def __init__(self, root, context_dir, split="train"):
        root = year_folder(root, ("2010",))
        task_file = os.path.join(context_dir, TASK_LABELS)
        task = read_label_list(task_file)
        self.lookup = task_lookup(read_label_list(os.path.join(context_dir, LABELS)), task,
                                  task_file)
        self.class_names = ("background",) + tuple(task)
        self.num_classes = len(self.class_names)
        self.context_dir = context_dir
        super().__init__(root, split, os.path.join(root, "ImageSets", "Main", split + ".txt"))

    def paths(self, i):
        return (os.path.join(self.root, "JPEGImages", self.ids[i] + ".jpg"),
                os.path.join(self.context_dir, MATS, self.ids[i] + ".mat"))

    def read_label(self, path):
        return read_label_map(path, self.lookup)
