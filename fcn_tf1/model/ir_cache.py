"""OpenVINO's conversion of a frozen graph, kept as IR (.xml / .bin) so that the next process reads
it at once: converting the full-width FCN-8s graph takes ~10 s, reading its IR ~0.01 s.

Safe by construction: the cache is one folder per user (``$FCN_TF1_CACHE_DIR``, else
``$XDG_CACHE_HOME/fcn_tf1``, else ``~/.cache/fcn_tf1``), mode 0700 and used only when this user
owns it and nobody else can write to it; an entry is named by the SHA-256 of the export's bytes
(which passed the checks before they were converted), per OpenVINO release, written whole into a
temporary folder that is then renamed, with the SHA-256 of its files, checked at every load (~0.5 s
for the full-width model): an entry that differs or does not read is removed and rebuilt.
The newest ``KEEP`` entries are kept (each holds the model's weights: 538 MB at full width).
``FCN_TF1_CACHE_DIR=none`` turns the cache off.
"""
import hashlib
import os
import shutil
import stat
import tempfile

OFF = "none"
FILES = ("model.xml", "model.bin")
DIGEST = "files.sha256"
KEEP = 3


def root():
    """The user's cache folder (not created here), or None when the cache is off."""
    chosen = os.environ.get("FCN_TF1_CACHE_DIR")
    if chosen is not None:
        return None if chosen in ("", OFF) else chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fcn_tf1")


def _private(path):
    """``path`` is a folder of this user's that no one else can write to or read."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO))


class IRCache(object):
    """The IR entries of one OpenVINO release in the user's cache folder."""

    def __init__(self, version, folder=None):
        folder = folder or root()
        self.folder = os.path.join(folder, "openvino-%s" % version) if folder else None
        if self.folder:
            for path in (os.path.dirname(self.folder), self.folder):
                if not os.path.isdir(path):
                    os.makedirs(path, mode=0o700, exist_ok=True)
            if not all(_private(p) for p in (os.path.dirname(self.folder), self.folder)):
                self.folder = None  # another user's, or open to others: not used

    def load(self, core, digest):
        """The cached model of the export whose bytes have SHA-256 ``digest``, or None (an
        unreadable entry is removed)."""
        entry = self._entry(digest)
        if entry is None or not _private(entry):
            return None
        try:
            with open(os.path.join(entry, DIGEST)) as f:
                intact = f.read().strip() == _files_digest(entry)
            if intact:
                os.utime(entry)  # the newest used: kept longest
                return core.read_model(os.path.join(entry, FILES[0]))
        except (OSError, RuntimeError):
            pass
        shutil.rmtree(entry, ignore_errors=True)
        return None

    def weights(self, digest):
        """The file of the entry's weights (OpenVINO maps it when it reads the entry)."""
        return os.path.join(self._entry(digest), FILES[1])

    def store(self, save_model, model, digest):
        """Write ``model`` as the entry of ``digest`` with ``save_model(model, xml_path)``; a
        failure leaves no entry."""
        entry = self._entry(digest)
        if entry is None or os.path.exists(entry):
            return
        work = tempfile.mkdtemp(prefix=".new-", dir=self.folder)
        try:
            save_model(model, os.path.join(work, FILES[0]))
            with open(os.path.join(work, DIGEST), "w") as f:
                f.write(_files_digest(work))
            os.rename(work, entry)
        except (OSError, RuntimeError):
            shutil.rmtree(work, ignore_errors=True)
        self._evict()

    def _evict(self):
        entries = [os.path.join(self.folder, name) for name in os.listdir(self.folder)
                   if not name.startswith(".")]
        entries.sort(key=lambda path: os.stat(path).st_mtime, reverse=True)
        for old in entries[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)

    def _entry(self, digest):
        return os.path.join(self.folder, digest) if self.folder else None


def _files_digest(entry):
    digest = hashlib.sha256()
    for name in FILES:
        with open(os.path.join(entry, name), "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()
