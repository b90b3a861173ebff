"""A built-in segmentation data set, generated deterministically from a seed; nothing to download.

Four object classes differ in shape, texture and colour: disks (plain), boxes (striped), triangles
(checkered) and crosses (dotted). They lie on cluttered backgrounds (a colour gradient, noise, grey
strokes and blobs), overlap, run off the border, and come in images of varied, often odd, sizes. As in
PASCAL VOC, a band of the void label 255 runs along object edges.
"""
import numpy as np
from scipy import ndimage

from fcn_tf1.data.source import DataSource

CLASS_NAMES = ("background", "disk", "box", "triangle", "cross")
# A base colour per class (RGB); each object jitters it.
COLOURS = {1: (220, 60, 50), 2: (60, 170, 70), 3: (60, 90, 220), 4: (230, 200, 40)}
SPLITS = {"train": 0, "val": 1}


class SyntheticDataset(DataSource):
    """``size`` images of the ``split``; sample i is the same for the same (seed, split, i)."""

    num_classes = len(CLASS_NAMES)
    class_names = CLASS_NAMES

    def __init__(self, split="train", size=None, seed=0, min_side=48, max_side=96):
        if split not in SPLITS:
            raise ValueError("split must be one of %s, got %r" % (sorted(SPLITS), split))
        self.split, self.seed = split, seed
        self.size = size if size is not None else (400 if split == "train" else 60)
        self.min_side, self.max_side = min_side, max_side

    def __len__(self):
        return self.size

    def name(self, i):
        return "synthetic-%s-%05d" % (self.split, i)

    def load(self, i):
        if not 0 <= i < self.size:
            raise IndexError("sample %d out of range 0..%d" % (i, self.size - 1))
        return render(np.random.RandomState([self.seed, SPLITS[self.split], i]),
                      self.min_side, self.max_side)


def _background(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    start, end = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / max(h, w)
    image = start + (end - start) * (t - t.min())[..., None] / (np.ptp(t) + 1e-6)
    # Clutter: grey strokes and blobs that are not objects.
    for _ in range(rng.randint(3, 9)):
        grey = rng.uniform(30, 230)
        if rng.rand() < 0.5:
            y0, x0, angle = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, np.pi)
            dist = np.abs((yy - y0) * np.cos(angle) - (xx - x0) * np.sin(angle))
            image[dist < rng.uniform(0.5, 1.5)] = grey
        else:
            y0, x0, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 5)
            image[(yy - y0) ** 2 + (xx - x0) ** 2 < r * r] = grey
    return image


def _shape_mask(cls, rng, yy, xx, y0, x0, r):
    if cls == 1:  # disk
        return (yy - y0) ** 2 + (xx - x0) ** 2 < r * r
    if cls == 2:  # box, any aspect
        a, b = r * rng.uniform(0.6, 1.0), r * rng.uniform(0.6, 1.0)
        return (np.abs(yy - y0) < a) & (np.abs(xx - x0) < b)
    if cls == 3:  # triangle, any rotation
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3
        corners = np.stack([y0 + r * 1.3 * np.sin(angles), x0 + r * 1.3 * np.cos(angles)], 1)
        inside = np.ones(yy.shape, bool)
        for k in range(3):
            (ay, ax), (by, bx) = corners[k], corners[(k + 1) % 3]
            inside &= (bx - ax) * (yy - ay) - (by - ay) * (xx - ax) >= 0
        return inside
    arm = r * rng.uniform(0.3, 0.45)  # cross
    return (((np.abs(yy - y0) < r) & (np.abs(xx - x0) < arm)) |
            ((np.abs(yy - y0) < arm) & (np.abs(xx - x0) < r)))


def _texture(cls, rng, yy, xx, colour):
    colour = np.asarray(colour, np.float32)
    if cls == 2:  # stripes
        period, angle = rng.uniform(4, 7), rng.uniform(0, np.pi)
        on = np.sin((yy * np.cos(angle) + xx * np.sin(angle)) * 2 * np.pi / period) > 0
    elif cls == 3:  # checks
        size = rng.randint(3, 6)
        on = ((yy // size + xx // size) % 2).astype(bool)
    elif cls == 4:  # dots
        period = rng.randint(4, 7)
        on = ((yy % period) < 2) & ((xx % period) < 2)
    else:
        on = np.zeros(yy.shape, bool)
    return colour * np.where(on, 0.55, 1.0)[..., None]


def render(rng, min_side=48, max_side=96):
    """One (image uint8 [H, W, 3], label uint8 [H, W]) drawn with ``rng``."""
    h, w = rng.randint(min_side, max_side + 1, 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = _background(rng, h, w)
    label = np.zeros((h, w), np.uint8)
    for _ in range(rng.randint(1, 5)):
        cls = rng.randint(1, len(CLASS_NAMES))
        r = rng.uniform(7, 0.3 * min(h, w) + 7)
        # Centres anywhere in the image: objects overlap and run off the border.
        mask = _shape_mask(cls, rng, yy, xx, rng.uniform(0, h), rng.uniform(0, w), r)
        colour = np.clip(np.asarray(COLOURS[cls]) + rng.uniform(-35, 35, 3), 0, 255)
        image[mask] = _texture(cls, rng, yy, xx, colour)[mask]
        label[mask] = cls
    image += rng.normal(0, 8, image.shape)
    # The void band: pixels whose 3x3 neighbourhood holds more than one class.
    edges = ndimage.maximum_filter(label, 3) != ndimage.minimum_filter(label, 3)
    label[edges] = 255
    return np.clip(image, 0, 255).astype(np.uint8), label
