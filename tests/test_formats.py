"""The versioned model config (model.json and the config inside exports), the learning recipes,
and the fresh-process runner with JSON in and out."""
import io
import json
import os
import sys

import pytest

from fcn_tf1.ground import names
from fcn_tf1.ground.names import CONFIG_FILE, FORMAT_VERSION
from fcn_tf1.model.config import ModelConfig, migrate
from fcn_tf1.workflows import isolated, recipes


def saved_config(tmp_path, **changes):
    config = ModelConfig(5, "fcn16s", 0.25, shape_fix="crop", class_names=list("abcde"))
    config.save(str(tmp_path))
    path = tmp_path / CONFIG_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    path.write_text(json.dumps(data))
    return config


def test_model_json_carries_the_format_version(tmp_path):
    saved_config(tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["format"] == FORMAT_VERSION == 4


@pytest.mark.parametrize("version", [None, 2])  # fcn_tf1 0.1.0 wrote no "format"
def test_a_format_1_or_2_file_reads_as_the_same_vgg16_model(tmp_path, version):
    config = saved_config(tmp_path, format=version, backbone=None, modality=None, heads=None,
                          inputs=None, fusion=None)
    assert "backbone" not in json.loads((tmp_path / CONFIG_FILE).read_text())
    loaded = ModelConfig.load(str(tmp_path))
    assert loaded == config and (loaded.backbone, loaded.modality) == ("vgg16", "image")


@pytest.mark.parametrize("version,message", [
    (5, "written by a newer fcn_tf1 (config format 5; this version reads up to 4): upgrade "
        "fcn_tf1"),
    ("2", "the model config's format is '2', not a version number"),
    (0, "the model config's format is 0, not a version number"),
    (True, "the model config's format is True, not a version number")])
def test_a_format_this_version_cannot_read_is_one_line(tmp_path, version, message):
    saved_config(tmp_path, format=version)
    with pytest.raises(ValueError) as error:
        ModelConfig.load(str(tmp_path))
    assert str(error.value) == "%s: %s" % (tmp_path / CONFIG_FILE, message)


def test_a_newer_run_folder_is_refused_by_the_commands(tmp_path, capsys):
    from fcn_tf1.export import main as export_main
    saved_config(tmp_path, format=FORMAT_VERSION + 1)
    assert export_main(["--checkpoint-dir", str(tmp_path), "--output",
                        str(tmp_path / "m.pb")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fcn_tf1.export: error: %s: written by a newer fcn_tf1 (config format %d; this "
                   "version reads up to %d): upgrade fcn_tf1" % (
                       tmp_path / CONFIG_FILE, FORMAT_VERSION + 1, FORMAT_VERSION)]


def test_migrate_keeps_every_field_and_sets_the_current_format():
    old = {"num_classes": 2, "variant": "fcn8s", "anything": [1]}
    assert migrate(old, "x") == dict(old, format=FORMAT_VERSION, backbone="vgg16", modality="image",
                                     heads=None, inputs=None, fusion=None)
    assert "format" not in old
    alexnet = dict(old, format=3, backbone="alexnet", modality="hha")
    assert migrate(alexnet, "x") == dict(alexnet, format=4, heads=None, inputs=None, fusion=None)
    two = dict(alexnet, format=4, heads=[{"name": "semantic"}])
    assert migrate(two, "x") == two


def test_recipes_keep_the_width_out_of_the_learning_options():
    quick = recipes.options_for("quick")
    assert "width" not in quick._fields and (quick.optimizer, quick.batch_size) == ("adam", 8)
    assert recipes.width_for("quick") == 0.125 and recipes.width_for("heavy") == 1.0
    assert recipes.width_for("quick", 0.5) == 0.5
    assert recipes.options_for("heavy", steps=7, momentum=None).steps == 7
    assert recipes.options_for("heavy", momentum=None).momentum == 0.99  # None: no override
    with pytest.raises(ValueError, match="not a learning option: width"):
        recipes.options_for("quick", width=0.5)


def test_isolated_call_returns_the_json_result_of_a_fresh_process():
    assert isolated.call("fcn_tf1.ground.tf_versions:major_minor", {"version": "2.15.1"}) == [2, 15]
    child = isolated.call("fcn_tf1.ground.machine:openmp_settings",
                          env={"OMP_NUM_THREADS": "ignored"})
    assert child["KMP_BLOCKTIME"] == "1"


def test_isolated_call_failures_are_one_line():
    with pytest.raises(RuntimeError, match=r"fcn_tf1.ground.tf_versions:major_minor in a fresh "
                                           r"process failed: ValueError: invalid literal"):
        isolated.call("fcn_tf1.ground.tf_versions:major_minor", {"version": "x.y"})
    with pytest.raises(RuntimeError, match="only fcn_tf1's functions run here"):
        isolated.call("os:getcwd")


def test_isolated_serve_keeps_stray_output_off_the_answer(monkeypatch, capfd, tmp_path):
    # Python's print and a C library's write to file descriptor 1 alike go to stderr.
    monkeypatch.setattr(names, "_probe", lambda n: print("noise") or os.write(1, b"c noise\n")
                        and {"twice": 2 * n}, raising=False)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # serve redirects it for the child's life
    saved = os.dup(1)
    reply = tmp_path / "reply.json"
    try:
        isolated.serve(io.StringIO(json.dumps({"function": "fcn_tf1.ground.names:_probe",
                                               "kwargs": {"n": 4}, "reply": str(reply)})))
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert json.loads(reply.read_text()) == {"twice": 8}
    err = capfd.readouterr().err
    assert "noise" in err and "c noise" in err


@pytest.mark.skipif(not os.environ.get("FCN_TF1_OTHER_PYTHON"),
                    reason="FCN_TF1_OTHER_PYTHON is not set")
def test_isolated_call_runs_in_another_interpreter():
    from fcn_tf1.ground.tf_compat import TF_VERSION
    theirs = isolated.call("fcn_tf1.workflows.benchmark:tensorflow_build",
                           python=os.environ["FCN_TF1_OTHER_PYTHON"])
    assert theirs["tensorflow"].split(".")[0] != TF_VERSION.split(".")[0]
