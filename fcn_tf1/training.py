"""The training loop: tf.data input, the paper's recipes, checkpoints, resume, summaries, NaN stops.

``train`` runs in ``tf.train.MonitoredTrainingSession``: checkpoints every ``save_every`` steps (TF's
Saver writes them atomically, so a kill leaves the last complete one), summaries for TensorBoard, and a
re-run of the same command resumes from the latest checkpoint with the global step intact.
"""
import os

from tqdm import tqdm

from fcn_tf1 import fileutil
from fcn_tf1.data.pipeline import make_dataset
from fcn_tf1.inference import ModelConfig
from fcn_tf1.metrics import IGNORE_LABEL
from fcn_tf1.palette import voc_colormap
from fcn_tf1.preprocessing import preprocess
from fcn_tf1.tf_compat import tf

# Learning options; a preset changes some of them, flags change any of them.
DEFAULTS = {
    "steps": 1000, "batch_size": 1, "crop_size": None, "flip": False, "scale_range": None,
    "optimizer": "momentum", "learning_rate": 1e-4, "momentum": 0.9, "weight_decay": 5e-4,
    "bias_lr_mult": 2.0, "loss": "mean", "accumulate": 1, "train_upsampling": "2x",
    "save_every": 500, "summary_every": 100, "seed": 0, "threads": 0,
}
PRESETS = {
    # Reduced width and small crops: FCN-8s learns the synthetic set in minutes on a laptop CPU.
    "quick": {"width": 0.125, "optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 0.0,
              "bias_lr_mult": 1.0, "batch_size": 8, "crop_size": (64, 64), "flip": True,
              "steps": 1500, "save_every": 250, "summary_every": 50, "train_upsampling": "all"},
    # The reference "heavy learning": batch 1, summed loss, high momentum, tiny fixed rates.
    "heavy": {"optimizer": "momentum", "momentum": 0.99, "loss": "sum", "batch_size": 1,
              "learning_rate": {"fcn32s": 1e-10, "fcn16s": 1e-12, "fcn8s": 1e-14},
              "weight_decay": 5e-4, "bias_lr_mult": 2.0, "steps": 100000},
    # The CVPR paper: normalised loss, momentum 0.9, lr 1e-4, minibatch 20 by gradient accumulation.
    "cvpr": {"optimizer": "momentum", "momentum": 0.9, "loss": "mean", "batch_size": 1,
             "learning_rate": 1e-4, "accumulate": 20, "weight_decay": 5e-4, "bias_lr_mult": 2.0,
             "steps": 10000},
}
OPTIMIZERS = ("momentum", "adam", "sgd")
NOT_FINITE = "loss is NaN or Inf"


class TrainingError(RuntimeError):
    """Training cannot go on (bad loss, bad options); the message says why and what is kept."""


def options_for(preset=None, **overrides):
    """DEFAULTS, then the preset, then every override that is not None."""
    options = dict(DEFAULTS)
    if preset:
        if preset not in PRESETS:
            raise ValueError("preset must be one of %s, got %r" % (sorted(PRESETS), preset))
        options.update(PRESETS[preset])
    options.update((k, v) for k, v in overrides.items() if v is not None)
    return options


def learning_rate_for(options, variant):
    rate = options["learning_rate"]
    return float(rate[variant] if isinstance(rate, dict) else rate)


def segmentation_loss(logits, labels, num_classes, reduction="mean"):
    """Pixelwise softmax cross-entropy, skipping label 255; summed (Caffe's unnormalised) or averaged."""
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, IGNORE_LABEL)
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.where(valid, labels, tf.zeros_like(labels)), logits=logits)
    total = tf.reduce_sum(xent * tf.cast(valid, tf.float32))
    if reduction == "sum":
        return total
    return total / tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)


def _optimizer(options, rate):
    if options["optimizer"] == "adam":
        return tf.train.AdamOptimizer(rate)
    if options["optimizer"] == "sgd":
        return tf.train.GradientDescentOptimizer(rate)
    if options["optimizer"] == "momentum":
        return tf.train.MomentumOptimizer(rate, options["momentum"])
    raise ValueError("optimizer must be one of %s, got %r" % (OPTIMIZERS, options["optimizer"]))


def build_train_op(loss, options, rate, global_step):
    """Returns (train_op, accumulate_op or None, total_loss).

    Weight decay covers kernels only and biases learn at ``bias_lr_mult`` x the rate, as in the
    reference prototxt. A loss that is not finite fails the step before any variable changes.
    """
    kernels = [v for v in tf.trainable_variables() if v.op.name.endswith("kernel")]
    total = loss
    if options["weight_decay"] and kernels:
        total = loss + options["weight_decay"] * tf.add_n([tf.nn.l2_loss(k) for k in kernels])
    total = tf.identity(total, name="total_loss")
    check = tf.debugging.assert_all_finite(total, NOT_FINITE)
    optimizer = _optimizer(options, rate)
    with tf.control_dependencies([check]):
        grads = [(g, v) for g, v in optimizer.compute_gradients(total) if g is not None]
    grads = [(g * options["bias_lr_mult"] if v.op.name.endswith("bias") else g, v) for g, v in grads]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if options["accumulate"] <= 1:
        with tf.control_dependencies(updates):
            return optimizer.apply_gradients(grads, global_step), None, total
    # Gradient accumulation: `accumulate` runs add into buffers, then one update applies their
    # mean (normalised loss) or sum (summed loss) and clears them.
    buffers = [tf.Variable(tf.zeros_like(v.initialized_value()), trainable=False,
                           collections=[tf.GraphKeys.LOCAL_VARIABLES], name="accum")
               for _, v in grads]
    accumulate_op = tf.group(*[b.assign_add(g) for b, (g, _) in zip(buffers, grads)])
    scale = 1.0 / options["accumulate"] if options["loss"] == "mean" else 1.0
    with tf.control_dependencies([accumulate_op] + updates):
        apply_op = optimizer.apply_gradients(
            [(b * scale, v) for b, (_, v) in zip(buffers, grads)], global_step)
    with tf.control_dependencies([apply_op]):
        train_op = tf.group(*[b.assign(tf.zeros_like(b)) for b in buffers])
    return train_op, accumulate_op, total


def colorize(labels):
    """uint8 RGB panels of label maps, void (255) included."""
    return tf.gather(tf.constant(voc_colormap()), tf.cast(labels, tf.int32))


class _Progress(tf.train.SessionRunHook):
    """A tqdm bar: step, loss, learning rate, steps/s and ETA; remembers the last good step."""

    def __init__(self, total, loss, rate, global_step):
        self._fetches = {"loss": loss, "rate": rate, "step": global_step}
        self._total, self._bar, self.step = total, None, None

    def after_create_session(self, session, coord):
        self.step = int(session.run(self._fetches["step"]))
        self._bar = tqdm(total=self._total, initial=self.step, unit="step", dynamic_ncols=True,
                         smoothing=0.1, desc="train")

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context, run_values):
        result = run_values.results
        self._bar.update(int(result["step"]) - self.step)
        self.step = int(result["step"])
        self._bar.set_postfix(loss="%.4g" % result["loss"], lr="%.3g" % result["rate"],
                              refresh=False)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def session_config(threads=0):
    return tf.ConfigProto(intra_op_parallelism_threads=threads,
                          inter_op_parallelism_threads=threads,
                          allow_soft_placement=True)


def latest_step(run_dir):
    path = tf.train.latest_checkpoint(run_dir)
    return int(path.rsplit("-", 1)[1]) if path else 0


class VGG16Init(object):
    """Start the backbone from a pretrained VGG16 file (read and checked now, before training)."""

    def __init__(self, path, width=1.0):
        from fcn_tf1.weights import read_vgg16
        self.weights = read_vgg16(path, width)
        self.convention = self.weights.convention

    def __call__(self, model_variables, config):
        from fcn_tf1.weights import backbone_assignments
        ops, feed = backbone_assignments(self.weights, config.width)
        return lambda scaffold, session: session.run(ops, feed)


class CheckpointInit(object):
    """Start from a coarser FCN's checkpoint, copying every variable that exists in both."""

    def __init__(self, checkpoint_dir, log=print):
        self.path = tf.train.latest_checkpoint(checkpoint_dir) or checkpoint_dir
        try:
            self.shapes = tf.train.NewCheckpointReader(self.path).get_variable_to_shape_map()
        except Exception as error:  # the reader raises several error types for a bad file
            raise TrainingError("--init-from %s: no readable checkpoint (%s)"
                                % (checkpoint_dir, " ".join(str(error).split())[:200]))
        self.log = log

    def __call__(self, model_variables, config):
        copied = [v for v in model_variables
                  if self.shapes.get(v.op.name) == v.shape.as_list()]
        fresh = sorted(v.op.name for v in model_variables if v not in copied)
        self.log("init from %s: %d variables copied; new: %s"
                 % (self.path, len(copied), ", ".join(fresh) or "none"))
        saver = tf.train.Saver(copied)
        return lambda scaffold, session: saver.restore(session, self.path)


def train(run_dir, config, source, options, init=None, log=print):
    """Train ``config`` on ``source`` into ``run_dir`` until ``options['steps']``; resumes if possible.

    ``init(model_variables, config)`` (``VGG16Init``, ``CheckpointInit``) gives the function that
    fills the variables of a fresh run; it is not used when a checkpoint exists. Returns the final
    global step.
    """
    os.makedirs(run_dir, exist_ok=True)
    saved = os.path.join(run_dir, "model.json")
    if os.path.exists(saved) and ModelConfig.load(run_dir) != config:
        raise TrainingError("%s holds a different model (%s); use another --run or delete it"
                            % (run_dir, saved))
    config.save(run_dir)
    fileutil.write_json(os.path.join(run_dir, "options.json"), options)
    rate_value = learning_rate_for(options, config.variant)
    start = latest_step(run_dir)
    if start >= options["steps"]:
        log("%s is already at step %d (>= --steps %d): nothing to train"
            % (run_dir, start, options["steps"]))
        return start
    with tf.Graph().as_default():
        tf.set_random_seed(options["seed"])
        global_step = tf.train.get_or_create_global_step()
        dataset = make_dataset(source, options["batch_size"], options["crop_size"],
                               options["flip"], options["scale_range"], seed=options["seed"],
                               mean_rgb=_mean_rgb(config))
        images, labels = tf.data.make_one_shot_iterator(dataset).get_next()
        logits = config.build(preprocess(images, config.convention), is_training=True,
                              train_upsampling=options["train_upsampling"])
        model_variables = [v for v in tf.global_variables() if v is not global_step]
        init_fn = init(model_variables, config) if init and not start else None
        loss = segmentation_loss(logits, labels, config.num_classes, options["loss"])
        rate = tf.constant(rate_value, tf.float32, name="learning_rate")
        train_op, accumulate_op, total = build_train_op(loss, options, rate, global_step)
        prediction = tf.argmax(logits, -1)
        tf.summary.scalar("loss", loss)
        tf.summary.scalar("total_loss", total)
        tf.summary.scalar("learning_rate", rate)
        tf.summary.image("image", images, max_outputs=2)
        tf.summary.image("label", colorize(labels), max_outputs=2)
        tf.summary.image("prediction", colorize(prediction), max_outputs=2)
        scaffold = tf.train.Scaffold(init_fn=init_fn, saver=tf.train.Saver(max_to_keep=3))
        progress = _Progress(options["steps"], loss, rate, global_step)
        hooks = [tf.train.StopAtStepHook(last_step=options["steps"]), progress]
        try:
            with tf.train.MonitoredTrainingSession(
                    checkpoint_dir=run_dir, scaffold=scaffold, hooks=hooks,
                    save_checkpoint_steps=options["save_every"],
                    save_summaries_steps=options["summary_every"], log_step_count_steps=0,
                    config=session_config(options["threads"])) as session:
                while not session.should_stop():
                    for _ in range(options["accumulate"] - 1):
                        session.run_step_fn(lambda step_context: step_context.session.run(accumulate_op))
                    session.run(train_op)
        except tf.errors.InvalidArgumentError as error:
            if NOT_FINITE not in error.message:
                raise
            raise TrainingError(
                "%s at step %d: training stopped before the update; the last checkpoint "
                "(step %d) in %s is kept" % (NOT_FINITE, (progress.step or start) + 1,
                                             latest_step(run_dir), run_dir))
        finally:
            progress.close()
    return latest_step(run_dir)


def _mean_rgb(config):
    mean = config.convention.mean
    return tuple(mean[::-1]) if config.convention.channel_order == "BGR" else tuple(mean)
