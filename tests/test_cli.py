"""Entry points: --help is instant (no TensorFlow import), errors are one line, TF stays quiet."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("train", "evaluate", "export", "predict", "weights")


@pytest.mark.parametrize("tool", TOOLS)
def test_help_exits_zero_without_tensorflow(tool):
    code = ("import sys, runpy\n"
            "sys.argv = ['fcn_tf1.%s', '--help']\n"
            "try:\n"
            "    runpy.run_module('fcn_tf1.%s', run_name='__main__')\n"
            "except SystemExit as exit:\n"
            "    print('exit', exit.code, 'tensorflow' in sys.modules)\n" % (tool, tool))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert "usage: python -m fcn_tf1.%s" % tool in result.stdout
    assert result.stdout.strip().endswith("exit 0 False"), result.stdout + result.stderr


def test_import_without_tensorflow_is_one_clear_line(tmp_path):
    # Python 3 without TensorFlow (the system interpreter here); fcn_tf1 needs only the stdlib
    # to get as far as its check.
    candidates = [p for p in (shutil.which("python3.11"), shutil.which("python3")) if p]
    python = next((p for p in candidates if subprocess.run(
        [p, "-c", "import tensorflow"], stderr=subprocess.DEVNULL).returncode != 0), None)
    if python is None:
        pytest.skip("every Python here has TensorFlow")
    result = subprocess.run([python, "-c", "import fcn_tf1"], cwd=str(tmp_path),
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fcn_tf1 needs TensorFlow 1.15: pip install 'fcn_tf1[tf]'")


def test_errors_are_one_line_and_tensorflow_is_quiet(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fcn_tf1.export", "--checkpoint-dir",
                             str(tmp_path), "--output", str(tmp_path / "m.pb")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "fcn_tf1.export: error: %s: not an fcn_tf1 run folder (no model.json)" % tmp_path]
    assert not (tmp_path / "m.pb").exists()


def test_openmp_defaults_leave_user_settings_alone(monkeypatch):
    from fcn_tf1 import cli
    for name in ("OMP_NUM_THREADS", "KMP_BLOCKTIME", "KMP_AFFINITY"):
        monkeypatch.setenv(name, "")  # recorded, so that the test's values are undone after it
        monkeypatch.delenv(name)
    monkeypatch.setenv("KMP_BLOCKTIME", "0")
    cli.openmp_defaults()
    assert os.environ["KMP_BLOCKTIME"] == "0"  # the user's value wins
    assert int(os.environ["OMP_NUM_THREADS"]) >= 1
    assert os.environ["KMP_AFFINITY"] == cli.openmp_settings()["KMP_AFFINITY"]
