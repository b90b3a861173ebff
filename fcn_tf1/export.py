"""python -m fcn_tf1.export: a frozen GraphDef (and optionally a SavedModel, ONNX, TFLite, OpenCV
graph) from a training run.

    python -m fcn_tf1.export --checkpoint-dir checkpoints/synthetic-fcn8s --output model.pb \\
        --saved-model saved_model/ --onnx model.onnx \\
        --tflite model.tflite --opencv opencv.pb --input-size 375x500
    python -m fcn_tf1.export --checkpoint-dir checkpoints/voc-fcn8s --output model.pb \
        --int8 model_int8.xml --data voc --data-dir VOC2012      # gated by --max-drop
"""
import json
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import CALIBRATION_IMAGES, DATA_SETS, MAX_DROP


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.export", description=(
        "Freeze a training run's checkpoint into a GraphDef: input 'image' (uint8 RGB, any size), "
        "outputs 'logits' and 'prediction', preprocessing inside; writes are atomic."))
    p.add_argument("--checkpoint-dir", help="a run folder of fcn_tf1.train (required)")
    p.add_argument("--checkpoint", help="a checkpoint prefix (default: the latest in the folder)")
    p.add_argument("--output", help="the frozen graph (.pb, required); a .json side-car lands "
                   "beside it")
    p.add_argument("--saved-model", metavar="DIR", help="also write a SavedModel here")
    p.add_argument("--onnx", metavar="PATH", help="also convert the frozen graph to ONNX (tf2onnx; "
                   "pip install 'fcn_tf1[onnx]'); input uint8 [H, W, 3], dynamic H and W")
    p.add_argument("--tflite", metavar="PATH", help="also write a TensorFlow Lite model (fp32, "
                   "input uint8 [H, W, 3] of --input-size, fixed; its config in PATH.json)")
    p.add_argument("--opencv", metavar="PATH", help="also write a frozen graph for OpenCV's "
                   "cv2.dnn.readNetFromTensorflow (float NCHW blob of --input-size in, logits out; "
                   "its blobFromImage parameters and config in PATH.json)")
    p.add_argument("--input-size", type=cli.size_pair, metavar="HxW",
                   help="the input size of the TFLite and OpenCV exports, fixed (required with them)")
    int8 = p.add_argument_group("int8 (OpenVINO IR quantized by NNCF; ./dev.sh int8-venv once)")
    int8.add_argument("--int8", metavar="PATH.xml", help="also write an int8 OpenVINO IR (PATH.xml, "
                      "its .bin, PATH.xml.json), calibrated on --data's --calibration-split and "
                      "written only when its mean IU on --validation-split is within --max-drop "
                      "of fp32's")
    int8.add_argument("--data", choices=DATA_SETS, default="synthetic",
                      help="the data set that calibrates and validates --int8")
    int8.add_argument("--data-dir", help="its folder (voc, sbd, folder; a path or glob for tfrecord)")
    int8.add_argument("--calibration-split", default="train", help="the split calibrated on")
    int8.add_argument("--calibration-images", type=cli.positive_int, default=CALIBRATION_IMAGES,
                      help="how many of its images, spread evenly over it")
    int8.add_argument("--validation-split", default="val", help="the split the gate measures on")
    int8.add_argument("--max-drop", type=cli.bounded(float, 0), default=MAX_DROP,
                      help="the largest fall of mean IU from fp32 to int8 that is written")
    cli.add_folder_flags(int8)
    p.add_argument("--force", action="store_true",
                   help="replace existing outputs that fcn_tf1 did not write")
    p.add_argument("--list-ops", action="store_true",
                   help="print the op types of every variant x API x shape_fix x at-once export on "
                        "this TensorFlow (for fcn_tf1/ground/export_ops.json and tflite_ops.json; "
                        "with --int8 any.xml, the int8 IR's layer types for ir_ops.json) and exit")
    return p


def check(p, args):
    if not args.list_ops and not (args.checkpoint_dir and args.output):
        p.error("--checkpoint-dir and --output are required")
    if bool(args.tflite or args.opencv) != bool(args.input_size):
        p.error("--input-size goes with --tflite or --opencv (their input size is fixed), and they "
                "need it")


def list_ops(args):
    """The allowlists' lines for this TensorFlow (and with --int8, this OpenVINO and NNCF)."""
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.workflows import exporting
    version = ".".join(TF_VERSION.split(".")[:2])
    lists = {"export_ops.json": {version: exporting.exportable_op_types()},
             "tflite_ops.json": {version: exporting.exportable_tflite_ops()}}
    if args.int8:  # the IR's layer types depend on OpenVINO and NNCF, not on TensorFlow
        from fcn_tf1.workflows import quantization
        lists["ir_ops.json"] = quantization.exportable_ir_ops()
    print(json.dumps(lists))


def run(args):
    from fcn_tf1.ground import fileutil
    from fcn_tf1.workflows import exporting
    if args.list_ops:
        return list_ops(args)
    # Every output is checked before anything is written.
    if args.saved_model:
        exporting.check_saved_model_output(args.saved_model, args.checkpoint_dir,
                                           args.checkpoint, args.force)
    if args.onnx:
        fileutil.check_output(args.onnx, fileutil.contains_marker, args.force, [args.output],
                              "ONNX model")
    for path, what in ((args.tflite, "TFLite model"), (args.opencv, "OpenCV graph")):
        if path:
            exporting.check_described_output(path, args.checkpoint_dir, args.checkpoint,
                                             args.force, what)
    int8_data = check_int8(args) if args.int8 else None
    exporting.export_frozen(args.checkpoint_dir, args.output, args.checkpoint, args.force)
    print("frozen graph: %s (+ %s)" % (args.output, exporting.sidecar_path(args.output)))
    if args.saved_model:
        exporting.export_saved_model(args.checkpoint_dir, args.saved_model, args.checkpoint,
                                     args.force)
        print("SavedModel: %s" % args.saved_model)
    if args.onnx:
        exporting.export_onnx(args.output, args.onnx, force=args.force)
        print("ONNX: %s" % args.onnx)
    if args.tflite:
        exporting.export_tflite(args.checkpoint_dir, args.tflite, args.input_size, args.checkpoint,
                                args.force)
        print("TFLite: %s (+ %s), input %dx%d" % ((args.tflite, exporting.sidecar_path(
            args.tflite)) + tuple(args.input_size)))
    if args.opencv:
        exporting.export_opencv(args.checkpoint_dir, args.opencv, args.input_size, args.checkpoint,
                                args.force)
        print("OpenCV: %s (+ %s), input %dx%d" % ((args.opencv, exporting.sidecar_path(
            args.opencv)) + tuple(args.input_size)))
    if args.int8:
        export_int8(args, int8_data)


def check_int8(args):
    """--int8's output, data and tools checked before anything is written; its data."""
    from fcn_tf1.model.config import ModelConfig
    from fcn_tf1.workflows import quantization
    quantization.check_int8_output(args.int8, args.checkpoint_dir, args.checkpoint, args.force)
    data = open_int8_data(args)
    classes = ModelConfig.load(args.checkpoint_dir).num_classes
    for split in data.values():
        quantization.check_split(split["source"], classes, split["what"])
    quantization.check_can_quantize()
    return data


def open_int8_data(args):
    """{"calibration", "validation"}: {"source", "what"} of the splits --int8 uses."""
    from fcn_tf1.data import registry
    options = registry.flag_options(args, args.checkpoint_dir)
    return {role: {"source": registry.open_split(args.data, split, options),
                   "what": "--data %s, %s split" % (args.data, split)}
            for role, split in (("calibration", args.calibration_split),
                                ("validation", args.validation_split))}


def export_int8(args, data):
    from fcn_tf1.ground import machine
    from fcn_tf1.workflows import exporting, quantization
    note = machine.int8_note()
    if note:
        print("note: " + note, file=sys.stderr)
    measured = quantization.export_int8(
        args.output, args.int8, args.checkpoint_dir, data["calibration"], data["validation"],
        args.calibration_images, args.max_drop, args.force)
    print("int8: %s (+ %s, %s), within --max-drop %g of fp32 on %s:" % (
        args.int8, quantization.weights_path(args.int8), exporting.sidecar_path(args.int8),
        args.max_drop, data["validation"]["what"]))
    print(quantization.format_measured(measured))


main = cli.command(parser, run, check=check)


if __name__ == "__main__":
    sys.exit(main())
