"""python -m fcn_tf1.evaluate: the four paper metrics and per-class IU of a checkpoint or frozen graph.

    python -m fcn_tf1.evaluate --checkpoint-dir checkpoints/synthetic-fcn8s
    python -m fcn_tf1.evaluate --graph model.pb --data voc --data-dir VOC2012 --json metrics.json
"""
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import DATA_SETS


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.evaluate", description=(
        "Evaluate on whole images at batch 1: pixel accuracy, mean accuracy, mean IU, frequency "
        "weighted IU (paper section 5), label 255 ignored."))
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint-dir", help="a run folder of fcn_tf1.train (latest checkpoint)")
    cli.add_export_flag(model, "an export")
    p.add_argument("--checkpoint", help="with --checkpoint-dir: a checkpoint prefix of the run "
                   "(default: the latest)")
    cli.add_runtime_flags(p)
    p.add_argument("--data", choices=DATA_SETS, default="synthetic", help="the data set")
    p.add_argument("--data-dir", help="VOC2012 (or VOCdevkit) folder, SBD's dataset folder, "
                   "VOC2010's for pascal-context, NYUDv2's for nyud, or a folder data set (needed "
                   "for all but synthetic)")
    p.add_argument("--split", default="val", help="the split to evaluate on")
    cli.add_data_set_flags(p)
    cli.add_labelling_flags(p)
    p.add_argument("--json", help="also write the report as JSON here")
    p.add_argument("--force", action="store_true",
                   help="replace a --json file that fcn_tf1 did not write")
    return p


def open_source(args):
    """The split to evaluate on; a run's stored folder split when there is one."""
    from fcn_tf1.data import registry
    options = registry.flag_options(args, args.checkpoint_dir)
    return registry.open_split(args.data, args.split, options)


def run(args):
    from fcn_tf1.ground import fileutil
    from fcn_tf1.model.models import CheckpointModel, FrozenModel
    from fcn_tf1.workflows import evaluation
    if args.json:
        fileutil.check_output(args.json, fileutil.json_is_ours, args.force,
                              [args.graph] if args.graph else [], "report")
    source = open_source(args)
    if not args.graph and (args.runtime or args.precision):
        raise ValueError("--runtime/--precision: only for an export (--graph)")
    with (FrozenModel(args.graph, args.runtime, args.precision) if args.graph
          else CheckpointModel(args.checkpoint_dir, args.checkpoint)) as model:
        if args.graph:
            print("runtime: %s" % model.describe(), file=sys.stderr)
        heads = model.config.heads
        check_data(model.config, source, args.data)
        labeller = cli.labeller(args, model)
        labellers = {"tta": labeller, "plain": labeller.without_tta()} if args.tta else \
            {"plain": labeller}
        measured = evaluation.evaluate_labellers(labellers, source,
                                                 [h.num_classes for h in heads])
    result = evaluation.report_heads(measured["tta" if args.tta else "plain"][0], heads)
    print(evaluation.format_heads(result))
    if args.tta:  # what it changes and what it costs
        plain = evaluation.report_heads(measured["plain"][0], heads)
        seconds = {name: value[1] / len(source) for name, value in measured.items()}
        result.update(tta=args.tta.to_dict(), seconds_per_image=seconds["tta"],
                      without_tta={"mean_iou": _mean_ious(plain),
                                   "seconds_per_image": seconds["plain"]})
        print("TTA %s: mean IU %s (without: %s), %.3f s per image (without: %.3f)" % (
            args.tta.describe(), _mean_ious(result, True), _mean_ious(plain, True),
            seconds["tta"], seconds["plain"]))
    if args.json:
        fileutil.write_json(args.json, result)


def check_data(config, source, data):
    """One line when the data set does not label what the model labels, or gives another input."""
    theirs = source.heads or [(None, source.class_names)]
    ours = [(h.name, h.num_classes) for h in config.heads]
    if [(name, len(names)) for name, names in theirs] != ours:
        raise ValueError("the model has %s, the data set %s" % (_describe(ours), _describe(
            [(name, len(names)) for name, names in theirs])))
    ours = [i.modality for i in config.inputs]
    theirs = list(source.inputs or [source.modality])
    if ours != theirs:
        raise ValueError("the model takes %s input, the data set gives %s (--data %s)"
                         % (" and ".join(ours), " and ".join(theirs), data))


def _describe(heads):
    if len(heads) == 1 and heads[0][0] is None:
        return "%d classes" % heads[0][1]
    return " + ".join("%d %s" % (count, name or "unnamed") for name, count in heads) + " classes"


def _mean_ious(result, text=False):
    """The mean IU (of each head, {head: IU}) of a report; ``text``: as printed."""
    if "heads" not in result:
        return "%.4f" % result["mean_iou"] if text else result["mean_iou"]
    ious = {name: head["mean_iou"] for name, head in result["heads"].items()}
    return ", ".join("%s %.4f" % item for item in ious.items()) if text else ious


main = cli.command(parser, run)


if __name__ == "__main__":
    sys.exit(main())
