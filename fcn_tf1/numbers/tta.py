"""Test-time augmentation: softmax probabilities averaged over flipped and rescaled copies.

``--tta flip``, ``--tta scales=0.5,0.75,1,1.25,1.5`` or both (``flip,scales=...``): each scale's copy
is resized bilinearly, labelled (and its mirror image too, flipped back), and its probabilities are
resized back to the image bilinearly -- never its labels -- before the average, as DeepLab's
``eval_scales`` with ``add_flipped_images`` does.
"""
import numpy as np
from PIL import Image


class TTA(object):
    def __init__(self, flip=False, scales=(1.0,)):
        self.flip, self.scales = bool(flip), tuple(float(s) for s in scales)

    @classmethod
    def parse(cls, text):
        """``flip``, ``scales=S,S,...`` or ``flip,scales=...``; ValueError (naming --tta) if not."""
        flip, scales = False, (1.0,)
        rest = text.strip()
        if rest == "flip" or rest.startswith("flip,"):
            flip, rest = True, rest[len("flip,"):] if rest != "flip" else ""
        if rest:
            if not rest.startswith("scales="):
                raise ValueError("--tta %s: not flip, scales=S,S,... or flip,scales=S,S,..." % text)
            try:
                scales = tuple(float(s) for s in rest[len("scales="):].split(","))
            except ValueError:
                raise ValueError("--tta %s: the scales are not numbers" % text)
            if any(not s > 0 for s in scales):  # (not > so that nan is refused too)
                raise ValueError("--tta %s: a scale must be > 0" % text)
        return cls(flip, scales)

    def describe(self):
        parts = (["flip"] if self.flip else []) + (
            ["scales=" + ",".join("%g" % s for s in self.scales)] if self.scales != (1.0,) else [])
        return ",".join(parts) or "none"

    def to_dict(self):
        return {"flip": self.flip, "scales": list(self.scales)}

    def copies(self):
        return len(self.scales) * (2 if self.flip else 1)

    def check(self, shape, what="the image"):
        """ValueError when a scale makes ``shape`` (H, W) smaller than 1 px."""
        for s in self.scales:
            if min(scaled_size(shape, s)) < 1:
                raise ValueError("--tta scale %g makes %s (%dx%d) smaller than 1 px"
                                 % ((s, what) + tuple(shape)))

    def average(self, image, probabilities):
        """The mean of ``probabilities(copy)`` [h, w, C] over the copies of ``image`` [H, W, 3]
        (or of a model's {modality: image}, each copied alike), each brought back to [H, W, C]."""
        shape = image_size(image)
        self.check(shape)
        total = None
        for s in self.scales:
            copy = each(image, lambda x: resize_image(x, scaled_size(shape, s)))
            for flipped in ((False, True) if self.flip else (False,)):
                p = probabilities(each(copy, lambda x: x[:, ::-1]) if flipped else copy)
                p = resize_probabilities(p[:, ::-1] if flipped else p, shape)
                total = p if total is None else total + p
        return total / self.copies()


def scaled_size(shape, scale):
    return tuple(int(round(n * scale)) for n in shape)


def each(images, fn):
    """``fn`` of an image, or of each of a model's {modality: image}."""
    if isinstance(images, dict):
        return {name: fn(image) for name, image in images.items()}
    return fn(images)


def image_size(images):
    """(H, W) of an image, or of a model's {modality: image} (all of one size)."""
    first = next(iter(images.values())) if isinstance(images, dict) else images
    return first.shape[:2]


def resize_image(image, size):
    """An RGB uint8 image, or a uint16 depth map [H, W], resized to ``size`` bilinearly."""
    if tuple(size) == image.shape[:2]:
        return image
    if image.dtype == np.uint16:  # (Pillow resizes 16-bit maps through 32-bit floats)
        resized = Image.fromarray(image.astype(np.float32), "F").resize(size[::-1],
                                                                        Image.BILINEAR)
        return np.round(np.asarray(resized)).astype(np.uint16)
    return np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR))


def resize_probabilities(p, size):
    """[h, w, C] float probabilities resized to ``size`` (H, W) bilinearly, channel by channel."""
    if tuple(size) == p.shape[:2]:
        return np.ascontiguousarray(p, np.float32)
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(p[..., c], np.float32), "F")
                                .resize(size[::-1], Image.BILINEAR)) for c in range(p.shape[-1])], -1)


def softmax(logits):
    """Softmax over the last axis, in float32, stable for large logits."""
    shifted = np.asarray(logits, np.float32) - np.max(logits, -1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(-1, keepdims=True)
    return shifted
