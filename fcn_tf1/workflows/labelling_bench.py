"""What tiling and test-time augmentation cost: the bench's rows for --tile and --tta.

Each row labels a random image in a fresh process (clean peak memory) with a ``Labeller``: a large
image in tiles of each size asked for (the time per pixel set beside the whole image's of the
bench's own size, and the overlap the halo costs), or the bench's image with TTA and without.
"""
import numpy as np

from fcn_tf1.ground.machine import peak_rss_mb
from fcn_tf1.model.labelling import Labeller
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.numbers.tta import TTA
from fcn_tf1.workflows import isolated
from fcn_tf1.workflows.timing import latency


def labelling_latency(path, runtime, precision, shape, tile, tta=None, runs=1):
    """Label a random image of ``shape`` (H, W) with ``Labeller(tile, tta)``: {"seconds" (median
    of ``runs`` after one run of each tile shape), "tiles", "tile_shape", "computed_pixels",
    "peak_rss_mb"}."""
    image = np.random.RandomState(0).randint(0, 256, tuple(shape) + (3,), dtype=np.uint8)
    tile = tuple(tile) if isinstance(tile, list) else tile
    with FrozenModel(path, runtime, precision) as model:
        labeller = Labeller(model, tile, tta=TTA(**tta) if tta else None)
        how = labeller.plan(image.shape[:2])
        h, w = how.size
        model.predict(image[:h, :w])  # compiles the tile's shape (OpenVINO): not part of the time
        seconds = latency(labeller.labels, image, runs, warmup=0)["median_s"]
    return {"seconds": seconds, "tiles": len(how.tiles or [None]),
            "tile_shape": list(how.size), "computed_pixels": h * w * len(how.tiles or [None]),
            "peak_rss_mb": peak_rss_mb()}


def tile_rows(path, whole_row, image_shape, tiles, size):
    """One row per tile size: ``image_shape`` labelled in those tiles by ``whole_row``'s runtime
    and precision, its time per pixel against ``whole_row``'s (one image of ``size``)."""
    rows = []
    per_pixel = whole_row["min_s"] / float(size[0] * size[1])
    for tile in tiles:
        row = _isolated(path, whole_row, image_shape, tile, None)
        if "seconds" in row:
            pixels = float(image_shape[0] * image_shape[1])
            row.update(overlap=row["computed_pixels"] / pixels,
                       per_pixel_ratio=row["seconds"] / pixels / per_pixel)
        rows.append(dict(row, runtime=whole_row["runtime"], precision=whole_row["precision"],
                         tile=tile, image=list(image_shape)))
    return rows


def tta_row(path, plain_row, size, tta):
    """The bench's image of ``size`` with TTA: its seconds and their ratio to ``plain_row``'s
    (the same runtime and precision without TTA)."""
    row = _isolated(path, plain_row, size, "off", tta.to_dict())
    if "seconds" in row:
        row["cost"] = row["seconds"] / plain_row["median_s"]
    return dict(row, runtime=plain_row["runtime"], precision=plain_row["precision"],
                tta=tta.describe())


def _isolated(path, measured, shape, tile, tta):
    """``labelling_latency`` in a fresh process, on ``measured``'s runtime and precision."""
    try:
        return isolated.call("fcn_tf1.workflows.labelling_bench:labelling_latency", {
            "path": path, "runtime": measured["runtime"], "precision": measured["precision"],
            "shape": list(shape),
            "tile": list(tile) if isinstance(tile, tuple) else tile, "tta": tta})
    except RuntimeError as error:
        return {"skipped": str(error).splitlines()[-1][-200:]}
