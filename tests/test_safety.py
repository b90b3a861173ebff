"""What users hand us: no code runs from a weight file or graph, nothing of theirs is deleted or
overwritten, images in every mode, flags checked where parsed, faults as one line."""
import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fcn_tf1.data.images import DataError, read_image
from fcn_tf1.data.voc import VOCDataset
from fcn_tf1.ground import fileutil, untrusted
from fcn_tf1.ground.names import CONFIG_NODE
from fcn_tf1.ground.tf_compat import TF_VERSION, tf
from fcn_tf1.numbers import metrics
from fcn_tf1.model.checkpoints import read_vgg16
from fcn_tf1.numbers.vgg16_weights import WeightsError
from fcn_tf1.export import main as export_main
from fcn_tf1.predict import FrozenModel, main as predict_main
from fcn_tf1.weights import main as weights_main
from fcn_tf1.workflows import cluster, evaluation, export_writers, recipes, training
from fcn_tf1.workflows.prediction import mask_is_ours
from tests.helpers import trained_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return trained_run(str(tmp_path_factory.mktemp("run") / "run"), steps=2)


@pytest.fixture(scope="module")
def frozen(run_dir, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("export") / "model.pb")
    export_writers.export_frozen(run_dir, path)
    return path


def tree(directory):
    """{relative path: bytes} of every file below ``directory``."""
    out = {}
    for root, _, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, str(directory))] = f.read()
    return out


def cli(module, *args):
    result = subprocess.run([sys.executable, "-m", "fcn_tf1." + module] + [str(a) for a in args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    return result.returncode, result.stderr.strip().splitlines()


# 1. Untrusted files never run code.

class _OpensAFile(object):
    """Unpickling this calls open(path, 'w'): a side effect the test can see."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_malicious_npy_runs_no_code(tmp_path):
    marker = tmp_path / "ran"
    evil = np.empty((), dtype=object)
    evil[()] = {"conv1_1": [_OpensAFile(str(marker)), np.zeros(2)]}
    np.save(str(tmp_path / "vgg16.npy"), evil)
    with pytest.raises(WeightsError, match=r"vgg16.npy: refused: the pickle calls .*open"):
        read_vgg16(str(tmp_path / "vgg16.npy"))
    assert not marker.exists()
    code, err = cli("weights", "inspect", tmp_path / "vgg16.npy")
    assert code == 1 and len(err) == 1 and "refused" in err[0] and not marker.exists()
    # The file does bite: numpy's own pickle loading runs it.
    np.load(str(tmp_path / "vgg16.npy"), allow_pickle=True)
    assert marker.exists()


def test_a_plain_dict_of_arrays_still_loads(tmp_path):
    data = {"fc6": [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)],
            "name": "vgg", "n": 3}
    np.save(str(tmp_path / "d.npy"), data)
    loaded = untrusted.load_pickled_npy(str(tmp_path / "d.npy"))
    np.testing.assert_array_equal(loaded["fc6"][0], data["fc6"][0])
    assert loaded["name"] == "vgg" and loaded["n"] == 3


def _with_node(frozen, tmp_path, name, op):
    graph_def = tf.GraphDef()
    with open(frozen, "rb") as f:
        graph_def.ParseFromString(f.read())
    node = graph_def.node.add()
    node.name, node.op = name, op
    path = str(tmp_path / ("%s.pb" % op))
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    return path


@pytest.mark.parametrize("op", ["ReadFile", "WriteFile", "PyFunc", "ShardedFilename"])
def test_a_graph_with_a_foreign_op_is_refused(frozen, tmp_path, op):
    path = _with_node(frozen, tmp_path, "sneaky", op)
    with pytest.raises(untrusted.UntrustedFileError, match="refused: op %s \\(node 'sneaky'\\)" % op):
        FrozenModel(path)
    code, err = cli("predict", "--graph", path, "--output-dir", tmp_path / "out",
                    _images(tmp_path / "in", ["a.png"]))
    assert code == 1 and len(err) == 1 and ("op %s" % op) in err[0]
    assert not (tmp_path / "out").exists()


def test_a_graph_with_functions_is_refused(frozen, tmp_path):
    graph_def = tf.GraphDef()
    with open(frozen, "rb") as f:
        graph_def.ParseFromString(f.read())
    graph_def.library.function.add().signature.name = "hidden"
    path = str(tmp_path / "functions.pb")
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    with pytest.raises(untrusted.UntrustedFileError, match="defines functions \\(hidden\\)"):
        FrozenModel(path)


def test_every_export_passes_the_check(frozen):
    with FrozenModel(frozen) as model:
        assert model.num_classes == 5


@pytest.mark.slow
@pytest.mark.per_tensorflow
def test_the_op_list_is_what_exports_contain_on_this_tensorflow():
    version = ".".join(TF_VERSION.split(".")[:2])
    stored = untrusted.export_ops()
    assert version in stored, ("no op list for TensorFlow %s: add the line of "
                               "`python -m fcn_tf1.export --list-ops` to export_ops.json" % version)
    assert export_writers.exportable_op_types() == stored[version]


@pytest.mark.slow
@pytest.mark.per_tensorflow
def test_the_tflite_op_list_is_what_tflite_exports_contain_on_this_tensorflow():
    version = ".".join(TF_VERSION.split(".")[:2])
    with open(untrusted.TFLITE_OPS_FILE) as f:
        stored = json.load(f)
    assert version in stored, ("no TFLite op list for TensorFlow %s: add the line of "
                               "`python -m fcn_tf1.export --list-ops` to tflite_ops.json" % version)
    assert export_writers.exportable_tflite_ops() == stored[version]


# 2. Nothing of the user's is deleted or overwritten.

def test_saved_model_never_replaces_a_users_folder_or_the_run(run_dir, tmp_path, capsys):
    users = tmp_path / "mine"
    (users / "sub").mkdir(parents=True)
    (users / "thesis.tex").write_bytes(b"years of work")
    (users / "sub" / "deep.txt").write_bytes(b"more")
    before, run_before = tree(users), tree(run_dir)
    for force in ((), ("--force",)):  # --force never deletes what fcn_tf1 did not write
        code = export_main(["--checkpoint-dir", run_dir, "--output", str(tmp_path / "m.pb"),
                            "--saved-model", str(users)] + list(force))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "holds sub, thesis.tex, not written by" in err[0]
        assert "--force deletes nothing else" in err[0]
        assert tree(users) == before and not (tmp_path / "m.pb").exists()
    for target in (run_dir, os.path.dirname(run_dir)):
        with pytest.raises(ValueError, match="an input"):
            export_writers.export_saved_model(run_dir, target, force=True)
    assert tree(run_dir) == run_before
    ours = str(tmp_path / "saved")
    export_writers.export_saved_model(run_dir, ours)
    export_writers.export_saved_model(run_dir, ours)  # its own output: replaced without --force
    assert os.path.isfile(os.path.join(ours, "saved_model.pb"))
    (tmp_path / "ours" / "notes.txt").parent.mkdir()
    (tmp_path / "ours" / "notes.txt").write_bytes(b"mine")  # put into a folder of fcn_tf1's
    with pytest.raises(ValueError, match="holds notes.txt"):
        export_writers.export_saved_model(run_dir, str(tmp_path / "ours"), force=True)
    a_file = tmp_path / "a_file"
    a_file.write_bytes(b"x")
    with pytest.raises(ValueError, match="exists and was not written by fcn_tf1"):
        export_writers.export_saved_model(run_dir, str(a_file))
    export_writers.export_saved_model(run_dir, str(a_file), force=True)  # a path named: --force's own
    (tmp_path / "empty").mkdir()
    export_writers.export_saved_model(run_dir, str(tmp_path / "empty"))
    assert os.path.isfile(str(a_file / "saved_model.pb"))
    theirs = tmp_path / "theirs"  # another project's SavedModel: only SavedModel names in it
    (theirs / "variables").mkdir(parents=True)
    (theirs / "saved_model.pb").write_bytes(b"\x08\x01 their graph")
    (theirs / "variables" / "variables.index").write_bytes(b"their weights")
    before = tree(theirs)
    with pytest.raises(ValueError, match="theirs: exists and was not written by fcn_tf1; .* --force"):
        export_writers.export_saved_model(run_dir, str(theirs))
    assert tree(theirs) == before
    export_writers.export_saved_model(run_dir, str(theirs), force=True)
    assert export_writers.saved_model_is_ours(str(theirs))


def test_frozen_graph_output_over_a_users_file(run_dir, tmp_path):
    target = tmp_path / "model.pb"
    target.write_bytes(b"someone else's graph")
    with pytest.raises(ValueError, match="model.pb: exists and was not written by fcn_tf1"):
        export_writers.export_frozen(run_dir, str(target))
    assert target.read_bytes() == b"someone else's graph"
    with pytest.raises(ValueError, match="an input"):
        export_writers.export_frozen(run_dir, os.path.join(run_dir, "model.json"), force=True)
    export_writers.export_frozen(run_dir, str(target), force=True)
    export_writers.export_frozen(run_dir, str(target))  # ours now: replaced without --force
    assert fileutil.contains_marker(str(target))


def test_evaluate_json_over_a_users_file(run_dir, tmp_path):
    target = tmp_path / "notes.json"
    target.write_bytes(b'{"mine": 1}')
    code, err = cli("evaluate", "--checkpoint-dir", run_dir, "--json", target)
    assert code == 1 and len(err) == 1 and "notes.json: exists and was not written" in err[0]
    assert target.read_bytes() == b'{"mine": 1}'


def _images(folder, names, size=(9, 13)):
    folder.mkdir(exist_ok=True)
    rgb = np.random.RandomState(0).randint(0, 256, size + (3,), dtype=np.uint8)
    for name in names:
        Image.fromarray(rgb).save(str(folder / name))
    return folder


def test_predict_refuses_outputs_that_collide_or_replace_inputs(frozen, tmp_path, capsys):
    a, b = _images(tmp_path / "a", ["x.png"]), _images(tmp_path / "b", ["x.png"])
    both = _images(tmp_path / "both", ["y.jpg", "y.png"])
    cases = [([a / "x.png", b / "x.png"], tmp_path / "out1", "both %s and %s" % (a / "x.png",
                                                                            b / "x.png")),
             ([both], tmp_path / "out2", "would be written there"),
             ([a / "x.png"], a, "would replace %s, an input" % (a / "x.png")),
             ([both / "y.jpg"], tmp_path / "out3", None)]
    (tmp_path / "out3").mkdir()
    (tmp_path / "out3" / "y.png").write_bytes(b"\x89PNG a ground-truth mask of the user's")
    before = tree(tmp_path)
    for inputs, out, message in cases:
        assert predict_main(["--graph", frozen, "--output-dir", str(out)] +
                            [str(i) for i in inputs]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert (message or "y.png: exists and was not written by fcn_tf1") in err[0]
    assert tree(tmp_path) == before  # nothing written, nothing replaced


def test_an_output_is_never_an_input_under_relative_paths(frozen, tmp_path, monkeypatch, capsys):
    folder = _images(tmp_path / "in", ["x.png"])
    monkeypatch.chdir(str(folder))
    before = tree(folder)
    for inputs, out in [(["x.png"], "."), (["./x.png"], os.path.join("..", "in")),
                        (["."], "./"), ([os.path.join("..", "in")], ".")]:
        for force in ([], ["--force"]):  # --force replaces our masks, never an input
            assert predict_main(["--graph", frozen, "--output-dir", out] + force + inputs) == 1
            assert "an input; choose another --output-dir" in capsys.readouterr().err
    assert tree(folder) == before


def test_inputs_that_misled_get_lines_saying_what_is_wrong_and_what_to_do(frozen, run_dir,
                                                                          tmp_path, capsys):
    images = _images(tmp_path / "in", ["p.png"])
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    (tmp_path / "a_file").write_bytes(b"mine")
    pickle_npy = tmp_path / "raw.npy"
    pickle_npy.write_bytes(b"\x80\x03}q\x00.")  # pickle.dumps({}), no .npy header
    predict = ["--output-dir", str(tmp_path / "out"), str(images)]
    cases = [
        (predict_main, ["--graph", str(tmp_path)] + predict, "%s: a folder, not a frozen graph" % tmp_path),
        (predict_main, ["--graph", str(saved)] + predict, "a SavedModel folder, not a frozen graph"),
        (predict_main, ["--graph", str(saved / "saved_model.pb")] + predict,
         "the graph of a SavedModel, not a frozen graph (.pb); a SavedModel is for TF Serving"),
        (predict_main, ["--graph", frozen, "--output-dir", str(tmp_path / "a_file"), str(images)],
         "--output-dir %s: exists and is not a folder" % (tmp_path / "a_file")),
        (predict_main, ["--graph", frozen, "--output-dir", str(tmp_path / "out"),
                        str(tmp_path / "missing.jpg"), str(images)],
         "%s: no such file or folder" % (tmp_path / "missing.jpg")),
        (weights_main, ["inspect", tf.train.latest_checkpoint(run_dir)],
         "a checkpoint of an fcn_tf1 run (a trained FCN), not VGG16 weights"),
        (weights_main, ["inspect", str(pickle_npy)], "a raw Python pickle, not a NumPy .npy file")]
    for main, args, message in cases:
        assert main(args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (args, err)
    assert not (tmp_path / "out").exists() and (tmp_path / "a_file").read_bytes() == b"mine"


def test_predict_says_what_it_skipped_and_descends_with_recursive(frozen, tmp_path, capsys):
    folder = _images(tmp_path / "in", ["a.png"])
    _images(folder / "sub", ["b.png"])
    _images(folder / "sub" / "deeper", ["a.png"])  # same name, other folder: its own mask
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert predict_main(["--graph", frozen, "--output-dir", str(out), str(folder)]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 subfolder(s) (--recursive descends into them): %s" % (folder / "sub") in err
    assert "skipped 1 file(s) that are not images" in err and "notes.txt" in err
    assert sorted(os.listdir(str(out))) == ["a.png"]
    assert predict_main(["--graph", frozen, "--output-dir", str(out), "--recursive",
                         str(folder)]) == 0
    assert "subfolder" not in capsys.readouterr().err
    assert sorted(os.path.relpath(os.path.join(r, f), str(out)) for r, _, files in
                  os.walk(str(out)) for f in files) == ["a.png", "sub/b.png", "sub/deeper/a.png"]


def test_predict_replaces_its_own_masks_and_others_only_with_force(frozen, tmp_path, capsys):
    images = _images(tmp_path / "in", ["p.jpg"])
    out = tmp_path / "out"
    args = ["--graph", frozen, "--output-dir", str(out), str(images)]
    assert predict_main(args) == 0 and mask_is_ours(str(out / "p.png"))
    os.utime(str(out / "p.png"), (0, 0))
    assert predict_main(args) == 0 and os.stat(str(out / "p.png")).st_mtime > 0
    # A VOC ground-truth PNG looks exactly like our mask: only the marker tells them apart.
    voc = Image.open(str(out / "p.png"))
    voc.load()
    voc.save(str(out / "p.png"))  # re-saved without the marker chunk
    assert not mask_is_ours(str(out / "p.png"))
    before = (out / "p.png").read_bytes()
    assert predict_main(args) == 1 and (out / "p.png").read_bytes() == before
    assert predict_main(args + ["--force"]) == 0 and mask_is_ours(str(out / "p.png"))


def test_save_every_zero_is_refused(tmp_path):
    code, err = cli("train", "--save-every", "0", "--checkpoint-root", tmp_path)
    assert code == 2 and err == ["fcn_tf1.train: error: --save-every: expected a value >= 1, "
                                 "got '0' (--help lists the flags)"]
    with pytest.raises(ValueError, match="--save-every must be an integer >= 1, got 0"):
        _tiny_config(save_every=0)


def _tiny_config(**overrides):
    from fcn_tf1.data.synthetic import SyntheticDataset
    from fcn_tf1.model.config import ModelConfig
    options = recipes.options_for("quick", **dict(dict(steps=2, batch_size=2, crop_size=(48, 48)),
                                                   **overrides))
    return ModelConfig(5, "fcn8s", recipes.width_for("quick"),
                       class_names=SyntheticDataset.class_names), options


HOLD_LOCK = ("import sys, time; from fcn_tf1.workflows import training; from fcn_tf1.model.config import "
             "ModelConfig; from fcn_tf1.data.synthetic import CLASS_NAMES; "
             "training.open_run_dir(sys.argv[1], ModelConfig(5, 'fcn8s', 0.125, "
             "class_names=CLASS_NAMES)); print('locked', flush=True); time.sleep(600)")


def test_a_run_folder_is_locked_while_it_trains(tmp_path):
    run = tmp_path / "checkpoints" / "r"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], cwd=ROOT,
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["--steps", "1", "--no-eval", "--no-export", "--checkpoint-root",
                tmp_path / "checkpoints", "--run", "r"]
        before = tree(run)
        code, err = cli("train", *args)
        assert code == 1 and err == ["fcn_tf1.train: error: %s: another training is using this "
                                     "run folder" % run]
        assert tree(run) == before
    finally:
        holder.kill()  # kill -9: the kernel releases the lock with the process
        holder.wait()
    code, err = cli("train", *args)
    assert code == 0, err
    assert tf.train.latest_checkpoint(str(run)).endswith("-1")


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    users = tmp_path / "photos"
    users.mkdir()
    (users / "holiday.jpg").write_bytes(b"jpeg")
    config, options = _tiny_config()
    with pytest.raises(training.TrainingError, match="not empty and not an fcn_tf1 run folder"):
        training.train(str(users), config, None, options)
    assert os.listdir(str(users)) == ["holiday.jpg"]  # not even a lock file


# 3. Images as users have them.

def _save(tmp_path, name, image, **kwargs):
    path = str(tmp_path / name)
    image.save(path, **kwargs)
    return path


def test_every_image_mode_reads_as_uint8_rgb_by_the_contract(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    rgb = np.stack([grey, 255 - grey, grey // 2], -1)
    expect_grey = np.repeat(grey[..., None], 3, 2)
    cases = {
        "L.png": (Image.fromarray(grey), expect_grey),
        "1.png": (Image.fromarray(grey > 100), np.repeat((grey > 100)[..., None] * 255, 3, 2)),
        "RGB.png": (Image.fromarray(rgb), rgb),
        "CMYK.tif": (Image.fromarray(rgb).convert("CMYK"), rgb),
        # 16-bit: scaled to 8 bits (65535 -> 255, 257 * k -> k), not clipped at 255.
        "I16.png": (Image.fromarray((grey.astype(np.uint16) * 257)), expect_grey),
    }
    for name, (image, expected) in cases.items():
        np.testing.assert_array_equal(read_image(_save(tmp_path, name, image)), expected, name)
    # Transparency on white, as viewers show it.
    rgba = np.dstack([rgb, np.where(grey > 100, 255, 0).astype(np.uint8)])
    white = np.where(grey[..., None] > 100, rgb, 255)
    np.testing.assert_array_equal(read_image(_save(tmp_path, "a.png", Image.fromarray(rgba))), white)
    la = Image.fromarray(np.dstack([grey, np.where(grey > 100, 255, 0).astype(np.uint8)]), "LA")
    np.testing.assert_array_equal(read_image(_save(tmp_path, "la.png", la)),
                                  np.where(grey[..., None] > 100, expect_grey, 255))
    palette = Image.fromarray(grey).convert("P")
    transparent = palette.getpixel((0, 0))
    np.testing.assert_array_equal(
        read_image(_save(tmp_path, "p.png", palette, transparency=transparent))[0, 0], [255] * 3)
    # Animated: the first frame.
    frames = [Image.fromarray(np.full((3, 4, 3), v, np.uint8)) for v in (10, 200)]
    path = _save(tmp_path, "anim.gif", frames[0], save_all=True, append_images=frames[1:])
    assert read_image(path).mean() < 50
    # Refused: float and beyond-16-bit integer images.
    with pytest.raises(DataError, match="F.tif: a floating-point image"):
        read_image(_save(tmp_path, "F.tif", Image.fromarray(grey.astype(np.float32))))
    with pytest.raises(DataError, match="I32.tif: a 32-bit integer image"):
        read_image(_save(tmp_path, "I32.tif", Image.fromarray(grey.astype(np.int32) * 100000)))


def test_exif_orientation_applies_to_predict_images_only(tmp_path):
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[0, 0] = 255  # a marked corner
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    path = _save(tmp_path, "phone.png", Image.fromarray(pixels), exif=exif.tobytes())
    stored, viewed = read_image(path), read_image(path, orient=True)
    assert stored.shape == (4, 6, 3) and viewed.shape == (6, 4, 3)
    assert viewed[0, -1].max() == 255  # the top-left corner is now top-right
    np.testing.assert_array_equal(viewed, np.rot90(stored, -1))


def test_too_many_pixels_is_one_line_and_the_folder_goes_on(frozen, tmp_path, capsys):
    folder = _images(tmp_path / "in", ["small.png"])
    Image.new("1", (12000, 10000)).save(str(folder / "bomb.png"))  # 120 MP in a small file
    assert os.path.getsize(str(folder / "bomb.png")) < 1000000
    with pytest.raises(DataError, match=r"bomb.png: the image is 12000x10000 = 120000000 pixels, "
                                        r"over the limit of 100000000"):
        read_image(str(folder / "bomb.png"))
    with pytest.raises(DataError, match="small.png: the image is 13x9 = 117 pixels"):
        read_image(str(folder / "small.png"), max_pixels=100)
    assert predict_main(["--graph", frozen, "--output-dir", str(tmp_path / "out"),
                         str(folder)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "bomb.png: the image is 12000x10000" in err[0]
    assert (tmp_path / "out" / "small.png").exists() and not (tmp_path / "out" / "bomb.png").exists()


def test_large_images_are_labelled_on_a_downscaled_copy(frozen, tmp_path, capsys):
    rng = np.random.RandomState(1)
    image = np.kron(rng.randint(0, 256, (8, 12, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    path = _save(tmp_path, "big.png", Image.fromarray(image))
    out = tmp_path / "out"
    assert predict_main(["--graph", frozen, "--output-dir", str(out), path,
                         "--max-inference-pixels", "1536", "--downscale"]) == 0
    assert ("big.png: 64x96 labelled at 32x48 (--downscale, --max-inference-pixels 1536)"
            in capsys.readouterr().err)
    with FrozenModel(frozen) as model:
        small = model.predict(np.asarray(Image.fromarray(image).resize((48, 32), Image.BILINEAR)))
    mask = np.asarray(Image.open(str(out / "big.png")))
    assert mask.shape == (64, 96)
    np.testing.assert_array_equal(mask, np.kron(small, np.ones((2, 2), np.int64)))


class _Stripes(object):
    """A model whose labels differ from column to column (0, 4, 8, ...): enlarged by anything but
    nearest neighbour, they would take values between."""
    metadata = {}

    def __init__(self, input_size=None):
        self.input_size, self.seen = input_size, []

    def run(self, image):
        self.seen.append(image.shape[:2])
        labels = np.tile(4 * (np.arange(image.shape[1]) % 3), (image.shape[0], 1))
        return np.eye(9, dtype=np.float32)[labels], labels

    def predict(self, image):
        return self.run(image)[1]


@pytest.mark.parametrize("input_size, max_pixels", [((4, 6), 10 ** 6), (None, 24)])
def test_labels_of_a_smaller_copy_are_enlarged_by_nearest_neighbour(input_size, max_pixels):
    from fcn_tf1.model.labelling import Labeller
    model = _Stripes(input_size)  # a TFLite model's fixed size, or a copy downscaled to 24 px
    labels, how = Labeller(model, max_pixels=max_pixels, downscale=True).labels(
        np.zeros((8, 12, 3), np.uint8))
    assert (how.kind, how.size) == ("resized", (4, 6)) and model.seen == [(4, 6)]
    np.testing.assert_array_equal(labels, np.kron(model.run(np.zeros((4, 6, 3)))[1],
                                                  np.ones((2, 2), np.int64)))


# 4. Every flag checked where it is parsed.

@pytest.mark.parametrize("tool, args, flag", [
    ("train", ["--width", "0"], "--width"), ("train", ["--width", "-1"], "--width"),
    ("train", ["--batch-size", "0"], "--batch-size"), ("train", ["--batch-size", "-2"],
                                                        "--batch-size"),
    ("train", ["--steps", "0"], "--steps"), ("train", ["--lr", "0"], "--lr"),
    ("train", ["--momentum", "1"], "--momentum"), ("train", ["--accumulate", "0"], "--accumulate"),
    ("train", ["--weight-decay", "-1e-4"], "--weight-decay"), ("train", ["--threads", "-1"],
                                                                "--threads"),
    ("train", ["--synthetic-size", "0"], "--synthetic-size"), ("train", ["--lr", "nan"], "--lr"),
    ("predict", ["--max-pixels", "0", "--graph", "g", "--output-dir", "o", "x"], "--max-pixels"),
    ("bench", ["--runs", "0"], "--runs"), ("compare", ["--width", "0"], "--width"),
    ("train", ["--steps", "many"], "--steps"),
])
def test_flag_ranges_are_checked_by_the_parser(tool, args, flag, capsys):
    import importlib
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module("fcn_tf1." + tool).main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fcn_tf1.%s: error: %s: expected " % (tool, flag))


# 5. Evaluation is as strict as training.

def test_evaluation_refuses_bad_labels(tmp_path):
    from tests.helpers import write_voc
    predict = lambda image: np.zeros(image.shape[:2], np.int32)  # noqa: E731
    write_voc(str(tmp_path / "range"), ["a"], label_value=40, split="val")
    with pytest.raises(DataError, match=r"a.png: label values 40 outside 0..20"):
        evaluation.evaluate_predictor(predict, VOCDataset(str(tmp_path / "range"), "val"), 21)
    root = write_voc(str(tmp_path / "size"), ["b"], split="val")
    Image.new("P", (5, 5)).save(os.path.join(root, "SegmentationClass", "b.png"))
    with pytest.raises(DataError, match=r"b.png: label is 5x5 but its image is 21x30"):
        evaluation.evaluate_predictor(predict, VOCDataset(root, "val"), 21)


def test_confusion_ignores_labels_outside_the_classes_as_the_reference():
    labels = np.array([-1, 0, 1, 2, 255, 3])
    predictions = np.array([0, 0, 1, 1, 2, 0])
    hist = metrics.confusion(labels, predictions, 3)
    # The reference's fast_hist: k = (a >= 0) & (a < n); bincount(n * a[k] + b[k]).
    keep = (labels >= 0) & (labels < 3)
    reference = np.bincount(3 * labels[keep] + predictions[keep], minlength=9).reshape(3, 3)
    np.testing.assert_array_equal(hist, reference)
    assert hist.sum() == 3


# 6. Faults as one line.

def graph_with_config(frozen, path, change):
    """A copy of the frozen graph whose config node is ``change(config)``'s."""
    import json
    graph_def = tf.GraphDef()
    with open(frozen, "rb") as f:
        graph_def.ParseFromString(f.read())
    node = next(n for n in graph_def.node if n.name == CONFIG_NODE)
    config = json.loads(node.attr["value"].tensor.string_val[0].decode())
    change(config)
    node.attr["value"].tensor.string_val[0] = json.dumps(config).encode()
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    return path


def test_a_graph_config_without_a_field_is_one_line(frozen, tmp_path):
    path = graph_with_config(frozen, str(tmp_path / "no_variant.pb"),
                             lambda config: config.pop("variant"))
    code, err = cli("evaluate", "--graph", path)
    assert code == 1 and err == ["fcn_tf1.evaluate: error: %s: the model config lacks variant"
                                 % path]


def test_graphs_of_older_formats_load_and_newer_are_refused(frozen, tmp_path):
    with FrozenModel(frozen) as model:
        assert model.metadata["format"] == 4
        current = model.config
    # Format 1 (0.1.0) had no "format", 1 and 2 no "backbone" (VGG16) nor "modality" (image),
    # 3 no "heads" (one).
    old = graph_with_config(frozen, str(tmp_path / "old.pb"), lambda config: [
        config.pop(key) for key in ("format", "backbone", "modality", "heads", "inputs", "fusion")])
    with FrozenModel(old) as model:
        assert model.config == current and model.config.backbone == "vgg16"
    newer = graph_with_config(frozen, str(tmp_path / "newer.pb"),
                              lambda config: config.update(format=5))
    code, err = cli("predict", "--graph", newer, "--output-dir", str(tmp_path / "out"), frozen)
    assert code == 1 and err == ["fcn_tf1.predict: error: %s: written by a newer fcn_tf1 (config "
                                 "format 5; this version reads up to 4): upgrade fcn_tf1" % newer]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % result.stdout.strip())
    yield mount
    subprocess.run(["umount", str(mount)])


def test_disk_full_during_training_is_one_line_and_keeps_the_checkpoint(small_disk):
    args = ["--width", "0.0625", "--save-every", "2", "--summary-every", "1000", "--no-eval",
            "--no-export", "--checkpoint-root", small_disk, "--run", "r"]
    code, err = cli("train", "--steps", "2", *args)
    assert code == 0, err
    run = str(small_disk / "r")
    saved = tf.train.latest_checkpoint(run)
    assert saved.endswith("-2")
    free = shutil.disk_usage(str(small_disk)).free
    with open(str(small_disk / "filler"), "wb") as f:
        f.write(b"\0" * (free - 64 * 1024))
    code, err = cli("train", "--steps", "6", *args)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("fcn_tf1.train: error: %s: no space left on device at step" % run)
    assert err[0].endswith("the last complete checkpoint (step 2) is kept")
    (small_disk / "filler").unlink()
    reader = tf.train.NewCheckpointReader(tf.train.latest_checkpoint(run))
    assert reader.get_tensor("global_step") == 2


def test_a_server_start_warns_of_its_exposure():
    import socket
    lines = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    task = cluster.Task({"worker": ["localhost:%d" % port]}, "worker", 0)
    server = task.server(log=lines.append)
    assert server.target.startswith("grpc://")
    assert lines == [cluster.EXPOSURE_WARNING % (task, port)]
    assert "every network interface" in lines[0]


# 7. Files we write follow the umask; bench leaves no temporary folders.

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        fileutil.write_bytes(str(tmp_path / "a.pb"), b"x")
        fileutil.replace_dir(lambda d: os.makedirs(d), str(tmp_path / "saved"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(tmp_path / "a.pb")).st_mode) == mode
    assert stat.S_IMODE(os.stat(str(tmp_path / "saved")).st_mode) == 0o777 & ~mask


def test_bench_removes_its_temporary_folders(tmp_path, monkeypatch):
    from fcn_tf1.workflows import benchmark
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("FCN_TF1_CACHE_DIR", str(tmp_path / "callers-cache"))
    result = benchmark.measure("fcn32s", (32, 32), width=1 / 32., runs=1, train_step=False)
    assert result["runtimes"][0]["same_labels"] == 1.0 and os.listdir(str(tmp_path)) == []
    # The bench's cache was its children's: the caller's models cache where they did before.
    assert os.environ["FCN_TF1_CACHE_DIR"] == str(tmp_path / "callers-cache")


def test_tflite_operator_codes_are_read_from_the_flatbuffer():
    """A Model table written with FlatBuffers' own builder: a code above 127 (only in builtin_code),
    a custom op, and an old file's int8 code beside a larger op version."""
    flatbuffers = pytest.importorskip("flatbuffers")
    from fcn_tf1.numbers.tflite_model import NotTFLite, operator_codes
    builder = flatbuffers.Builder(0)
    flex = builder.CreateString("FlexWriteFile")

    def code(deprecated, builtin=None, custom=None, version=1):
        builder.StartObject(4)
        builder.PrependInt8Slot(0, deprecated, 0)
        if custom is not None:
            builder.PrependUOffsetTRelativeSlot(1, custom, 0)
        builder.PrependInt32Slot(2, version, 1)
        if builtin is not None:
            builder.PrependInt32Slot(3, builtin, 0)
        return builder.EndObject()
    codes = [code(127, 150, version=2), code(32, 32, flex), code(3, version=4)]
    builder.StartVector(4, len(codes), 4)
    for offset in reversed(codes):
        builder.PrependUOffsetTRelative(offset)
    try:
        vector = builder.EndVector()
    except TypeError:  # flatbuffers < 2 wants the length
        vector = builder.EndVector(len(codes))
    builder.StartObject(8)
    builder.PrependUint32Slot(0, 3, 0)
    builder.PrependUOffsetTRelativeSlot(1, vector, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    assert operator_codes(data) == [(150, None), (32, "FlexWriteFile"), (3, None)]
    with pytest.raises(NotTFLite):
        operator_codes(data[:len(data) // 2])
