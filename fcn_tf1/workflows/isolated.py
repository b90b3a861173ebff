"""A function of fcn_tf1 run in a fresh Python process, JSON in and out: a measurement gets a clean
peak memory and its own environment (OpenMP reads its variables at start), and the interpreter can
be another venv's (TensorFlow 1.15 beside 2.x).

    call("fcn_tf1.workflows.benchmark:measure", {"variant": "fcn8s", "size": [64, 64]}, python=...)

The child reads ``{"function": "module:name", "kwargs": {...}, "reply": PATH}`` on stdin and writes
the result as JSON to the file PATH, a channel of its own: whatever the child or its libraries print
(to stdout too, buffered until exit when PYTHONUNBUFFERED is unset) goes to stderr, never into it.
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile

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
    with tempfile.TemporaryDirectory(prefix="fcn_tf1_call_") as work:
        reply = os.path.join(work, "reply.json")
        request = json.dumps({"function": function, "kwargs": kwargs or {}, "reply": reply})
        result = subprocess.run([python or sys.executable, "-m", "fcn_tf1.workflows.isolated"],
                                input=request, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, env=environ)
        if result.returncode != 0 or not os.path.exists(reply):
            raise RuntimeError("%s in a fresh process failed: %s" % (
                function, (result.stdout.strip().splitlines() or ["no output"])[-1]))
        with open(reply) as f:
            return json.load(f)


def serve(stdin=sys.stdin):
    """The child's side: one request from ``stdin``, its result to the request's reply file.
    Anything printed to stdout meanwhile (Python or C++) goes to stderr."""
    request = json.load(stdin)
    module, _, name = request["function"].partition(":")
    if not module.startswith("fcn_tf1."):
        raise ValueError("only fcn_tf1's functions run here, not %r" % request["function"])
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from fcn_tf1.ground import tf_versions
    tf_versions.choose_keras_2()
    result = getattr(importlib.import_module(module), name)(**request["kwargs"])
    with open(request["reply"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    serve()
