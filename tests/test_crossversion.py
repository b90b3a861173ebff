"""Models exported under one TensorFlow load and predict identically under the other.

Needs a second interpreter with the other TensorFlow major version: .ci/run sets
FCN_TF1_OTHER_PYTHON to the TF 1.15 venv's python for the TF 2.x leg (and the reverse is the same
test seen from the other side). Without it the test is skipped.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from fcn_tf1.ground.tf_compat import TF_VERSION

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crossversion_helper.py")
OTHER = os.environ.get("FCN_TF1_OTHER_PYTHON")
pytestmark = pytest.mark.skipif(not OTHER, reason="FCN_TF1_OTHER_PYTHON is not set")


def other(command, run_dir, npz):
    result = subprocess.run([OTHER, HELPER, command, run_dir, npz], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(npz))


def here(command, run_dir, npz):
    result = subprocess.run([sys.executable, HELPER, command, run_dir, npz], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(npz))


def same(a, b):
    assert str(a["tensorflow"])[0] != str(b["tensorflow"])[0], (a["tensorflow"], b["tensorflow"])
    for key in a:
        if key.startswith(("frozen_labels", "saved_labels")):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif "logits" in key:
            np.testing.assert_allclose(a[key], b[key], atol=1e-5, rtol=0, err_msg=key)


def test_exported_by_the_other_predicts_the_same_here(tmp_path):
    run = str(tmp_path / "run")
    theirs = other("export", run, str(tmp_path / "theirs.npz"))
    ours = here("predict", run, str(tmp_path / "ours.npz"))
    assert str(ours["tensorflow"]) == TF_VERSION
    same(theirs, ours)


def test_exported_here_predicts_the_same_by_the_other(tmp_path):
    run = str(tmp_path / "run")
    ours = here("export", run, str(tmp_path / "ours.npz"))
    theirs = other("predict", run, str(tmp_path / "theirs.npz"))
    same(ours, theirs)
