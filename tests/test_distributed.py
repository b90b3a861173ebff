"""Training on TensorFlow's cluster runtime (ps, chief, workers as processes on loopback) and
data-parallel towers on virtual CPU devices."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.workflows import cluster, optimisation, recipes, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Small and quick, but slow enough per step that every replica joins before the end.
TRAIN_ARGS = ["--synthetic-size", "48", "--width", "0.0625", "--crop-size", "48",
              "--batch-size", "2", "--save-every", "10", "--summary-every", "5", "--no-eval",
              "--no-export", "--threads", "1"]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Cluster(object):
    """Processes of one cluster; ``stop`` kills whatever still runs (also on test failure)."""

    def __init__(self, tmp_path, jobs, number=0):
        ports = iter(free_ports(sum(jobs.values())))
        self.spec = {job: ["127.0.0.1:%d" % next(ports) for _ in range(n)]
                     for job, n in jobs.items()}
        self.tmp_path, self.number, self.procs, self.logs = tmp_path, number, {}, {}

    def start(self, job, index, args):
        name = "%s:%d" % (job, index)
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG=json.dumps(
            {"cluster": self.spec, "task": {"type": job, "index": index}}))
        log = self.tmp_path / ("cluster%d-%s-%d.log" % (self.number, job, index))
        self.logs[name] = log
        with open(str(log), "w") as out:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "fcn_tf1.train"] + args, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=str(self.tmp_path))

    def start_all(self, args):
        for job in ("ps", "chief", "worker"):
            for index in range(len(self.spec.get(job, []))):
                self.start(job, index, args)

    def wait(self, name, timeout=300):
        try:
            code = self.procs[name].wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not finish in %d s:\n%s" % (name, timeout, self.log(name)))
        assert code == 0, "%s exited %d:\n%s" % (name, code, self.log(name))

    def log(self, name):
        return self.logs[name].read_text()

    def steps_ran(self, name):
        """From a task's closing line: (steps it ran, global step at its start, mean loss of its
        first 10 steps, of its last 10)."""
        match = re.search(re.escape(name) + r" ran (\d+) steps \(global step (\d+) -> \d+\), "
                          r"loss ([\d.]+) -> ([\d.]+)", self.log(name))
        assert match, "no closing line from %s:\n%s" % (name, self.log(name))
        return int(match.group(1)), int(match.group(2)), float(match.group(3)), \
            float(match.group(4))

    def steps_so_far(self, name):
        """How many steps the task has run itself so far, from its progress bar."""
        counts = re.findall(r"train %s: [^\r\n]*?ran=(\d+)" % re.escape(name), self.log(name))
        return max([int(c) for c in counts] or [0])

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.procs = {}


@pytest.fixture
def make_cluster(tmp_path):
    made = []

    def make(**jobs):
        made.append(Cluster(tmp_path, jobs, len(made)))
        return made[-1]
    yield make
    for c in made:
        c.stop()
    # No stray server: every port of every cluster can be listened on again.
    for c in made:
        for hosts in c.spec.values():
            for host in hosts:
                probe = socket.socket()
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", int(host.rpartition(":")[2])))
                    probe.listen(1)
                finally:
                    probe.close()


def restore_checkpoint(run_dir):
    """Load the latest checkpoint into the model that model.json describes: (global step, values)."""
    config = ModelConfig.load(str(run_dir))
    with tf.Graph().as_default():
        config.build(tf.placeholder(tf.float32, [1, 64, 64, 3]))
        step = tf.train.get_or_create_global_step()
        with tf.Session() as session:
            tf.train.Saver().restore(session, tf.train.latest_checkpoint(str(run_dir)))
            return session.run(step), session.run(tf.trainable_variables())


@pytest.mark.slow
def test_async_cluster_survives_a_killed_worker_and_resumes(tmp_path, make_cluster):
    run_dir = tmp_path / "checkpoints" / "dist"
    c = make_cluster(ps=1, chief=1, worker=2)
    c.start_all(TRAIN_ARGS + ["--run", "dist", "--steps", "300"])
    # Kill worker 1 once it has trained, long before the target.
    deadline = time.time() + 180
    while c.steps_so_far("worker:1") < 5:
        assert time.time() < deadline and c.procs["worker:1"].poll() is None, c.log("worker:1")
        time.sleep(0.05)
    c.procs["worker:1"].send_signal(signal.SIGKILL)
    c.wait("chief:0")
    c.wait("worker:0")
    assert c.procs["worker:1"].wait() == -signal.SIGKILL
    step, values = restore_checkpoint(run_dir)
    assert step >= 300 and all(np.isfinite(v).all() for v in values)
    chief, worker = c.steps_ran("chief:0"), c.steps_ran("worker:0")
    assert chief[0] > 0 and worker[0] > 0
    assert chief[0] + worker[0] < step  # the killed worker's steps count too
    assert worker[3] < 0.8 * worker[2]  # its loss fell
    c.stop()

    # The whole cluster again, with a higher target: it resumes from the checkpoint.
    c = make_cluster(ps=1, chief=1, worker=2)
    c.start_all(TRAIN_ARGS + ["--run", "dist", "--steps", "360"])
    for name in ("chief:0", "worker:0", "worker:1"):
        c.wait(name)
        ran, first = c.steps_ran(name)[:2]
        assert ran > 0 and first >= 300, (name, ran, first)
    assert restore_checkpoint(run_dir)[0] >= 360


@pytest.mark.slow
def test_sync_replicas_cluster(tmp_path, make_cluster):
    run_dir = tmp_path / "checkpoints" / "sync"
    c = make_cluster(ps=1, worker=2)  # no chief job: worker 0 is the chief
    c.start_all(TRAIN_ARGS + ["--run", "sync", "--steps", "30", "--sync-replicas"])
    c.wait("worker:0")
    c.wait("worker:1")
    step, _ = restore_checkpoint(run_dir)
    assert step >= 30
    # Synchronous: every update took one gradient from each worker.
    for name in ("worker:0", "worker:1"):
        assert c.steps_ran(name)[0] >= 30, c.log(name)
    assert json.loads((run_dir / "options.json").read_text())["sync_replicas"] is True


def test_tf_config_and_flags():
    spec = {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"]}
    tasks = [cluster.from_tf_config(json.dumps({"cluster": spec, "task": {"type": t, "index": i}}))
             for t, i in (("chief", 0), ("worker", 0), ("worker", 1), ("ps", 0))]
    assert [t.is_chief for t in tasks] == [True, False, False, False]
    assert [t.replica_index for t in tasks[:3]] == [0, 1, 2]
    assert tasks[0].num_replicas == 3 and tasks[2].device == "/job:worker/task:1"
    classic = cluster.from_flags(ps_hosts="h:4", worker_hosts="h:2,h:3", job_name="worker")
    assert classic.is_chief and classic.num_replicas == 2 and classic.replica_index == 0
    assert cluster.current_task(environ={}) is None
    assert cluster.from_tf_config('{"task": {"type": "worker"}}') is None  # no cluster: local


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"cluster": {"evaluator": ["h:1"]}, "task": {"type": "evaluator"}}', "'evaluator' is not"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 1}}', "out of range"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "ps", "index": 0}}', "not a job"),
    ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker"}}', "host:port"),
    ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps"}}', "needs a chief or a worker"),
    ('{"cluster": {"worker": ["h:1"]}}', "'task' must be"),
    ("[1, 2]", "must be a JSON object"),
    ('"worker"', "must be a JSON object"),
    ("null", "must be a JSON object"),
])
def test_bad_tf_config_is_refused_naming_the_problem(text, message):
    with pytest.raises(cluster.ClusterError, match=message):
        cluster.from_tf_config(text)


def test_cli_refuses_bad_cluster_settings(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG='{"cluster": {"worker": ["h:1"]}, '
                                                      '"task": {"type": "worker", "index": 3}}')
    for args, extra_env, expected in (
            ([], env, "TF_CONFIG: task index 3 is out of range"),
            (["--worker-hosts", "127.0.0.1:1"], None, "--job-name is needed"),
            (["--num-gpus", "64"], None, "--num-gpus 64: this TensorFlow sees")):
        result = subprocess.run([sys.executable, "-m", "fcn_tf1.train"] + args,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, env=extra_env or dict(
                                    os.environ, PYTHONPATH=ROOT), cwd=str(tmp_path))
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1].startswith("fcn_tf1.train: error: " + expected)
    assert not (tmp_path / "checkpoints").exists()


def _one_step(config, devices, batches, options, init_path):
    """Variables after one update of towers on ``devices`` from the values saved in init_path."""
    with tf.Graph().as_default():
        global_step = tf.train.get_or_create_global_step()
        graph_device, towers, _ = cluster.placement(None, devices)
        with tf.device(graph_device):
            losses, _ = optimisation.tower_losses(
                config, [(tf.constant(i), tf.constant(l)) for i, l in batches], towers,
                options.loss, is_training=False)  # no dropout: the two runs must match
            train_op = optimisation.build_train_op(losses, options, 0.01, global_step).train
        placed = {op.name: op.device for op in tf.get_default_graph().get_operations()}
        cpus = sum(1 for d in devices or [] if d.startswith("/cpu"))
        with tf.Session(config=cluster.session_config(cpu_devices=cpus)) as session:
            tf.train.Saver().restore(session, init_path)
            session.run(train_op)
            return session.run({v.op.name: v for v in tf.trainable_variables()}), placed


def test_towers_on_virtual_cpus_match_one_device(tmp_path):
    config = ModelConfig(4, "fcn8s", width=0.0625)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (2, 40, 40, 3)).astype(np.uint8)
    labels = rng.randint(0, 4, (2, 40, 40)).astype(np.uint8)
    labels[:, :5] = 255  # void pixels count in neither run
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        config.build(tf.placeholder(tf.float32, [1, 40, 40, 3]), is_training=False)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            init_path = tf.train.Saver().save(session, str(tmp_path / "init"))
    for loss in ("sum", "mean"):
        options = recipes.options_for(optimizer="sgd", loss=loss, weight_decay=5e-4,
                                       bias_lr_mult=2.0)
        # Tower 0 on the second CPU: the shared variables must still go to the first.
        towers, placed = _one_step(config, ["/cpu:1", "/cpu:0"],
                                   [(images[:1], labels[:1]), (images[1:], labels[1:])],
                                   options, init_path)
        if loss == "sum":  # a summed loss over a batch of two is the sum of the towers' losses
            single, _ = _one_step(config, None, [(images, labels)], options, init_path)
        else:  # a normalised loss: the towers' mean is the mean of the per-image means
            single_a, _ = _one_step(config, None, [(images[:1], labels[:1])], options, init_path)
            single_b, _ = _one_step(config, None, [(images[1:], labels[1:])], options, init_path)
            single = {k: (single_a[k] + single_b[k]) / 2 for k in single_a}
        assert sorted(towers) == sorted(single)
        for name in towers:
            np.testing.assert_allclose(towers[name], single[name], rtol=1e-4, atol=1e-6,
                                       err_msg="%s (%s loss)" % (name, loss))
    assert placed["conv1_1/Conv2D"].lower().endswith("cpu:1")
    assert placed["tower_1/conv1_1/Conv2D"].lower().endswith("cpu:0")
    assert placed["conv1_1/kernel"].lower().endswith("cpu:0")


def test_train_with_towers(tmp_path):
    from fcn_tf1.data.synthetic import SyntheticDataset
    config = ModelConfig(SyntheticDataset("train", 8).num_classes, "fcn8s", width=0.0625)
    options = recipes.options_for("quick", steps=6, save_every=3, crop_size=(32, 32),
                                   batch_size=2)
    run_dir = str(tmp_path / "towers")
    step = training.train(run_dir, config, SyntheticDataset("train", 8), options,
                          devices=["/cpu:0", "/cpu:1"], log=lambda *a: None)
    assert step == 6 == training.latest_step(run_dir)
    names = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(run_dir)) \
        .get_variable_to_shape_map()
    assert "conv1_1/kernel" in names and not any(n.startswith("tower_") for n in names)
