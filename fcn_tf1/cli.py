"""Shared by the entry points: a quiet TensorFlow and one-line errors with a non-zero exit."""
import argparse
import os
import sys


def quiet_tensorflow():
    """Silence TensorFlow's C++ info logs and Python deprecation chatter (TF_CPP_MIN_LOG_LEVEL set by
    the user wins). Call before the first TensorFlow import of an entry point."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fcn_tf1.tf_compat import quiet
    quiet()


def cpu_cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def openmp_settings():
    """Intel's recommended OpenMP variables for TensorFlow's oneDNN build: one thread per core,
    threads that sleep after 1 ms, pinned compactly."""
    return {"OMP_NUM_THREADS": str(cpu_cores()), "KMP_BLOCKTIME": "1",
            "KMP_AFFINITY": "granularity=fine,compact,1,0"}


def openmp_defaults():
    """Apply ``openmp_settings`` where the user set nothing: with the oneDNN build
    (``pip install '.[intel]'``) they made FCN-8s inference 8 % faster here; the stock build has
    no OpenMP and ignores them. Call before the first TensorFlow import of an entry point."""
    for name, value in openmp_settings().items():
        os.environ.setdefault(name, value)


def run(main, prog):
    """Call ``main()``; expected failures become ``prog: error: <one line>`` and exit status 1."""
    from fcn_tf1.data.images import DataError
    try:
        return main() or 0
    except (ValueError, DataError, OSError, RuntimeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print("%s: error: %s" % (prog, message), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        return 130


def size_pair(text):
    """'H' or 'H,W' (or HxW) -> (H, W), for argparse."""
    try:
        parts = [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("expected H or H,W, got %r" % text)
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError("expected H or H,W with positive sizes, got %r" % text)
    return tuple(parts)


def float_pair(text):
    """'LOW,HIGH' -> (LOW, HIGH) with 0 < LOW <= HIGH, for argparse."""
    try:
        low, high = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LOW,HIGH, got %r" % text)
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError("expected 0 < LOW <= HIGH, got %r" % text)
    return low, high
