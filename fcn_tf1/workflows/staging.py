"""The paper's staged training (FCN-32s -> 16s -> 8s, each stage initialised from the one before) and
a single stage alike: every stage's config and run folder checked before any is written, then each
trained, evaluated and exported in turn. ``python -m fcn_tf1.train`` builds a ``TrainingPlan`` from
its flags; this module only reads it."""
import collections
import os

from fcn_tf1.data.validate import class_statistics
from fcn_tf1.ground.names import FROZEN_NAME, LOG_DEPTH, MODALITY_SPECS, SLIM_RGB
from fcn_tf1.model.backbones import REGISTRY as BACKBONES
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.numbers.metrics import median_frequency_weights
from fcn_tf1.workflows import evaluation, export_writers, training
from fcn_tf1.workflows.initialisation import BackboneInit, CheckpointInit

# One stage of a training: the variant, its run folder and its checked ModelConfig.
Stage = collections.namedtuple("Stage", "variant run_dir config")
# What the stages share: the model's choices (backbone, upsampling, shape fix, at-once skips), where
# the first stage starts (a coarser run or the backbone's ImageNet file, or neither), the preset's
# name and the checked LearningOptions, the data, the cluster task and tower devices, and whether
# the chief evaluates and exports each stage.
TrainingPlan = collections.namedtuple(
    "TrainingPlan", "backbone upsampling shape_fix at_once init_from backbone_weights preset "
                    "options train_source val_source task devices evaluate export")


def initialiser(plan, width):
    """(input convention, initialiser or None) of the first stage: a coarser run (of the same
    backbone width; its class count may differ: the class-sized layers then start fresh), else the
    backbone's ImageNet file, read and checked against ``width``. In a cluster only the chief fills the
    variables; the others need the convention only."""
    chief = plan.task is None or plan.task.is_chief
    if plan.init_from:
        source = ModelConfig.load(plan.init_from)
        if source.backbone != plan.backbone:
            raise ValueError("--init-from %s: its backbone is %s, this model's %s"
                             % (plan.init_from, source.backbone, plan.backbone))
        if source.width != width:
            raise ValueError("--init-from %s: its backbone has width %g, this model %g; train at "
                             "--width %g to start from it" % (plan.init_from, source.width, width,
                                                             source.width))
        return source.convention, CheckpointInit(plan.init_from) if chief else None
    if plan.backbone_weights:
        return (BACKBONES[plan.backbone].convention_of(plan.backbone_weights),
                BackboneInit(plan.backbone_weights, width, plan.backbone) if chief else None)
    return SLIM_RGB, None


def plan_stages(plan, stage_dirs, width):
    """The stages to train, [Stage] for ``stage_dirs`` ({variant: run folder}, in order), and the
    first one's initialiser: every config and run folder checked (reading only) before any stage
    writes a file."""
    convention, init = initialiser(plan, width)
    source, stages = plan.train_source, []
    for variant, run_dir in stage_dirs.items():
        heads = source.heads and [{"name": name, "class_names": list(names)}
                                  for name, names in source.heads]
        # Each input of several in the initialiser's convention, depth as the reference's.
        inputs = source.inputs and [{"modality": m, "convention": LOG_DEPTH if MODALITY_SPECS[
            m].channels == 1 else convention} for m in source.inputs]
        config = ModelConfig(source.num_classes, variant, width, plan.upsampling, plan.shape_fix,
                             convention, source.class_names, plan.at_once, source.class_colours,
                             plan.backbone, source.modality, heads, inputs, source.fusion)
        training.check_run_dir(run_dir, config)
        stages.append(Stage(variant, run_dir, config))
    return stages, init


def train_stages(plan, stages, init, say=print):
    """Train ``stages`` in turn, each after the first starting from the one before; returns the
    last stage's run folder (None on a task that is not the chief: it stops after one stage)."""
    for stage in stages:
        train_stage(plan, stage, init, say)
        if plan.task is not None and not plan.task.is_chief:
            return None
        init = CheckpointInit(stage.run_dir)
    return stages[-1].run_dir


def train_stage(plan, stage, init, say=print):
    """Train one stage into its run folder; the chief then evaluates and exports it."""
    config, run_dir, options = stage.config, stage.run_dir, plan.options
    say("run %s: %s, width %g, %s + %s, preset %s, lr %g, %d steps" % (
        run_dir, stage.variant, config.width, config.upsampling, config.shape_fix, plan.preset,
        options.rate_for(stage.variant), options.steps))
    step = training.train(run_dir, config, plan.train_source, options, init, task=plan.task,
                          devices=plan.devices)
    if plan.task is not None and not plan.task.is_chief:
        return
    if plan.evaluate:
        result = evaluation.evaluate_run(run_dir, plan.val_source)
        say("validation (%d images, step %d):\n%s" % (
            len(plan.val_source), step, evaluation.format_heads(result)))
    if plan.export:
        path = os.path.join(run_dir, FROZEN_NAME)
        export_writers.export_frozen(run_dir, path)
        say("frozen graph: %s" % path)


def class_weights(choice, source, say=print):
    """The loss's class weights of --class-weights: None, median frequency balancing over the
    training split, or one number a line from a file."""
    if choice == "none":
        return None
    if source.heads:
        raise ValueError("--class-weights %s: the data set is labelled for %d tasks (%s); class "
                         "weights are for data sets of one" % (
                             choice, len(source.heads), ", ".join(n for n, _ in source.heads)))
    if choice == "median-freq":
        pixels, _, image_pixels = class_statistics(source)
        weights = [round(float(w), 6) for w in median_frequency_weights(pixels, image_pixels)]
    else:
        weights = read_weights(choice)
    if len(weights) != source.num_classes:
        raise ValueError("--class-weights %s: %d weights for %d classes"
                         % (choice, len(weights), source.num_classes))
    say("class weights: %s" % ", ".join("%s %.4g" % pair
                                        for pair in zip(source.class_names, weights)))
    return weights


def read_weights(path):
    try:
        with open(path) as f:
            weights = [float(line) for line in f if line.strip()]
    except (OSError, ValueError) as error:
        raise ValueError("--class-weights %s: not a file of one number a line (%s)"
                         % (path, error))
    if any(w < 0 or w != w for w in weights):
        raise ValueError("--class-weights %s: weights must be numbers >= 0" % path)
    return weights
