"""python -m fcn_tf1.weights: inspect or convert a pretrained VGG16 file or a reference FCN (VGG16
or AlexNet).

    python -m fcn_tf1.weights inspect PATH
    python -m fcn_tf1.weights convert vgg16.npy --output DIR                  # a VGG16 checkpoint
    python -m fcn_tf1.weights convert fcn8s-heavy-pascal.caffemodel --output RUN  # a run folder
"""
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import REFERENCE_DATA


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.weights", description=(
        "Inspect or convert a pretrained VGG16 file (Keras h5, TF-slim ckpt, Caffe npy, the VGG "
        "authors' caffemodel) or a trained FCN of the Caffe reference (.caffemodel)."))
    commands = p.add_subparsers(dest="command")
    inspect = commands.add_parser("inspect", help="format, layers, shapes, input convention, and "
                                  "what fcn_tf1 makes of the file")
    inspect.add_argument("path")
    conv = commands.add_parser("convert", help=(
        "a VGG16 file -> a TF1 checkpoint in fcn_tf1's names (DIR/vgg16.ckpt); a reference FCN "
        ".caffemodel -> a run folder (checkpoint + model.json) that evaluate, export, predict and "
        "train --init-from take"))
    conv.add_argument("path")
    conv.add_argument("--output", required=True, help="the directory to write")
    conv.add_argument("--class-names", metavar="FILE", help="an FCN's class names, one a line "
                      "(default: VOC's for 21 classes, else class_0 ...)")
    conv.add_argument("--data", choices=tuple(REFERENCE_DATA), help=(
        "the reference data set an FCN was trained on (its input mean): told from the class count "
        "but where two share one (NYUDv2's 40: nyud-color or nyud-hha)"))
    conv.add_argument("--force", action="store_true",
                      help="replace files of those names (an FCN: the folder) that fcn_tf1 did "
                           "not write")
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


def describe_caffemodel(model):
    from fcn_tf1.numbers.caffe_nets import backbone_of, is_fcn, read_fcn
    lines = ["file:       %s" % model.path, "format:     caffemodel (net %r)" % model.name,
             "layers:"]
    lines += ["  %-16s %-14s %s" % (layer.name, layer.type, "  ".join(
        "x".join(str(d) for d in blob.shape) for blob in layer.blobs))
        for layer in model.layers]
    if is_fcn(model):
        fcn = read_fcn(model)
        lines.append("fcn_tf1:    %s on %s, %s, width %g%s, Caffe geometry (pad100), %s: "
                     "weights convert writes a run folder"
                     % (fcn.variant, fcn.backbone, describe_heads(fcn.heads), fcn.width,
                        ", at-once skip scaling" if fcn.scale_skips else "", _input_of(fcn)))
    else:
        lines.append("fcn_tf1:    ImageNet weights of the %s backbone (BGR, ImageNet mean) for "
                     "train --backbone %s --backbone-weights" % ((backbone_of(model).name,) * 2))
    return "\n".join(lines)


def describe_heads(heads):
    """'21 classes', or '33 semantic + 3 geometric classes' for a model of several heads."""
    if len(heads) == 1:
        return "%d classes" % heads[0][1]
    return "%s classes" % " + ".join("%d %s" % (classes, name) for name, classes in heads)


def _input_of(fcn):
    from fcn_tf1.workflows.conversion import reference_data
    counts = [classes for _, classes in fcn.heads]
    try:
        data, facts = reference_data(counts, inputs=fcn.inputs)
    except ValueError:
        return "the data set (and its mean) to be named with --data: %s" % " or ".join(
            name for name, facts in REFERENCE_DATA.items() if facts.classes == tuple(counts)
            and facts.fusion == fcn.fusion)
    return describe_inputs(facts.inputs, fcn.fusion, "%s's" % data if data else "VOC's")


def describe_inputs(inputs, fusion, whose=""):
    """'image input, BGR minus <whose> mean [...]', each input's for a fusion of several."""
    described = ["%s minus %smean %s" % (
        "log depth" if convention.channel_order == "LOG" else convention.channel_order,
        whose and whose + " ", list(convention.mean)) for _, convention in inputs]
    if len(inputs) == 1:
        return "%s input, %s" % (inputs[0][0], described[0])
    return "%s inputs fused %s (%s)" % (" and ".join(m for m, _ in inputs), fusion, "; ".join(
        "%s: %s" % (m, text) for (m, _), text in zip(inputs, described)))


def run(args):
    from fcn_tf1.model.checkpoints import read_vgg16
    from fcn_tf1.workflows import conversion
    if args.path.endswith(".caffemodel"):
        from fcn_tf1.numbers.caffe_nets import is_fcn
        from fcn_tf1.numbers.caffemodel import CaffeModel
        with CaffeModel(args.path) as model:
            if args.command == "inspect":
                print(describe_caffemodel(model))
                return
            fcn = is_fcn(model)
        if fcn:
            config = conversion.convert_fcn(args.path, args.output, args.class_names, args.force,
                                            args.data)
            print("wrote %s: %s on %s, %s, %s (evaluate / export / predict / train --init-from "
                  "take it)" % (
                      args.output, config.variant, config.backbone,
                      describe_heads([(h.name, h.num_classes) for h in config.heads]),
                      describe_inputs(config.inputs, config.fusion)))
            return
    if args.command == "convert" and args.data:
        raise ValueError("--data: only for a reference FCN (.caffemodel with score_fr), not %s"
                         % args.path)
    if args.command == "inspect":
        print(describe(read_vgg16(args.path)))
    else:
        print("wrote %s" % conversion.convert_weights(read_vgg16(args.path), args.output,
                                                      args.force))


def check(p, args):
    if not args.command:
        p.error("choose a command: inspect or convert")


main = cli.command(parser, run, check=check)


if __name__ == "__main__":
    sys.exit(main())
