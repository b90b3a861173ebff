"""python -m fcn_tf1.predict: label images of any size with a frozen fcn_tf1 graph.

    python -m fcn_tf1.predict --graph checkpoints/synthetic-fcn8s/frozen_model.pb photo.jpg dir/ \\
        --output-dir masks --overlay

Writes OUT/<name>.png, a palette PNG mask (VOC colours) of exactly the image's size, and with
``--overlay`` OUT/<name>_overlay.png. ``FrozenModel`` (imported here from ``fcn_tf1.model.models``)
is the same thing as a Python API.
"""
import collections
import os
import sys

from fcn_tf1 import cli
from fcn_tf1.data.images import MAX_PIXELS
from fcn_tf1.ground.lazy import export_lazily
from fcn_tf1.ground.names import MODALITIES
from fcn_tf1.workflows import prediction

export_lazily(__name__, {"FrozenModel": "fcn_tf1.model.models"})


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.predict", description=(
        "Label images with a frozen fcn_tf1 graph: a palette PNG mask per image, of its exact size, "
        "oriented as image viewers show it (EXIF orientation applied)."))
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    cli.add_export_flag(p, "an export of fcn_tf1.export / train", required=True)
    cli.add_runtime_flags(p)
    p.add_argument("--output-dir", required=True, help="where <name>.png masks go; never an "
                   "input's own file")
    p.add_argument("--overlay", action="store_true", help="also write <name>_overlay.png")
    p.add_argument("--recursive", action="store_true", help="descend into the subfolders of a "
                   "folder named, its masks under the same relative paths in --output-dir")
    p.add_argument("--force", action="store_true",
                   help="replace existing files that fcn_tf1 did not write (its own masks are "
                        "replaced anyway; inputs never are)")
    p.add_argument("--max-pixels", type=cli.positive_int, default=MAX_PIXELS,
                   help="refuse images with more pixels than this (decompression bombs)")
    p.add_argument("--input", action="append", type=modality_dir, default=[],
                   metavar="MODALITY=DIR", help=(
                       "for a model of several inputs (NYUDv2's colour with depth or HHA): the "
                       "folder of another input's files, each found by its image's name (the "
                       "images named are the first input); repeat for each (%s)"
                       % ", ".join(MODALITIES[1:])))
    cli.add_labelling_flags(p)
    return p


def run(args):
    from fcn_tf1.model.models import FrozenModel
    images, skipped = prediction.list_images(args.inputs, args.recursive)
    say_skipped(skipped, args.recursive)
    if not images:
        raise ValueError("no image files in %s" % ", ".join(args.inputs))
    with FrozenModel(args.graph, args.runtime, args.precision) as model:
        pairs = paired_inputs(model.config, dict(args.input))
        plans = prediction.plan_outputs(images, args.output_dir, args.overlay, args.force,
                                        [head.name for head in model.config.heads])
        print("runtime: %s" % model.describe(), file=sys.stderr)
        failures, seconds, engine = prediction.predict_files(
            cli.labeller(args, model), plans, args.overlay, args.max_pixels, pairs=pairs,
            log=lambda line: print(line, file=sys.stderr))
    for line in failures:
        print("fcn_tf1.predict: error: %s" % line, file=sys.stderr)
    done = len(plans) - len(failures)
    if done:
        print("wrote %d mask(s) to %s (%.2f images/s; the model labelling %.0f %% of the time)"
              % (done, args.output_dir, done / max(seconds, 1e-9),
                 100.0 * engine / max(seconds, 1e-9)))
    else:
        print("wrote no mask", file=sys.stderr)
    return 1 if failures else 0


def modality_dir(text):
    """MODALITY=DIR of --input."""
    modality, _, folder = text.partition("=")
    if modality not in MODALITIES or not folder:
        raise ValueError("--input %s: not MODALITY=DIR with a modality of %s"
                         % (text, ", ".join(MODALITIES)))
    return modality, folder


def paired_inputs(config, given):
    """{modality: folder} of the model's inputs, the first's None (the images named), the
    others' given by --input; None for a model of one input."""
    first, rest = config.inputs[0].modality, [i.modality for i in config.inputs[1:]]
    extra = sorted(set(given) - set(rest))
    if extra:
        raise ValueError("--input %s=...: the model takes %s (the images named are its %s)" % (
            extra[0], " and ".join(i.modality for i in config.inputs), first))
    missing = [m for m in rest if m not in given]
    if missing:
        raise ValueError("the model takes %s: give the folder of its %s with --input %s=DIR"
                         % (" and ".join(i.modality for i in config.inputs), missing[0],
                            missing[0]))
    if not rest:
        return None
    for modality in rest:
        if not os.path.isdir(given[modality]):
            raise ValueError("--input %s=%s: no such folder" % (modality, given[modality]))
    return collections.OrderedDict([(first, None)] + [(m, given[m]) for m in rest])


def say_skipped(skipped, recursive, shown=5):
    """One line each for the subfolders and the other files that a folder held and were skipped."""
    folders = [p for p in skipped if p.endswith(os.sep)]
    files = [p for p in skipped if not p.endswith(os.sep)]
    for items, what in ((folders, "subfolder(s) (--recursive descends into them)"),
                        (files, "file(s) that are not images (%s)"
                         % " ".join(prediction.IMAGE_EXTENSIONS))):
        if items:
            more = " and %d more" % (len(items) - shown) if len(items) > shown else ""
            print("fcn_tf1.predict: skipped %d %s: %s%s" % (
                len(items), what, ", ".join(items[:shown]), more), file=sys.stderr)


main = cli.command(parser, run, openmp=True)


if __name__ == "__main__":
    sys.exit(main())
