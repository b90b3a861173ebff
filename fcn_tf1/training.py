"""The training loop: tf.data input, the paper's recipes, checkpoints, resume, summaries, NaN stops.

``train`` runs in ``tf.train.MonitoredTrainingSession``: checkpoints every ``save_every`` steps (TF's
Saver writes them atomically, so a kill leaves the last complete one), summaries for TensorBoard, and a
re-run of the same command resumes from the latest checkpoint with the global step intact.
"""
import os

from tqdm import tqdm

from fcn_tf1 import cluster, fileutil
from fcn_tf1.data.pipeline import make_dataset
from fcn_tf1.inference import CONFIG_FILE, ModelConfig
from fcn_tf1.metrics import IGNORE_LABEL
from fcn_tf1.palette import voc_colormap
from fcn_tf1.preprocessing import preprocess
from fcn_tf1.tf_compat import error_line, tf

# Learning options; a preset changes some of them, flags change any of them.
DEFAULTS = {
    "steps": 1000, "batch_size": 1, "crop_size": None, "flip": False, "scale_range": None,
    "optimizer": "momentum", "learning_rate": 1e-4, "momentum": 0.9, "weight_decay": 5e-4,
    "bias_lr_mult": 2.0, "loss": "mean", "accumulate": 1, "train_upsampling": "2x",
    "save_every": 500, "summary_every": 100, "seed": 0, "threads": 0, "sync_replicas": False,
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
LOCK_FILE = ".lock"
VARIABLE_OPS = ("Variable", "VariableV2", "VarHandleOp")


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


def _optimizer(options, rate, replicas=1):
    if options["optimizer"] == "adam":
        optimizer = tf.train.AdamOptimizer(rate)
    elif options["optimizer"] == "sgd":
        optimizer = tf.train.GradientDescentOptimizer(rate)
    elif options["optimizer"] == "momentum":
        optimizer = tf.train.MomentumOptimizer(rate, options["momentum"])
    else:
        raise ValueError("optimizer must be one of %s, got %r"
                         % (OPTIMIZERS, options["optimizer"]))
    if options["sync_replicas"] and replicas > 1:
        # Every update waits for one gradient from each replica (chief and workers) and applies
        # their mean; the default is asynchronous, each replica updating on its own.
        optimizer = tf.train.SyncReplicasOptimizer(optimizer, replicas_to_aggregate=replicas,
                                                   total_num_replicas=replicas)
    return optimizer


def combine_towers(tensors, loss="mean"):
    """The towers' losses or gradients as one batch of all their images gives them: the mean for
    a normalised loss, the sum for a summed one."""
    if len(tensors) == 1:
        return tensors[0]
    return tf.add_n(tensors) / (len(tensors) if loss == "mean" else 1)


def build_train_op(losses, options, rate, global_step, replicas=1, local_device=None):
    """Returns (train_op, accumulate_op or None, total_loss, optimizer).

    ``losses`` holds one loss per tower (data-parallel copies of the model on several devices);
    their gradients are averaged (normalised loss) or summed (summed loss), as one batch of all
    the towers' images would give. Weight decay covers kernels only and biases learn at
    ``bias_lr_mult`` x the rate, as in the reference prototxt. A loss that is not finite fails the
    step before any variable changes. ``replicas`` > 1 with ``sync_replicas`` makes updates
    synchronous across a cluster; ``local_device`` keeps the accumulation buffers on this task.
    """
    kernels = [v for v in tf.trainable_variables() if v.op.name.endswith("kernel")]
    decay = 0.0
    if options["weight_decay"] and kernels:
        decay = options["weight_decay"] * tf.add_n([tf.nn.l2_loss(k) for k in kernels])
    mean = options["loss"] == "mean"
    # Each tower's objective carries the decay, weighted so that the combination counts it once.
    totals = [loss + (decay if mean else decay / len(losses)) for loss in losses]
    total = tf.identity(combine_towers(totals, options["loss"]), name="total_loss")
    checks = [tf.debugging.assert_all_finite(t, NOT_FINITE) for t in totals]
    optimizer = _optimizer(options, rate, replicas)
    tower_grads = []
    for tower_total in totals:
        with tf.control_dependencies(checks):
            tower_grads.append([(g, v) for g, v in optimizer.compute_gradients(
                tower_total, colocate_gradients_with_ops=True) if g is not None])
    # zip(*tower_grads): one variable's (gradient, variable) pair in every tower.
    grads = [(combine_towers([g for g, _ in pairs], options["loss"]), pairs[0][1])
             for pairs in zip(*tower_grads)]
    grads = [(g * options["bias_lr_mult"] if v.op.name.endswith("bias") else g, v)
             for g, v in grads]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if options["accumulate"] <= 1:
        with tf.control_dependencies(updates):
            return optimizer.apply_gradients(grads, global_step), None, total, optimizer
    # Gradient accumulation: `accumulate` runs add into buffers, then one update applies their
    # mean (normalised loss) or sum (summed loss) and clears them.
    with tf.device(local_device):
        buffers = [tf.Variable(tf.zeros_like(v.initialized_value()), trainable=False,
                               collections=[tf.GraphKeys.LOCAL_VARIABLES], name="accum")
                   for _, v in grads]
    accumulate_op = tf.group(*[b.assign_add(g) for b, (g, _) in zip(buffers, grads)])
    scale = 1.0 / options["accumulate"] if mean else 1.0
    with tf.control_dependencies([accumulate_op] + updates):
        apply_op = optimizer.apply_gradients(
            [(b * scale, v) for b, (_, v) in zip(buffers, grads)], global_step)
    with tf.control_dependencies([apply_op]):
        train_op = tf.group(*[b.assign(tf.zeros_like(b)) for b in buffers])
    return train_op, accumulate_op, total, optimizer


def colorize(labels):
    """uint8 RGB panels of label maps, void (255) included."""
    return tf.gather(tf.constant(voc_colormap()), tf.cast(labels, tf.int32))


class _Progress(tf.train.SessionRunHook):
    """A tqdm bar: step, loss, learning rate, steps/s and ETA; remembers the last good step."""

    def __init__(self, total, loss, rate, global_step, desc="train", show_ran=False):
        self._fetches = {"loss": loss, "rate": rate, "step": global_step}
        self._total, self._bar, self._desc, self._show_ran = total, None, desc, show_ran
        self.first_step = self.step = None
        self.losses = []  # of the steps this process ran (in a cluster, the others run theirs)

    def after_create_session(self, session, coord):
        self.first_step = self.step = int(session.run(self._fetches["step"]))
        self._bar = tqdm(total=self._total, initial=self.step, unit="step", dynamic_ncols=True,
                         smoothing=0.1, desc=self._desc)

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context, run_values):
        result = run_values.results
        self.losses.append(float(result["loss"]))
        self._bar.update(int(result["step"]) - self.step)
        self.step = int(result["step"])
        postfix = dict(loss="%.4g" % result["loss"], lr="%.3g" % result["rate"])
        if self._show_ran:  # in a cluster the global step counts every replica's steps
            postfix["ran"] = len(self.losses)
        self._bar.set_postfix(refresh=False, **postfix)

    def end(self, session):
        # The step fetched with the update may predate it: read the final one.
        final = int(session.run(self._fetches["step"]))
        self._bar.update(final - self.step)
        self.step = final

    def close(self):
        if self._bar is not None:
            self._bar.close()


class _SyncReplicasHook(tf.train.SessionRunHook):
    """SyncReplicasOptimizer's own hook with two end-of-training stalls removed.

    No tokens up front: a replica cannot run ahead and take another's token (it would wait forever
    once the fast one has finished). And the chief's queue runner gets a coordinator of its own:
    after the last update it waits for gradients no replica will send, so under the session's
    coordinator the chief sat out the 120 s grace period and the thread died with a traceback; here
    closing the session cancels it cleanly.
    """

    def __init__(self, optimizer, chief):
        self._hook = optimizer.make_session_run_hook(chief, num_tokens=0)

    def begin(self):
        self._hook.begin()

    def after_create_session(self, session, coord):
        own = tf.train.Coordinator(clean_stop_exception_types=(tf.errors.OutOfRangeError,
                                                               tf.errors.CancelledError))
        self._hook.after_create_session(session, own)


def session_config(threads=0, task=None, cpu_devices=1):
    """Thread pools; in a cluster, this task talks to the ps tasks and itself only (so one
    missing worker does not hold up the others); ``cpu_devices`` > 1 makes virtual CPU devices."""
    config = tf.ConfigProto(intra_op_parallelism_threads=threads,
                            inter_op_parallelism_threads=threads, allow_soft_placement=True)
    if task is not None:
        config.device_filters.extend(["/job:ps", task.device])
    if cpu_devices > 1:
        config.device_count["CPU"] = cpu_devices
    return config


def placement(task=None, devices=None):
    """Device scopes for a training graph: (whole graph, one per tower, input pipeline).

    In a cluster, variables go to the ps tasks and every other op stays on this task (so the
    input pipeline's Python loader runs in this process); with tower ``devices`` (e.g. GPUs),
    each tower's ops go to its device and the shared variables to the CPU.
    """
    if task is not None:
        towers = [task.device_setter(task.device + d) for d in devices or [""]]
        return task.device_setter(), towers, task.device
    if not devices:
        return None, [None], None

    def on(device):
        return lambda op: op.device or ("/cpu:0" if op.type in VARIABLE_OPS else device)
    return on("/cpu:0"), [on(d) for d in devices], "/cpu:0"


def open_run_dir(run_dir, config):
    """Make or reopen ``run_dir`` for training ``config``: locked for this process's life (a second
    training on it is refused; the lock goes when the process dies), refused when it holds another
    model or files that are not a run's."""
    os.makedirs(run_dir, exist_ok=True)
    saved = os.path.join(run_dir, CONFIG_FILE)
    foreign = sorted(set(os.listdir(run_dir)) - {LOCK_FILE})
    if foreign and not os.path.exists(saved):
        raise TrainingError("%s: not empty and not an fcn_tf1 run folder (no %s, holds %s); "
                            "choose another --run" % (run_dir, CONFIG_FILE, foreign[0]))
    fileutil.lock_for_process(os.path.join(run_dir, LOCK_FILE),
                              "%s: another training is using this run folder" % run_dir)
    if os.path.exists(saved) and ModelConfig.load(run_dir) != config:
        raise TrainingError("%s holds a different model (%s); use another --run or delete it"
                            % (run_dir, saved))
    config.save(run_dir)


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


def tower_losses(config, batches, devices, loss="mean", **build_kwargs):
    """One copy of the model per device, each on its own (images, labels) batch, all sharing the
    variables that tower 0 creates. Returns ([loss per tower], tower 0's logits)."""
    losses = []
    for i, ((images, labels), device) in enumerate(zip(batches, devices)):
        # Tower 0 keeps the plain op names; the others are under tower_<i>.
        with tf.device(device), tf.name_scope("tower_%d" % i if i else None), \
                tf.variable_scope(tf.get_variable_scope(), reuse=bool(i)):
            tower_logits = config.build(preprocess(images, config.convention), **build_kwargs)
            losses.append(segmentation_loss(tower_logits, labels, config.num_classes, loss))
        if i == 0:
            logits = tower_logits
    return losses, logits


def train(run_dir, config, source, options, init=None, log=print, task=None, devices=None):
    """Train ``config`` on ``source`` into ``run_dir`` until ``options['steps']``; resumes if possible.

    ``init(model_variables, config)`` (``VGG16Init``, ``CheckpointInit``) gives the function that
    fills the variables of a fresh run; it is not used when a checkpoint exists. ``task`` (a
    ``cluster.Task``) trains as one replica of a cluster: variables on the ps tasks, this replica's
    shard of the data, the chief restoring and writing ``run_dir``. ``devices`` (e.g.
    ``["/gpu:0", "/gpu:1"]``) builds one tower per device, each on its own batch. Returns the last
    global step.
    """
    chief = task is None or task.is_chief
    start = 0  # a worker does not read run_dir: the chief restores the variables
    if options["save_every"] < 1:
        raise ValueError("save_every must be >= 1, got %r" % (options["save_every"],))
    if chief:
        open_run_dir(run_dir, config)
        fileutil.write_json(os.path.join(run_dir, "options.json"), options)
        start = latest_step(run_dir)
        if start >= options["steps"]:
            log("%s is already at step %d (>= --steps %d): nothing to train"
                % (run_dir, start, options["steps"]))
            return start
    replicas, shard = (task.num_replicas, task.replica_index) if task else (1, 0)
    if len(source) < replicas:
        raise ValueError("the data set has %d images, fewer than the %d replicas of the cluster"
                         % (len(source), replicas))
    cpu_devices = sum(1 for d in devices or [] if d.lower().startswith("/cpu"))
    session_options = session_config(options["threads"], task, cpu_devices)
    server = task.server(session_options) if task else None
    graph_device, tower_devices, input_device = placement(task, devices)
    rate_value = learning_rate_for(options, config.variant)
    with tf.Graph().as_default(), tf.device(graph_device):
        tf.set_random_seed(options["seed"] + shard)
        global_step = tf.train.get_or_create_global_step()
        with tf.device(input_device):
            dataset = make_dataset(source, options["batch_size"], options["crop_size"],
                                   options["flip"], options["scale_range"],
                                   seed=options["seed"] + shard, mean_rgb=_mean_rgb(config),
                                   num_shards=replicas, shard_index=shard)
            iterator = tf.data.make_one_shot_iterator(dataset)
            batches = [iterator.get_next() for _ in tower_devices]
        images, labels = batches[0]
        losses, logits = tower_losses(config, batches, tower_devices, options["loss"],
                                      is_training=True,
                                      train_upsampling=options["train_upsampling"])
        model_variables = [v for v in tf.global_variables() if v is not global_step]
        init_fn = init(model_variables, config) if init and chief and not start else None
        rate = tf.constant(rate_value, tf.float32, name="learning_rate")
        train_op, accumulate_op, total, optimizer = build_train_op(
            losses, options, rate, global_step, replicas, input_device)
        loss = combine_towers(losses, options["loss"])
        prediction = tf.argmax(logits, -1)
        tf.summary.scalar("loss", loss)
        tf.summary.scalar("total_loss", total)
        tf.summary.scalar("learning_rate", rate)
        tf.summary.image("image", images, max_outputs=2)
        tf.summary.image("label", colorize(labels), max_outputs=2)
        tf.summary.image("prediction", colorize(prediction), max_outputs=2)
        scaffold = tf.train.Scaffold(init_fn=init_fn, saver=tf.train.Saver(max_to_keep=3))
        progress = _Progress(options["steps"], loss, rate, global_step,
                             "train %r" % task if task else "train", show_ran=task is not None)
        hooks = [tf.train.StopAtStepHook(last_step=options["steps"]), progress]
        if isinstance(optimizer, tf.train.SyncReplicasOptimizer):
            hooks.append(_SyncReplicasHook(optimizer, chief))
        if not chief:
            cluster.wait_for_chief(server.target, model_variables + [global_step], session_options)
        try:
            with tf.train.MonitoredTrainingSession(
                    master=server.target if server else "", is_chief=chief,
                    checkpoint_dir=run_dir, scaffold=scaffold, hooks=hooks,
                    save_checkpoint_steps=options["save_every"],
                    save_summaries_steps=options["summary_every"], log_step_count_steps=0,
                    config=session_options) as session:
                while not session.should_stop():
                    for _ in range(options["accumulate"] - 1):
                        session.run_step_fn(lambda step_context: step_context.session.run(accumulate_op))
                    session.run(train_op)
        except tf.errors.InvalidArgumentError as error:
            if NOT_FINITE not in error.message:
                raise
            raise TrainingError(
                "%s at step %d: training stopped before the update; the last checkpoint "
                "(step %d) in %s is kept" % (NOT_FINITE, (progress.step or 0) + 1,
                                             latest_step(run_dir), run_dir))
        except tf.errors.ResourceExhaustedError as error:
            full = "No space left on device" in error.message
            raise TrainingError("%s: %s at step %d; the last complete checkpoint (step %d) is kept"
                                % (run_dir, "no space left on device" if full else
                                   "out of memory (%s)" % error_line(error),
                                   progress.step or 0, latest_step(run_dir)))
        finally:
            progress.close()
    if task is not None:
        done = progress.losses
        log("%r ran %d steps (global step %s -> %s), loss %.3f -> %.3f (first / last 10 mean)"
            % (task, len(done), progress.first_step, progress.step, _mean(done[:10]),
               _mean(done[-10:])))
    return latest_step(run_dir) if chief else progress.step


def _mean(values):
    return sum(values) / len(values) if values else float("nan")


def _mean_rgb(config):
    mean = config.convention.mean
    return tuple(mean[::-1]) if config.convention.channel_order == "BGR" else tuple(mean)
