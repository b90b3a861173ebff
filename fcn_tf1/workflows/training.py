"""The training loop: a run folder, tf.data input, checkpoints, resume, summaries, NaN stops.

``train`` runs in ``tf.train.MonitoredTrainingSession``: checkpoints every ``save_every`` steps (TF's
Saver writes them atomically, so a kill leaves the last complete one), summaries for TensorBoard, and a
re-run of the same command resumes from the latest checkpoint with the global step intact.
"""
import collections
import os
import signal
import threading

from fcn_tf1.data import registry
from fcn_tf1.data.pipeline import make_dataset
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import CONFIG_FILE, LOCK_FILE, OPTIONS_FILE
from fcn_tf1.ground.tf_compat import error_line, tf
from fcn_tf1.model import checkpoints
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.workflows import cluster, hooks
from fcn_tf1.workflows.optimisation import NOT_FINITE, build_train_op, combine_towers, tower_losses


# The training graph's parts that the session loop needs.
Built = collections.namedtuple("Built", "ops progress hooks variables scaffold")


class TrainingError(RuntimeError):
    """Training cannot go on (bad loss, bad options); the message says why and what is kept."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by SIGINT or SIGTERM after saving a checkpoint; ``signum`` says which."""

    def __init__(self, message, signum):
        super(Interrupted, self).__init__(message)
        self.signum = signum


class StopRequests(object):
    """While training: the first SIGINT (Ctrl-C) or SIGTERM asks the loop to stop after its step, so
    that the checkpoint hook saves on the way out; a second one ends the process at once. Only the
    main thread can take signals: elsewhere this does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum, self.saved = None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.saved = {s: signal.signal(s, self.handle) for s in self.SIGNALS}
        return self

    def handle(self, signum, frame=None):
        if self.signum is not None:
            os.write(2, b"\nfcn_tf1: second interrupt: exiting now, without saving\n")
            os._exit(128 + signum)
        self.signum = signum
        os.write(2, b"\nfcn_tf1: interrupted: saving a checkpoint after this step "
                    b"(interrupt again to exit at once)\n")

    def __exit__(self, *exc):
        for s, handler in self.saved.items():
            signal.signal(s, handler)


def check_run_dir(run_dir, config):
    """Refuse ``run_dir`` when it holds another model or files that are not a run's; reads only."""
    saved = os.path.join(run_dir, CONFIG_FILE)
    if os.path.isdir(run_dir):
        foreign = sorted(set(os.listdir(run_dir)) - {LOCK_FILE})
        if foreign and not os.path.exists(saved):
            raise TrainingError("%s: not empty and not an fcn_tf1 run folder (no %s, holds %s); "
                                "choose another --run" % (run_dir, CONFIG_FILE, foreign[0]))
        if os.path.exists(saved) and ModelConfig.load(run_dir) != config:
            raise TrainingError("%s holds a different model (%s); use another --run or delete it"
                                % (run_dir, saved))


def open_run_dir(run_dir, config):
    """Make or reopen ``run_dir`` for training ``config``: locked for this process's life (a second
    training on it is refused; the lock goes when the process dies), refused when it holds another
    model or files that are not a run's. A refusal leaves the folder as it was."""
    check_run_dir(run_dir, config)
    os.makedirs(run_dir, exist_ok=True)
    fileutil.lock_for_process(os.path.join(run_dir, LOCK_FILE),
                              "%s: another training is using this run folder" % run_dir)
    config.save(run_dir)


def latest_step(run_dir):
    return checkpoints.step_of(checkpoints.latest(run_dir))


def train(run_dir, config, source, options, init=None, log=print, task=None, devices=None):
    """Train ``config`` on ``source`` into ``run_dir`` until ``options.steps``; resumes if possible.

    ``init`` (``initialisation.BackboneInit`` or ``CheckpointInit``) fills a fresh run's variables; it
    is not used when a checkpoint exists. ``task`` (a ``cluster.Task``) trains as one replica of a
    cluster: variables on the ps tasks, this replica's shard of the data, the chief restoring and
    writing ``run_dir``. ``devices`` (e.g. ``["/gpu:0", "/gpu:1"]``) builds one tower per device,
    each on its own batch. Returns the last global step.
    """
    chief = task is None or task.is_chief
    if chief:  # the chief restores and writes the run folder; nothing is written before the build
        check_run_dir(run_dir, config)
    start = latest_step(run_dir) if chief else 0
    if start >= options.steps:
        return _already_done(run_dir, start, options, log)
    replicas = task.num_replicas if task else 1
    if len(source) < replicas:
        raise ValueError("the data set has %d images, fewer than the %d replicas of the cluster"
                         % (len(source), replicas))
    session_options = cluster.session_config(options.threads, task, sum(
        1 for d in devices or [] if d.lower().startswith("/cpu")))
    server = task.server(session_options) if task else None
    with tf.Graph().as_default():
        graph = _build(config, source, options, task, devices, init if chief and not start else None)
        made = fileutil.missing_folders(run_dir) if chief else []
        if chief:
            _open(run_dir, config, options, source, start, log)
        if not chief:
            cluster.wait_for_chief(server.target, graph.variables, session_options)
        try:
            _run(graph, run_dir, options, chief, server, session_options)
        except BaseException:
            if made and checkpoints.latest(run_dir) is None:
                fileutil.remove_made(made)  # a failed first start leaves nothing behind
            raise
        finally:
            graph.progress.close()
    progress = graph.progress
    if task is not None:
        done = progress.losses
        log("%r ran %d steps (global step %s -> %s), loss %.3f -> %.3f (first / last 10 mean)"
            % (task, len(done), progress.first_step, progress.step, _mean(done[:10]),
               _mean(done[-10:])))
    return latest_step(run_dir) if chief else progress.step


def _already_done(run_dir, start, options, log):
    log("%s is already at step %d (>= --steps %d): nothing to train"
        % (run_dir, start, options.steps))
    return start


def _open(run_dir, config, options, source, start, log):
    """Open the run folder (every check passed and the graph built), write the options (and a
    folder data set's split)."""
    open_run_dir(run_dir, config)
    fileutil.write_json(os.path.join(run_dir, OPTIONS_FILE), options.to_dict())
    registry.save_split(run_dir, source)
    checkpoints.relocate(run_dir)  # a run moved since it was trained resumes where it is now
    if start:
        log("resuming %s from step %d (its latest checkpoint) to step %d"
            % (run_dir, start, options.steps))


def _build(config, source, options, task, devices, init):
    """The training graph in the default graph: input, towers, update, summaries, hooks."""
    shard = task.replica_index if task else 0
    graph_device, tower_devices, input_device = cluster.placement(task, devices)
    with tf.device(graph_device):
        tf.set_random_seed(options.seed + shard)
        global_step = tf.train.get_or_create_global_step()
        with tf.device(input_device):
            dataset = make_dataset(source, options.batch_size, options.crop_size,
                                   options.flip, options.scale_range,
                                   seed=options.seed + shard, mean_rgb=_mean_rgb(config),
                                   num_shards=task.num_replicas if task else 1, shard_index=shard)
            iterator = tf.data.make_one_shot_iterator(dataset)
            batches = [iterator.get_next() for _ in tower_devices]
        losses, logits = tower_losses(config, batches, tower_devices, options.loss,
                                      class_weights=options.class_weights,
                                      is_training=True,
                                      train_upsampling=options.train_upsampling)
        variables = [v for v in tf.global_variables() if v is not global_step]
        fill = init.prepare(variables) if init else None
        rate = tf.constant(options.rate_for(config.variant), tf.float32,
                           name="learning_rate")
        ops = build_train_op(losses, options, rate, global_step,
                             task.num_replicas if task else 1, input_device)
        loss = combine_towers(losses, options.loss)
        labels, images = batches[0][1], batches[0][0]  # the first head's and input's
        images = next(iter(images.values())) if isinstance(images, dict) else images
        hooks.add_summaries(loss, ops.total, rate, images,
                            labels if labels.shape.ndims == 3 else labels[..., 0],
                            tf.argmax(logits, -1))
    progress = hooks.Progress(options.steps, loss, rate, global_step,
                              "train %r" % task if task else "train", show_ran=task is not None)
    run_hooks = [tf.train.StopAtStepHook(last_step=options.steps), progress]
    if isinstance(ops.optimizer, tf.train.SyncReplicasOptimizer):
        run_hooks.append(hooks.SyncReplicasHook(ops.optimizer, task is None or task.is_chief))
    scaffold = tf.train.Scaffold(init_fn=(lambda scaffold, session: fill(session)) if fill else None,
                                 saver=tf.train.Saver(max_to_keep=3, save_relative_paths=True))
    return Built(ops, progress, run_hooks, variables + [global_step], scaffold)


def _run(graph, run_dir, options, chief, server, session_options):
    """Run the built graph's updates until the stop hook says so; errors that end training become
    one-line ``TrainingError``s saying what is kept."""
    ops, progress = graph.ops, graph.progress
    try:
        with StopRequests() as stop, tf.train.MonitoredTrainingSession(
                master=server.target if server else "", is_chief=chief, checkpoint_dir=run_dir,
                scaffold=graph.scaffold, hooks=graph.hooks,
                save_checkpoint_steps=options.save_every,
                save_summaries_steps=options.summary_every, log_step_count_steps=0,
                config=session_options) as session:
            while not session.should_stop() and stop.signum is None:
                for _ in range(options.accumulate - 1):
                    session.run_step_fn(lambda step_context: step_context.session.run(ops.accumulate))
                session.run(ops.train)
        # Leaving the session normally ran the hooks' end(): the checkpoint hook saved this step.
        if stop.signum is not None:
            raise Interrupted("interrupted at step %d; %s; the same command resumes from there"
                              % (progress.step or 0, "checkpoint saved in %s" % run_dir if chief
                                 else "the chief keeps the checkpoints"), stop.signum)
    except tf.errors.InvalidArgumentError as error:
        if NOT_FINITE not in error.message:
            raise
        raise TrainingError("%s at step %d: training stopped before the update; the last "
                            "checkpoint (step %d) in %s is kept" % (
                                NOT_FINITE, (progress.step or 0) + 1, latest_step(run_dir), run_dir))
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as error:
        if "Restore" not in getattr(error.op, "name", ""):
            raise
        raise TrainingError(checkpoints.damaged(checkpoints.latest(run_dir), error))
    except tf.errors.ResourceExhaustedError as error:
        full = "No space left on device" in error.message
        raise TrainingError("%s: %s at step %d; the last complete checkpoint (step %d) is kept"
                            % (run_dir, "no space left on device" if full else
                               "out of memory (%s)" % error_line(error),
                               progress.step or 0, latest_step(run_dir)))


def _mean(values):
    return sum(values) / len(values) if values else float("nan")


def _mean_rgb(config):
    """What crops are padded with: the mean colour in RGB (zero once preprocessed), or
    {modality: it} of a model of several inputs (a depth map's 0, no reading, is also zero)."""
    def pad(convention):
        if convention.channel_order == "LOG":
            return (0.0,)
        mean = convention.mean
        return tuple(mean[::-1]) if convention.channel_order == "BGR" else tuple(mean)
    if len(config.inputs) == 1:
        return pad(config.convention)
    return {item.modality: pad(item.convention) for item in config.inputs}
