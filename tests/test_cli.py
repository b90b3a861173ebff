"""Entry points: --help is instant (no TensorFlow import), errors are one line, TF stays quiet."""
import argparse
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("train", "evaluate", "export", "predict", "weights", "compare", "bench")


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


def test_help_gives_every_flag_a_text_and_its_real_default():
    import importlib
    for tool in TOOLS:
        parser = importlib.import_module("fcn_tf1." + tool).parser()
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for p in [parser] + [s for a in subparsers for s in a.choices.values()]:
            for action in p._actions:
                if action.option_strings and action.dest != "help":
                    assert action.help, (tool, action.option_strings)
            text = " ".join(p.format_help().split())
            assert "default: None" not in text and "(default: False)" not in text, tool
    text = " ".join(importlib.import_module("fcn_tf1.train").parser().format_help().split())
    assert ("until this global step (default: quick: 1500, heavy: 100000, cvpr: 10000, "
            "alexnet: 100000)") in text
    assert "(default: output_shape for nn, crop for layers)" in text
    assert "synthetic training images (default: 400)" in text


def test_a_command_without_tensorflow_is_one_line_naming_the_interpreter_and_the_venv(tmp_path):
    # Python 3 without TensorFlow (the system interpreter here), as a user who did not activate
    # the venv runs the README's next command: --help still works, the rest is one line.
    candidates = [p for p in (shutil.which("python3.11"), shutil.which("python3")) if p]
    python = next((p for p in candidates if subprocess.run(
        [p, "-c", "import tensorflow"], stderr=subprocess.DEVNULL).returncode != 0), None)
    if python is None:
        pytest.skip("every Python here has TensorFlow")
    venv = tmp_path / "checkout"
    for name in (".venv", ".venv-int8"):  # the quantizer's venv has no TensorFlow: not named
        (venv / name / "bin").mkdir(parents=True)
        (venv / name / "bin" / "python").write_text("")
    (venv / ".venv" / "lib" / "python3.7" / "site-packages" / "tensorflow").mkdir(parents=True)
    shutil.copytree(os.path.join(ROOT, "fcn_tf1"), str(venv / "fcn_tf1"))

    def run(*args):
        return subprocess.run([python, "-m", "fcn_tf1.evaluate"] + list(args), cwd=str(venv),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    assert run("--help").returncode == 0
    result = run("--graph", "m.pb")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("fcn_tf1.evaluate: error: fcn_tf1 needs TensorFlow 1.15 or "
                                    "2.13-2.21, and /")
    assert "has none (No module named 'tensorflow')" in result.stderr
    assert "`source ./.venv/bin/activate` first" in result.stderr
    assert "`./dev.sh <tool>`" in result.stderr


def test_errors_are_one_line_and_tensorflow_is_quiet(tmp_path, capsys):
    from fcn_tf1.export import main as export_main
    result = subprocess.run([sys.executable, "-m", "fcn_tf1.export", "--checkpoint-dir",
                             str(tmp_path), "--output", str(tmp_path / "m.pb")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "fcn_tf1.export: error: %s: not an fcn_tf1 run folder (no model.json)" % tmp_path]
    assert not (tmp_path / "m.pb").exists()
    missing = str(tmp_path / "nowhere")
    assert export_main(["--checkpoint-dir", missing, "--output", str(tmp_path / "m.pb")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "fcn_tf1.export: error: %s: no such run folder (a folder that fcn_tf1.train wrote, such "
        "as checkpoints/synthetic-fcn8s)" % missing]
    assert not (tmp_path / "m.pb").exists()


def test_openmp_defaults_leave_user_settings_alone(monkeypatch):
    from fcn_tf1 import cli
    from fcn_tf1.ground import machine
    for name in ("OMP_NUM_THREADS", "KMP_BLOCKTIME", "KMP_AFFINITY"):
        monkeypatch.setenv(name, "")  # recorded, so that the test's values are undone after it
        monkeypatch.delenv(name)
    monkeypatch.setenv("KMP_BLOCKTIME", "0")
    cli.openmp_defaults()
    assert os.environ["KMP_BLOCKTIME"] == "0"  # the user's value wins
    assert int(os.environ["OMP_NUM_THREADS"]) >= 1
    assert os.environ["KMP_AFFINITY"] == machine.openmp_settings()["KMP_AFFINITY"]


def test_tensorflow_version_policy():
    from fcn_tf1.ground import tf_versions
    for version in ("1.15.5", "2.13.1", "2.15.1", "2.16.1", "2.21.0", "2.22.0"):
        assert tf_versions.version_problem(version) is None, version
    for version in ("1.14.0", "2.0.0", "2.12.1"):
        assert tf_versions.version_problem(version) == (
            "fcn_tf1 runs on TensorFlow 1.15 or 2.13-2.21, found %s: pip install 'fcn_tf1[tf]'"
            % version)
    assert [v for v in ("2.15.1", "2.21.0", "2.22.0", "3.0.0") if tf_versions.untested_note(v)] \
        == ["2.22.0", "3.0.0"]
    legacy = {"TF_USE_LEGACY_KERAS": "1"}
    assert tf_versions.keras_problem("2.15.1", {}, False) is None  # Keras 2 is built in
    assert tf_versions.keras_problem("2.15.1", {"TF_USE_LEGACY_KERAS": "true"}, False) == (
        "TF_USE_LEGACY_KERAS=true asks TensorFlow 2.15.1 for the tf-keras package, which is not "
        "installed: unset it, or pip install 'tf-keras==2.15.*'")
    assert tf_versions.keras_problem("2.15.1", legacy, True) is None
    assert tf_versions.keras_problem("2.13.1", legacy, False) is None  # 2.13 ignores the switch
    assert tf_versions.keras_problem("2.21.0", {"TF_USE_LEGACY_KERAS": "True"}, True) is None
    assert tf_versions.keras_problem("2.21.0", legacy, True) is None
    assert "pip install 'tf-keras==2.18.*'" in tf_versions.keras_problem("2.18.0", legacy, False)
    assert "set TF_USE_LEGACY_KERAS=1" in tf_versions.keras_problem("2.21.0", {}, True)
    assert "it is '0'" in tf_versions.keras_problem("2.21.0", {"TF_USE_LEGACY_KERAS": "0"}, True)


def run_export_on(tmp_path, prelude="pass", env=None):
    """``fcn_tf1.export`` on an empty folder after ``prelude``: its stderr lines and exit code."""
    code = ("import sys\nfrom fcn_tf1 import cli, export\nfrom fcn_tf1.ground import console\n"
            "with console.stderr_without(cli._IMPORT_NOISE):\n    %s\n"
            "sys.exit(export.main(['--checkpoint-dir', %r, '--output', %r]))"
            % (prelude, str(tmp_path), str(tmp_path / "m.pb")))
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # as the command sets it, for the prelude's import
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True,
                            env=dict(environ, **(env or {})))
    return result.stderr.strip().splitlines(), result.returncode


def test_tf_layers_work_after_a_commands_set_up():
    code = ("from fcn_tf1 import cli\ncli.prepare_tensorflow('fcn_tf1.t')\n"
            "from fcn_tf1.ground.tf_compat import tf\n"
            "print(tf.layers.conv2d(tf.placeholder(tf.float32, [1, 8, 8, 3]), 2, 3).shape)")
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert result.stdout.strip() == "(1, 6, 6, 2)", result.stderr[-2000:]


def test_commands_choose_keras_2_unless_the_user_did(tmp_path):
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.ground.tf_versions import major_minor
    not_ours = "fcn_tf1.export: error: %s: not an fcn_tf1 run folder (no model.json)" % tmp_path
    assert run_export_on(tmp_path) == ([not_ours], 1)
    lines, code = run_export_on(tmp_path, env={"TF_USE_LEGACY_KERAS": "0"})
    if major_minor(TF_VERSION) >= (2, 16):
        assert (lines, code) == (["fcn_tf1.export: error: fcn_tf1 on TensorFlow %s needs Keras 2 "
                                  "for tf.layers: set TF_USE_LEGACY_KERAS=1 before TensorFlow is "
                                  "used (it is '0'; fcn_tf1's commands set it unless you did)"
                                  % TF_VERSION], 1)
    else:  # Keras 2 is TensorFlow's own: the switch does not matter
        assert (lines, code) == ([not_ours], 1)


def test_unsupported_tensorflow_is_one_line(tmp_path):
    lines, code = run_export_on(tmp_path, "import tensorflow; tensorflow.__version__ = '2.10.0'")
    assert (lines, code) == (["fcn_tf1.export: error: fcn_tf1 runs on TensorFlow 1.15 or "
                              "2.13-2.21, found 2.10.0: pip install 'fcn_tf1[tf]'"], 1)


def test_keras_3_without_tf_keras_is_one_line(tmp_path):
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.ground.tf_versions import major_minor
    if major_minor(TF_VERSION) < (2, 16):
        pytest.skip("TensorFlow %s has Keras 2 built in" % TF_VERSION)
    lines, code = run_export_on(tmp_path, "sys.modules['tf_keras'] = None")  # not installed
    assert (lines, code) == (["fcn_tf1.export: error: fcn_tf1 on TensorFlow %s needs Keras 2 for "
                              "tf.layers: pip install 'tf-keras==%d.%d.*'"
                              % ((TF_VERSION,) + major_minor(TF_VERSION))], 1)


def test_newer_tensorflow_is_a_warning_line(tmp_path):
    from fcn_tf1.ground.tf_compat import TF_VERSION
    from fcn_tf1.ground.tf_versions import major_minor
    if major_minor(TF_VERSION) < (2, 16):
        pytest.skip("a 2.x release past the tested ones needs tf-keras, which TensorFlow %s lacks"
                    % TF_VERSION)
    lines, code = run_export_on(tmp_path, "import tensorflow; tensorflow.__version__ = '2.22.0'")
    assert code == 1 and lines == [
        "fcn_tf1.export: warning: TensorFlow 2.22.0 is newer than the newest release fcn_tf1 is "
        "tested on (2.21): it may work; 1.15 or 2.13-2.21 are supported",
        "fcn_tf1.export: error: %s: not an fcn_tf1 run folder (no model.json)" % tmp_path]


def test_console_scripts_run_the_commands():
    pkg_resources = pytest.importorskip("pkg_resources")
    try:
        dist = pkg_resources.get_distribution("fcn_tf1")
    except pkg_resources.DistributionNotFound:
        pytest.skip("fcn_tf1 is not installed (only importable)")
    scripts = {name: str(point) for name, point in dist.get_entry_map("console_scripts").items()}
    assert scripts == dict({"fcn-%s" % c: "fcn-%s = fcn_tf1.%s:main" % (c, c) for c in TOOLS},
                           **{"fcn-data": "fcn-data = fcn_tf1.data.__main__:main"})
    script = os.path.join(os.path.dirname(sys.executable), "fcn-export")
    result = subprocess.run([script, "--checkpoint-dir", "nowhere", "--output", "x.pb"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "fcn_tf1.export: error: nowhere: no such run folder (a folder that fcn_tf1.train wrote, "
        "such as checkpoints/synthetic-fcn8s)"]
