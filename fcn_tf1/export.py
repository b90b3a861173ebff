"""python -m fcn_tf1.export: a frozen GraphDef (and optionally a SavedModel) from a training run.

    python -m fcn_tf1.export --checkpoint-dir checkpoints/synthetic-fcn8s --output model.pb \\
        --saved-model saved_model/ --onnx model.onnx
"""
import argparse
import sys

from fcn_tf1 import cli


def parser():
    p = argparse.ArgumentParser(prog="python -m fcn_tf1.export", description=(
        "Freeze a training run's checkpoint into a GraphDef: input 'image' (uint8 RGB, any size), "
        "outputs 'logits' and 'prediction', preprocessing inside; writes are atomic."))
    p.add_argument("--checkpoint-dir", required=True, help="a run folder of fcn_tf1.train")
    p.add_argument("--checkpoint", help="a checkpoint prefix (default: the latest in the folder)")
    p.add_argument("--output", required=True, help="the frozen graph (.pb); a .json side-car lands "
                   "beside it")
    p.add_argument("--saved-model", metavar="DIR", help="also write a SavedModel here")
    p.add_argument("--onnx", metavar="PATH", help="also convert the frozen graph to ONNX (tf2onnx; "
                   "pip install 'fcn_tf1[onnx]'); input uint8 [H, W, 3], dynamic H and W")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    cli.quiet_tensorflow()

    def run():
        from fcn_tf1 import exporting
        exporting.export_frozen(args.checkpoint_dir, args.output, args.checkpoint)
        print("frozen graph: %s (+ %s)" % (args.output, exporting.sidecar_path(args.output)))
        if args.saved_model:
            exporting.export_saved_model(args.checkpoint_dir, args.saved_model, args.checkpoint)
            print("SavedModel: %s" % args.saved_model)
        if args.onnx:
            exporting.export_onnx(args.output, args.onnx)
            print("ONNX: %s" % args.onnx)
    return cli.run(run, "fcn_tf1.export")


if __name__ == "__main__":
    sys.exit(main())
