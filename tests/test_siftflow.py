"""SIFT Flow in the reference's layout (JPEG photos, the semantic and geometric MAT files, split
files) and the FCNs of two heads from end to end: labels shifted as siftflow_layers.py shifts
them, training on both tasks, evaluation per head, a mask per head, exports with both heads."""
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from fcn_tf1.data.siftflow import FOLDER, GEOMETRIC, SEMANTIC, SIFTFlowDataset
from fcn_tf1.data.source import DataSource
from fcn_tf1.data.validate import check_dataset, format_counts
from fcn_tf1.evaluate import main as evaluate_main
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.predict import main as predict_main
from fcn_tf1.train import main as train_main

SIZE = (37, 45)


def write_siftflow(root, splits, seed=0, noise=True):
    """A SIFT Flow folder: {split: [ids]}. The semantic class (1-4) is the red of the left half,
    the geometric one (1-3) the blue of the top half, the rest labelled at random 0-33 (semantic)
    and -1-3 (geometric); without ``noise`` the whole image's red and blue are its two classes,
    which both heads can learn from each other's data alone."""
    folders = [os.path.join(root, kind, FOLDER)
               for kind in ("Images", "SemanticLabels", "GeoLabels")]
    for folder in folders:
        os.makedirs(folder)
    rng = np.random.RandomState(seed)
    for split, ids in splits.items():
        for name in ids:
            semantic, geometric = rng.randint(1, 5), rng.randint(1, 4)
            image = rng.randint(0, 40, SIZE + (3,)).astype(np.uint8)
            sem = rng.randint(0, len(SEMANTIC) + 1, SIZE)
            geo = rng.randint(-1, len(GEOMETRIC) + 1, SIZE)
            left, top = (SIZE[1] // 2, SIZE[0] // 2) if noise else SIZE[::-1]
            image[:, :left, 0], sem[:, :left] = 60 * semantic, semantic
            image[:top, :, 2], geo[:top] = 80 * geometric, geometric
            Image.fromarray(image).save(os.path.join(folders[0], name + ".jpg"), quality=98)
            scipy.io.savemat(os.path.join(folders[1], name + ".mat"), {"S": sem.astype(np.int16)})
            scipy.io.savemat(os.path.join(folders[2], name + ".mat"), {"S": geo.astype(np.int16)})
        with open(os.path.join(root, split + ".txt"), "w") as f:
            f.write("".join(name + "\n" for name in ids))
    return root


@pytest.fixture(scope="module")
def siftflow(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("siftflow"))
    return write_siftflow(root, {"trainval": ["coast_1", "forest_2", "street_3"],
                                 "test": ["coast_4", "city_5"]})


def test_both_label_maps_shift_as_the_reference_shifts_them(siftflow):
    data = SIFTFlowDataset(siftflow, "test")
    assert data.heads == (("semantic", SEMANTIC), ("geometric", GEOMETRIC))
    for i in range(len(data)):
        image, label = data.load(i)
        paths = data.paths(i)
        sem, geo = (scipy.io.loadmat(path)["S"].astype(int) for path in paths[1:])
        assert image.shape == SIZE + (3,) and label.shape == SIZE + (2,)
        np.testing.assert_array_equal(label[..., 0], np.where(sem == 0, IGNORE_LABEL, sem - 1))
        np.testing.assert_array_equal(label[..., 1], np.where(geo <= 0, IGNORE_LABEL, geo - 1))
    assert check_dataset(data) == []
    table = format_counts(data)
    assert "per class of the geometric task" in table and "  vertical " in table


def test_a_bad_label_file_names_its_file(tmp_path):
    root = write_siftflow(str(tmp_path), {"train": ["a", "b", "c", "d"]})
    sem, geo = (os.path.join(root, kind, FOLDER) for kind in ("SemanticLabels", "GeoLabels"))
    scipy.io.savemat(os.path.join(sem, "a.mat"), {"L": np.zeros(SIZE, np.int16)})
    scipy.io.savemat(os.path.join(geo, "b.mat"), {"S": np.full(SIZE, 4, np.int16)})
    with open(os.path.join(geo, "c.mat"), "wb") as f:
        f.write(b"\x80\x03cos\nsystem\nq\x00.")  # a pickle is not a MAT file: never run
    scipy.io.savemat(os.path.join(sem, "d.mat"), {"S": np.zeros((5, 5), np.int16)})
    text = "\n".join(check_dataset(SIFTFlowDataset(root, "train")))
    assert os.path.join(sem, "a.mat") + ": not a SIFT Flow label file (no S)" in text
    assert os.path.join(geo, "b.mat") + ": S holds numbers outside -1-3" in text
    assert os.path.join(geo, "c.mat") + ": cannot read .mat" in text
    assert os.path.join(sem, "d.mat") + ": labels of 5x5 for an image of 37x45" in text


def test_two_heads_train_evaluate_predict_and_export(siftflow, tmp_path, capsys):
    flags = ["--data", "siftflow", "--data-dir", siftflow, "--val-split", "test"]
    assert train_main(flags + ["--train-split", "trainval", "--steps", "2", "--width", "0.0625",
                               "--preset", "quick", "--variant", "fcn16s", "--checkpoint-root",
                               str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "semantic:\n" in out and "geometric:\n" in out and "streetlight" in out
    run = tmp_path / "runs" / "siftflow-fcn16s"
    assert evaluate_main(["--checkpoint-dir", str(run), "--split", "test", "--json",
                          str(tmp_path / "m.json")] + flags[:4]) == 0
    report = __import__("json").load(open(str(tmp_path / "m.json")))
    assert sorted(report["heads"]) == ["geometric", "semantic"]  # written with sorted keys
    assert sorted(report["heads"]["geometric"]["per_class_iou"]) == sorted(GEOMETRIC)
    frozen = str(run / "frozen_model.pb")
    with FrozenModel(frozen) as exported:
        names = exported.signature.output_names()
        image = SIFTFlowDataset(siftflow, "test").load(0)[0]
        assert exported.predict(image).shape == SIZE + (2,)
    assert names == ["logits_semantic", "prediction_semantic", "logits_geometric",
                     "prediction_geometric"]
    masks = tmp_path / "masks"
    assert predict_main([os.path.join(siftflow, "Images", FOLDER), "--graph", frozen,
                         "--output-dir", str(masks)]) == 0
    assert sorted(os.listdir(str(masks))) == sorted(
        "%s_%s.png" % (name, head) for name in ("coast_1", "forest_2", "street_3", "coast_4",
                                                "city_5") for head in ("semantic", "geometric"))
    # A data set of one task for a model of two: one line.
    assert evaluate_main(["--checkpoint-dir", str(run), "--data", "synthetic"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "error: the model has 33 semantic + 3 geometric classes, the data set 5 classes")


def test_both_heads_agree_on_every_runtime_whole_tiled_and_with_tta(tmp_path):
    """A converted siftflow-fcn32s (random weights, width 1/16): each head's logits and labels on
    OpenVINO (fp32, bf16), ONNX Runtime and TFLite as TensorFlow's; ``predict`` stacks the heads'
    labels; exact tiles give the whole image's labels of both heads, TTA each head's own."""
    from fcn_tf1.model.labelling import STRIDE, Labeller
    from fcn_tf1.numbers import tiling
    from fcn_tf1.numbers.tta import TTA, softmax
    from fcn_tf1.workflows import conversion, export_writers
    from tests.caffe_files import fcn_layers, write_caffemodel
    from tests.test_alexnet import AGREEMENT
    from tests.test_runtimes import HAS_ONNX, HAS_OPENVINO, _bf16_supported
    model = str(tmp_path / "siftflow-fcn32s.caffemodel")
    write_caffemodel(model, fcn_layers("fcn32s", width=1 / 16., heads=[("_sem", 33), ("_geo", 3)]))
    run, pb = str(tmp_path / "run"), str(tmp_path / "m.pb")
    conversion.convert_fcn(model, run)
    export_writers.export_frozen(run, pb)
    size = (67, 93)
    image = np.random.RandomState(5).randint(0, 256, size + (3,)).astype(np.uint8)
    with FrozenModel(pb, "tf") as tf_model:
        ours = tf_model.run(image)
        np.testing.assert_array_equal(tf_model.predict(image), np.stack(ours[1::2], -1))
        whole_labeller = Labeller(tf_model, "off")
        whole = whole_labeller.labels(image)[0]
        big = np.random.RandomState(6).randint(0, 256, (701, 745, 3)).astype(np.uint8)
        side = max(tiling.smallest_tile(h, STRIDE) for h in whole_labeller.halos(big.shape[:2]))
        tiled, how = Labeller(tf_model, (side, side)).labels(big)
        assert how.kind == "tiled"
        np.testing.assert_array_equal(tiled, whole_labeller.labels(big)[0])
        flipped = Labeller(tf_model, "off", tta=TTA(flip=True)).labels(image)[0]
        mirrored = tf_model.run(image[:, ::-1])
    np.testing.assert_array_equal(whole, np.stack(ours[1::2], -1))
    for k in range(2):  # each head's own probabilities averaged with its mirror's
        by_hand = softmax(ours[2 * k]) + softmax(mirrored[2 * k])[:, ::-1]
        top2 = np.sort(by_hand, -1)[..., -2:]
        clear = top2[..., 1] - top2[..., 0] > 1e-5  # not a tie at float precision
        np.testing.assert_array_equal(flipped[..., k][clear], by_hand.argmax(-1)[clear])
    _serves_both_heads(run, str(tmp_path / "saved"), image, ours)
    runs = [("openvino", "fp32", pb)] if HAS_OPENVINO else []
    if HAS_OPENVINO and _bf16_supported():
        runs.append(("openvino", "bf16", pb))
    if HAS_ONNX:
        export_writers.export_onnx(pb, str(tmp_path / "m.onnx"))
        runs.append(("onnxruntime", "fp32", str(tmp_path / "m.onnx")))
    export_writers.export_tflite(run, str(tmp_path / "m.tflite"), size)
    runs.append(("tflite", "fp32", str(tmp_path / "m.tflite")))
    for runtime, precision, path in runs:
        with FrozenModel(path, runtime, precision) as exported:
            theirs = exported.run(image)
            labels = exported.predict(image)
        assert len(theirs) == 4 and labels.shape == size + (2,), runtime
        for k in range(2):
            same = (theirs[2 * k + 1] == ours[2 * k + 1]).mean()
            assert same >= AGREEMENT[precision], (runtime, precision, k)
            np.testing.assert_array_equal(labels[..., k], theirs[2 * k + 1])
            if precision == "fp32":
                scale = np.abs(ours[2 * k]).max()
                assert np.abs(theirs[2 * k] - ours[2 * k]).max() <= 1e-4 * scale, (runtime, k)


def test_the_loss_sums_each_heads_loss_over_its_own_labelled_pixels():
    """Each head's cross-entropy over the pixels it labels (its own void), summed, and a gradient
    into both heads' score layers."""
    from fcn_tf1.ground.tf_compat import tf
    from fcn_tf1.model.config import ModelConfig
    from fcn_tf1.workflows.optimisation import tower_losses
    from fcn_tf1.numbers.tta import softmax
    heads = [{"name": "semantic", "class_names": list("abcd")},
             {"name": "geometric", "class_names": list("xyz")}]
    config = ModelConfig(4, "fcn32s", 1 / 32., class_names=list("abcd"), heads=heads)
    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, (1, 35, 41, 3)).astype(np.uint8)
    labels = np.stack([rng.randint(0, 4, (1, 35, 41)), rng.randint(0, 3, (1, 35, 41))], -1)
    labels[0, :10, :, 0] = IGNORE_LABEL   # void for the semantic head only
    labels[0, :, :7, 1] = IGNORE_LABEL    # and for the geometric one
    with tf.Graph().as_default(), tf.Session() as session:
        batch = (tf.constant(image), tf.constant(labels.astype(np.uint8)))
        (loss,), _ = tower_losses(config, [batch], [None])
        session.run(tf.global_variables_initializer())
        rng_vars = [v for v in tf.global_variables() if "score_fr" in v.op.name]
        for v in rng_vars:  # scores that depend on the image (training starts them at 0)
            v.load(rng.normal(0, 0.5, v.shape.as_list()), session)
        logits = session.run([tf.get_default_graph().get_tensor_by_name(name) for name in (
            "score_semantic:0", "score_geometric:0")], {})
        total = session.run(loss)
        grads = session.run(tf.gradients(loss, [v for v in rng_vars if "kernel" in v.op.name]))
    expected = 0.0
    for k, head_logits in enumerate(logits):
        truth = labels[..., k]
        valid = truth != IGNORE_LABEL
        p = softmax(head_logits)[valid]
        expected += -np.log(p[np.arange(len(p)), truth[valid]]).mean()
    np.testing.assert_allclose(total, expected, rtol=1e-4)
    assert all(np.abs(g).max() > 0 for g in grads) and len(grads) == 2


def test_crops_and_flips_move_every_tasks_labels_with_the_image():
    """Labels [H, W, 2] through the training pipeline's random crop (padding void) and flip: each
    task's label stays on its pixel (here the label of each task is the pixel's own red / green)."""
    from fcn_tf1.data.pipeline import make_dataset
    from fcn_tf1.ground.tf_compat import tf

    class Tasks(DataSource):
        heads = (("semantic", SEMANTIC), ("geometric", GEOMETRIC))
        num_classes, class_names = len(SEMANTIC), SEMANTIC

        def __len__(self):
            return 4

        def load(self, i):
            rng = np.random.RandomState(i)
            image = np.stack([rng.randint(0, 33, (29, 51)), rng.randint(0, 3, (29, 51)),
                              np.full((29, 51), i)], -1).astype(np.uint8)
            return image, image[..., :2].copy()

    with tf.Graph().as_default(), tf.Session() as session:
        data = make_dataset(Tasks(), 4, (40, 40), flip=True, mean_rgb=(0, 0, 0), seed=3)
        images, labels = session.run(tf.data.make_one_shot_iterator(data).get_next())
    assert labels.shape == (4, 40, 40, 2)
    real = labels[..., 0] != IGNORE_LABEL
    assert real.any() and (~real).any()  # cropped from the image and padded beyond it
    np.testing.assert_array_equal(labels[real], images[..., :2][real])
    assert ((labels[..., 1] == IGNORE_LABEL) == ~real).all()


def _serves_both_heads(run, saved, image, ours):
    """The SavedModel's signatures name each head's outputs; its encoded-image one labels a PNG
    as the frozen graph does, head by head, with a PNG mask each."""
    import io
    from fcn_tf1.ground.tf_compat import tf
    from fcn_tf1.workflows import export_writers
    export_writers.export_saved_model(run, saved)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    with tf.Graph().as_default(), tf.Session() as session:
        signatures = tf.saved_model.loader.load(session, ["serve"], saved).signature_def
        assert sorted(signatures["serving_default"].outputs) == [
            "logits_geometric", "logits_semantic", "prediction_geometric", "prediction_semantic"]
        served = signatures["serving_bytes"]
        fetch = {k: v.name for k, v in served.outputs.items()}
        out = session.run(fetch, {served.inputs["image_bytes"].name: [buffer.getvalue()]})
    for k, head in enumerate(("semantic", "geometric")):
        np.testing.assert_array_equal(out["prediction_" + head][0], ours[2 * k + 1])
        mask = Image.open(io.BytesIO(out["prediction_%s_png_bytes" % head][0]))
        assert mask.size == image.shape[1::-1]


class _TwoThresholds(DataSource):
    """One red level of four per image (0-3, noise on top): the semantic class is level >= 2, the
    geometric one level >= 1, two different functions of one feature, to be learnt by one
    backbone and two heads from random weights."""
    heads = (("semantic", ("dark", "bright")), ("geometric", ("black", "lit")))
    num_classes, class_names = 2, ("dark", "bright")

    def __init__(self, count, seed):
        self.count, self.seed = count, seed

    def __len__(self):
        return self.count

    def load(self, i):
        rng = np.random.RandomState(self.seed * 1000 + i)
        level = i % 4
        image = rng.randint(0, 60, (64, 64, 3)).astype(np.uint8)
        image[..., 0] = 60 * (level + 1) + rng.randint(0, 10, (64, 64))
        labels = [np.full((64, 64), int(level >= 2)), np.full((64, 64), int(level >= 1))]
        return image, np.stack(labels, -1).astype(np.uint8)


@pytest.mark.slow
def test_both_heads_learn_their_own_task(tmp_path):
    """300 steps from random weights (the quick preset, width 1/16): both heads label the
    validation images perfectly (not without its own loss; seeds 0-4 all learn)."""
    from fcn_tf1.model.config import ModelConfig
    from fcn_tf1.workflows import evaluation, recipes, training
    heads = [{"name": name, "class_names": list(names)} for name, names in _TwoThresholds.heads]
    config = ModelConfig(2, "fcn32s", 1 / 16., class_names=["dark", "bright"], heads=heads)
    options = recipes.options_for("quick", steps=300, save_every=10 ** 6, summary_every=10 ** 6)
    training.train(str(tmp_path / "run"), config, _TwoThresholds(24, 0), options)
    result = evaluation.evaluate_run(str(tmp_path / "run"), _TwoThresholds(12, 1), write=False)
    assert {name: head["mean_iou"] for name, head in result["heads"].items()} == {
        "semantic": 1.0, "geometric": 1.0}
