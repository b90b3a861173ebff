"""python -m fcn_tf1.train: train an FCN (default: FCN-8s, quick preset, built-in synthetic data).

    python -m fcn_tf1.train                                   # synthetic data, minutes on a CPU
    python -m fcn_tf1.train --data voc --data-dir VOC2012 --vgg16-weights vgg_16.ckpt --staged
"""
import collections
import os
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import (BACKBONE_SPECS, BACKBONES, CLUSTER_JOBS, DATA_SETS,
                                  DEFAULT_BACKBONE, DEFAULT_SHAPE_FIX, FIXING, FROZEN_NAME,
                                  IGNORE_LABEL, LOSSES, OPTIMIZERS, PRESETS, SHAPE_FIXES,
                                  TRAIN_UPSAMPLING, UPSAMPLINGS, VARIANTS)
from fcn_tf1.workflows import recipes
from fcn_tf1.workflows.recipes import PRESET_WIDTHS

def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.train", description=(
        "Train FCN-32s/16s/8s on VGG16 (or FCN-32s on AlexNet). With no arguments: FCN-8s at "
        "reduced width on the built-in synthetic data set (quick preset), then evaluation and a "
        "frozen-graph export."))
    data = p.add_argument_group("data")
    data.add_argument("--data", choices=DATA_SETS, default="synthetic", help="the data set")
    data.add_argument("--data-dir", help="VOC2012 (or VOCdevkit) folder, SBD's dataset folder, "
                      "VOC2010's for pascal-context, NYUDv2's for nyud, or a folder data set "
                      "(images/, masks/, classes.txt; README 'Your own data')")
    data.add_argument("--train-split", default="train", help="the split file to train on")
    data.add_argument("--val-split", default="val", help="the split file to evaluate on")
    data.add_argument("--val-data", choices=("same", "voc"), default="same",
                      help="'voc' evaluates an SBD run on VOC (--val-dir)")
    data.add_argument("--val-dir", help="VOC folder for --val-data voc")
    data.add_argument("--synthetic-size", type=cli.positive_int, default=400,
                      help="synthetic training images")
    cli.add_data_set_flags(data, seed=False)
    data.add_argument("--check-data", action="store_true",
                      help="only check the data set (every file readable and consistent), then exit")
    model = p.add_argument_group("model")
    model.add_argument("--backbone", choices=BACKBONES, default=DEFAULT_BACKBONE, help=(
        "the classifier under the FCN: %s" % "; ".join(
            "%s has %s" % (name, ", ".join(spec.variants)) for name, spec in BACKBONE_SPECS.items())))
    model.add_argument("--variant", choices=VARIANTS,
                       help="the FCN (default: the backbone's finest, fcn8s on vgg16)")
    model.add_argument("--width", type=cli.width, help="channel multiplier (1.0 = the real "
                       "backbone); "
                       "default: %s" % ", ".join("%s: %g" % (preset, PRESET_WIDTHS.get(preset, 1.0))
                                                 for preset in PRESETS))
    model.add_argument("--upsampling", choices=UPSAMPLINGS, default="nn",
                       help="nn: tf.nn.conv2d_transpose(output_shape=...), layers: "
                            "tf.layers.conv2d_transpose")
    model.add_argument("--shape-fix", choices=SHAPE_FIXES, help=(
        "how upsampled maps meet their targets; %s give H x W at every size (default: %s)"
        % (", ".join(FIXING), ", ".join("%s for %s" % (fix, api)
                                        for api, fix in DEFAULT_SHAPE_FIX.items()))))
    model.add_argument("--at-once", action="store_true",
                       help="scale pool4 / pool3 by 0.01 / 1e-4 (the at-once FCN-8s)")
    model.add_argument("--backbone-weights", "--vgg16-weights", dest="backbone_weights", help=(
        "the backbone's ImageNet weights: %s" % "; ".join(
            "%s: %s" % (name, spec.weights) for name, spec in BACKBONE_SPECS.items())))
    model.add_argument("--init-from", help="checkpoint dir of a coarser FCN; every variable that "
                       "exists in both is copied (32s -> 16s -> 8s)")
    add_learning_flags(p.add_argument_group("learning (a preset sets these; flags override)"))
    run = p.add_argument_group("run")
    run.add_argument("--run", help="run name under --checkpoint-root (default: <data>-<variant>)")
    run.add_argument("--checkpoint-root", default="checkpoints",
                     help="the folder that holds the run folders")
    run.add_argument("--staged", action="store_true",
                     help="train fcn32s, then fcn16s from it, then fcn8s from that (paper 4.2)")
    run.add_argument("--no-eval", action="store_true", help="skip the evaluation on the val split")
    run.add_argument("--no-export", action="store_true", help="skip the frozen-graph export")
    add_cluster_flags(p.add_argument_group(
        "distributed (TensorFlow's cluster runtime; without these flags the TF_CONFIG environment "
        "variable is read, and without it training is local)"))
    return p


def add_learning_flags(learn):
    """The flags of the learning options; each help text ends with what every preset gives."""
    def flag(name, help, dest=None, **kwargs):
        dest = dest or name[2:].replace("-", "_")
        learn.add_argument(name, dest=dest, help="%s (default: %s)" % (
            help, recipes.preset_defaults(dest)), **kwargs)
    learn.add_argument("--preset", choices=PRESETS, help=(
        "default: quick on synthetic data, else the reference's recipe for the backbone: %s"
        % ", ".join("%s on %s" % (spec.preset, name) for name, spec in BACKBONE_SPECS.items())))
    flag("--steps", "train until this global step", type=cli.positive_int)
    flag("--batch-size", "images per step", type=cli.positive_int)
    flag("--crop-size", "random crops H[,W]; none = whole images", type=cli.size_pair)
    flag("--flip", "random horizontal flips", action="store_true", default=None)
    flag("--scale-range", "random rescale LOW,HIGH", type=cli.float_pair)
    flag("--optimizer", "the optimiser", choices=OPTIMIZERS)
    flag("--lr", "learning rate", dest="learning_rate", type=cli.positive_float)
    flag("--momentum", "momentum of the momentum optimiser",
         type=cli.bounded(float, 0, 1, high_open=True))
    flag("--weight-decay", "L2 weight decay of the kernels", type=cli.nonnegative_float)
    flag("--bias-lr-mult", "learning-rate multiplier of the biases", type=cli.nonnegative_float)
    flag("--loss", "normalised or Caffe's summed loss", choices=LOSSES)
    flag("--accumulate", "images per update (gradient accumulation)", type=cli.positive_int)
    flag("--train-upsampling", "which transposed convs learn", choices=TRAIN_UPSAMPLING)
    learn.add_argument("--class-weights", default="none", metavar="{none,median-freq,FILE}",
                       help="weigh each class in the loss: median frequency balancing over the "
                            "training split (Eigen & Fergus; printed and kept in options.json) or "
                            "one number a line from FILE")
    flag("--seed", "random seed of the data order, crops and initialisation",
         type=cli.nonnegative_int)
    flag("--save-every", "checkpoint every N steps", type=cli.positive_int)
    flag("--summary-every", "TensorBoard summaries every N steps", type=cli.positive_int)
    flag("--threads", "intra/inter-op threads (0 = TensorFlow's choice)", type=cli.nonnegative_int)


def add_cluster_flags(dist):
    dist.add_argument("--ps-hosts", help="host:port,... of the parameter servers")
    dist.add_argument("--worker-hosts", help="host:port,... of the workers")
    dist.add_argument("--chief-host", help="host:port of the chief (default: worker 0 is chief)")
    dist.add_argument("--job-name", choices=CLUSTER_JOBS, help="this task's job")
    dist.add_argument("--task-index", type=cli.nonnegative_int, default=0,
                      help="this task's index in its job")
    dist.add_argument("--sync-replicas", action="store_true", default=None,
                      help="synchronous updates (SyncReplicasOptimizer) instead of asynchronous "
                           "(default: asynchronous)")
    dist.add_argument("--num-gpus", type=cli.nonnegative_int, default=0,
                      help="data-parallel towers on this many GPUs, each on its own batch")
    dist.add_argument("--cpu-towers", type=cli.nonnegative_int, default=0,
                      help="towers on this many virtual CPU devices: the --num-gpus code path "
                           "without GPUs (for trying it; not faster)")


def open_data(args, splits=None):
    """(train source, val source) for the flags; ``splits``: a run's stored folder split."""
    from fcn_tf1.data import registry
    options = registry.DataOptions(args.data_dir, args.seed or 0, args.synthetic_size,
                                   args.val_fraction, args.ignore_label, splits, args.context_dir)
    train = registry.open_split(args.data, args.train_split, options)
    if args.val_data == "voc":
        if not args.val_dir:
            raise ValueError("--val-data voc needs --val-dir")
        return train, registry.open_split("voc", args.val_split, options._replace(
            data_dir=args.val_dir))
    return train, registry.open_split(args.data, args.val_split, options)


def tower_devices(args):
    """The tower devices of --num-gpus / --cpu-towers, or None for one device."""
    if args.num_gpus and args.cpu_towers:
        raise ValueError("--num-gpus and --cpu-towers exclude each other")
    if args.num_gpus:
        from fcn_tf1.ground.tf_compat import gpu_count
        found = gpu_count()
        if found < args.num_gpus:
            raise ValueError("--num-gpus %d: this TensorFlow sees %d GPU(s)" % (args.num_gpus, found))
        return ["/gpu:%d" % i for i in range(args.num_gpus)]
    if args.cpu_towers:
        return ["/cpu:%d" % i for i in range(args.cpu_towers)]
    return None


def check_data(train_source, val_source, with_val):
    """Every file of the data readable and consistent, or one error after the list of problems."""
    from fcn_tf1.data.validate import check_dataset
    problems = check_dataset(train_source, progress=len(train_source) > 1000)
    if with_val:
        problems += check_dataset(val_source, progress=len(val_source) > 1000)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        raise ValueError("%d problem(s) in the data set (listed above)" % len(problems))


def serve_parameters(task):
    server = task.server()
    print("%r: parameter server at %s (serving until stopped)" % (task, task.cluster["ps"][task.index]))
    server.join()


def run(args):
    import logging
    from fcn_tf1.workflows import cluster, recipes, staging
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    task = cluster.current_task({"ps_hosts": args.ps_hosts, "worker_hosts": args.worker_hosts,
                                 "chief_host": args.chief_host, "job_name": args.job_name,
                                 "task_index": args.task_index})
    if task is not None and task.job == "ps":
        return serve_parameters(task)
    if task is not None and args.staged:
        raise ValueError("--staged runs its stages one after another in one process; in a cluster "
                         "run each stage with --variant and --init-from")
    devices = tower_devices(args)
    from fcn_tf1.data.registry import stored_split
    given = args.variant
    args.variant = args.variant or BACKBONE_SPECS[args.backbone].variants[-1]
    variants = BACKBONE_SPECS[args.backbone].variants if args.staged else (args.variant,)
    first = stage_dir(args, variants[0])
    train_source, val_source = open_data(args, stored_split(first))
    if given is None and not args.staged and train_source.fusion == "late":
        args.variant, variants = "fcn32s", ("fcn32s",)  # the reference's late fusion's only
    check_data(train_source, val_source, not args.no_eval)
    if args.check_data:
        from fcn_tf1.data.validate import format_counts
        print("data ok: %d training and %d validation images" % (len(train_source),
                                                                 len(val_source)))
        print("training split: " + format_counts(train_source))
        return 0
    preset = args.preset or default_preset(args.data, args.backbone)
    options = recipes.options_for(preset, **dict(
        {k: getattr(args, k) for k in recipes.DEFAULTS if hasattr(args, k)},
        class_weights=staging.class_weights(args.class_weights, train_source)))
    plan = staging.TrainingPlan(
        args.backbone, args.upsampling, args.shape_fix, args.at_once, args.init_from,
        args.backbone_weights, preset, options, train_source, val_source, task, devices,
        not args.no_eval, not args.no_export)
    stages, init = staging.plan_stages(plan, collections.OrderedDict(
        (variant, stage_dir(args, variant)) for variant in variants),
        recipes.width_for(preset, args.width))
    last = staging.train_stages(plan, stages, init)
    if last:
        print(next_steps(last, args.no_export, data_flags(args)))
    return 0


def default_preset(data, backbone):
    """quick on the synthetic scenes, else the reference's recipe for ``backbone``."""
    return "quick" if data == "synthetic" else BACKBONE_SPECS[backbone].preset


def data_flags(args):
    """The flags that name the data set again, for evaluate."""
    if args.data == "synthetic":
        return ""
    flags = " --data %s --data-dir %s" % (args.data, args.data_dir)
    if args.context_dir:
        flags += " --context-dir %s" % args.context_dir
    if args.data == "folder" and args.ignore_label != IGNORE_LABEL:
        flags += " --ignore-label %d" % args.ignore_label
    return flags


def next_steps(run_dir, no_export, data=""):
    """What to run next on the run, as a fresh shell here types it."""
    python = cli.python_command()
    lines = ["next:", "  %s -m fcn_tf1.evaluate --checkpoint-dir %s%s" % (python, run_dir, data)]
    if no_export:
        lines.append("  %s -m fcn_tf1.export --checkpoint-dir %s --output %s"
                     % (python, run_dir, os.path.join(run_dir, FROZEN_NAME)))
    lines.append("  %s -m fcn_tf1.predict --graph %s YOUR_IMAGES/ --output-dir masks"
                 % (python, os.path.join(run_dir, FROZEN_NAME)))
    return "\n".join(lines)


def stage_dir(args, variant):
    backbone = [] if args.backbone == DEFAULT_BACKBONE else [args.backbone]
    base = args.run or "-".join([args.data] + backbone + ["staged" if args.staged else args.variant])
    return os.path.join(args.checkpoint_root, base, *([variant] if args.staged else []))


main = cli.command(parser, run)


if __name__ == "__main__":
    sys.exit(main())
