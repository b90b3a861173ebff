"""What C++ libraries write to file descriptors 1 and 2, held back where it is chatter."""
import contextlib
import os
import re
import sys
import tempfile

from fcn_tf1.ground.machine import libc

EVERYTHING = re.compile("")


@contextlib.contextmanager
def stderr_without(noise):
    """Hold back what is written to file descriptor 2 (C++ logs included), then pass it on but for
    the lines that ``noise`` matches (``EVERYTHING``: none)."""
    if noise is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", "replace").splitlines(True):
                if not noise.match(line):
                    sys.stderr.write(line)


@contextlib.contextmanager
def stdout_silenced():
    """Drop what C++ code prints to file descriptor 1 meanwhile (TensorFlow's profiler says
    "Parsing Inputs..."); C's stdio buffer is flushed into the void too before the descriptor
    comes back, so that nothing printed meanwhile can reach the console later."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as void:
        os.dup2(void.fileno(), 1)
        try:
            yield
        finally:
            if libc() is not None:
                libc().fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
