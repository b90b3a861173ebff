"""TensorFlow's own cluster runtime: TF_CONFIG (or flags), a ``tf.train.Server`` per task, and where
variables and ops go under between-graph replication.

A cluster has ``ps`` tasks (they hold the variables and only serve), a ``chief`` (a worker that also
initialises or restores the variables and writes checkpoints and summaries) and ``worker`` tasks.
Without a ``chief`` job, worker 0 is the chief, as in TF1's classic ``--job_name/--task_index``
launchers. Every process gets the same cluster and its own task::

    TF_CONFIG='{"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"],
                            "ps": ["host2:2222"]},
                "task": {"type": "worker", "index": 0}}'
"""
import json
import os
import sys
import time

from fcn_tf1.ground.names import CLUSTER_JOBS as JOBS
from fcn_tf1.ground.tf_compat import tf

VARIABLE_OPS = ("Variable", "VariableV2", "VarHandleOp")
EXPOSURE_WARNING = ("fcn_tf1.train: warning: %r starts a TensorFlow server on port %s of every "
                    "network interface; anyone who reaches it can run operations as this user: "
                    "run clusters on a private network or behind a network policy")


def _warn(line):
    print(line, file=sys.stderr)


class ClusterError(ValueError):
    """A TF_CONFIG or cluster flag that cannot describe a cluster; the message names it."""


class Task(object):
    """This process's place in a cluster: ``cluster`` ({job: [host:port]}), ``job`` and ``index``."""

    def __init__(self, cluster, job, index, source="TF_CONFIG"):
        if not isinstance(cluster, dict) or not cluster:
            raise ClusterError("%s: 'cluster' must map job names to lists of host:port" % source)
        for name, hosts in cluster.items():
            if name not in JOBS:
                raise ClusterError("%s: job %r is not supported (jobs: %s)"
                                   % (source, name, ", ".join(JOBS)))
            if not isinstance(hosts, list) or not hosts or not all(
                    isinstance(h, str) and h.rpartition(":")[2].isdigit() for h in hosts):
                raise ClusterError("%s: job %r needs a list of host:port, got %r"
                                   % (source, name, hosts))
        if len(cluster.get("chief", [])) > 1:
            raise ClusterError("%s: a cluster has at most one chief" % source)
        if not cluster.get("chief") and not cluster.get("worker"):
            raise ClusterError("%s: the cluster needs a chief or a worker" % source)
        if job not in cluster:
            raise ClusterError("%s: task type %r is not a job of the cluster (%s)"
                               % (source, job, ", ".join(sorted(cluster))))
        if not isinstance(index, int) or not 0 <= index < len(cluster[job]):
            raise ClusterError("%s: task index %r is out of range for job %r (%d tasks)"
                               % (source, index, job, len(cluster[job])))
        self.cluster, self.job, self.index = cluster, job, index

    def __repr__(self):
        return "%s:%d" % (self.job, self.index)

    @property
    def is_chief(self):
        return self.job == "chief" or (self.job == "worker" and self.index == 0
                                       and not self.cluster.get("chief"))

    @property
    def num_replicas(self):
        """Processes that train: the chief and the workers."""
        return len(self.cluster.get("chief", [])) + len(self.cluster.get("worker", []))

    @property
    def replica_index(self):
        """0 for the chief, then the workers in order: this task's data shard."""
        return self.index + len(self.cluster.get("chief", [])) if self.job == "worker" else 0

    @property
    def device(self):
        return "/job:%s/task:%d" % (self.job, self.index)

    def server(self, config=None, log=None):
        """Start this task's ``tf.train.Server`` (it serves until the process ends), with a
        warning: TF1's gRPC server listens on every interface and runs any op it is sent."""
        (log or _warn)(EXPOSURE_WARNING % (self, self.cluster[self.job][self.index].rpartition(":")[2]))
        return tf.train.Server(tf.train.ClusterSpec(self.cluster), job_name=self.job,
                               task_index=self.index, config=config)

    def device_setter(self, worker_device=None):
        """Variables round-robin on the ps tasks, every other op on this task's device."""
        if not self.cluster.get("ps"):
            return worker_device or self.device
        return tf.train.replica_device_setter(worker_device=worker_device or self.device,
                                              cluster=tf.train.ClusterSpec(self.cluster))


def from_tf_config(text):
    """The ``Task`` in a TF_CONFIG string, or None when it names no cluster."""
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ClusterError("TF_CONFIG is not valid JSON (%s)" % error)
    if not isinstance(config, dict):
        raise ClusterError("TF_CONFIG must be a JSON object {\"cluster\": ..., \"task\": ...}, "
                           "got %s" % type(config).__name__)
    if not config.get("cluster"):
        return None
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task:
        raise ClusterError("TF_CONFIG: 'task' must be {\"type\": ..., \"index\": ...}")
    return Task(config["cluster"], task["type"], task.get("index", 0))


def from_flags(ps_hosts=None, worker_hosts=None, chief_host=None, job_name=None, task_index=0):
    """The ``Task`` of the classic flags (comma-separated host:port lists), or None without any."""
    if not (ps_hosts or worker_hosts or chief_host or job_name):
        return None
    if not job_name:
        raise ClusterError("--job-name is needed with cluster flags (chief, worker or ps)")
    cluster = {job: hosts.split(",") for job, hosts in (
        ("ps", ps_hosts), ("worker", worker_hosts), ("chief", chief_host)) if hosts}
    return Task(cluster, job_name, task_index, source="cluster flags")


def current_task(flags=None, environ=None):
    """The cluster task from flags (a dict of ``from_flags`` arguments) or TF_CONFIG; None if local."""
    task = from_flags(**(flags or {}))
    if task is None:
        environ = os.environ if environ is None else environ
        task = from_tf_config(environ["TF_CONFIG"]) if environ.get("TF_CONFIG") else None
    return task


def wait_for_chief(session_target, variables, config=None, timeout=7200, interval=1.0):
    """Block until the chief has initialised or restored ``variables`` on the ps tasks.

    MonitoredTrainingSession's own wait on a non-chief polls every 30 s; this polls every
    ``interval`` so a worker starts as soon as the model is ready.
    """
    missing = tf.report_uninitialized_variables(variables)
    deadline = time.time() + timeout
    with tf.Session(session_target, config=config) as session:
        while True:
            try:
                if not session.run(missing).size:
                    return
            except tf.errors.UnavailableError:
                pass  # a ps task is not up yet
            if time.time() > deadline:
                raise RuntimeError("the chief did not initialise the model within %d s" % timeout)
            time.sleep(interval)


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
