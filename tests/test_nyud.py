"""NYUDv2 in the reference's layout: colour and HHA PNGs, the 40-class task's MAT files shifted to
0-39 with unlabelled pixels void, the split files, and the commands; converted nyud-fcn32s-color
and -hha runs take its class names and are scored on it, each on its own input."""
import os

import numpy as np
import scipy.io
from PIL import Image

from fcn_tf1.data.nyud import CLASSES, NYUDDataset
from fcn_tf1.data.validate import check_dataset
from fcn_tf1.evaluate import main as evaluate_main
from fcn_tf1.export import main as export_main
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.train import main as train_main
from fcn_tf1.workflows import conversion
from tests.caffe_files import fcn_layers, write_caffemodel

SIZE = (41, 53)


def write_nyud(root, splits, seed=0):
    """An NYUDv2 folder: {split: [ids]}; each image's left half is its class's colour, the rest
    noise labelled 0-40 (0 unlabelled); the HHA PNGs are the images' channels reversed."""
    for folder in ("data/images", "data/hha", "segmentation"):
        os.makedirs(os.path.join(root, folder))
    rng = np.random.RandomState(seed)
    for split, ids in splits.items():
        for name in ids:
            number = rng.randint(1, 5)
            labels = rng.randint(0, len(CLASSES) + 1, SIZE).astype(np.uint8)
            labels[:, :SIZE[1] // 2] = number
            image = rng.randint(0, 60, SIZE + (3,)).astype(np.uint8)
            image[:, :SIZE[1] // 2] = 50 * number
            Image.fromarray(image).save(os.path.join(root, "data", "images", "img_%s.png" % name))
            Image.fromarray(image[..., ::-1].copy()).save(
                os.path.join(root, "data", "hha", "img_%s.png" % name))
            scipy.io.savemat(os.path.join(root, "segmentation", "img_%s.mat" % name),
                             {"segmentation": labels})
        with open(os.path.join(root, split + ".txt"), "w") as f:
            f.write("".join(name + "\n" for name in ids))
    return root


def test_labels_shift_to_the_40_classes_with_unlabelled_void(tmp_path):
    root = write_nyud(str(tmp_path), {"test": ["5001", "5002"]})
    data = NYUDDataset(root, "test")
    assert data.num_classes == 40 and data.class_names[:3] == ("wall", "floor", "cabinet")
    for i in range(len(data)):
        image, label = data.load(i)
        numbers = scipy.io.loadmat(data.paths(i)[1])["segmentation"].astype(int)
        assert image.shape == SIZE + (3,) and label.dtype == np.uint8
        np.testing.assert_array_equal(label, np.where(numbers == 0, IGNORE_LABEL, numbers - 1))
    assert check_dataset(data) == []
    hha = NYUDDataset(root, "test", "hha")
    assert hha.modality == "hha"
    np.testing.assert_array_equal(hha.load(0)[0], data.load(0)[0][..., ::-1])
    np.testing.assert_array_equal(hha.load(0)[1], data.load(0)[1])


def test_a_bad_label_file_or_split_names_its_file(tmp_path):
    root = write_nyud(str(tmp_path), {"train": ["1", "2", "3", "4"]})
    seg = os.path.join(root, "segmentation")
    scipy.io.savemat(os.path.join(seg, "img_1.mat"), {"labels": np.zeros(SIZE, np.uint8)})
    scipy.io.savemat(os.path.join(seg, "img_2.mat"), {"segmentation": np.full(SIZE, 41, np.uint8)})
    with open(os.path.join(seg, "img_3.mat"), "wb") as f:
        f.write(b"\x80\x03cos\nsystem\nq\x00.")  # a pickle is not a MAT file: never run
    os.remove(os.path.join(root, "data", "images", "img_4.png"))
    text = "\n".join(check_dataset(NYUDDataset(root, "train")))
    assert "img_1.mat: not an NYUDv2 label file (no segmentation)" in text
    assert "img_2.mat: segmentation holds numbers outside 0-40" in text
    assert "img_3.mat: cannot read .mat" in text
    assert "img_4.png" in text


def test_nyud_trains_and_converted_nets_are_scored_on_their_own_inputs(tmp_path, capsys):
    root = write_nyud(str(tmp_path / "nyud"), {"trainval": ["1", "2", "3"], "test": ["4", "5"]})
    color, hha = (["--data", name, "--data-dir", root] for name in ("nyud", "nyud-hha"))
    assert train_main(hha + ["--train-split", "trainval", "--val-split", "test", "--steps", "2",
                             "--width", "0.0625", "--preset", "quick", "--checkpoint-root",
                             str(tmp_path / "runs")]) == 0
    assert "wall" in capsys.readouterr().out  # the per-class IU names the data set's classes
    trained = tmp_path / "runs" / "nyud-hha-fcn8s"
    with FrozenModel(str(trained / "frozen_model.pb")) as exported:
        assert exported.config.modality == "hha" and exported.signature.image.name == "hha"
        assert exported.run(NYUDDataset(root, "test", "hha").load(0)[0])[1].shape == SIZE
    model = str(tmp_path / "nyud.caffemodel")
    write_caffemodel(model, fcn_layers("fcn32s", 40, 1 / 16.))
    for data, flags in (("nyud-color", color), ("nyud-hha", hha)):
        run = str(tmp_path / data)
        assert tuple(conversion.convert_fcn(model, run, data=data).class_names) == CLASSES
        assert evaluate_main(["--checkpoint-dir", run, "--split", "test"] + flags) == 0
        out = capsys.readouterr().out
        assert "mean_iou" in out and "night stand" in out
    assert evaluate_main(["--checkpoint-dir", str(tmp_path / "nyud-hha"), "--split", "test"] +
                         color) == 1
    assert capsys.readouterr().err.strip() == ("fcn_tf1.evaluate: error: the model takes hha "
                                               "input, the data set gives image (--data nyud)")
    # export --int8 calibrates only on the model's own input (checked before anything is written).
    out = tmp_path / "int8"
    assert export_main(["--checkpoint-dir", str(trained), "--output", str(out / "m.pb"), "--int8",
                        str(out / "m.xml"), "--calibration-split", "trainval",
                        "--validation-split", "test"] + color) == 1
    assert capsys.readouterr().err.strip() == ("fcn_tf1.export: error: --data nyud, trainval "
                                               "split: image input, the model takes hha")
    assert not out.exists()
