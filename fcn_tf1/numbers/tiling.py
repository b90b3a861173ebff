"""Where the tiles of an image go so that the stitched scores equal the whole image's.

Three rules make a tile compute what the whole image computes on its kept part:
- its origin lies on the model's stride grid (every pooling sees the windows it sees in the whole);
- its size is congruent to the image's size modulo the stride (the paddings of 'SAME' layers and
  the offsets of the transposed convolutions follow from the size modulo the stride);
- a kept pixel lies at least ``halo`` pixels from every tile edge that is not an image edge (its
  receptive field sees no padding that the whole image does not have).
All tiles of an image then share one shape; the last tile of a row or column is moved back to end
at the image edge, overlapping its neighbour more.
"""
import collections

AxisTile = collections.namedtuple("AxisTile", "origin keep_start keep_end")


class TilingError(ValueError):
    pass


def smallest_tile(halo, stride):
    """The smallest tile that keeps something, whatever the image size."""
    return 2 * halo + 2 * stride


def axis_tiles(length, tile, halo, stride, fixed=False):
    """(size, [AxisTile]) covering 0..``length`` with tiles of one size (at most ``tile``, congruent
    to ``length`` modulo ``stride``; exactly ``tile`` when ``fixed``), as few as ``tile`` allows and
    then as small as covers, keeping [keep_start, keep_end) in image coordinates, the kept parts
    adjacent."""
    if tile >= length:
        return length, [AxisTile(0, 0, length)]
    if tile < smallest_tile(halo, stride):
        raise TilingError("a tile of %d px keeps nothing of a model whose receptive field reaches "
                          "%d px: tiles of at least %d px" % (tile, halo, smallest_tile(halo, stride)))
    largest = tile - (tile - length) % stride
    count = _count(length, largest, halo, stride)
    size = largest
    while not fixed and size - stride >= 2 * halo + stride and _covers(length, size - stride, count, halo, stride):
        size -= stride
    step = (size - 2 * halo) // stride * stride
    origins = [k * step for k in range(count - 1)] + [length - size]
    cuts = [0] + [(a + b + size) // 2 for a, b in zip(origins, origins[1:])] + [length]
    return size, [AxisTile(o, cuts[k], cuts[k + 1]) for k, o in enumerate(origins)]


def _count(length, size, halo, stride):
    step = (size - 2 * halo) // stride * stride
    return 1 + -(-(length - size) // step)


def _covers(length, size, count, halo, stride):
    """Whether ``count`` tiles of ``size`` cover ``length``, each kept part at least ``halo`` from
    an inner edge."""
    step = (size - 2 * halo) // stride * stride
    return step > 0 and (count - 1) * step + size >= length


def grid(shape, tile, halos, stride, fixed=False):
    """((h, w) of every tile, [(row AxisTile, column AxisTile)]) of an image of ``shape`` (H, W) in
    tiles of at most ``tile`` (h, w), the receptive field reaching ``halos`` (down, across)."""
    height, rows = axis_tiles(shape[0], tile[0], halos[0], stride, fixed)
    width, columns = axis_tiles(shape[1], tile[1], halos[1], stride, fixed)
    return (height, width), [(r, c) for r in rows for c in columns]
