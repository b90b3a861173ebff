"""What C++ libraries write to file descriptor 2, held back where it is chatter."""
import contextlib
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
