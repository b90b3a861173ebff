"""Labelling an image of any size with any loaded model: whole, in exact tiles, or on a downscaled
copy, with or without test-time augmentation (TTA).

Tiles follow ``numbers.tiling``'s rules with the halo measured on the model (``receptive_field``),
so the stitched scores equal the whole image's to float rounding; only a model whose input size is
fixed (a TFLite export) labels a resized copy when its size cannot tile the image exactly. TTA
averages softmax probabilities over the flipped and rescaled copies, each resized back to the image
bilinearly (``numbers.tta``).
"""
import collections

import numpy as np

from fcn_tf1.ground.machine import trim_heap
from fcn_tf1.ground.names import MAX_INFERENCE_PIXELS
from fcn_tf1.model import receptive_field
from fcn_tf1.numbers import tiling, tta as tta_numbers

STRIDE = receptive_field.STRIDE

How = collections.namedtuple("How", "kind size tiles")  # kind: whole, tiled, resized


class Labeller(object):
    """``labels(image)`` and ``probabilities(image)`` of ``model`` (a ``LoadedModel``).

    ``tile``: "auto" (tiles of at most ``max_pixels`` when the whole image has more), "off" (always
    whole) or (h, w); ``downscale``: label images of more than ``max_pixels`` on a downscaled copy
    instead (the labels enlarged back, nearest neighbour); ``tta``: a ``numbers.tta.TTA`` or None.
    """

    def __init__(self, model, tile="auto", max_pixels=MAX_INFERENCE_PIXELS, downscale=False,
                 tta=None):
        self.model, self.tile, self.max_pixels = model, tile, max_pixels
        self.downscale, self.tta = downscale, tta
        # An export with TTA inside (export --tta) resizes whole images: it cannot tile exactly.
        self.baked = (model.metadata or {}).get("tta")
        if self.baked and (tta is not None or isinstance(tile, tuple)):
            raise ValueError("--%s: this export has test-time augmentation inside (export --tta "
                             "%s); label with it as it is, or with --downscale"
                             % ("tta" if tta is not None else "tile",
                                tta_numbers.TTA(**self.baked).describe()))
        if isinstance(tile, tuple):
            self._check_tile(tile)

    def without_tta(self):
        """The same labeller without test-time augmentation."""
        return Labeller(self.model, self.tile, self.max_pixels, self.downscale)

    def _check_tile(self, tile):
        # At the tile's own size modulo the stride: before any work (each image is checked again
        # by ``check``, as its size may need a few px more).
        for side in tile:
            try:
                smallest = tiling.smallest_tile(self.halo(side), STRIDE)
            except ValueError as error:
                raise ValueError("--tile %dx%d: %s" % (tile + (error,)))
            if side < smallest:
                raise ValueError("--tile %dx%d: smaller than the model's receptive field allows (it "
                                 "reaches %d px, so a tile keeps nothing below %d px a side)"
                                 % (tile + (self.halo(side), smallest)))

    def check(self, shape):
        """ValueError (one line) when an image of ``shape`` cannot be labelled as asked."""
        if self.tta is not None:
            self.tta.check(shape)
        self.plan(shape)

    def halo(self, length):
        """How far the model's receptive field reaches along an axis of ``length`` px (measured
        once per size modulo the stride, in well under a second)."""
        return receptive_field.halo(self.model.config, length)

    def halos(self, shape):
        return tuple(self.halo(n) for n in shape)

    def plan(self, shape):
        """How an image of ``shape`` (H, W) is labelled: How(kind, the size it is run at, the
        tiles)."""
        fixed = self.model.input_size
        if fixed:
            return self._fixed_plan(shape, tuple(fixed))
        height, width = shape
        if self.tile == "off" or (self.tile == "auto" and height * width <= self.max_pixels):
            return How("whole", shape, None)
        if self.downscale or self.baked:
            scale = (self.max_pixels / float(height * width)) ** 0.5
            return How("resized", (max(1, int(height * scale)), max(1, int(width * scale))), None)
        tile = self.tile if isinstance(self.tile, tuple) else self._auto_tile(shape)
        if tile[0] >= height and tile[1] >= width:
            return How("whole", shape, None)
        size, tiles = tiling.grid(shape, tile, self.halos(shape), STRIDE)
        return How("tiled", size, tiles)

    def _auto_tile(self, shape):
        """Square tiles of at most ``max_pixels``, but at least 4 halos a side: a smaller tile would
        compute each kept pixel more than 4 times over."""
        side = max([int(self.max_pixels ** 0.5)] + [4 * h for h in self.halos(shape)])
        return side, side

    def _fixed_plan(self, shape, fixed):
        if shape == fixed:
            return How("whole", shape, None)
        exact = all(n == t or (n > t and (n - t) % STRIDE == 0) for n, t in zip(shape, fixed))
        if exact and all(t >= tiling.smallest_tile(h, STRIDE)
                         for t, h in zip(fixed, self.halos(shape))):
            return How("tiled", fixed, tiling.grid(shape, fixed, self.halos(shape), STRIDE,
                                                   fixed=True)[1])
        return How("resized", fixed, None)

    def scores(self, image):
        """(the logits [H, W, C] of ``image`` as ``plan`` says, How); a model of several heads
        gives theirs side by side on the last axis."""
        return self._labelled(image, lambda part: np.concatenate(self.model.run(part)[0::2], -1))

    def probabilities(self, image):
        """Softmax probabilities [H, W, C] (each head's, side by side): of the image as it is, or
        averaged over the TTA's copies."""
        if self.tta is None:
            return self._softmax(self.scores(image)[0])
        return self.tta.average(image, lambda copy: self._softmax(self.scores(copy)[0]))

    def _softmax(self, scores):
        return np.concatenate([tta_numbers.softmax(head) for head in self._split(scores)], -1)

    def _split(self, values):
        """``values`` [..., C] cut into each head's classes."""
        return np.split(values, np.cumsum([h.num_classes for h in self.model.config.heads])[:-1],
                        -1)

    def labels(self, image):
        """(labels int32 [H, W], or [H, W, heads] for a model of several heads, How). Without TTA
        the model's own labels (its ``prediction``): a tile's logits are never copied out of the
        engine."""
        if self.tta is not None:
            labels = [np.argmax(p, -1).astype(np.int32)
                      for p in self._split(self.probabilities(image))]
            return (labels[0] if len(labels) == 1 else np.stack(labels, -1),
                    self.plan(tta_numbers.image_size(image)))
        return self._labelled(image, lambda part: self.model.predict(part).astype(np.int32))

    def _labelled(self, image, run):
        """(what ``run`` gives for ``image`` [H, W, ...] (or a model's {modality: image}) —
        logits or labels — as ``plan`` says, How): of the whole image, stitched from the kept
        part of each tile, or of a resized copy enlarged back by nearest neighbour."""
        size = tta_numbers.image_size(image)
        how = self.plan(size)
        if how.kind == "whole":
            return run(image), how
        if how.kind == "resized":
            return _resized(run, image, how.size), how
        out = None
        h, w = how.size
        for row, column in how.tiles:
            part = run(tta_numbers.each(image, lambda x: x[row.origin:row.origin + h,
                                                           column.origin:column.origin + w]))
            kept = part[row.keep_start - row.origin:row.keep_end - row.origin,
                        column.keep_start - column.origin:column.keep_end - column.origin]
            if out is None:
                out = np.empty(size + kept.shape[2:], kept.dtype)
            out[row.keep_start:row.keep_end, column.keep_start:column.keep_end] = kept
            del part, kept  # this tile's output goes before the next tile's arrives
            trim_heap()
        return out, how


def _resized(run, image, size):
    """What ``run`` gives for a copy of ``image`` (or of each of {modality: image}) resized to
    ``size``, enlarged back by nearest neighbour."""
    height, width = tta_numbers.image_size(image)
    small = run(tta_numbers.each(image, lambda x: tta_numbers.resize_image(x, size)))
    # Each pixel takes the value of the copy's pixel its centre falls in (as Pillow's NEAREST).
    rows = ((np.arange(height) + 0.5) * size[0] / height).astype(int)[:, None]
    columns = ((np.arange(width) + 0.5) * size[1] / width).astype(int)[None, :]
    return small[rows, columns]
