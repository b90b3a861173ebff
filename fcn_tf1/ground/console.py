"""What C++ libraries write to file descriptors 1 and 2, held back where it is chatter."""
import contextlib
import ctypes
import ctypes.util
import os
import re
import sys
import tempfile

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
    "Parsing Inputs..."): C's stdio buffer is flushed into the void before the descriptor comes
    back, else it would reach the console at exit."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as void:
        os.dup2(void.fileno(), 1)
        try:
            yield
        finally:
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_stdio():
    name = ctypes.util.find_library("c")
    if name:
        ctypes.CDLL(name).fflush(None)
