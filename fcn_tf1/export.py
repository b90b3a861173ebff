"""python -m fcn_tf1.export: a frozen GraphDef (and optionally a SavedModel, ONNX, TFLite, OpenCV
graph) from a training run.

    python -m fcn_tf1.export --checkpoint-dir checkpoints/synthetic-fcn8s --output model.pb \\
        --saved-model saved_model/ --onnx model.onnx \\
        --tflite model.tflite --opencv opencv.pb --input-size 375x500
"""
import json
import sys

from fcn_tf1 import cli


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
    p.add_argument("--force", action="store_true",
                   help="replace existing outputs that fcn_tf1 did not write")
    p.add_argument("--list-ops", action="store_true",
                   help="print the op types of every variant x API x shape_fix x at-once export on "
                        "this TensorFlow (for fcn_tf1/ground/export_ops.json) and exit")
    return p


def check(p, args):
    if not args.list_ops and not (args.checkpoint_dir and args.output):
        p.error("--checkpoint-dir and --output are required")
    if bool(args.tflite or args.opencv) != bool(args.input_size):
        p.error("--input-size goes with --tflite or --opencv (their input size is fixed), and they "
                "need it")


def run(args):
    from fcn_tf1.ground import fileutil
    from fcn_tf1.workflows import exporting
    if args.list_ops:
        from fcn_tf1.ground.tf_compat import TF_VERSION
        version = ".".join(TF_VERSION.split(".")[:2])
        print(json.dumps({"export_ops.json": {version: exporting.exportable_op_types()},
                          "tflite_ops.json": {version: exporting.exportable_tflite_ops()}}))
        return
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


main = cli.command(parser, run, check=check)


if __name__ == "__main__":
    sys.exit(main())
