"""python -m fcn_tf1.evaluate: the four paper metrics and per-class IU of a checkpoint or frozen graph.

    python -m fcn_tf1.evaluate --checkpoint-dir checkpoints/synthetic-fcn8s
    python -m fcn_tf1.evaluate --graph model.pb --data voc --data-dir VOC2012 --json metrics.json
"""
import sys

from fcn_tf1 import cli


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.evaluate", description=(
        "Evaluate on whole images at batch 1: pixel accuracy, mean accuracy, mean IU, frequency "
        "weighted IU (paper section 5), label 255 ignored."))
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint-dir", help="a run folder of fcn_tf1.train (latest checkpoint)")
    model.add_argument("--graph", help="a frozen graph (.pb)")
    p.add_argument("--data", choices=("synthetic", "voc", "sbd"), default="synthetic")
    p.add_argument("--data-dir")
    p.add_argument("--split", default="val")
    p.add_argument("--json", help="also write the report as JSON here")
    p.add_argument("--force", action="store_true",
                   help="replace a --json file that fcn_tf1 did not write")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    cli.prepare_tensorflow("fcn_tf1.evaluate")

    def run():
        import os
        from fcn_tf1 import evaluation, fileutil
        if args.json:
            fileutil.check_output(args.json, fileutil.json_is_ours, args.force,
                                  [args.graph] if args.graph else [], "report")
        from fcn_tf1.data.sbd import SBDDataset
        from fcn_tf1.data.synthetic import SyntheticDataset
        from fcn_tf1.data.voc import VOCDataset
        from fcn_tf1.predict import FrozenModel
        if args.data == "synthetic":
            source = SyntheticDataset(args.split)
        elif not args.data_dir or not os.path.isdir(args.data_dir):
            raise ValueError("--data %s needs --data-dir, an existing folder" % args.data)
        else:
            source = (VOCDataset if args.data == "voc" else SBDDataset)(args.data_dir, args.split)
        if args.graph:
            model = FrozenModel(args.graph)
            classes = model.metadata["class_names"]
        else:
            model = evaluation.CheckpointModel(args.checkpoint_dir)
            classes = model.config.class_names
        try:
            if len(classes) != source.num_classes:
                raise ValueError("the model has %d classes, the data set %d"
                                 % (len(classes), source.num_classes))
            hist = evaluation.evaluate_predictor(model.predict, source, len(classes))
        finally:
            model.close()
        result = evaluation.report(hist, classes)
        print(evaluation.format_report(result))
        if args.json:
            fileutil.write_json(args.json, result)
    return cli.run(run, "fcn_tf1.evaluate")


if __name__ == "__main__":
    sys.exit(main())
