"""Which TensorFlow fcn_tf1 runs on, and what to say when it cannot: free of TensorFlow, so that the
commands can decide before importing it and the tests can ask about any version."""
import glob
import importlib.util
import os
import sys

from fcn_tf1.ground.names import TENSORFLOW_NEWEST_TESTED as NEWEST_TESTED
from fcn_tf1.ground.names import TENSORFLOW_SUPPORTED as SUPPORTED


def missing_tensorflow(detail="", python=None):
    """What to say when TensorFlow cannot be imported at all: which interpreter runs, and the venv
    that ./dev.sh made beside the package, where there is one (the usual cause: not activated)."""
    python = python or sys.executable
    # Those with a TensorFlow (not .venv-int8, the quantizer's), .venv first.
    venvs = [v for v in sorted(glob.glob(os.path.join(PROJECT_ROOT, ".venv*", "bin", "python")),
                               key=lambda v: (v.split(os.sep)[-3] != ".venv", v))
             if os.path.abspath(v) != os.path.abspath(python) and glob.glob(os.path.join(
                 os.path.dirname(os.path.dirname(v)), "lib", "python*", "site-packages",
                 "tensorflow*"))]
    if venvs:
        venv = _shown(os.path.dirname(os.path.dirname(venvs[0])))
        advice = ("run it in the venv that ./dev.sh made: `source %s/bin/activate` first, or "
                  "`%s/bin/python -m fcn_tf1.<tool>`, or `%s <tool>`"
                  % (venv, venv, _shown(os.path.join(PROJECT_ROOT, "dev.sh"))))
    else:
        advice = ("pip install 'fcn_tf1[tf]' (CPU) or 'fcn_tf1[gpu]' into it, or run ./dev.sh; "
                  "the TF1 Docker images already have it")
    return ("fcn_tf1 needs TensorFlow %s, and %s has none%s: %s"
            % (SUPPORTED, python, " (%s)" % detail if detail else "", advice))


# The checkout or install that holds the package (./dev.sh's venvs live beside it in a checkout).
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def _shown(path):
    """``path`` as a user types it here: relative below the working folder, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else os.path.join(".", relative)


# The values of TF_USE_LEGACY_KERAS that TensorFlow takes for yes.
LEGACY_KERAS = ("1", "true", "True")


class UntestedVersionWarning(UserWarning):
    """TensorFlow is newer than the newest release fcn_tf1 is tested on."""


def major_minor(version):
    return tuple(int(part) for part in version.split(".")[:2])


def version_problem(version):
    """Why fcn_tf1 cannot run on this TensorFlow release, or None."""
    if major_minor(version) == (1, 15) or major_minor(version) >= (2, 13):
        return None
    return "fcn_tf1 runs on TensorFlow %s, found %s: pip install 'fcn_tf1[tf]'" % (SUPPORTED,
                                                                                     version)


def keras_problem(version, environ, has_tf_keras):
    """Why ``tf.layers`` will not work, or None: TensorFlow 2.16+ ships Keras 3, which dropped it;
    Keras 2 comes back as the tf-keras package, chosen by TF_USE_LEGACY_KERAS=1 (which 2.15 honours
    too, and then needs tf-keras as well)."""
    legacy = environ.get("TF_USE_LEGACY_KERAS") in LEGACY_KERAS
    if major_minor(version) < (2, 16):
        if legacy and not has_tf_keras and major_minor(version) >= (2, 15):
            return ("TF_USE_LEGACY_KERAS=%s asks TensorFlow %s for the tf-keras package, which is "
                    "not installed: unset it, or pip install 'tf-keras==%d.%d.*'"
                    % ((environ["TF_USE_LEGACY_KERAS"], version) + major_minor(version)))
        return None
    if not has_tf_keras:
        return ("fcn_tf1 on TensorFlow %s needs Keras 2 for tf.layers: pip install 'tf-keras==%d.%d.*'"
                % ((version,) + major_minor(version)))
    if not legacy:
        return ("fcn_tf1 on TensorFlow %s needs Keras 2 for tf.layers: set TF_USE_LEGACY_KERAS=1 "
                "before TensorFlow is used (it is %s; fcn_tf1's commands set it unless you did)"
                % (version, repr(environ["TF_USE_LEGACY_KERAS"]) if "TF_USE_LEGACY_KERAS" in
                   environ else "unset"))
    return None


def untested_note(version):
    """What to say of a release newer than the newest tested, or None."""
    if major_minor(version) <= NEWEST_TESTED:
        return None
    return ("TensorFlow %s is newer than the newest release fcn_tf1 is tested on (%d.%d): it may "
            "work; %s are supported" % ((version,) + NEWEST_TESTED + (SUPPORTED,)))


def choose_keras_2():
    """TF_USE_LEGACY_KERAS=1 where tf-keras is installed and the user set nothing: TensorFlow 2.16+
    then gives Keras 2 (tf.layers) instead of Keras 3. Without tf-keras it is left unset: 2.15 and
    older would look for tf-keras under it, and tf_compat says what to install on 2.16+."""
    if has_tf_keras():
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def has_tf_keras():
    return importlib.util.find_spec("tf_keras") is not None
