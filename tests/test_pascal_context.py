"""PASCAL-Context in the reference's layout: VOC2010's images and splits, the annotations' MAT
files mapped to the 59-class task (three classes looked up by other names), and the commands."""
import json
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from fcn_tf1.data.images import DataError
from fcn_tf1.data.pascal_context import PascalContextDataset
from fcn_tf1.data.validate import check_dataset

# A full list in labels.txt's form (spaces inside names, as the real one has) and a task list in
# 59_labels.txt's: the task's diningtable, bedcloth and clothes are the full list's table,
# bedclothes and cloth.
FULL = ["accordion", "aeroplane", "bed clothes", "cloth", "potted plant", "sky", "table"]
TASK = ["aeroplane", "diningtable", "bedcloth", "clothes", "potted plant", "sky"]
# Full-list id (1-based; 0 unlabelled) -> task class (0 background): by hand.
BY_HAND = {0: 0, 1: 0, 2: 1, 3: 3, 4: 4, 5: 5, 6: 6, 7: 2}
SIZE = (37, 45)


def _listing(names):
    return "".join("%d: %s\n" % (k, name) for k, name in enumerate(names, 1))


def write_pascal_context(root, splits, seed=0):
    """VOCdevkit/VOC2010 (JPEGs, ImageSets/Main) and context/ (trainval/*.mat, labels.txt,
    59_labels.txt) under ``root``: {split: [ids]}; each image's left half is its class's colour."""
    voc, context = os.path.join(root, "VOCdevkit", "VOC2010"), os.path.join(root, "context")
    for folder in (os.path.join(voc, "JPEGImages"), os.path.join(voc, "ImageSets", "Main"),
                   os.path.join(context, "trainval")):
        os.makedirs(folder)
    rng = np.random.RandomState(seed)
    for split, ids in splits.items():
        for name in ids:
            full_id = rng.randint(2, len(FULL) + 1)
            ids_map = rng.randint(0, len(FULL) + 1, SIZE).astype(np.uint16)
            ids_map[:, :SIZE[1] // 2] = full_id
            image = np.full(SIZE + (3,), 30, np.uint8)
            image[:, :SIZE[1] // 2] = (37 * full_id) % 256
            Image.fromarray(image).save(os.path.join(voc, "JPEGImages", name + ".jpg"))
            scipy.io.savemat(os.path.join(context, "trainval", name + ".mat"),
                             {"LabelMap": ids_map})
        with open(os.path.join(voc, "ImageSets", "Main", split + ".txt"), "w") as f:
            f.write("".join(name + "\n" for name in ids))
    with open(os.path.join(context, "labels.txt"), "w") as f:
        f.write(_listing(FULL))
    with open(os.path.join(context, "59_labels.txt"), "w") as f:
        f.write(_listing(TASK))
    return root, context


def test_labels_map_to_the_task_with_its_three_renamed_classes(tmp_path):
    root, context = write_pascal_context(str(tmp_path), {"train": ["2008_000002", "2008_000003"]})
    data = PascalContextDataset(root, context, "train")
    assert data.class_names == ("background", "aeroplane", "diningtable", "bedcloth", "clothes",
                                "pottedplant", "sky") and data.num_classes == 7
    for i in range(len(data)):
        image, label = data.load(i)
        ids = scipy.io.loadmat(data.paths(i)[1])["LabelMap"]
        assert image.shape == SIZE + (3,) and label.dtype == np.uint8
        np.testing.assert_array_equal(label, np.vectorize(BY_HAND.get)(ids))
    assert check_dataset(data) == []


def test_a_bad_annotation_or_split_names_its_file(tmp_path):
    root, context = write_pascal_context(str(tmp_path), {"train": ["a", "b", "c", "d"]})
    mats = os.path.join(context, "trainval")
    scipy.io.savemat(os.path.join(mats, "a.mat"), {"Labels": np.zeros(SIZE, np.uint16)})
    scipy.io.savemat(os.path.join(mats, "b.mat"), {"LabelMap": np.full(SIZE, 8, np.uint16)})
    with open(os.path.join(mats, "c.mat"), "wb") as f:
        f.write(b"\x80\x03cos\nsystem\nq\x00.")  # a pickle is not a MAT file: never run
    os.remove(os.path.join(root, "VOCdevkit", "VOC2010", "JPEGImages", "d.jpg"))
    problems = check_dataset(PascalContextDataset(root, context, "train"))
    text = "\n".join(problems)
    assert "a.mat: not a PASCAL-Context annotation (no LabelMap)" in text
    assert "b.mat: LabelMap holds numbers outside 0-7" in text  # 0 unlabelled, 1-7 labels.txt's
    assert "c.mat: cannot read .mat" in text
    assert "d.jpg: no such file" in text and all("\n" not in p for p in problems)
    with open(os.path.join(context, "59_labels.txt"), "a") as f:
        f.write("7: unicorn\n")
    with pytest.raises(DataError, match="59_labels.txt: class 'unicorn' is not in labels.txt"):
        PascalContextDataset(root, context, "train")
    with open(os.path.join(context, "labels.txt"), "w") as f:
        f.write("1: accordion\n3: sky\n")
    with pytest.raises(DataError, match="labels.txt: line 2 is not '2: <name>'"):
        PascalContextDataset(root, context, "train")
    with open(os.path.join(context, "labels.txt"), "wb") as f:
        f.write(b"1: accord\xe9on\n")  # Latin-1
    with pytest.raises(DataError, match="labels.txt: not a readable text file \\(not UTF-8\\)"):
        PascalContextDataset(root, context, "train")
    os.remove(os.path.join(context, "labels.txt"))
    os.mkdir(os.path.join(context, "labels.txt"))
    with pytest.raises(DataError,
                       match="labels.txt: not a readable text file \\(Is a directory\\)"):
        PascalContextDataset(root, context, "train")


def test_pascal_context_trains_evaluates_and_converts_to_tfrecord(tmp_path, capsys):
    from fcn_tf1.data.__main__ import main as data_main
    from fcn_tf1.evaluate import main as evaluate_main
    from fcn_tf1.model.config import ModelConfig
    from fcn_tf1.train import main as train_main
    root, context = write_pascal_context(str(tmp_path / "pc"), {"train": ["t%d" % i for i in
                                                                          range(4)],
                                                                "val": ["v0", "v1"]})
    flags = ["--data", "pascal-context", "--data-dir", root, "--context-dir", context]
    assert data_main(["check"] + flags) == 0
    assert "sky" in capsys.readouterr().out
    ck = str(tmp_path / "ck")
    assert train_main(flags + ["--preset", "quick", "--width", "0.0625", "--steps", "2",
                               "--checkpoint-root", ck]) == 0
    out = capsys.readouterr().out
    run = os.path.join(ck, "pascal-context-fcn8s")
    assert "--context-dir %s" % context in out  # the next step names the data set again
    config = ModelConfig.load(run)
    assert config.num_classes == 7 and config.class_names[2] == "diningtable"
    assert evaluate_main(["--checkpoint-dir", run, "--json", str(tmp_path / "m.json")] +
                         flags) == 0
    report = json.load(open(str(tmp_path / "m.json")))
    assert set(report["per_class_iou"]) <= set(config.class_names)
    assert data_main(["tfrecord"] + flags + ["--split", "val", "--output",
                                             str(tmp_path / "shards"), "--shards", "1"]) == 0
    assert os.listdir(str(tmp_path / "shards"))


def test_pascal_context_needs_its_annotations_folder(tmp_path, capsys):
    from fcn_tf1.data.__main__ import main as data_main
    root, context = write_pascal_context(str(tmp_path), {"train": ["a"]})
    assert data_main(["check", "--data", "pascal-context", "--data-dir", root]) != 0
    assert capsys.readouterr().err.strip() == (
        "fcn_tf1.data: error: --data pascal-context needs --context-dir (its annotations: "
        "trainval/, labels.txt, 59_labels.txt)")
