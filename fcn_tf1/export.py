"""python -m fcn_tf1.export: a frozen GraphDef (and optionally a SavedModel, ONNX, TFLite, OpenCV
graph) from a training run.

    python -m fcn_tf1.export --checkpoint-dir checkpoints/synthetic-fcn8s --output model.pb \\
        --saved-model saved_model/ --onnx model.onnx \\
        --tflite model.tflite --opencv opencv.pb --input-size 375x500
    python -m fcn_tf1.export --checkpoint-dir checkpoints/voc-fcn8s --output model.pb \
        --int8 model_int8.xml --data voc --data-dir VOC2012      # gated by --max-drop
"""
import collections
import json
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.formats import FORMATS, flag_dest
from fcn_tf1.ground.names import CALIBRATION_IMAGES, DATA_SETS, MAX_DROP


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.export", description=(
        "Freeze a training run's checkpoint into a GraphDef: input 'image' (uint8 RGB, any size; "
        "'hha' for an HHA model), "
        "outputs 'logits' and 'prediction', preprocessing inside; writes are atomic. The formats, "
        "one flag each: %s." % "; ".join(
            "%s %s (run by %s)" % (f.flag, f.what, f.client) for f in FORMATS.values())))
    p.add_argument("--checkpoint-dir", help="a run folder of fcn_tf1.train (required)")
    p.add_argument("--checkpoint", help="a checkpoint prefix (default: the latest in the folder)")
    for fmt in FORMATS.values():
        p.add_argument(fmt.flag, metavar="PATH" if fmt.suffixes else "DIR", help=fmt.help)
    p.add_argument("--tta", type=cli.tta_spec, help=(
        "bake test-time augmentation (flip, scales=... as in predict) into %s: its logits are then "
        "the log of the averaged probabilities, and its config says so" % _tta_flags()))
    p.add_argument("--input-size", type=cli.size_pair, metavar="HxW",
                   help="the input size of %s, fixed (required with them)" % _fixed_flags())
    int8 = p.add_argument_group("the data of --int8 (an OpenVINO IR quantized by NNCF; "
                                "./dev.sh int8-venv once)")
    int8.add_argument("--data", choices=DATA_SETS, default="synthetic",
                      help="the data set that calibrates and validates --int8")
    int8.add_argument("--data-dir", help="its folder (voc, sbd, pascal-context, nyud, folder; a path "
                      "or glob for tfrecord)")
    int8.add_argument("--calibration-split", default="train", help="the split calibrated on")
    int8.add_argument("--calibration-images", type=cli.positive_int, default=CALIBRATION_IMAGES,
                      help="how many of its images, spread evenly over it")
    int8.add_argument("--validation-split", default="val", help="the split the gate measures on")
    int8.add_argument("--max-drop", type=cli.bounded(float, 0), default=MAX_DROP,
                      help="the largest fall of mean IU from fp32 to int8 that is written")
    cli.add_data_set_flags(int8)
    p.add_argument("--force", action="store_true",
                   help="replace existing outputs that fcn_tf1 did not write")
    p.add_argument("--list-ops", action="store_true",
                   help="print the op types of every variant x API x shape_fix x at-once export on "
                        "this TensorFlow (for fcn_tf1/ground/export_ops.json and tflite_ops.json; "
                        "with --int8 any.xml, the int8 IR's layer types for ir_ops.json) and exit")
    return p


def _fixed_flags():
    return " and ".join(f.flag for f in FORMATS.values() if f.fixed_size)


def _tta_flags():
    return " and ".join(f.flag for f in FORMATS.values() if f.tta)


def outputs(args):
    """{format name: path} of every export the flags ask for."""
    return collections.OrderedDict((f.name, getattr(args, flag_dest(f))) for f in FORMATS.values()
                                   if getattr(args, flag_dest(f)))


def check(p, args):
    if not args.list_ops and not (args.checkpoint_dir and args.output):
        p.error("--checkpoint-dir and --output are required")
    others = [FORMATS[name].flag for name in outputs(args) if not FORMATS[name].tta]
    if args.tta and others:
        p.error("--tta goes into %s only, not %s (their graphs take one image as it is)"
                % (_tta_flags(), " or ".join(others)))
    fixed = any(FORMATS[name].fixed_size for name in outputs(args))
    if fixed != bool(args.input_size):
        p.error("--input-size goes with %s (their input size is fixed), and they need it"
                % _fixed_flags())


def list_ops(args):
    """The allowlists' lines for this TensorFlow (and with --int8, this OpenVINO and NNCF)."""
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.workflows import export_writers
    version = ".".join(TF_VERSION.split(".")[:2])
    lists = {"export_ops.json": {version: export_writers.exportable_op_types()},
             "tflite_ops.json": {version: export_writers.exportable_tflite_ops()}}
    if args.int8:  # the IR's layer types depend on OpenVINO and NNCF, not on TensorFlow
        from fcn_tf1.workflows import quantization
        lists["ir_ops.json"] = quantization.exportable_ir_ops()
    print(json.dumps(lists))


def run(args):
    from fcn_tf1.workflows import writer_registry
    if args.list_ops:
        return list_ops(args)
    int8 = (writer_registry.Int8Plan(open_int8_data(args), args.calibration_images, args.max_drop)
            if args.int8 else None)
    plan = writer_registry.ExportPlan(args.checkpoint_dir, args.checkpoint, args.force,
                                      args.output, args.input_size, int8, args.tta)
    writer_registry.export_all(outputs(args), plan)


def open_int8_data(args):
    """{"calibration", "validation"}: {"source", "what"} of the splits --int8 uses."""
    from fcn_tf1.data import registry
    options = registry.flag_options(args, args.checkpoint_dir)
    return {role: {"source": registry.open_split(args.data, split, options),
                   "what": "--data %s, %s split" % (args.data, split)}
            for role, split in (("calibration", args.calibration_split),
                                ("validation", args.validation_split))}


main = cli.command(parser, run, check=check)


if __name__ == "__main__":
    sys.exit(main())
