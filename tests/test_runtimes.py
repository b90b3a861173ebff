"""One export on every runtime: OpenVINO and ONNX Runtime agree with the TensorFlow graph of a
trained model at odd sizes (fp32: labels and logits; bf16: labels and mean IU), the default is the
first installed runtime, and what cannot run is refused in one line."""
import importlib.util
import json
import os

import numpy as np
import pytest
from PIL import Image

from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.evaluate import main as evaluate_main
from fcn_tf1.export import main as export_main
from fcn_tf1.ground import untrusted
from fcn_tf1.ground.names import CONFIG_NODE, INPUT, LOGITS, PREDICTION, RUNTIMES
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model import openvino_api, runtimes
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.export_readers import file_digest
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.predict import main as predict_main
from fcn_tf1.workflows import benchmark, conversion, evaluation, export_writers, quantization
from tests.caffe_files import fcn_layers, write_caffemodel
from tests.helpers import AGREEMENT, resident_bytes, trained_run, write_voc

SIZES = [(97, 131), (131, 97), (75, 101)]
HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
HAS_ONNX = all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime"))
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="no openvino in this venv")
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="no tf2onnx / onnx / onnxruntime here")


def _export(run, work, name):
    paths = {"pb": str(work / (name + ".pb")), "run": run}
    export_writers.export_frozen(run, paths["pb"])
    if HAS_ONNX:
        paths["onnx"] = str(work / (name + ".onnx"))
        export_writers.export_onnx(paths["pb"], paths["onnx"])
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two FCN-8s with non-zero score layers (an untrained FCN's start at zero, and every runtime
    would agree on them trivially), each as a frozen graph and, where tf2onnx is, ONNX: one trained
    here a few steps, and a reference FCN converted from a .caffemodel of random weights, whose
    labels vary over the image."""
    work = tmp_path_factory.mktemp("runtimes")
    trained = trained_run(str(work / "trained"), width=1 / 8., steps=40)
    scores = [tf.train.load_variable(trained, name) for name, _ in
              tf.train.list_variables(trained) if "score" in name and "Adam" not in name]
    assert scores and all(np.abs(s).max() > 0 for s in scores)
    caffemodel = str(work / "fcn8s.caffemodel")
    write_caffemodel(caffemodel, fcn_layers("fcn8s", 5, 1 / 8., seed=3))
    conversion.convert_fcn(caffemodel, str(work / "reference"))
    return {"trained": _export(trained, work, "trained"),
            "reference": _export(str(work / "reference"), work, "reference")}


@pytest.fixture(scope="module")
def exports(models):
    return models["reference"]


@pytest.fixture(scope="module")
def references(models):
    """TensorFlow's (images, [(logits, labels)]) per model: what every runtime is held to."""
    images = [np.random.RandomState(i).randint(0, 256, size + (3,), dtype=np.uint8)
              for i, size in enumerate(SIZES)]
    out = {}
    for name, paths in models.items():
        with FrozenModel(paths["pb"], "tf") as model:
            out[name] = images, [model.run(image) for image in images]
    labels = np.concatenate([o[1].ravel() for o in out["reference"][1]])
    assert len(np.unique(labels)) >= 3  # labels that vary: agreement is not trivial
    return out


@pytest.fixture(scope="module")
def reference(references):
    return references["reference"]


RUNS = [pytest.param("openvino", "pb", marks=needs_openvino),
        pytest.param("openvino", "onnx", marks=[needs_openvino, needs_onnx]),
        pytest.param("onnxruntime", "onnx", marks=needs_onnx),
        pytest.param("tf", "pb")]


@pytest.mark.parametrize("runtime,fmt", RUNS)
@pytest.mark.parametrize("name", ["trained", "reference"])
def test_fp32_runtimes_agree_with_tensorflow(models, references, name, runtime, fmt):
    images, outputs = references[name]
    with FrozenModel(models[name][fmt], runtime, "fp32") as model:
        assert model.describe().startswith(runtime + " ") and model.describe().endswith(" fp32")
        agree, total = 0, 0
        for image, (logits, labels) in zip(images, outputs):
            got_logits, got_labels = model.run(image)
            assert got_logits.shape == logits.shape and got_labels.shape == labels.shape
            assert np.abs(got_logits - logits).max() <= 1e-4 * np.abs(logits).max()
            agree, total = agree + (got_labels == labels).sum(), total + labels.size
        assert agree >= 0.999 * total
        # A batch is labelled image by image where the runtime takes one: the same labels.
        batch = model.predict(np.stack([images[0], images[0]]))
        assert batch.shape == (2,) + images[0].shape[:2]
        assert (batch == outputs[0][1]).mean() >= 0.999


TILED = (613, 683)  # odd, and not a multiple of the tile


@pytest.fixture(scope="module")
def whole_reference(models):
    image = np.random.RandomState(5).randint(0, 256, TILED + (3,), dtype=np.uint8)
    with FrozenModel(models["reference"]["pb"], "tf") as model:
        return image, model.run(image)[0]


@pytest.mark.parametrize("runtime,fmt", RUNS + [pytest.param("openvino", "bf16", marks=[
    needs_openvino, pytest.mark.skipif("not _bf16_supported()")])])
def test_tiles_label_as_the_whole_image_on_every_runtime(models, whole_reference, runtime, fmt):
    from fcn_tf1.model.labelling import Labeller
    image, logits = whole_reference
    precision = "bf16" if fmt == "bf16" else "fp32"
    with FrozenModel(models["reference"]["pb" if fmt == "bf16" else fmt], runtime,
                     precision) as model:
        own = model.run(image)
        tiled, how = Labeller(model, tile=(600, 600)).scores(image)
        assert how.kind == "tiled" and len(how.tiles) == 4
        if precision == "fp32":
            assert np.abs(tiled - logits).max() <= 1e-4 * np.abs(logits).max()
            assert np.abs(tiled - own[0]).max() <= 1e-5 * np.abs(logits).max()
        agreement = 0.9999 if precision == "fp32" else AGREEMENT["bf16"]
        assert (tiled.argmax(-1) == own[1]).mean() >= agreement
        # Labels alone (no logits copied out of the engine), stitched the same way.
        labels, how = Labeller(model, tile=(600, 600)).labels(image)
        assert how.kind == "tiled" and labels.dtype == np.int32
        assert (labels == own[1]).mean() >= agreement


def _bf16_supported():
    return HAS_OPENVINO and "BF16" in openvino_api.capabilities(openvino_api.core())


@needs_openvino
def test_openvinos_cpu_probe_leaves_the_threads_signal_stack_as_it_was():
    # OpenVINO sets an alternate signal stack of its own at its first CPU probe and leaves it;
    # once freed, Ctrl-C while training crashed the process (TF 2.21 after a bf16 engine, on an
    # AMD EPYC). A fresh process: this one has probed already.
    import subprocess
    import sys
    code = ("from fcn_tf1.ground.tf_compat import tf\n"  # as in training: TensorFlow loaded
            "from fcn_tf1.model import openvino_api as ov\n"
            "before, core = ov.signal_stack(), ov.core()  # kept alive, as an engine keeps it\n"
            "assert 'FP32' in ov.capabilities(core)\n"
            "print(before is not None and ov.signal_stack() == before)")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         universal_newlines=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0 and out.stdout.split() == ["True"]


@needs_openvino
@pytest.mark.skipif(not _bf16_supported(), reason="this CPU does not compute bf16")
def test_bf16_labels_and_mean_iu_stay_close_to_fp32(exports, reference):
    images, outputs = reference
    with FrozenModel(exports["pb"], "openvino", "bf16") as bf16:
        agree = np.mean([(bf16.predict(i) == o[1]).mean() for i, o in zip(images, outputs)])
        assert agree >= AGREEMENT["bf16"]
        source = SyntheticDataset("val", 16)
        with FrozenModel(exports["pb"], "openvino", "fp32") as fp32:
            ious = [evaluation.report(evaluation.evaluate_predictor(m.predict, source, 5),
                                      source.class_names)["mean_iou"] for m in (fp32, bf16)]
    assert abs(ious[0] - ious[1]) <= 0.005


@needs_openvino
@pytest.mark.skipif(_bf16_supported(), reason="this CPU computes bf16")
def test_bf16_on_a_cpu_without_it_is_one_line(exports, capsys, tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((9, 11, 3), np.uint8)).save(str(image))
    code = predict_main(["--graph", exports["pb"], str(image), "--output-dir",
                         str(tmp_path / "out"), "--runtime", "openvino", "--precision", "bf16"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err[-1].startswith(
        "fcn_tf1.predict: error: --precision bf16: this CPU does not compute bf16")
    assert not (tmp_path / "out").exists()


def test_each_runtime_is_one_description_and_one_engine():
    from fcn_tf1.ground.names import RUNTIME_SPECS
    assert set(runtimes.ENGINES) == set(RUNTIME_SPECS) == set(RUNTIMES)
    assert all(set(spec.precisions) <= {"fp32", "bf16", "int8"} and "fp32" in spec.precisions
               for spec in RUNTIME_SPECS.values())


def test_the_default_is_the_first_installed_runtime_that_reads_the_file(monkeypatch):
    monkeypatch.setattr(runtimes, "installed", lambda r: r != "openvino")
    assert runtimes.choose(None, "fp32", "m.pb") == "tf"
    assert runtimes.choose(None, "fp32", "m.onnx") == "onnxruntime"
    monkeypatch.setattr(runtimes, "installed", lambda r: True)
    assert runtimes.choose(None, "fp32", "m.pb") == RUNTIMES[0] == "openvino"
    monkeypatch.setattr(runtimes, "installed", lambda r: r == "tf")
    with pytest.raises(ValueError, match=r"no installed runtime reads an ONNX model \(.onnx\)"):
        runtimes.choose(None, "fp32", "m.onnx")


@pytest.mark.parametrize("runtime,precision,path,missing,message", [
    ("openvino", "fp32", "m.pb", True,
     "--runtime openvino: not installed; pip install 'fcn_tf1[openvino]'"),
    ("onnxruntime", "fp32", "m.onnx", True, "not installed; pip install 'fcn_tf1[onnx]'"),
    ("onnxruntime", "fp32", "m.pb", False, "m.pb: --runtime onnxruntime reads only an ONNX model "
                                           "(.onnx); make one with python -m fcn_tf1.export --onnx"),
    ("tf", "fp32", "m.onnx", False, "reads only a frozen graph (.pb); make one with python -m "
                                    "fcn_tf1.export --output"),
    (None, "int8", "m.pb", False, "m.pb: a frozen graph (.pb) runs in fp32 or bf16 only; int8 runs "
                                  "from an int8 OpenVINO IR (.xml and its .bin) (python -m "
                                  "fcn_tf1.export --int8)"),
    ("tf", "bf16", "m.pb", False, "--precision bf16: only --runtime openvino computes in bf16"),
])
def test_runtimes_that_cannot_run_the_file_are_refused(monkeypatch, runtime, precision, path,
                                                       missing, message):
    monkeypatch.setattr(runtimes, "installed", lambda r: not (missing and r == runtime))
    with pytest.raises(ValueError) as error:
        runtimes.choose(runtime, precision, path)
    assert message in str(error.value)


def test_a_missing_runtime_is_one_line_from_the_commands(exports, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(runtimes, "installed", lambda r: r != "openvino")
    code = evaluate_main(["--graph", exports["pb"], "--runtime", "openvino"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err == ["fcn_tf1.evaluate: error: --runtime openvino: not installed; "
                                 "pip install 'fcn_tf1[openvino]'"]


@needs_openvino
def test_a_graph_openvino_cannot_convert_names_the_op(tmp_path):
    with tf.Graph().as_default() as graph:
        image = tf.placeholder(tf.uint8, [None, None, 3], name=INPUT)
        odd = tf.py_func(lambda x: x, [tf.cast(image, tf.float32)], tf.float32)
        logits = tf.identity(tf.reshape(odd, tf.shape(image)), name=LOGITS)
        tf.cast(tf.argmax(logits, -1), tf.int32, name=PREDICTION)
    path = tmp_path / "pyfunc.pb"  # past our checks only here: PyFunc is not an export's op
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(ValueError) as error:
        runtimes.OpenVINOEngine(str(path), ModelConfig(2).signature)
    message = str(error.value)
    assert "\n" not in message and "PyFunc" in message and message.startswith("OpenVINO ")


def test_evaluate_graph_prints_its_runtime(exports, capsys):
    assert evaluate_main(["--graph", exports["pb"], "--runtime", "tf", "--split", "val"]) == 0
    captured = capsys.readouterr()
    assert "runtime: tf %s fp32" % tf.__version__.split("-")[0] in captured.err
    assert "mean_iou" in captured.out


# An ONNX file is checked before a runtime sees it, as a GraphDef is.

def _onnx_model(exports):
    import onnx
    model = onnx.ModelProto()
    with open(exports["onnx"], "rb") as f:
        model.ParseFromString(f.read())
    return model


def _write(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


@needs_onnx
def test_onnx_custom_ops_and_external_data_are_refused(exports, tmp_path):
    import onnx
    model = _onnx_model(exports)
    model.graph.node[0].domain = "com.example.evil"
    with pytest.raises(untrusted.UntrustedFileError, match="domain 'com.example.evil'"):
        FrozenModel(_write(model, str(tmp_path / "custom.onnx")), "onnxruntime")
    # Hidden in a branch of an If (Loop and Scan bodies are graph attributes the same way).
    import onnx.helper as helper
    model = _onnx_model(exports)
    hidden = helper.make_node("Evil", [], ["y"], domain="com.example.evil", name="hidden")
    branch = helper.make_graph([hidden], "then", [], [helper.make_tensor_value_info(
        "y", onnx.TensorProto.FLOAT, [1])])
    model.graph.node.extend([helper.make_node("If", [model.graph.input[0].name], ["z"],
                                              then_branch=branch, else_branch=branch)])
    with pytest.raises(untrusted.UntrustedFileError, match="domain 'com.example.evil' \\(node "
                                                            "'hidden'\\)"):
        FrozenModel(_write(model, str(tmp_path / "branch.onnx")), "onnxruntime")
    model = _onnx_model(exports)
    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    tensor.data_location = untrusted.ONNX_EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    with pytest.raises(untrusted.UntrustedFileError, match="stored in another file"):
        FrozenModel(_write(model, str(tmp_path / "external.onnx")), "onnxruntime")


@needs_onnx
def test_onnx_files_that_are_not_our_exports_are_refused(exports, tmp_path):
    model = _onnx_model(exports)
    del model.metadata_props[:]
    path = _write(model, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ValueError, match="not an fcn_tf1 ONNX export .no %s" % CONFIG_NODE):
        FrozenModel(path, "onnxruntime")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not protobuf at all")
    with pytest.raises(ValueError, match="not an ONNX model"):
        FrozenModel(str(garbage), "onnxruntime")


# Photos come in every size: a folder of 20 odd and even sizes, growing, shrinking and repeating
# (OpenVINO 2023.1 with dynamic shapes crashed or mislabelled from the third distinct size on).
MIXED = [(33 + 7 * i, 34 + 5 * (i % 7) + i % 2) for i in range(18)] + [(33, 34), (96, 64)]
PRECISION_RUNS = [pytest.param(r.values[0], r.values[1], "fp32", marks=r.marks) for r in RUNS] + [
    pytest.param("openvino", fmt, "bf16", marks=[needs_openvino, pytest.mark.skipif(
        not _bf16_supported(), reason="this CPU does not compute bf16")] + extra)
    for fmt, extra in (("pb", []), ("onnx", [needs_onnx]))]


def _scene(i, size):
    """A synthetic scene (objects the trained model labels) resized to ``size``."""
    image = SyntheticDataset("val", len(MIXED)).load(i)[0]
    return np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR))


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, models):
    """The folder of MIXED sizes and TensorFlow's (logits, labels) of each image by the trained
    model (its default output_shape fix is what OpenVINO's dynamic shapes broke)."""
    folder = tmp_path_factory.mktemp("mixed")
    expected = []
    with FrozenModel(models["trained"]["pb"], "tf") as model:
        for i, size in enumerate(MIXED):
            pixels = _scene(i, size)
            Image.fromarray(pixels).save(str(folder / ("%02d.png" % i)))
            expected.append(model.run(pixels))
    assert all(logits.std() > 0 for logits, _ in expected)  # not a constant map
    return folder, expected


@pytest.mark.parametrize("runtime,fmt,precision", PRECISION_RUNS)
def test_mixed_sizes_in_one_process_and_in_predict_as_tensorflow(models, mixed_folder, tmp_path,
                                                                  capsys, runtime, fmt, precision):
    folder, expected = mixed_folder
    path = models["trained"][fmt]
    # bf16's 8-bit mantissa moves logits by ~1 %; fp32 only by rounding.
    tolerance = 1e-4 if precision == "fp32" else 0.05
    with FrozenModel(path, runtime, precision) as model:
        for i, (logits, labels) in enumerate(expected):
            got_logits, got_labels = model.run(_scene(i, MIXED[i]))
            assert got_logits.shape == logits.shape, MIXED[i]
            assert np.abs(got_logits - logits).max() <= tolerance * np.abs(logits).max(), MIXED[i]
            assert (got_labels == labels).mean() >= AGREEMENT[precision], MIXED[i]
    out = tmp_path / "masks"
    assert predict_main(["--graph", path, str(folder), "--output-dir", str(out),
                         "--runtime", runtime, "--precision", precision]) == 0
    captured = capsys.readouterr()
    assert "runtime: %s " % runtime in captured.err and "images/s; the model labelling" in captured.out
    for i, (_, labels) in enumerate(expected):
        mask = np.asarray(Image.open(str(out / ("%02d.png" % i))))
        assert mask.shape == MIXED[i] and (mask == labels).mean() >= AGREEMENT[precision]


# TensorFlow Lite: a fixed input size, fixed at export.

@pytest.fixture(scope="module")
def tflite(models, tmp_path_factory):
    """The trained model exported by the command as TFLite at SIZES[2], an odd size."""
    import tempfile
    work, scratch = tmp_path_factory.mktemp("tflite"), tmp_path_factory.mktemp("tmpdir")
    args = ["--checkpoint-dir", models["trained"]["run"], "--output", str(work / "m.pb"),
            "--tflite", str(work / "m.tflite"), "--input-size", "%dx%d" % SIZES[2]]
    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)  # TMPDIR, as the process sees it
    try:
        assert export_main(args) == 0
    finally:
        tempfile.tempdir = saved
    assert os.listdir(str(scratch)) == []  # the converter's files are gone with it
    assert export_main(args) == 0  # its own earlier output is replaced without --force
    return str(work / "m.tflite")


def test_tflite_labels_as_tensorflow_and_predict_takes_every_size(tflite, references, tmp_path,
                                                                  capsys):
    images, expected = references["trained"]
    with FrozenModel(tflite) as model:
        assert (model.runtime, model.input_size) == ("tflite", SIZES[2])
        assert model.signature.image.shape == list(SIZES[2]) + [3]  # the side-car's, fixed
        logits, labels = model.run(images[2])
    assert np.abs(logits - expected[2][0]).max() <= 1e-4 * np.abs(expected[2][0]).max()
    assert (labels == expected[2][1]).mean() >= AGREEMENT["fp32"]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in (0, 2):
        Image.fromarray(images[i]).save(str(folder / ("%d.png" % i)))
    assert predict_main(["--graph", tflite, str(folder), "--output-dir", str(tmp_path / "m")]) == 0
    assert "0.png: 97x131 labelled at 75x101 (the model's input size)" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(str(tmp_path / "m" / "2.png"))), labels)
    assert np.asarray(Image.open(str(tmp_path / "m" / "0.png"))).shape == SIZES[0]


def test_a_tflite_model_tiles_exactly_where_its_size_allows(models, tmp_path, capsys):
    """TFLite's input size is fixed: an image whose sides exceed it by multiples of 32 is tiled
    exactly in tiles of that size; another is labelled on a copy resized to it, and says so."""
    from fcn_tf1.model.labelling import Labeller
    path = str(tmp_path / "big.tflite")
    assert export_main(["--checkpoint-dir", models["trained"]["run"], "--output",
                        str(tmp_path / "m.pb"), "--tflite", path, "--input-size", "576x608"]) == 0
    image = np.random.RandomState(2).randint(0, 256, (576 + 64, 608 + 32, 3), dtype=np.uint8)
    with FrozenModel(models["trained"]["pb"], "tf") as whole:
        logits = whole.run(image)[0]
    with FrozenModel(path) as model:
        tiled, how = Labeller(model).scores(image)
        assert (how.kind, how.size, len(how.tiles)) == ("tiled", (576, 608), 4)
        assert np.abs(tiled - logits).max() <= 1e-4 * np.abs(logits).max()
        assert Labeller(model).plan((600, 700)).kind == "resized"


def test_tflite_files_are_checked_before_they_load(models, tflite, tmp_path, capsys):
    import shutil
    users = tmp_path / "users.tflite"
    users.write_bytes(b"mine")
    assert export_main(["--checkpoint-dir", models["trained"]["run"], "--output",
                        str(tmp_path / "x.pb"), "--tflite", str(users), "--input-size", "8x8"]) == 1
    assert "users.tflite: exists and was not written by fcn_tf1" in capsys.readouterr().err
    assert users.read_bytes() == b"mine" and not (tmp_path / "x.pb").exists()
    data = open(tflite, "rb").read()
    changed = str(tmp_path / "changed.tflite")
    shutil.copy(tflite + ".json", changed + ".json")
    with open(changed, "wb") as f:
        middle = len(data) // 2  # inside the weights (the bulk of the file)
        f.write(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:])
    with pytest.raises(ValueError, match=r"changed.tflite.json: describes another file"):
        FrozenModel(changed)
    alone = str(tmp_path / "alone.tflite")
    shutil.copy(tflite, alone)
    with pytest.raises(ValueError, match=r"alone.tflite: no alone.tflite.json beside it"):
        FrozenModel(alone)
    (tmp_path / "noise.tflite").write_bytes(b"\x10\x00\x00\x00TFL3" + b"\xff" * 16)
    with pytest.raises(ValueError, match="noise.tflite: not a TensorFlow Lite model"):
        FrozenModel(str(tmp_path / "noise.tflite"))
    with pytest.raises(untrusted.UntrustedFileError, match="custom op FlexWriteFile"):
        untrusted.check_tflite_ops([(3, None), (32, "FlexWriteFile")], "m.tflite")
    with pytest.raises(untrusted.UntrustedFileError, match="builtin op 200 is not one"):
        untrusted.check_tflite_ops([(3, None), (200, None)], "m.tflite")


# OpenCV's dnn module: the graph of export --opencv, preprocessed by blobFromImage as its side-car
# says (RGB convention and output_shape; Caffe's BGR convention and pad100).

@pytest.mark.parametrize("name", ["trained", "reference"])
def test_opencv_dnn_labels_the_opencv_export_as_tensorflow(models, references, tmp_path, name):
    cv2 = pytest.importorskip("cv2")
    images, expected = references[name]
    path = str(tmp_path / "opencv.pb")
    export_writers.export_opencv(models[name]["run"], path, SIZES[2])
    with open(path + ".json") as f:
        described = json.load(f)
    blob = described["opencv"]["blobFromImage"]
    [image], [head] = described["signature"]["inputs"], described["signature"]["outputs"]
    assert (image["dtype"], image["shape"], image["preprocessing"]) == (
        "float32", [3] + list(SIZES[2]), None)  # a blob, preprocessed by blobFromImage
    assert (head["logits"], head["prediction"]) == ("logits", None)
    net = cv2.dnn.readNetFromTensorflow(path)
    bgr = np.ascontiguousarray(images[2][..., ::-1])  # as cv2.imread gives it
    net.setInput(cv2.dnn.blobFromImage(bgr, blob["scalefactor"], SIZES[2][::-1], blob["mean"],
                                       blob["swapRB"]))
    logits = net.forward()[0].transpose(1, 2, 0)
    assert np.abs(logits - expected[2][0]).max() <= 1e-4 * np.abs(expected[2][0]).max()
    assert (logits.argmax(-1) == expected[2][1]).mean() >= AGREEMENT["fp32"]


# OpenVINO's conversion kept as IR for the next process, per user.

def _labels_and_source(path, image, mapped_from=None):
    """(labels, whether the conversion came from the cache); ``mapped_from``: the cache folder
    the model's weights must be mapped from (a first conversion is read back from its entry)."""
    with FrozenModel(path, "openvino") as model:
        labels = model.predict(image)
        if mapped_from:
            assert model.engine.mapped.startswith(mapped_from)
        if model.engine.mapped:
            # The weights the compiled model copied: not kept resident beside its copy.
            size = os.path.getsize(model.engine.mapped)
            assert resident_bytes(model.engine.mapped) < size / 4
        return labels, model.engine.from_cache


def test_only_read_only_mappings_of_a_file_are_released_and_read_back_unchanged(tmp_path):
    import mmap
    from fcn_tf1.ground.machine import release_file_pages
    path = str(tmp_path / "weights.bin")
    with open(path, "wb") as f:
        f.write(np.random.RandomState(0).bytes(1 << 20))
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    data = bytes(mapped)  # every page touched
    assert resident_bytes(path) == 1 << 20
    assert release_file_pages(path) == 1 << 20 and resident_bytes(path) == 0
    assert bytes(mapped) == data  # read back from the file
    # A private mapping written to holds what the file does not: never released.
    with open(path, "r+b") as f:
        written = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    written[0:1] = b"x" if data[0:1] != b"x" else b"y"
    changed = written[0:1]
    assert release_file_pages(path) == 1 << 20 and written[0:1] == changed


@needs_openvino
def test_openvino_keeps_its_conversion_per_user_and_rebuilds_what_differs(models, references,
                                                                          tmp_path, monkeypatch):
    import stat
    images, expected = references["trained"]
    pb, cache = models["trained"]["pb"], tmp_path / "cache"
    monkeypatch.setenv("FCN_TF1_CACHE_DIR", str(cache))
    labels, cached = _labels_and_source(pb, images[0], mapped_from=str(cache))
    assert not cached and (labels == expected[0][1]).mean() >= AGREEMENT["fp32"]
    [entry] = list(cache.glob("openvino-*/*"))
    assert stat.S_IMODE(os.stat(str(cache)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(entry)).st_mode) == 0o700
    warm, cached = _labels_and_source(pb, images[0])
    assert cached and np.array_equal(warm, labels)
    # A changed weight file is not trusted: converted again, the entry rebuilt.
    weights = entry / "model.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1
    weights.write_bytes(bytes(data))
    again, cached = _labels_and_source(pb, images[0])
    assert not cached and np.array_equal(again, labels)
    assert _labels_and_source(pb, images[0])[1]  # rebuilt
    # A cache folder others can read or write is not used; "none" turns it off.
    os.chmod(str(cache), 0o755)
    assert not _labels_and_source(pb, images[0])[1]
    monkeypatch.setenv("FCN_TF1_CACHE_DIR", "none")
    assert not _labels_and_source(pb, images[0])[1]


def test_the_ir_cache_keeps_the_newest_entries_whole(tmp_path):
    from fcn_tf1.model import ir_cache

    class Core(object):
        def read_model(self, path):
            return open(path).read()

    def save(model, path):
        for name, text in ((path, model), (path[:-4] + ".bin", "weights of " + model)):
            with open(name, "w") as f:
                f.write(text)
    cache = ir_cache.IRCache("1.0", str(tmp_path))
    for i, digest in enumerate("abcd"):
        cache.store(save, "model %s" % digest, digest)
        os.utime(cache._entry(digest), (i, i))  # a clear order of age
    assert sorted(os.listdir(cache.folder)) == ["b", "c", "d"]  # the newest KEEP
    assert cache.load(Core(), "c") == "model c" and cache.load(Core(), "a") is None

    def fails(model, path):
        raise OSError("disk full")
    cache.store(fails, "model e", "e")
    assert sorted(os.listdir(cache.folder)) == ["b", "c", "d"]  # nothing half-written
    os.chmod(cache._entry("d"), 0o777)  # an entry others could have written: not read
    assert cache.load(Core(), "d") is None and cache.load(Core(), "c") == "model c"


def test_bf16_is_refused_where_openvino_sees_no_bf16():
    from fcn_tf1.model.runtimes import check_bf16
    with pytest.raises(ValueError, match="this CPU does not compute bf16 .OpenVINO sees FP32, "
                                         "INT8.; use --precision fp32"):
        check_bf16(["FP32", "INT8"])
    check_bf16(["FP32", "BF16"])


# int8: an OpenVINO IR quantized by NNCF (for TensorFlow 1.15 in .venv-int8), gated on mean IU.

def _nncf_python():
    try:
        return quantization.nncf_python()
    except ValueError:
        return None


# NNCF's interpreter is started for each quantization: the whole suite's leg (slow) runs them.
needs_int8 = [pytest.mark.slow, pytest.mark.skipif(not (HAS_OPENVINO and _nncf_python()), reason=(
    "no OpenVINO here, or no interpreter with NNCF (./dev.sh int8-venv)"))]


def _int8_marks(test):
    for mark in needs_int8:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def int8(models, tmp_path_factory):
    """The trained model's int8 IR, made by the command (its gate opened: a model trained 12 steps
    has no mean IU worth keeping), and the frozen graph written beside it."""
    work = tmp_path_factory.mktemp("int8")
    paths = {"pb": str(work / "m.pb"), "xml": str(work / "m_int8.xml")}
    assert export_main(["--checkpoint-dir", models["trained"]["run"], "--output", paths["pb"],
                        "--int8", paths["xml"], "--calibration-images", "6",
                        "--max-drop", "1"]) == 0
    return paths


@_int8_marks
def test_int8_is_measured_before_it_is_written_and_runs_as_measured(int8, references,
                                                                    mixed_folder, tmp_path,
                                                                    capsys):
    sidecar = json.load(open(int8["xml"] + ".json"))
    measured = sidecar["precisions"]["measured"]
    assert sidecar["openvino_int8"]["images"] == 6 and measured["fp32"]["same_labels"] == 1.0
    assert {"fp32", "int8"} <= set(measured) and sidecar["precisions"]["max_drop"] == 1
    # The frozen graph's side-car holds them too, for --precision auto, naming the graph's bytes.
    gate = json.load(open(int8["pb"] + ".json"))["precisions"]
    with open(int8["pb"], "rb") as f:
        assert gate["sha256"] == file_digest(f.read()) and gate["measured"] == measured
    # evaluate finds in the written IR the mean IU the export measured before writing it.
    report = str(tmp_path / "metrics.json")
    assert evaluate_main(["--graph", int8["xml"], "--json", report]) == 0
    assert abs(json.load(open(report))["mean_iou"] - measured["int8"]["mean_iou"]) < 1e-9
    # This venv's OpenVINO (2023.1 beside TensorFlow 1.15) runs NNCF 3.4's IR at odd sizes.
    images, outputs = references["trained"]
    with FrozenModel(int8["xml"]) as model:
        assert model.describe().startswith("openvino ") and model.describe().endswith(" int8")
        for image, (logits, labels) in zip(images, outputs):
            _agrees_where_fp32_is_sure(model.predict(image), logits, labels)
    folder, expected = mixed_folder
    out = tmp_path / "masks"
    assert predict_main(["--graph", int8["xml"], str(folder), "--output-dir", str(out)]) == 0
    assert " int8" in capsys.readouterr().err
    for i, (logits, labels) in enumerate(expected):
        mask = np.asarray(Image.open(str(out / ("%02d.png" % i))))
        assert mask.shape == MIXED[i]
        _agrees_where_fp32_is_sure(mask, logits, labels)


def _agrees_where_fp32_is_sure(int8_labels, logits, labels, margin=0.02, share=0.1):
    """int8's labels equal fp32's wherever fp32's two best scores lie more than ``margin`` of the
    image's score range apart (a pixel nearer a tie may go either way in int8), on at least
    ``share`` of the pixels. The fixture trains 40 steps, not deterministically: after 12 its
    logits spanned about 1 and the int8 IR missed the gate 2 times in 9 (0.38 of the sure pixels
    agreeing once, 10 % of an image sure the other); after 40 they span 3-18, and over 4 runs x
    20 images the sure pixels agreed on 1.0 every time and were 27-100 % of each image."""
    top = np.sort(logits, -1)
    sure = top[..., -1] - top[..., -2] > margin * (logits.max() - logits.min())
    assert sure.mean() >= share, sure.mean()
    assert (int8_labels == labels)[sure].mean() >= AGREEMENT["int8"], labels.shape


@_int8_marks
def test_int8_files_are_checked_before_they_load(int8, tmp_path, capsys):
    import shutil
    xml = str(tmp_path / "m_int8.xml")
    for suffix in ("", ".json"):
        shutil.copy(int8["xml"] + suffix, xml + suffix)
    shutil.copy(int8["xml"][:-4] + ".bin", xml[:-4] + ".bin")
    weights = tmp_path / "m_int8.bin"
    good = weights.read_bytes()
    weights.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ValueError, match="not the weights its side-car names"):
        FrozenModel(xml)
    weights.write_bytes(good)
    text = open(xml, "rb").read()
    for changed, refusal in ((b'<!DOCTYPE net [<!ENTITY a "aa">]>\n' + text, "document type"),
                             (text.replace(b'type="ReLU"', b'type="Foreign"'), "layer type Foreign")):
        with open(xml, "wb") as f:
            f.write(changed)
        sidecar = json.load(open(xml + ".json"))
        sidecar["sha256"] = file_digest(changed)  # the side-car agrees: the XML is read
        with open(xml + ".json", "w") as f:
            json.dump(sidecar, f)
        with pytest.raises(untrusted.UntrustedFileError, match=refusal):
            FrozenModel(xml)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((9, 11, 3), np.uint8)).save(str(image))
    assert predict_main(["--graph", int8["xml"], str(image), "--output-dir",
                         str(tmp_path / "masks"), "--precision", "fp32"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fcn_tf1.predict: error: %s: an int8 OpenVINO IR (.xml and its .bin) runs in "
                   "int8 only; fp32 runs from a frozen graph (.pb) or an ONNX model (.onnx) or a "
                   "TFLite model (.tflite) (python -m fcn_tf1.export --output or --onnx or --tflite)"
                   % int8["xml"]]


@_int8_marks
def test_bench_measures_int8_beside_fp32():
    result = benchmark.measure("fcn8s", (33, 35), width=1 / 16., runs=1, train_step=False,
                               runtimes=["openvino"], precisions=["fp32", "int8"])
    rows = {(row["runtime"], row["precision"]): row for row in result["runtimes"]}
    int8_row = rows[("openvino", "int8")]
    assert int8_row["describe"].endswith(" int8") and int8_row["min_s"] > 0
    # Random weights (near ties everywhere) and 8 calibration images: far from a trained model's.
    assert int8_row["same_labels"] > 0.5


@_int8_marks
def test_the_ir_layer_list_is_what_int8_exports_contain_with_this_openvino():
    derived = quantization.exportable_ir_ops()
    with open(untrusted.IR_OPS_FILE) as f:
        stored = json.load(f)
    [(key, types)] = derived.items()
    assert key in stored, ("no IR layer list for %s: add the line of `python -m fcn_tf1.export "
                           "--list-ops --int8 any.xml` to ir_ops.json" % key)
    assert types == stored[key]


def test_precision_auto_takes_the_fastest_measured_within_the_gate():
    def gate(bf16_iou, int8_iou, max_drop=0.01):
        return {"max_drop": max_drop, "measured": {
            "fp32": {"mean_iou": 0.80, "seconds_per_image": 0.7},
            "bf16": {"mean_iou": bf16_iou, "seconds_per_image": 0.1},
            "int8": {"mean_iou": int8_iou, "seconds_per_image": 0.08}}}
    assert runtimes.auto_candidates(gate(0.795, 0.79), "openvino", "m.pb") == ["bf16", "fp32"]
    assert runtimes.auto_candidates(gate(0.78, 0.79), "openvino", "m.pb") == ["fp32"]
    assert runtimes.auto_candidates(gate(0.78, 0.79, 0.05), "openvino", "m.pb") == ["bf16", "fp32"]
    assert runtimes.auto_candidates(gate(0.8, 0.8), "openvino", "m.xml") == ["int8"]
    assert runtimes.auto_candidates(None, "openvino", "m.pb") == ["fp32"]
    assert runtimes.auto_candidates(gate(0.8, 0.8), "onnxruntime", "m.onnx") == ["fp32"]


def test_the_int8_gate_and_its_inputs_are_one_line(tmp_path, monkeypatch):
    measured = {"fp32": {"mean_iou": 0.80}, "int8": {"mean_iou": 0.785}}
    quantization.check_gate(measured, 0.02)
    with pytest.raises(ValueError, match=r"--max-drop 0.01: int8's mean IU 0.7850 is 0.0150 below "
                                         r"fp32's 0.8000 .* not written"):
        quantization.check_gate(measured, 0.01)
    source = SyntheticDataset("train", 5)
    with pytest.raises(ValueError, match="cal: 5 classes, the model 21"):
        quantization.write_calibration(source, 3, str(tmp_path / "a"), 21, "cal")
    with pytest.raises(ValueError, match="cal: no images"):
        quantization.write_calibration(SyntheticDataset("train", 0), 3, str(tmp_path / "b"), 5,
                                       "cal")
    # Spread over the set, all at its most common size (the quantizer's model is static).
    count, size = quantization.write_calibration(source, 3, str(tmp_path / "c"), 5, "cal")
    shapes = {np.load(str(p)).shape for p in (tmp_path / "c").glob("*.npy")}
    assert count == 3 and shapes == {tuple(size) + (3,)}
    monkeypatch.setattr(quantization.quantizer, "has_nncf", lambda: False)
    monkeypatch.delenv("FCN_TF1_INT8_PYTHON", raising=False)
    monkeypatch.setattr(quantization, "PROJECT_INT8_PYTHON", str(tmp_path / "none"))
    with pytest.raises(ValueError, match=r"NNCF, the quantizer, is not in .*\./dev\.sh int8-venv"):
        quantization.check_can_quantize() if HAS_OPENVINO else quantization.nncf_python()


def test_a_cpu_without_vnni_is_told_int8_is_not_faster_there():
    from fcn_tf1.ground import machine
    assert "no VNNI" in machine.int8_note({"avx2", "fma", "avx512f"})
    assert all(machine.int8_note({flag}) is None for flag in machine.INT8_FLAGS)


def test_int8_output_over_a_users_file_is_refused_before_anything_is_written(models, tmp_path,
                                                                            capsys):
    users = tmp_path / "m_int8.bin"
    users.write_bytes(b"a user's file")
    assert export_main(["--checkpoint-dir", models["trained"]["run"], "--output",
                        str(tmp_path / "m.pb"), "--int8", str(tmp_path / "m_int8.xml")]) == 1
    assert capsys.readouterr().err.strip() == (
        "fcn_tf1.export: error: %s: exists and was not written by fcn_tf1; choose another path or "
        "pass --force to replace it" % users)
    assert sorted(os.listdir(str(tmp_path))) == ["m_int8.bin"] and users.read_bytes() == b"a user's file"


def test_int8_data_of_another_class_count_is_refused_before_anything_is_written(models, tmp_path,
                                                                               capsys):
    voc = str(tmp_path / "voc")
    write_voc(voc, ["a"], split="train")
    write_voc(voc, ["b"], split="val")
    assert export_main(["--checkpoint-dir", models["trained"]["run"], "--output",
                        str(tmp_path / "m.pb"), "--int8", str(tmp_path / "m_int8.xml"),
                        "--data", "voc", "--data-dir", voc]) == 1
    assert capsys.readouterr().err.strip() == (
        "fcn_tf1.export: error: --data voc, train split: 21 classes, the model 5")
    assert sorted(os.listdir(str(tmp_path))) == ["voc"]


@needs_openvino
def test_openvino_keeps_the_three_sizes_used_last(exports):
    sizes = [(33, 34), (35, 36), (37, 38), (39, 40)]
    with FrozenModel(exports["pb"], "openvino") as model:
        for size in sizes[:3] + sizes[:1] + sizes[3:]:  # the first size used again, then a fourth
            model.run(np.zeros(size + (3,), np.uint8))
        # keyed by the shapes of the model's inputs: its one image's here
        assert list(model.engine.compiled) == [(s + (3,),) for s in (sizes[2], sizes[0], sizes[3])]
