"""A folder data set of the user's own images and masks, any classes:

    DIR/images/<stem>.<jpg|jpeg|png|bmp|tif|tiff>   any size; predict's image contract applies
    DIR/masks/<stem>.png                             class indices (8-bit L or P) or colours (RGB)
    DIR/classes.txt                                  one class a line, line k is class k:
                                                     ``name`` or ``name R G B``; a line ``void R G B``
                                                     is the ignore colour, not a class
    or DIR/labelmap.txt                              CVAT's "Segmentation mask 1.1": ``name:R,G,B::``
    DIR/train.txt, DIR/val.txt                       optional: stems, one a line

Index or colour is told by each mask file, not by a flag. Without a class file, index masks get
``class_0`` ... up to the largest id found and colour masks are an error. Without split files the
stems are split by a seeded shuffle (``val_fraction``), which the run folder keeps.
"""
import collections
import os

import numpy as np
from PIL import Image

from fcn_tf1.data.images import DataError, read_image
from fcn_tf1.data.source import DataSource
from fcn_tf1.data.voc import read_split
from fcn_tf1.ground.names import IGNORE_LABEL

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
CLASS_FILES = ("classes.txt", "labelmap.txt")
VOID_NAMES = ("void", "ignore")

Classes = collections.namedtuple("Classes", "names colours void")  # colours: [(R, G, B)] or None


def read_classes(root):
    """The data set's ``Classes`` from DIR/classes.txt or CVAT's labelmap.txt, or None without."""
    for name in CLASS_FILES:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return _parse_classes(path, _lines(path), cvat=name == "labelmap.txt")
    return None


def _lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, "cannot read the class file (%s)" % error)
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise DataError(path, "the class file names no class")
    return lines


def _parse_classes(path, lines, cvat):
    names, colours, void = [], [], None
    for number, line in enumerate(lines, 1):
        name, colour = _cvat_line(line) if cvat else _classes_line(line)
        if name is None:
            raise DataError(path, "line %d %r: expected %s" % (
                number, line, "name:R,G,B::" if cvat else "a name, or a name and R G B (0-255)"))
        if name.lower() in VOID_NAMES and colour is not None:
            void = colour
            continue
        names.append(name)
        colours.append(colour)
    _refuse_duplicates(path, names, "class name")
    if any(c is None for c in colours):
        if any(c is not None for c in colours):
            raise DataError(path, "some classes have colours and some not; give every class one "
                                  "or none")
        return Classes(names, None, None)
    _refuse_duplicates(path, colours + ([void] if void else []), "colour")
    return Classes(names, colours, void)


def _classes_line(line):
    parts = line.split()
    if len(parts) == 1:
        return parts[0], None
    return (" ".join(parts[:-3]) or None, _colour(parts[-3:])) if len(parts) >= 4 else (None, None)


def _cvat_line(line):
    fields = line.split(":")
    if len(fields) < 2 or not fields[0]:
        return None, None
    return fields[0], _colour(fields[1].split(","))


def _colour(parts):
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        return None
    return values if len(values) == 3 and all(0 <= v <= 255 for v in values) else None


def _refuse_duplicates(path, items, what):
    seen = set()
    for item in items:
        if item is None:
            raise DataError(path, "a line has no valid colour (R G B, each 0-255)")
        if item in seen:
            raise DataError(path, "%s %s appears twice" % (what, item))
        seen.add(item)


def read_mask(path, classes, ignore_label=IGNORE_LABEL):
    """Class indices [H, W] (``IGNORE_LABEL`` where void) of an index or colour mask PNG."""
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            values = np.asarray(image.convert("RGB") if mode in ("RGBA", "RGB") else image)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(path, "cannot read mask (%s)" % (str(error) or type(error).__name__))
    if mode in ("L", "P"):
        label = values.astype(np.uint8)
        if ignore_label != IGNORE_LABEL:
            label = np.where(values == ignore_label, IGNORE_LABEL, label).astype(np.uint8)
        return label
    if mode in ("RGB", "RGBA"):
        return _colours_to_ids(values, classes, path)
    raise DataError(path, "a %s mask; expected class indices (8-bit L or P) or colours (RGB)"
                          % mode)


def _colours_to_ids(rgb, classes, path):
    if classes is None or classes.colours is None:
        raise DataError(path, "a colour mask, but no classes.txt (name R G B) or labelmap.txt "
                              "says which colour is which class")
    keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    table = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(classes.colours)}
    if classes.void:
        r, g, b = classes.void
        table[(r << 16) | (g << 8) | b] = IGNORE_LABEL
    found, inverse = np.unique(keys, return_inverse=True)
    unknown = [k for k in found if k not in table]
    if unknown:
        k = unknown[0]
        count = int((keys == k).sum())
        raise DataError(path, "colour (%d, %d, %d) in %d pixel(s) is not a class of the class file"
                              "%s" % (k >> 16, (k >> 8) & 255, k & 255, count,
                                      " (and %d more colours)" % (len(unknown) - 1)
                                      if len(unknown) > 1 else ""))
    ids = np.array([table[k] for k in found], np.uint8)
    return ids[inverse].reshape(keys.shape)


def _stems(folder, extensions):
    if not os.path.isdir(folder):
        raise DataError(folder, "no such folder")
    out = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in extensions:
            out.setdefault(stem, name)
    return out


def split_stems(stems, val_fraction, seed):
    """{"train": [...], "val": [...]}: a seeded shuffle of the sorted stems, the last
    ``val_fraction`` (at least one when there are two or more) for validation."""
    order = sorted(stems)
    np.random.RandomState(seed).shuffle(order)
    n_val = min(len(order) - 1, max(1, int(round(val_fraction * len(order))))) \
        if len(order) > 1 and val_fraction > 0 else 0
    return {"train": sorted(order[:len(order) - n_val]), "val": sorted(order[len(order) - n_val:])}


class FolderDataset(DataSource):
    """``split`` ("train" or "val", or any DIR/<split>.txt) of a folder data set. ``splits``
    ({"train": stems, "val": stems}, e.g. a run's stored split) overrides the split files and the
    seeded split."""

    def __init__(self, root, split="train", val_fraction=0.1, seed=0,
                 ignore_label=IGNORE_LABEL, splits=None):
        self.root, self.split, self.ignore_label = root, split, ignore_label
        self.images = _stems(os.path.join(root, "images"), IMAGE_EXTENSIONS)
        self.masks = _stems(os.path.join(root, "masks"), (".png",))
        self.classes = read_classes(root)
        self.splits = splits or self._splits(val_fraction, seed)
        if split not in self.splits:
            raise DataError(os.path.join(root, split + ".txt"), "no such split file")
        self.ids = list(self.splits[split])
        self.split_file = os.path.join(root, split + ".txt")
        names = self.classes.names if self.classes else self._index_names()
        self.class_names, self.num_classes = list(names), len(names)
        self.class_colours = self.classes.colours if self.classes else None

    def _splits(self, val_fraction, seed):
        """The split files there are, else the seeded split of the stems with both files."""
        files = {s: os.path.join(self.root, s + ".txt") for s in ("train", "val", self.split)}
        files = {s: path for s, path in files.items() if os.path.isfile(path)}
        if files:
            return {s: read_split(path) for s, path in files.items()}
        return split_stems(set(self.images) & set(self.masks), val_fraction, seed)

    def _index_names(self):
        """class_0 ... up to the largest id of the index masks (no class file)."""
        largest = 0
        for stem in self.masks:
            path = os.path.join(self.root, "masks", self.masks[stem])
            label = read_mask(path, None, self.ignore_label)
            real = label[label != IGNORE_LABEL]
            largest = max(largest, int(real.max()) if real.size else 0)
        return ["class_%d" % i for i in range(largest + 1)]

    def unpaired(self):
        """One-line problems: images without a mask and masks without an image."""
        return (["%s: no mask %s" % (os.path.join(self.root, "images", self.images[s]),
                                     os.path.join(self.root, "masks", s + ".png"))
                 for s in sorted(set(self.images) - set(self.masks))] +
                ["%s: no image %s.<%s>" % (os.path.join(self.root, "masks", self.masks[s]),
                                           os.path.join(self.root, "images", s),
                                           "|".join(e[1:] for e in IMAGE_EXTENSIONS))
                 for s in sorted(set(self.masks) - set(self.images))])

    def __len__(self):
        return len(self.ids)

    def paths(self, i):
        stem = self.ids[i]
        if stem not in self.images or stem not in self.masks:
            raise DataError(os.path.join(self.root, "images", stem),
                            "no image and mask pair for this stem")
        return (os.path.join(self.root, "images", self.images[stem]),
                os.path.join(self.root, "masks", self.masks[stem]))

    def name(self, i):
        return self.paths(i)[0]

    def load(self, i):
        image_path, mask_path = self.paths(i)
        return (read_image(image_path, orient=True),
                read_mask(mask_path, self.classes, self.ignore_label))
