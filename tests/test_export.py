"""Frozen graphs, SavedModels and fcn_tf1.predict on images of any size."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fcn_tf1.ground import fileutil
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.models import CheckpointModel
from fcn_tf1.numbers.palette import palette
from fcn_tf1.predict import FrozenModel, main as predict_main
from fcn_tf1.workflows import export_writers
from tests.helpers import trained_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [(33, 34), (1, 1), (224, 224), (375, 500)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return trained_run(str(tmp_path_factory.mktemp("run") / "run"))


@pytest.fixture(scope="module")
def frozen(run_dir, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("export") / "model.pb")
    export_writers.export_frozen(run_dir, path)
    return path


def images(seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, size + (3,), dtype=np.uint8) for size in SIZES]


def test_frozen_savedmodel_and_checkpoint_agree(run_dir, frozen, tmp_path):
    saved = str(tmp_path / "saved")
    export_writers.export_saved_model(run_dir, saved)
    checkpoint, graph = CheckpointModel(run_dir), FrozenModel(frozen)
    with tf.Graph().as_default(), tf.Session() as session:
        meta = tf.saved_model.loader.load(session, ["serve"], saved)
        signature = meta.signature_def["serving_default"]
        fetch = {k: v.name for k, v in signature.outputs.items()}
        for image in images():
            logits, labels = checkpoint.run(image)
            assert labels.shape == image.shape[:2] and logits.shape == image.shape[:2] + (5,)
            assert np.abs(logits).max() > 0  # trained: the score layers are no longer zero
            frozen_logits, frozen_labels = graph.run(image)
            served = session.run(fetch, {signature.inputs["image"].name: image})
            for other_logits, other_labels in ((frozen_logits, frozen_labels),
                                               (served["logits"], served["prediction"])):
                np.testing.assert_allclose(other_logits, logits, atol=1e-5, rtol=0)
                np.testing.assert_array_equal(other_labels, labels)
    batch = np.stack([images()[0], images(1)[0]])
    logits, labels = graph.run(batch)
    assert logits.shape == (2, 33, 34, 5) and labels.shape == (2, 33, 34)
    np.testing.assert_array_equal(labels[1], graph.predict(batch[1]))
    assert graph.metadata["variant"] == "fcn8s" and graph.metadata["shape_fix"] == "output_shape"
    assert ModelConfig.from_dict({k: graph.metadata[k] for k in ModelConfig.load(run_dir).to_dict()
                                  }) == ModelConfig.load(run_dir)


def _png_bytes(image, fmt="PNG"):
    out = io.BytesIO()
    Image.fromarray(image).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """A reference FCN-8s converted from a .caffemodel of random weights: labels that vary over
    the image, BGR input and pad 100 (the preprocessing has something to get wrong)."""
    from fcn_tf1.workflows import conversion
    from tests.caffe_files import fcn_layers, write_caffemodel
    work = tmp_path_factory.mktemp("reference")
    write_caffemodel(str(work / "fcn8s.caffemodel"), fcn_layers("fcn8s", 5, 1 / 16., seed=3))
    conversion.convert_fcn(str(work / "fcn8s.caffemodel"), str(work / "run"))
    return str(work / "run")


def test_the_serving_bytes_signature_labels_encoded_images_of_any_sizes(reference_run, tmp_path):
    """TF Serving's way in: a batch of encoded images of different sizes, through TensorFlow's
    own loader and saved_model_cli, gives the labels of the checkpoint, and PNG masks of them."""
    run_dir = reference_run
    saved = str(tmp_path / "saved")
    export_writers.export_saved_model(run_dir, saved)
    pictures = [images(seed)[i] for seed, i in ((0, 0), (1, 1), (2, 2))]  # three sizes
    encoded = [_png_bytes(p) for p in pictures[:2]] + [_png_bytes(pictures[2], "BMP")]
    with CheckpointModel(run_dir) as checkpoint:
        expected = [checkpoint.predict(p) for p in pictures]
    assert len(np.unique(np.concatenate([e.ravel() for e in expected]))) >= 3  # not trivial
    colours = palette()
    with tf.Graph().as_default(), tf.Session() as session:
        signature = tf.saved_model.loader.load(session, ["serve"], saved).signature_def[
            "serving_bytes"]
        fetch = {k: v.name for k, v in signature.outputs.items()}
        served = session.run(fetch, {signature.inputs["image_bytes"].name: encoded})
        jpeg = session.run(fetch, {signature.inputs["image_bytes"].name: [
            _png_bytes(pictures[1], "JPEG")]})  # lossy: its size, not its labels
        assert (jpeg["height"][0], jpeg["width"][0]) == pictures[1].shape[:2]
    for i, labels in enumerate(expected):
        h, w = labels.shape
        assert (served["height"][i], served["width"][i]) == (h, w)
        np.testing.assert_array_equal(served["prediction"][i, :h, :w], labels)
        assert (served["prediction"][i, h:] == -1).all() and (served["prediction"][i, :, w:] == -1).all()
        mask = np.asarray(Image.open(io.BytesIO(served["prediction_png_bytes"][i])))
        np.testing.assert_array_equal(mask, colours[labels])
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    np.save(str(tmp_path / "in.npy"), np.array(encoded[:2]))
    result = subprocess.run([cli, "run", "--dir", saved, "--tag_set", "serve", "--signature_def",
                             "serving_bytes", "--inputs", "image_bytes=%s" % (tmp_path / "in.npy"),
                             "--outdir", str(tmp_path / "out")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout[-2000:]
    got = np.load(str(tmp_path / "out" / "prediction.npy"))
    np.testing.assert_array_equal(got[1, :expected[1].shape[0], :expected[1].shape[1]], expected[1])


def test_frozen_graph_has_no_variables_and_loads_in_a_fresh_process(frozen):
    graph_def = tf.GraphDef()
    graph_def.ParseFromString(open(frozen, "rb").read())
    assert not {n.op for n in graph_def.node} & {"VariableV2", "VarHandleOp", "Variable"}
    code = ("import numpy as np, tensorflow as tf\n"
            "g = tf.compat.v1.GraphDef(); g.ParseFromString(open(%r, 'rb').read())\n"
            "tf.import_graph_def(g, name='')\n"
            "with tf.compat.v1.Session() as s:\n"
            "    out = s.run('prediction:0', {'image:0': np.zeros((33, 34, 3), np.uint8)})\n"
            "print(out.shape, out.dtype)\n" % frozen)
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(33, 34) int32"


def test_bad_graph_files_are_refused(tmp_path):
    (tmp_path / "empty.pb").write_bytes(b"")
    (tmp_path / "junk.pb").write_bytes(b"\xff\x00 this is no protobuf")
    other = tf.Graph()
    with other.as_default():
        tf.identity(tf.constant(1.0), name="out")
    (tmp_path / "other.pb").write_bytes(other.as_graph_def().SerializeToString())
    for name, message in [("missing.pb", "no such file"), ("empty.pb", "empty file"),
                          ("junk.pb", "not a TensorFlow GraphDef"),
                          ("other.pb", "not an fcn_tf1 graph")]:
        with pytest.raises(ValueError, match="%s: %s" % (name, message)):
            FrozenModel(str(tmp_path / name))


def _renamed(frozen, path, names=("rgb", "scores", "labels"), drop=None):
    """The frozen graph with its tensors renamed to ``names`` and a config whose signature says
    so (without the node ``drop``, when named)."""
    import json
    from fcn_tf1.ground.names import CONFIG_NODE
    from fcn_tf1.model.export_readers import read_frozen
    from fcn_tf1.model.signature import Signature
    graph_def, metadata = read_frozen(frozen)
    signature = Signature.of(ModelConfig.from_dict(metadata))
    signature = Signature([signature.image._replace(name=names[0])],
                          [signature.head._replace(logits=names[1], prediction=names[2])])
    with tf.Graph().as_default() as graph:
        rgb = tf.placeholder(tf.uint8, [None, None, 3], name=names[0])
        logits, labels = tf.import_graph_def(graph_def, {"image:0": rgb},
                                             ["logits:0", "prediction:0"], name="m")
        tf.identity(logits, name=names[1]), tf.identity(labels, name=names[2])
        tf.constant(json.dumps(dict(metadata, signature=signature.to_dict())), name=CONFIG_NODE)
        kept = [n for n in (names[1], names[2], CONFIG_NODE) if n != drop]
        cut = tf.graph_util.extract_sub_graph(graph.as_graph_def(), kept)
    with open(path, "wb") as f:
        f.write(cut.SerializeToString())
    return str(path)


@pytest.mark.parametrize("runtime", ["tf", "openvino"])
def test_runtimes_read_the_tensor_names_from_the_signature(frozen, tmp_path, runtime):
    from fcn_tf1.model import runtimes
    if not runtimes.installed(runtime):
        pytest.skip("%s is not installed" % runtime)
    renamed = _renamed(frozen, tmp_path / "renamed.pb")
    image = images()[0]
    with FrozenModel(frozen, "tf") as model:
        expected = model.run(image)
    with FrozenModel(renamed, runtime) as model:
        assert model.signature.output_names() == ["scores", "labels"]
        logits, labels = model.run(image)
        with pytest.raises(ValueError, match=r"takes uint8 image \[H, W, 3\] .*not float32"):
            model.run(image.astype(np.float32))
    np.testing.assert_array_equal(labels, expected[1])
    np.testing.assert_allclose(logits, expected[0], atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"cut.pb: not the graph its config describes \(no node "
                                         r"labels\)"):
        FrozenModel(_renamed(frozen, tmp_path / "cut.pb", drop="labels"), runtime)


def test_predict_cli_writes_masks_of_each_size(frozen, tmp_path, capsys):
    rgb = np.random.RandomState(0).randint(0, 256, (37, 51, 3), dtype=np.uint8)
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(rgb).save(str(inputs / "a.jpg"))
    Image.fromarray(rgb[:5, :3]).convert("L").save(str(inputs / "gray.png"))
    Image.fromarray(rgb[:1, :1]).convert("RGBA").save(str(inputs / "rgba.png"))
    (inputs / "broken.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    assert predict_main(["--graph", frozen, str(inputs), "--output-dir", str(out),
                         "--overlay"]) == 1
    err = capsys.readouterr().err
    assert "broken.png: cannot read image" in err
    with FrozenModel(frozen) as model:
        for name, size in (("a", (37, 51)), ("gray", (5, 3)), ("rgba", (1, 1))):
            with Image.open(str(out / (name + ".png"))) as mask:
                assert mask.mode == "P" and mask.size == size[::-1]
                if name == "a":
                    np.testing.assert_array_equal(np.asarray(mask), model.predict(rgb))
            with Image.open(str(out / (name + "_overlay.png"))) as overlay:
                assert overlay.size == size[::-1] and overlay.mode == "RGB"
    assert not (out / "broken.png").exists()
    assert predict_main(["--graph", str(tmp_path / "nope.pb"), str(inputs / "a.jpg"),
                         "--output-dir", str(out)]) == 1
    assert "nope.pb: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_an_export_that_fails_half_way_leaves_the_old_file_whole(run_dir, tmp_path, monkeypatch):
    # As a kill or a full disk mid-write: the first half of the new bytes written, then the end.
    # fcn_tf1 wrote the old file, so the new export may replace it, but only whole.
    target = str(tmp_path / "model.pb")
    export_writers.export_frozen(run_dir, target)
    old = open(target, "rb").read()
    real_open = open

    class HalfWay(object):
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def failing_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return HalfWay(f) if "w" in mode else f
    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError, match="No space left"):
        fileutil.write_bytes(target, b"new " * 1000)
    monkeypatch.undo()
    assert open(target, "rb").read() == old
    assert sorted(os.listdir(str(tmp_path))) == ["model.pb", "model.pb.json"]  # no temporary file


def test_onnx_export_predicts_like_tensorflow(frozen, tmp_path):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    run_dir = os.path.dirname(frozen)
    onnx_path = str(tmp_path / "model.onnx")
    export_writers.export_onnx(frozen, onnx_path)
    session = ort.InferenceSession(onnx_path)
    with FrozenModel(onnx_path) as onnx_model:
        assert onnx_model.signature == onnx_model.config.signature  # carried in the ONNX export
    with FrozenModel(frozen) as model:
        assert model.metadata["signature"] == model.config.signature.to_dict()
        for image in images():
            logits, labels = session.run(None, {"image:0": image})
            tf_logits, tf_labels = model.run(image)
            np.testing.assert_array_equal(labels, tf_labels)
            np.testing.assert_allclose(logits, tf_logits, atol=1e-4, rtol=0)
    (tmp_path / "junk.pb").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.pb: not a TensorFlow GraphDef"):
        export_writers.export_onnx(str(tmp_path / "junk.pb"), str(tmp_path / "junk.onnx"))
    assert not (tmp_path / "junk.onnx").exists() and run_dir


def test_export_tta_bakes_flip_into_the_graph_and_the_saved_model(run_dir, frozen, tmp_path,
                                                                  capsys):
    from fcn_tf1.export import main as export_main
    from fcn_tf1.model.labelling import Labeller
    from fcn_tf1.numbers.tta import softmax
    out = str(tmp_path / "tta.pb")
    assert export_main(["--checkpoint-dir", run_dir, "--output", out, "--saved-model",
                        str(tmp_path / "saved"), "--tta", "flip"]) == 0
    assert "with TTA flip inside" in capsys.readouterr().out
    assert json.load(open(out + ".json"))["tta"] == {"flip": True, "scales": [1.0]}
    image = images()[3]
    with FrozenModel(frozen, "tf") as plain:
        by_hand = (softmax(plain.run(image)[0]) + softmax(plain.run(image[:, ::-1])[0])[:, ::-1]) / 2
    with FrozenModel(out, "tf") as baked:
        np.testing.assert_allclose(softmax(baked.run(image)[0]), by_hand, atol=1e-5)
        with pytest.raises(ValueError, match=r"--tile: this export has test-time augmentation "
                                             r"inside \(export --tta flip\); label"):
            Labeller(baked, tile=(600, 600))
    with tf.Graph().as_default(), tf.Session() as session:
        meta = tf.saved_model.loader.load(session, ["serve"], str(tmp_path / "saved"))
        signature = meta.signature_def["serving_default"]
        logits = session.run(signature.outputs["logits"].name,
                             {signature.inputs["image"].name: image})
    np.testing.assert_allclose(softmax(logits), by_hand, atol=1e-5)
    with pytest.raises(SystemExit):
        export_main(["--checkpoint-dir", run_dir, "--output", str(tmp_path / "b.pb"),
                     "--onnx", str(tmp_path / "b.onnx"), "--tta", "flip"])
    assert "--tta goes into --output and --saved-model only, not --onnx" in \
        capsys.readouterr().err
