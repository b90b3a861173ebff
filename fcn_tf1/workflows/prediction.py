"""Labelling image files with a loaded model: which files, where their masks go (never over a
file fcn_tf1 did not write), bounded memory for huge images, palette PNG masks and overlays."""
import collections
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, PngImagePlugin
from tqdm import tqdm

from fcn_tf1.data.images import MAX_PIXELS, DataError, read_image, read_input
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.machine import trim_heap
from fcn_tf1.ground.names import MARKER, VERSION
from fcn_tf1.numbers.palette import palette, voc_colormap
from fcn_tf1.numbers.tta import image_size

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".ppm")


def list_images(inputs, recursive=False):
    """([(image path, its output name: the path under the folder named, without extension)], the
    paths skipped: subfolders unless ``recursive``, and files that are not images). A named path
    that does not exist is refused before any work starts."""
    found, skipped = [], []
    for item in inputs:
        if os.path.isdir(item):
            _walk(item, recursive, found, skipped)
        elif os.path.exists(item):
            found.append((item, os.path.splitext(os.path.basename(item))[0]))
        else:
            raise ValueError("%s: no such file or folder" % item)
    return found, skipped


def _walk(folder, recursive, found, skipped):
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        if not recursive:
            skipped += [os.path.join(root, d) + os.sep for d in dirs]
            dirs[:] = []
        for name in sorted(files):
            path = os.path.join(root, name)
            if name.lower().endswith(IMAGE_EXTENSIONS):
                found.append((path, os.path.splitext(os.path.relpath(path, folder))[0]))
            else:
                skipped.append(path)


def mask_is_ours(path):
    """A PNG that fcn_tf1 wrote: it carries the marker text chunk (VOC's ground-truth PNGs look
    exactly like our masks, so the look says nothing)."""
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and MARKER in image.text
    except (OSError, ValueError, SyntaxError, AttributeError):
        return False


def plan_outputs(images, output_dir, overlay=False, force=False, heads=(None,)):
    """[(image, [mask path], [overlay path], output name)] for ``images`` ([(path, output name)] of
    ``list_images``): a mask (and overlay) per head, ``<name>.png`` for a model's one head,
    ``<name>_<head>.png`` for each of several. Refuses in one line, before anything is written, an
    --output-dir that is a file, two inputs that would share an output, an output that is an
    input, and an existing file that fcn_tf1 did not write (unless ``force``)."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError("--output-dir %s: exists and is not a folder" % output_dir)
    inputs = {os.path.realpath(p): p for p, _ in images}
    writers, plans = {}, []
    for path, name in images:
        stems = [os.path.join(output_dir, name if head is None else "%s_%s" % (name, head))
                 for head in heads]
        masks = [stem + ".png" for stem in stems]
        overlays = [stem + "_overlay.png" for stem in stems] if overlay else []
        for out in masks + overlays:
            key = os.path.realpath(out)
            if key in inputs:
                raise ValueError("%s: the output would replace %s, an input; choose another "
                                 "--output-dir" % (out, inputs[key]))
            if key in writers:
                raise ValueError("%s: both %s and %s would be written there; label them in "
                                 "separate runs or rename one" % (out, writers[key], path))
            writers[key] = path
            fileutil.check_output(out, mask_is_ours, force, what="mask")
        plans.append((path, masks, overlays, name))
    return plans


def save_png(image, path):
    """An atomic PNG write with fcn_tf1's marker chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text(MARKER, VERSION)
    with fileutil.atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)


def save_mask(labels, path, colours=None):
    mask = Image.fromarray(labels.astype("uint8"), mode="P")
    mask.putpalette((voc_colormap() if colours is None else colours).ravel().tolist())
    save_png(mask, path)


def save_overlay(image, labels, path, alpha=0.5, colours=None):
    colours = (voc_colormap() if colours is None else colours)[labels].astype(np.float32)
    blend = np.where(labels[..., None] > 0, (1 - alpha) * image + alpha * colours, image)
    save_png(Image.fromarray(blend.astype(np.uint8)), path)


def describe(path, shape, how, labeller):
    """The line saying how an image was labelled, or None when whole and as it is."""
    tta = labeller.tta
    extra = " with TTA %s" % tta.describe() if tta else ""
    head = "%s: %dx%d labelled" % ((path,) + tuple(shape))
    if how.kind == "whole":
        return head + " whole" + extra if extra else None
    if how.kind == "tiled":
        rows = len({r for r, _ in how.tiles})
        return "%s in %d tiles of %dx%d (%d x %d, exact)%s" % (
            (head, len(how.tiles)) + tuple(how.size) + (rows, len(how.tiles) // rows, extra))
    why = ("the model's input size" if labeller.model.input_size else
           "--downscale, --max-inference-pixels %d" % labeller.max_pixels)
    return "%s at %dx%d (%s)%s" % ((head,) + tuple(how.size) + (why, extra))


def _read(path, max_pixels, name=None, pairs=None):
    """(image, None), or ({modality: input} with ``pairs`` ({modality: folder} of a model's
    inputs, the first's None: the image; the others' files found by the image's output
    ``name``), or (None, the one-line error)."""
    try:
        image = read_image(path, orient=True, max_pixels=max_pixels)
        if not pairs:
            return image, None
        modalities = list(pairs)
        inputs = {modalities[0]: image}
        for modality, folder in list(pairs.items())[1:]:
            paired = _paired(folder, name, modality, path)
            inputs[modality] = read_input(paired, modality, max_pixels, orient=True)
            if inputs[modality].shape[:2] != image.shape[:2]:
                raise DataError(paired, "%dx%d, its image %s %dx%d" % (
                    inputs[modality].shape[:2] + (path,) + image.shape[:2]))
        return inputs, None
    except DataError as error:
        return None, str(error)
    finally:
        trim_heap()  # the decoder's buffers, freed in this reader thread's heap


def _paired(folder, name, modality, path):
    """The file of ``folder`` named as the image (any image extension)."""
    for extension in IMAGE_EXTENSIONS:
        for candidate in (name + extension, name + extension.upper()):
            if os.path.isfile(os.path.join(folder, candidate)):
                return os.path.join(folder, candidate)
    raise DataError(path, "no %s for it in %s (%s.png or another image)"
                    % (modality, folder, os.path.join(folder, name)))


def _write(image, labels, masks, overlays, palettes):
    """Each head's mask (and overlay, on the RGB image of a model's several inputs): ``labels``
    [H, W], or [H, W, heads]."""
    image = next(iter(image.values())) if isinstance(image, dict) else image
    os.makedirs(os.path.dirname(os.path.abspath(masks[0])), exist_ok=True)
    heads = [labels] if labels.ndim == 2 else np.moveaxis(labels, -1, 0)
    for i, (head, colours) in enumerate(zip(heads, palettes)):
        save_mask(head, masks[i], colours)
        if overlays:
            save_overlay(image, head, overlays[i], colours=colours)


def _ahead(pool, fn, items, depth):
    """fn(item) for each item, in order, computed up to ``depth`` items ahead in ``pool``."""
    pending = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def predict_files(labeller, plans, overlay=False, max_pixels=MAX_PIXELS, log=print, threads=2,
                  pairs=None):
    """Write a mask (and overlay) per planned image. The next images are decoded and the last masks
    encoded in ``threads`` threads each while the model labels (Pillow and the runtimes release the
    GIL); at most ``threads`` + 1 decoded images wait. Returns (the failures as one-line messages,
    the seconds it took, the seconds of those the model spent labelling)."""
    failures, start, engine = [], time.perf_counter(), 0.0
    palettes = [palette(head.class_colours) for head in labeller.model.config.heads]
    with ThreadPoolExecutor(threads) as readers, ThreadPoolExecutor(threads) as writers:
        images = _ahead(readers, lambda plan: _read(plan[0], max_pixels, plan[3], pairs), plans,
                        threads)
        writes = collections.deque()
        for (path, masks, overlays, _), (image, error) in tqdm(
                zip(plans, images), total=len(plans), desc="predict", unit="image",
                disable=len(plans) < 2):
            if error:
                failures.append(error)
                continue
            try:
                labeller.check(image_size(image))
            except ValueError as error:
                failures.append("%s: %s" % (path, error))
                continue
            labelling = time.perf_counter()
            labels, how = labeller.labels(image)
            engine += time.perf_counter() - labelling
            line = describe(path, image_size(image), how, labeller)
            if line:
                log(line)
            writes.append(writers.submit(_write, image, labels, masks, overlays, palettes))
            while len(writes) > threads:
                writes.popleft().result()
        for write in writes:
            write.result()
    return failures, time.perf_counter() - start, engine
