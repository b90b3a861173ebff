"""python -m fcn_tf1.weights: inspect or convert a pretrained VGG16 file.

    python -m fcn_tf1.weights inspect PATH
    python -m fcn_tf1.weights convert PATH --output DIR
"""
import sys

from fcn_tf1 import cli


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.weights", description=(
        "Inspect or convert a pretrained VGG16 file (Keras h5, TF-slim ckpt, Caffe npy)."))
    commands = p.add_subparsers(dest="command")
    inspect = commands.add_parser("inspect", help="format, layers, shapes, input convention")
    inspect.add_argument("path")
    conv = commands.add_parser("convert", help="write a TF1 checkpoint in fcn_tf1's names")
    conv.add_argument("path")
    conv.add_argument("--output", required=True, help="directory for vgg16.ckpt")
    conv.add_argument("--force", action="store_true",
                      help="replace files of those names that fcn_tf1 did not write")
    return p


def describe(weights):
    lines = ["file:       %s" % weights.path, "format:     %s" % weights.format,
             "convention: %s, mean %s" % (weights.convention.channel_order,
                                          list(weights.convention.mean)), "layers:"]
    lines += ["  %-8s kernel %-22s bias %s" % (layer, tuple(k.shape), tuple(b.shape))
              for layer, (k, b) in weights.items()]
    if "fc6" not in weights:
        lines.append("  (no fc6/fc7: a notop file; fc6/fc7 would start from scratch)")
    return "\n".join(lines)


def run(args):
    from fcn_tf1.numbers.vgg16_weights import read_vgg16
    if args.command == "inspect":
        print(describe(read_vgg16(args.path)))
    else:
        from fcn_tf1.workflows.conversion import convert_weights
        print("wrote %s" % convert_weights(read_vgg16(args.path), args.output, args.force))


def check(p, args):
    if not args.command:
        p.error("choose a command: inspect or convert")


main = cli.command(parser, run, check=check)


if __name__ == "__main__":
    sys.exit(main())
