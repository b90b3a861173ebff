"""python -m fcn_tf1.data: data-set tools (``fcn-data`` once installed).

    python -m fcn_tf1.data example DIR                    # the synthetic set as a folder data set
    python -m fcn_tf1.data check --data folder --data-dir DIR   # as train --check-data, with counts

The command of the ``data`` package: it sits in ``__main__`` so that ``python -m fcn_tf1.data``
runs it, and is a command like the modules directly in ``fcn_tf1`` (flags, library, print).
"""
import os
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import DATA_SETS


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.data", description=(
        "Data-set tools: write an example folder data set, or check a data set's files and "
        "count its classes."))
    tools = p.add_subparsers(dest="tool")
    example = tools.add_parser("example", help="write the synthetic set as a folder data set "
                               "(JPEG images, colour masks, classes.txt, train.txt / val.txt)")
    example.add_argument("output", help="a new (or empty) folder")
    example.add_argument("--train", type=cli.positive_int, default=60, help="training images")
    example.add_argument("--val", type=cli.positive_int, default=12, help="validation images")
    records = add_source_flags(tools.add_parser(
        "tfrecord", help="write a split of any data set as TFRecord shards in DeepLab's format "
        "(and the class file beside them)"), data_required=True)
    records.add_argument("--output", required=True, help="the folder of the shards")
    records.add_argument("--shards", type=cli.positive_int, default=4, help="how many files")
    speed = add_source_flags(tools.add_parser(
        "speed", help="images/s that the input pipeline (read, decode, augment, batch) delivers, "
        "to set beside bench's training step"))
    speed.add_argument("--batch-size", type=cli.positive_int, default=8, help="images per batch")
    speed.add_argument("--crop-size", type=cli.size_pair, default=(320, 320), help="random crops")
    speed.add_argument("--batches", type=cli.positive_int, default=20, help="batches timed")
    speed.add_argument("--threads", type=cli.positive_int, default=2,
                       help="the pipeline's parallel calls, as training runs it")
    add_source_flags(tools.add_parser("check", help="every image and mask readable and "
                                      "consistent; the pixels and images of each class"))
    return p


def add_source_flags(tool, data_required=False):
    """The flags that open one split of a data set, the same for every tool that reads one."""
    tool.add_argument("--data", choices=DATA_SETS, required=data_required,
                      default=None if data_required else "folder", help="the data set")
    tool.add_argument("--data-dir", help="its folder (or a glob of TFRecord shards)")
    tool.add_argument("--split", default="train", help="the split to read")
    cli.add_data_set_flags(tool)
    return tool


def check_args(p, args):
    if not args.tool:
        p.error("choose a tool: example, tfrecord, speed or check")


def run(args):
    if args.tool == "example":
        from fcn_tf1.data.example import write_example
        write_example(args.output, args.train, args.val)
        print("wrote %s: %d training and %d validation images; train on it with\n"
              "  python -m fcn_tf1.train --data folder --data-dir %s"
              % (args.output, args.train, args.val, args.output))
        return 0
    from fcn_tf1.data import registry
    from fcn_tf1.data.validate import check_dataset, format_counts
    source = registry.open_split(args.data, args.split, registry.flag_options(args))
    if args.tool == "speed":
        from fcn_tf1.data.pipeline import images_per_second
        rate = images_per_second(source, args.batch_size, args.crop_size, args.batches,
                                 args.threads)
        print("%s %s: %.1f images/s (batch %d, %dx%d crops, flips, scale 0.5-1.5, %d threads)"
              % (args.data, args.split, rate, args.batch_size, args.crop_size[0],
                 args.crop_size[1], args.threads))
        return 0
    if args.tool == "tfrecord":
        from fcn_tf1.data.tfrecord import write_shards
        paths = write_shards(source, args.output, args.split, args.shards)
        print("wrote %d images of %s in %d shards: %s" % (len(source), args.split, len(paths),
                                                         os.path.join(args.output, "%s-*.tfrecord"
                                                                      % args.split)))
        return 0
    problems = check_dataset(source, progress=len(source) > 1000)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        raise ValueError("%d problem(s) in the data set (listed above)" % len(problems))
    print(format_counts(source))
    return 0


main = cli.command(parser, run, check=check_args)


if __name__ == "__main__":
    sys.exit(main())
