"""What a training run shows while it runs: a progress bar, TensorBoard summaries, and the
synchronous-replicas hook without its end-of-training stalls."""
from tqdm import tqdm

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.numbers.palette import voc_colormap


def colorize(labels):
    """uint8 RGB panels of label maps, void (255) included."""
    return tf.gather(tf.constant(voc_colormap()), tf.cast(labels, tf.int32))


def add_summaries(loss, total, rate, images, labels, prediction):
    tf.summary.scalar("loss", loss)
    tf.summary.scalar("total_loss", total)
    tf.summary.scalar("learning_rate", rate)
    tf.summary.image("image", images, max_outputs=2)
    tf.summary.image("label", colorize(labels), max_outputs=2)
    tf.summary.image("prediction", colorize(prediction), max_outputs=2)


class Progress(tf.train.SessionRunHook):
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


class SyncReplicasHook(tf.train.SessionRunHook):
    """SyncReplicasOptimizer's own hook, with no tokens up front (a fast replica cannot take a slow
    one's) and a coordinator of its own for the chief's queue runner (closing the session cancels
    the wait for gradients that no replica will send)."""

    def __init__(self, optimizer, chief):
        self._hook = optimizer.make_session_run_hook(chief, num_tokens=0)

    def begin(self):
        self._hook.begin()

    def after_create_session(self, session, coord):
        own = tf.train.Coordinator(clean_stop_exception_types=(tf.errors.OutOfRangeError,
                                                               tf.errors.CancelledError))
        self._hook.after_create_session(session, own)
