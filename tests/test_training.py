"""Training: learning, recipes, resume, kill -9, NaN stops, init from a coarser FCN, the CLI."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fcn_tf1 import cli
from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import LOCK_FILE
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.train import main as train_main
from fcn_tf1.workflows import evaluation, hooks, initialisation, recipes, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(batch_size=2, crop_size=(48, 48), save_every=5, summary_every=5)


def tiny(variant="fcn8s", width=1 / 16., **overrides):
    options = recipes.options_for("quick", **dict(TINY, **overrides))
    return ModelConfig(5, variant, width, class_names=SyntheticDataset.class_names), options


def losses(run_dir):
    """(step, loss) pairs from the run's TensorBoard events."""
    pairs = []
    for name in sorted(os.listdir(run_dir)):
        if name.startswith("events.out"):
            for event in tf.train.summary_iterator(os.path.join(run_dir, name)):
                pairs += [(event.step, v.simple_value) for v in event.summary.value
                          if v.tag == "loss"]
    return sorted(pairs)


def test_resume_keeps_the_global_step(tmp_path):
    config, options = tiny(steps=6)
    run = str(tmp_path / "run")
    assert training.train(run, config, SyntheticDataset("train", 8), options) == 6
    options = options._replace(steps=9)
    assert training.train(run, config, SyntheticDataset("train", 8), options) == 9
    assert training.latest_step(run) == 9
    other, _ = tiny("fcn32s")
    with pytest.raises(training.TrainingError, match="holds a different model"):
        training.train(run, other, SyntheticDataset("train", 8), options)


def test_nan_loss_stops_with_the_step_and_keeps_the_checkpoint(tmp_path):
    config, options = tiny(steps=5, save_every=2)
    run = str(tmp_path / "run")
    training.train(run, config, SyntheticDataset("train", 8), options)
    before = tf.train.latest_checkpoint(run)
    options = options._replace(steps=50, optimizer="sgd", learning_rate=1e30)
    with pytest.raises(training.TrainingError, match=r"loss is NaN or Inf at step \d+.*kept"):
        training.train(run, config, SyntheticDataset("train", 8), options)
    # The last good checkpoint still loads and holds finite values.
    reader = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(run))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        assert np.all(np.isfinite(value)), name
    assert before is not None


def test_gradient_accumulation_applies_once_per_k_images(tmp_path):
    config, options = tiny(steps=3, accumulate=4, batch_size=1, crop_size=None,
                           optimizer="momentum", learning_rate=1e-4)
    run = str(tmp_path / "run")
    assert training.train(run, config, SyntheticDataset("train", 8), options) == 3


def test_heavy_learning_does_not_diverge(tmp_path):
    """The reference recipe (summed loss, momentum 0.99, lr 1e-10 / 1e-12 / 1e-14) stays finite
    and does not climb, where ports that normalised differently report divergence. One image over
    and over, so that the loss curve is not the size of whichever image came next."""
    for variant in ("fcn32s", "fcn8s"):
        options = recipes.options_for("heavy", steps=40, save_every=40, summary_every=1)
        config = ModelConfig(5, variant, 1 / 16., class_names=SyntheticDataset.class_names)
        run = str(tmp_path / variant)
        training.train(run, config, SyntheticDataset("train", 1, min_side=80, max_side=80),
                       options)
        values = np.array([loss for _, loss in losses(run)])
        assert len(values) >= 35 and np.all(np.isfinite(values))
        assert values[-10:].mean() <= values[:10].mean() * 1.05
        # It did learn: the zero-initialised classifier moved (the backbone's gradient starts at
        # zero behind it, so from scratch the tiny rates barely reach it).
        last = tf.train.NewCheckpointReader(run + "/model.ckpt-40")
        assert last.get_tensor("score_fr/kernel").any()


def test_init_from_a_coarser_fcn_copies_shared_variables(tmp_path):
    config32, options = tiny("fcn32s", steps=3)
    run32 = str(tmp_path / "fcn32s")
    training.train(run32, config32, SyntheticDataset("train", 8), options)
    messages = []
    init = initialisation.CheckpointInit(run32, log=messages.append)
    config16, _ = tiny("fcn16s")
    run16 = str(tmp_path / "fcn16s")
    training.train(run16, config16, SyntheticDataset("train", 8), options._replace(steps=1), init)
    assert "new: score_pool4/bias, score_pool4/kernel, upscore16/kernel, upscore2/kernel" in messages[0]
    old = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(run32))
    new = tf.train.NewCheckpointReader(run16 + "/model.ckpt-0")
    np.testing.assert_array_equal(old.get_tensor("conv3_2/kernel"), new.get_tensor("conv3_2/kernel"))
    np.testing.assert_array_equal(old.get_tensor("score_fr/kernel"), new.get_tensor("score_fr/kernel"))


def test_quick_preset_learns(tmp_path):
    """A short run of the default preset must already segment well above chance."""
    config, options = tiny(steps=300, width=0.125, batch_size=8, crop_size=(64, 64))
    run = str(tmp_path / "run")
    training.train(run, config, SyntheticDataset("train", 200), options)
    result = evaluation.evaluate_run(run, SyntheticDataset("val", 30))
    assert result["mean_iou"] > 0.45, result
    assert os.path.exists(os.path.join(run, "eval", "metrics.json"))
    values = [loss for _, loss in losses(run)]
    assert np.mean(values[-5:]) < 0.6 * np.mean(values[:2])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C, docker stop
def test_a_stop_signal_saves_a_checkpoint_and_the_rerun_resumes_from_it(tmp_path, monkeypatch,
                                                                        signum):
    config, options = tiny(steps=50, save_every=1000)  # no checkpoint but the one the stop saves
    run, messages = str(tmp_path / "run"), []
    after_run = hooks.Progress.after_run
    found = signal.getsignal(signum)  # SIG_IGN where the parent ran us in the background

    def stop_at_step_3(self, run_context, run_values):
        after_run(self, run_context, run_values)
        if self.step == 3:
            os.kill(os.getpid(), signum)  # to the process, as Ctrl-C or a scheduler sends it
    monkeypatch.setattr(hooks.Progress, "after_run", stop_at_step_3)
    with pytest.raises(training.Interrupted, match="interrupted at step [34]; checkpoint saved") \
            as stopped:
        training.train(run, config, SyntheticDataset("train", 8), options)
    assert stopped.value.signum == signum
    saved = training.latest_step(run)
    assert saved in (3, 4)  # the step the signal came in, or the one already running
    assert signal.getsignal(signum) is found  # the handler it found put back
    monkeypatch.undo()
    if signum == signal.SIGTERM:
        return  # resuming is the same whatever stopped it
    training.train(run, config, SyntheticDataset("train", 8), options._replace(steps=saved + 2),
                   log=messages.append)
    assert messages[0].startswith("resuming %s from step %d" % (run, saved))
    assert training.latest_step(run) == saved + 2


def test_a_second_interrupt_exits_at_once(monkeypatch):
    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    stop = training.StopRequests()
    stop.handle(signal.SIGTERM)
    assert stop.signum == signal.SIGTERM and exits == []
    stop.handle(signal.SIGINT)
    assert exits == [128 + signal.SIGINT]


def test_a_moved_run_exports_and_resumes_and_a_damaged_checkpoint_is_named(tmp_path, monkeypatch):
    from fcn_tf1.workflows import export_writers
    config, options = tiny(steps=2, save_every=1)
    old = str(tmp_path / "old" / "run")
    training.train(old, config, SyntheticDataset("train", 8), options)
    # As a run of 0.3.0 wrote it: absolute paths in TensorFlow's checkpoint file.
    tf.train.update_checkpoint_state(old, old + "/model.ckpt-2", [old + "/model.ckpt-1",
                                                                  old + "/model.ckpt-2"])
    monkeypatch.chdir(str(tmp_path))
    run = "moved"  # relative, as --checkpoint-root's default is
    # As another process would: this one's lock on the folder ends with it.
    fileutil._LOCKS.pop(os.path.realpath(os.path.join(old, LOCK_FILE))).close()
    shutil.move(old, run)
    export_writers.export_frozen(run, str(tmp_path / "m.pb"))  # found where it is now
    training.train(run, config, SyntheticDataset("train", 8), options._replace(steps=3))
    assert training.latest_step(run) == 3  # resumed at 2, not started again
    assert 'model_checkpoint_path: "model.ckpt-3"' in open(os.path.join(run, "checkpoint")).read()
    data = [n for n in os.listdir(run) if n.startswith("model.ckpt-3.data")][0]
    with open(os.path.join(run, data), "r+b") as f:
        f.truncate(100)
    latest = os.path.join(run, "model.ckpt-3")
    with pytest.raises(ValueError, match="%s: cannot be read, truncated or damaged .*pass "
                                         "--checkpoint %s" % (latest, latest[:-1] + "2")):
        export_writers.export_frozen(run, str(tmp_path / "m2.pb"))
    with pytest.raises(training.TrainingError, match="%s: cannot be read" % latest):
        training.train(run, config, SyntheticDataset("train", 8), options._replace(steps=4))
    export_writers.export_frozen(run, str(tmp_path / "m2.pb"), checkpoint=latest[:-1] + "2")


def _run_cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "fcn_tf1.train"] + args, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kwargs)


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    args = ["--checkpoint-root", str(tmp_path), "--run", "k", "--width", "0.0625", "--steps",
            "400", "--save-every", "10", "--no-eval", "--no-export"]
    proc = subprocess.Popen([sys.executable, "-m", "fcn_tf1.train"] + args, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = str(tmp_path / "k")
    deadline = time.time() + 120
    while training.latest_step(run) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = training.latest_step(run)
    assert 20 <= killed_at < 400
    # The latest checkpoint loads, then a re-run resumes from it and finishes.
    reader = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(run))
    assert reader.get_tensor("global_step") == killed_at
    result = _run_cli(args[:-4] + ["--steps", str(killed_at + 5), "--no-eval", "--no-export"])
    assert result.returncode == 0, result.stderr
    assert training.latest_step(run) == killed_at + 5


@pytest.mark.slow
def test_default_command_end_to_end(tmp_path):
    """The README's train command with fewer steps: progress, metrics, checkpoints, summaries and a
    frozen graph under checkpoints/<run>/."""
    result = _run_cli(["--checkpoint-root", str(tmp_path), "--steps", "500"])
    assert result.returncode == 0, result.stderr
    run = tmp_path / "synthetic-fcn8s"
    assert "train: 100%" in result.stderr and "step/s" in result.stderr
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou"):
        assert key in result.stdout
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["mean_iou"] > 0.7, metrics
    assert (run / "frozen_model.pb").stat().st_size > 0 and (run / "model.json").exists()
    assert any(name.startswith("events.out") for name in os.listdir(str(run)))
    assert "WARNING" not in result.stderr and "cpu_feature_guard" not in result.stderr
    # The commands it prints next work as printed, from a shell in the same folder, on a folder
    # of photos of mixed sizes, with the labels of TensorFlow (whatever the default runtime).
    from PIL import Image
    from fcn_tf1.model.models import FrozenModel
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    scenes = [SyntheticDataset("val", 6).load(i)[0] for i in range(6)]
    for i, scene in enumerate(scenes):
        Image.fromarray(scene).resize((61 + 10 * i, 47 + 7 * i)).save(str(photos / ("%d.jpg" % i)))
    lines = result.stdout.split("next:\n", 1)[1].strip().splitlines()
    assert [line.split()[2] for line in lines] == ["fcn_tf1.evaluate", "fcn_tf1.predict"]
    for line in lines:
        command = line.replace("YOUR_IMAGES/", str(photos)).replace(
            "--output-dir masks", "--output-dir %s" % masks)
        done = subprocess.run(command, shell=True, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"})
        assert done.returncode == 0, (command, done.stderr)
    with FrozenModel(str(run / "frozen_model.pb"), "tf") as model:
        for i in range(len(scenes)):
            image = np.asarray(Image.open(str(photos / ("%d.jpg" % i))))
            mask = np.asarray(Image.open(str(masks / ("%d.png" % i))))
            assert (mask == model.predict(image)).mean() >= 0.999


def test_check_data_and_bad_flags(tmp_path, capsys):
    assert train_main(["--check-data", "--synthetic-size", "20"]) == 0
    assert "data ok: 20 training" in capsys.readouterr().out
    assert train_main(["--data", "voc"]) == 1
    assert "--data voc needs --data-dir" in capsys.readouterr().err
    assert train_main(["--data", "voc", "--data-dir", str(tmp_path / "nope")]) == 1
    assert "no such directory" in capsys.readouterr().err
    os.makedirs(str(tmp_path / "voc"))
    assert train_main(["--data", "voc", "--data-dir", str(tmp_path / "voc")]) == 1
    assert "train.txt: no such split file" in capsys.readouterr().err
    # A model that cannot be built is refused before the run folder exists.
    assert train_main(["--upsampling", "layers", "--shape-fix", "output_shape",
                       "--checkpoint-root", str(tmp_path / "ck")]) == 1
    assert ("shape_fix output_shape does not work with upsampling layers"
            in capsys.readouterr().err)
    assert not os.path.exists(str(tmp_path / "ck"))


def test_broken_voc_is_refused_before_training(tmp_path, capsys):
    from tests.helpers import write_voc
    root = write_voc(str(tmp_path / "voc"), ["a", "b"], label_value=30)
    with open(os.path.join(root, "ImageSets", "Segmentation", "val.txt"), "w") as f:
        f.write("a\n")
    assert train_main(["--data", "voc", "--data-dir", root, "--checkpoint-root",
                       str(tmp_path / "ck"), "--steps", "1", "--width", "0.0625"]) == 1
    err = capsys.readouterr().err
    assert "a.png: label values 30 outside 0..20" in err and "problem(s) in the data set" in err
    assert not os.path.exists(str(tmp_path / "ck"))


def test_every_check_passes_before_a_file_is_written(tmp_path, capsys):
    from tests.helpers import random_weights, write_caffe_npy
    root = tmp_path / "ck"
    write_caffe_npy(str(tmp_path / "vgg16.npy"), random_weights(1 / 16.))
    # VGG16 weights of another width: refused when read, before the run folder exists.
    assert train_main(["--vgg16-weights", str(tmp_path / "vgg16.npy"), "--width", "0.125",
                       "--checkpoint-root", str(root)]) == 1
    assert "a model of width 0.125 needs (3, 3, 3, 8)" in capsys.readouterr().err
    # A later stage's folder holding another model: refused before the first stage trains.
    ModelConfig(3, "fcn16s", 0.0625).save(str(root / "s" / "fcn16s"))
    assert train_main(["--staged", "--run", "s", "--width", "0.0625", "--steps", "1",
                       "--checkpoint-root", str(root)]) == 1
    assert "fcn16s holds a different model" in capsys.readouterr().err
    assert sorted(os.listdir(str(root / "s"))) == ["fcn16s"]


def test_a_failed_first_start_leaves_nothing(tmp_path, monkeypatch):
    def fails(*args):
        assert os.path.isfile(str(tmp_path / "ck" / "run" / "model.json"))  # it was written
        raise RuntimeError("the session could not start")
    monkeypatch.setattr(training, "_run", fails)
    config, options = tiny("fcn32s", steps=1)
    with pytest.raises(RuntimeError, match="could not start"):
        training.train(str(tmp_path / "ck" / "run"), config, SyntheticDataset("train", 4), options)
    assert os.listdir(str(tmp_path)) == []


def test_learning_options_are_checked_whole():
    assert recipes.options_for("heavy").rate_for("fcn16s") == 1e-12
    for bad, message in [(dict(steps=0), "--steps must be an integer >= 1, got 0"),
                         (dict(batch_size=2.5), "--batch-size must be an integer"),
                         (dict(momentum=1.0), "--momentum must be a number >= 0 and < 1"),
                         (dict(learning_rate=0.0), "--lr must be a number > 0"),
                         (dict(scale_range=(1.5, 0.5)), "--scale-range HIGH must be a number >= 1.5"),
                         (dict(crop_size=(0, 4)), "--crop-size must be an integer >= 1"),
                         (dict(optimizer="rmsprop"), "--optimizer must be one of momentum"),
                         (dict(class_weights=[1.0, -1.0]), "--class-weights must be a number >= 0"),
                         (dict(weight_decay=float("nan")), "--weight-decay must be a number")]:
        with pytest.raises(ValueError, match=message):
            recipes.options_for("quick", **bad)


@pytest.mark.slow
def test_training_starts_from_a_pretrained_vgg16_file(tmp_path):
    from tests.helpers import random_weights, write_caffe_npy
    original = random_weights(1.0)
    path = str(tmp_path / "vgg16.npy")
    write_caffe_npy(path, original)
    init = initialisation.BackboneInit(path)
    assert init.convention.channel_order == "BGR"
    config = ModelConfig(5, "fcn32s", 1.0, convention=init.convention,
                         class_names=SyntheticDataset.class_names)
    options = recipes.options_for("cvpr", steps=1, crop_size=(64, 64), accumulate=1,
                                   save_every=1)
    run = str(tmp_path / "run")
    training.train(run, config, SyntheticDataset("train", 4), options, init)
    start = tf.train.NewCheckpointReader(run + "/model.ckpt-0")
    for layer in ("conv1_1", "conv4_3", "fc6", "fc7"):
        np.testing.assert_array_equal(start.get_tensor(layer + "/kernel"), original[layer][0])
        np.testing.assert_array_equal(start.get_tensor(layer + "/bias"), original[layer][1])
    assert not start.get_tensor("score_fr/kernel").any()
    assert ModelConfig.load(run).convention.channel_order == "BGR"
    with pytest.raises(ValueError, match="these pretrained weights need a model of width 1$"):
        training.train(str(tmp_path / "half"), ModelConfig(5, "fcn32s", 0.5), SyntheticDataset(
            "train", 4), options, init)
    assert not os.path.exists(str(tmp_path / "half"))  # refused at the build, before any write


def test_evaluate_cli_on_checkpoint_and_frozen_graph(tmp_path, capsys):
    from fcn_tf1.workflows import export_writers
    from fcn_tf1.evaluate import main as evaluate_main
    config, options = tiny(steps=3)
    run = str(tmp_path / "run")
    training.train(run, config, SyntheticDataset("train", 8), options)
    export_writers.export_frozen(run, str(tmp_path / "m.pb"))
    assert evaluate_main(["--checkpoint-dir", run, "--json", str(tmp_path / "a.json")]) == 0
    # The same TensorFlow, so the same numbers exactly (other runtimes differ at this 3-step
    # model's near-tied logits; tests/test_runtimes.py holds them to their tolerances).
    assert evaluate_main(["--graph", str(tmp_path / "m.pb"), "--runtime", "tf",
                          "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a == b and set(a["per_class_iou"]) == set(SyntheticDataset.class_names)
    assert "mean_iou" in capsys.readouterr().out
    assert evaluate_main(["--graph", str(tmp_path / "m.pb"), "--data", "voc"]) == 1
    assert "--data voc needs --data-dir" in capsys.readouterr().err


def test_staged_training_runs_32s_then_16s_then_8s(tmp_path, capsys):
    # tf.layers alone: its default shape fix (crop) comes with it.
    args = ["--staged", "--checkpoint-root", str(tmp_path), "--run", "s", "--width", "0.0625",
            "--steps", "2", "--synthetic-size", "8", "--no-eval", "--no-export",
            "--upsampling", "layers"]
    assert train_main(args) == 0
    out = capsys.readouterr().out
    for variant in ("fcn32s", "fcn16s", "fcn8s"):
        assert training.latest_step(str(tmp_path / "s" / variant)) == 2
        config = ModelConfig.load(str(tmp_path / "s" / variant))
        assert (config.variant, config.upsampling, config.shape_fix) == (variant, "layers", "crop")
    assert "next:\n  %s -m fcn_tf1.evaluate --checkpoint-dir %s" % (
        cli.python_command(), tmp_path / "s" / "fcn8s") in out
    assert "init from %s" % (tmp_path / "s" / "fcn32s") in out
    # FCN-8s starts from FCN-16s: the shared 2x upsampling came along.
    reader16 = tf.train.NewCheckpointReader(str(tmp_path / "s" / "fcn16s" / "model.ckpt-2"))
    reader8 = tf.train.NewCheckpointReader(str(tmp_path / "s" / "fcn8s" / "model.ckpt-0"))
    np.testing.assert_array_equal(reader16.get_tensor("upscore2/kernel"),
                                  reader8.get_tensor("upscore2/kernel"))
