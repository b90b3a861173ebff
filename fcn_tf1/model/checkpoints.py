"""The checkpoints of a run folder, wherever the folder is now, and their faults in one line.

TensorFlow's ``checkpoint`` file names checkpoints by the path they were saved under, absolute when
the run was trained under an absolute ``--checkpoint-root``; a run moved or copied since would point
at its old place. Here a checkpoint is always looked up by its name inside the folder, and training
writes the file with relative names.
"""
import os

from fcn_tf1.ground.tf_compat import error_line, tf
from fcn_tf1.numbers import vgg16_weights


def listed(run_dir):
    """The checkpoint prefixes the run's ``checkpoint`` file lists, oldest first, as paths in
    ``run_dir`` (whatever folder they were saved in), those whose files exist."""
    state = tf.train.get_checkpoint_state(run_dir)
    if state is None:
        return []
    names = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    if state.model_checkpoint_path not in names:
        names.append(state.model_checkpoint_path)
    paths = [os.path.join(run_dir, os.path.basename(name)) for name in names if name]
    return [path for path in paths if tf.train.checkpoint_exists(path)]


def latest(run_dir):
    """The latest checkpoint prefix of ``run_dir``, or None."""
    paths = listed(run_dir)
    return paths[-1] if paths else None


def chosen(run_dir, checkpoint=None):
    """``checkpoint``, else the run's latest; a one-line ValueError when the run has none."""
    path = checkpoint or latest(run_dir)
    if not path:
        raise ValueError("%s: no checkpoint (model.ckpt-*) in the run folder" % run_dir)
    return path


def step_of(path):
    return int(path.rsplit("-", 1)[1]) if path else 0


def relocate(run_dir):
    """Rewrite the run's ``checkpoint`` file with names relative to the folder (a run trained
    under an absolute path, then moved, resumes where it is)."""
    paths = listed(run_dir)
    if paths:  # an absolute folder: TensorFlow rewrites names relative to a relative one
        tf.train.update_checkpoint_state(os.path.abspath(run_dir), os.path.basename(paths[-1]),
                                         [os.path.basename(p) for p in paths])


def restore(saver, session, path):
    """``saver.restore`` with a fault named by its file in one line, offering an older checkpoint
    of the same folder where there is one."""
    try:
        saver.restore(session, path)
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError, tf.errors.NotFoundError,
            tf.errors.InvalidArgumentError) as error:
        raise ValueError(damaged(path, error))


def damaged(path, error):
    """What to say of a checkpoint that cannot be read."""
    older = [p for p in listed(os.path.dirname(path) or ".") if step_of(p) < step_of(path)]
    advice = ("; the run also holds %s: pass --checkpoint %s (export / evaluate), or delete %s.* "
              "to resume training from it" % (older[-1], older[-1], path)) if older else ""
    return "%s: cannot be read, truncated or damaged (%s)%s" % (path, error_line(error), advice)


def read_vgg16(path, width=1.0):
    """``numbers.vgg16_weights.read_vgg16`` with TensorFlow's checkpoint reader, so that TF-slim's
    ``vgg_16.ckpt`` reads too (the numbers layer has no TensorFlow)."""
    return vgg16_weights.read_vgg16(path, width, open_checkpoint=tf.train.NewCheckpointReader)
