"""Writing files safely: atomic (a reader or a crash sees the old file or the new one, never half of
one), with the modes the umask gives, and never over a file fcn_tf1 did not write unless forced.

fcn_tf1 recognises its own outputs by a marker it writes into them (``MARKER``: a key of its JSON
files, a PNG text chunk, the config node of a graph), never by their look.
"""
import contextlib
import json
import mmap
import os
import shutil
import tempfile

from fcn_tf1.ground.names import CONFIG_NODE, MARKER


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _chmod_default(path, directory=False):
    """The mode ``open()`` / ``mkdir()`` would have given (mkstemp / mkdtemp make it private)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        _chmod_default(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_json(path, data):
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def replace_dir(build, path):
    """Build a directory with ``build(tmp_dir)`` and move it to ``path``, replacing an old one
    (callers check with ``check_output`` first that the old one may go)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=parent)
    old = None
    try:
        staging = os.path.join(tmp, "new")
        build(staging)
        _chmod_default(staging, directory=True)
        if os.path.exists(path):
            old = os.path.join(tmp, "old")
            os.rename(path, old)
        os.rename(staging, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_LOCKS = {}  # path -> open lock file: a lock lasts as long as its file stays open


def lock_for_process(path, message):
    """An exclusive lock on ``path`` held until this process ends (the kernel drops it when the
    process dies, even by kill -9); raises ``RuntimeError(message)`` when another process holds it.
    Taking a lock this process holds already is a no-op (a resumed run in the same process)."""
    import fcntl
    path = os.path.realpath(path)
    if path in _LOCKS:
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(message)
    handle.seek(0)
    handle.truncate()
    handle.write("%d\n" % os.getpid())
    handle.flush()
    _LOCKS[path] = handle


def missing_folders(path):
    """The folders that ``os.makedirs(path)`` would create, deepest first."""
    made, path = [], os.path.abspath(path)
    while not os.path.exists(path):
        made.append(path)
        path = os.path.dirname(path)
    return made


def remove_made(made):
    """Undo ``os.makedirs`` of ``missing_folders``' list: the deepest folder (ours, with what we
    wrote in it) goes, each parent only while empty (another process may have used it since)."""
    shutil.rmtree(made[0], ignore_errors=True)
    for path in made[1:]:
        try:
            os.rmdir(path)
        except OSError:
            return


def json_is_ours(path):
    """A JSON object that fcn_tf1 wrote: it has the ``MARKER`` key."""
    try:
        with open(path) as f:
            return MARKER in json.load(f)
    except (OSError, ValueError, TypeError):
        return False


def contains_marker(path, marker=CONFIG_NODE.encode("ascii")):
    """Whether a (possibly large) binary file holds ``marker``: a graph or ONNX model of ours
    carries its config under that name."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(marker) >= 0
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return False


def same_file(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(path, is_ours, force=False, inputs=(), what="output"):
    """Refuse to write ``path`` over one of ``inputs`` (ever), over a folder that holds any of
    them, or over an existing file or folder that ``is_ours(path)`` does not recognise (unless
    ``force``)."""
    for item in inputs:
        if same_file(path, item) or os.path.realpath(item).startswith(
                os.path.realpath(path) + os.sep):
            raise ValueError("%s: the %s would replace %s, an input; choose another path"
                             % (path, what, item))
    if os.path.lexists(path) and not force and not is_ours(path):
        raise ValueError("%s: exists and was not written by fcn_tf1; choose another path or "
                         "pass --force to replace it" % path)
