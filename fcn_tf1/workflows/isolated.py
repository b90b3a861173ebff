"""A function of fcn_tf1 run in a fresh Python process, JSON in and out: a measurement gets a clean
peak memory and its own environment (OpenMP reads its variables at start), and the interpreter can
be another venv's (TensorFlow 1.15 beside 2.x).

    call("fcn_tf1.workflows.benchmark:measure", {"variant": "fcn8s", "size": [64, 64]}, python=...)

The child reads ``{"function": "module:name", "kwargs": {...}}`` on stdin and writes the result as
JSON on stdout; anything else the function prints goes to stderr.
"""
import importlib
import json
import os
import subprocess
import sys

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def call(function, kwargs=None, python=None, env=None, unset=()):
    """``function`` ("fcn_tf1.<module>:<name>") called with ``kwargs`` in a fresh process of
    ``python`` (default: this interpreter) with ``env`` added and ``unset`` removed; returns its
    result."""
    environ = dict(os.environ, **(env or {}))
    for name in unset:
        environ.pop(name, None)
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environ["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT] + [p for p in [
        os.environ.get("PYTHONPATH")] if p])
    request = json.dumps({"function": function, "kwargs": kwargs or {}})
    result = subprocess.run([python or sys.executable, "-m", "fcn_tf1.workflows.isolated"],
                            input=request, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=environ)
    if result.returncode != 0:
        raise RuntimeError("%s in a fresh process failed: %s" % (
            function, (result.stderr.strip().splitlines() or ["no output"])[-1]))
    return json.loads(result.stdout)


def serve(stdin=sys.stdin, stdout=sys.stdout):
    """The child's side: one request from ``stdin``, its result to ``stdout``."""
    request = json.load(stdin)
    module, _, name = request["function"].partition(":")
    if not module.startswith("fcn_tf1."):
        raise ValueError("only fcn_tf1's functions run here, not %r" % request["function"])
    from fcn_tf1.ground import tf_versions
    tf_versions.choose_keras_2()
    # Whatever else writes to stdout (a print, TensorFlow's C++ code) goes to stderr meanwhile.
    sys.stdout.flush()
    saved, saved_fd = sys.stdout, os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        result = getattr(importlib.import_module(module), name)(**request["kwargs"])
    finally:
        sys.stdout.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        sys.stdout = saved
    json.dump(result, stdout)


if __name__ == "__main__":
    serve()
