"""Your own data: a folder of images and masks (index or colour, any classes), the class files of
users and of CVAT, splits, checks; training on it from scratch and fine-tuned from a run of other
classes, then evaluate and predict in the data set's colours. The files are written here with
Pillow and by hand, independently of the readers."""
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from fcn_tf1.data import registry
from fcn_tf1.data.folder import FolderDataset, split_stems
from fcn_tf1.data.images import DataError
from fcn_tf1.data.source import DataSource
from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.data.validate import check_dataset
from fcn_tf1.ground.names import DATA_SETS
from fcn_tf1.model.config import ModelConfig

# Three classes of the user's: the synthetic disks, and every other object as one class.
COLOURS = [(10, 20, 30), (250, 40, 40), (40, 40, 250)]
VOID = (255, 255, 255)
TO_THREE = np.array([0, 1, 2, 2, 2] + [0] * 250 + [255], np.uint8)


def write_folder(root, n=24, colour=True, class_file="classes.txt", sizes=None):
    """A folder data set from synthetic scenes: JPEG images, colour (RGB) or index (L) masks."""
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "masks"))
    source = SyntheticDataset("train", n, seed=7)
    for i in range(n):
        image, label = source.load(i)
        label = TO_THREE[label]
        if sizes:
            image, label = image[:sizes[i][0], :sizes[i][1]], label[:sizes[i][0], :sizes[i][1]]
        Image.fromarray(image).save(os.path.join(root, "images", "s%02d.jpg" % i), quality=95)
        if colour:
            rgb = np.array(COLOURS + [VOID], np.uint8)[np.where(label == 255, 3, label)]
            Image.fromarray(rgb).save(os.path.join(root, "masks", "s%02d.png" % i))
        else:
            Image.fromarray(label, mode="L").save(os.path.join(root, "masks", "s%02d.png" % i))
    names = ["ground", "disk", "other"]
    if class_file == "classes.txt":
        lines = ["%s %d %d %d" % ((n,) + c) for n, c in zip(names, COLOURS)] + ["void 255 255 255"]
    elif class_file == "labelmap.txt":  # CVAT's Segmentation mask 1.1, as it writes it
        lines = ["# label:color_rgb:parts:actions"] + ["%s:%d,%d,%d::" % ((n,) + c)
                                                        for n, c in zip(names, COLOURS)]
        lines.append("void:255,255,255::")
    if class_file:
        with open(os.path.join(root, class_file), "w") as f:
            f.write("\n".join(lines) + "\n")
    return root


def test_every_data_set_name_has_one_registry_entry():
    assert tuple(registry.REGISTRY) == DATA_SETS


@pytest.mark.parametrize("class_file", ["classes.txt", "labelmap.txt"])
def test_colour_masks_become_class_ids_through_the_class_file(tmp_path, class_file):
    root = write_folder(str(tmp_path / "set"), n=6, class_file=class_file)
    source = FolderDataset(root, "train", val_fraction=0.34)
    assert source.class_names == ["ground", "disk", "other"] and source.num_classes == 3
    assert source.class_colours == [list(c) for c in COLOURS] or source.class_colours == COLOURS
    for i in range(len(source)):
        image, label = source.load(i)
        truth = TO_THREE[SyntheticDataset("train", 6, seed=7).load(int(source.ids[i][1:]))[1]]
        np.testing.assert_array_equal(label, truth)  # colour -> id, and void -> 255
        assert image.shape[:2] == label.shape
    assert check_dataset(source) == []


def test_index_masks_without_a_class_file_and_another_ignore_value(tmp_path):
    root = write_folder(str(tmp_path / "set"), n=4, colour=False, class_file=None)
    source = FolderDataset(root, "train", val_fraction=0.25)
    assert source.class_names == ["class_0", "class_1", "class_2"]
    mask = os.path.join(root, "masks", source.ids[0] + ".png")
    label = np.asarray(Image.open(mask)).copy()
    label[0, :5] = 9  # this user's ignore value
    Image.fromarray(label, mode="L").save(mask)
    assert FolderDataset(root, "train", 0.25, ignore_label=9).load(0)[1][0, :5].tolist() == [255] * 5
    assert FolderDataset(root, "train", 0.25).num_classes == 10  # up to the largest id found
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("ground\ndisk\nother\n")  # names only: index masks
    assert "label values 9 outside 0..2" in " ".join(check_dataset(FolderDataset(root, "train",
                                                                                0.25)))


def test_bad_folders_are_one_line_naming_the_file(tmp_path):
    root = write_folder(str(tmp_path / "set"), n=4)
    mask = os.path.join(root, "masks", "s00.png")
    rgb = np.asarray(Image.open(mask)).copy()
    rgb[:2, :3] = (1, 2, 3)
    Image.fromarray(rgb).save(mask)
    source = FolderDataset(root, "train", splits={"train": ["s00"]})
    with pytest.raises(DataError, match=r"s00.png: colour \(1, 2, 3\) in 6 pixel\(s\) is not a "
                                        r"class of the class file"):
        source.load(0)
    os.remove(os.path.join(root, "images", "s01.jpg"))
    os.remove(os.path.join(root, "masks", "s02.png"))
    problems = check_dataset(FolderDataset(root, "train", val_fraction=0))
    assert any("s02.jpg: no mask" in p for p in problems)
    assert any("s01.png: no image" in p for p in problems)
    with open(os.path.join(root, "classes.txt"), "a") as f:
        f.write("ground 7 7 7\n")
    with pytest.raises(DataError, match="classes.txt: class name ground appears twice"):
        FolderDataset(root, "train")
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("# nothing\n")
    with pytest.raises(DataError, match="classes.txt: the class file names no class"):
        FolderDataset(root, "train")
    os.remove(os.path.join(root, "classes.txt"))
    with pytest.raises(DataError, match="a colour mask, but no classes.txt"):
        FolderDataset(root, "train", splits={"train": ["s03"]}).load(0)


def test_the_split_is_seeded_and_split_files_win(tmp_path):
    stems = ["a%02d" % i for i in range(20)]
    first = split_stems(stems, 0.1, seed=0)
    assert first == split_stems(list(reversed(stems)), 0.1, seed=0)
    assert len(first["val"]) == 2 and not set(first["val"]) & set(first["train"])
    assert first != split_stems(stems, 0.1, seed=1)
    for n in (2, 3, 4):  # 0.1 of them rounds to none: one image still validates, one trains
        split = split_stems(stems[:n], 0.1, seed=0)
        assert (len(split["train"]), len(split["val"])) == (n - 1, 1)
        assert sorted(split["train"] + split["val"]) == stems[:n]
    assert split_stems(stems[:1], 0.1, seed=0) == {"train": stems[:1], "val": []}
    assert split_stems(stems[:4], 0, seed=0)["val"] == []
    root = write_folder(str(tmp_path / "set"), n=4)
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("s01\ns02\n")
    with open(os.path.join(root, "val.txt"), "w") as f:
        f.write("s03\n")
    assert FolderDataset(root, "train").ids == ["s01", "s02"]
    assert FolderDataset(root, "val").ids == ["s03"]


def test_a_folder_set_trains_fine_tunes_evaluates_and_predicts(tmp_path, capsys):
    """3 colour-mask classes at odd sizes, fine-tuned from a 5-class run: it learns; the class-
    sized layers start fresh and the rest is copied; evaluate uses the run's validation images
    and names the classes; predict paints them in the data set's colours."""
    from fcn_tf1.evaluate import main as evaluate_main
    from fcn_tf1.predict import main as predict_main
    from fcn_tf1.train import main as train_main
    from tests.helpers import trained_run
    root = write_folder(str(tmp_path / "set"), n=48)
    five = trained_run(str(tmp_path / "five"), width=0.125, steps=2)
    ck = str(tmp_path / "ck")
    assert train_main(["--data", "folder", "--data-dir", root, "--preset", "quick", "--steps",
                       "150", "--checkpoint-root", ck, "--init-from", five, "--val-fraction",
                       "0.25"]) == 0
    out = capsys.readouterr().out
    run = os.path.join(ck, "folder-fcn8s")
    assert "new: score_fr/bias, score_fr/kernel, score_pool3/bias" in out
    new = out.split("new:")[1].splitlines()[0].replace(",", " ").split()
    assert all(name.startswith(("score_", "upscore")) for name in new)
    from fcn_tf1.ground.tf_compat import tf
    start, five_ckpt = (tf.train.NewCheckpointReader(p) for p in (
        os.path.join(ck, "folder-fcn8s", "model.ckpt-0"), tf.train.latest_checkpoint(five)))
    copied = [n for n in five_ckpt.get_variable_to_shape_map() if n not in new and "Adam" not in n
              and "_power" not in n  # the optimiser's state starts fresh
              and n in start.get_variable_to_shape_map() and n != "global_step"]
    assert "conv1_1/kernel" in copied and "fc7/kernel" in copied
    for name in copied:  # exactly the values of the run it started from
        np.testing.assert_array_equal(start.get_tensor(name), five_ckpt.get_tensor(name))
    assert start.get_tensor("score_fr/kernel").shape[-1] == 3
    split = json.load(open(os.path.join(run, "split.json")))
    assert len(split["val"]) == 12 and len(split["train"]) == 36
    config = ModelConfig.load(run)
    assert config.class_names == ["ground", "disk", "other"]
    assert config.class_colours == [list(c) for c in COLOURS]
    assert evaluate_main(["--checkpoint-dir", run, "--data", "folder", "--data-dir", root,
                          "--json", str(tmp_path / "m.json")]) == 0
    result = json.load(open(str(tmp_path / "m.json")))
    assert result["mean_iou"] > 0.6, result  # chance is ~0.33
    assert set(result["per_class_iou"]) == {"ground", "disk", "other"}
    photo = tmp_path / "photos"
    photo.mkdir()
    image = SyntheticDataset("val", 1, seed=3).load(0)[0]
    Image.fromarray(image).save(str(photo / "p.png"))
    assert predict_main(["--graph", os.path.join(run, "frozen_model.pb"), str(photo),
                         "--output-dir", str(tmp_path / "masks"), "--runtime", "tf"]) == 0
    mask = Image.open(str(tmp_path / "masks" / "p.png"))
    assert mask.getpalette()[:9] == [c for colour in COLOURS for c in colour]


def test_init_from_a_run_of_another_width_is_refused_before_anything_is_written(tmp_path, capsys):
    from fcn_tf1.train import main as train_main
    from tests.helpers import trained_run
    five = trained_run(str(tmp_path / "five"), width=1 / 16., steps=1)
    assert train_main(["--width", "0.125", "--init-from", five, "--checkpoint-root",
                       str(tmp_path / "ck")]) == 1
    assert ("--init-from %s: its backbone has width 0.0625, this model 0.125" % five
            in capsys.readouterr().err)
    assert not os.path.exists(str(tmp_path / "ck"))


def test_the_data_command_writes_an_example_and_checks_it(tmp_path, capsys):
    from fcn_tf1.data.__main__ import main as data_main
    example = str(tmp_path / "example")
    assert data_main(["example", example, "--train", "6", "--val", "2"]) == 0
    assert "--data folder --data-dir %s" % example in capsys.readouterr().out
    source = FolderDataset(example, "val")
    assert len(source) == 2 and source.class_names == list(SyntheticDataset.class_names)
    np.testing.assert_array_equal(source.load(1)[1], SyntheticDataset("val", 2).load(1)[1])
    assert data_main(["check", "--data-dir", example, "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 images; per class: pixels, images")
    assert "never occurs" in out or all(line.split()[-1] != "0" for line in out.splitlines()[1:])
    assert data_main(["speed", "--data-dir", example, "--batch-size", "2", "--crop-size", "32",
                      "--batches", "2"]) == 0
    assert re.match(r"folder train: [\d.]+ images/s \(batch 2, 32x32 crops", capsys.readouterr().out)
    assert data_main(["example", example]) == 1  # not over a folder that holds something
    assert "not empty" in capsys.readouterr().err


class _Labels(DataSource):
    """A data set of the given label maps (the image is not read)."""
    num_classes = 3

    def __init__(self, labels):
        self.labels = [np.array(label, np.uint8) for label in labels]

    def __len__(self):
        return len(self.labels)

    def load(self, i):
        return None, self.labels[i]


def test_a_class_frequency_counts_only_the_images_the_class_occurs_in():
    from fcn_tf1.data.validate import class_statistics
    # Class 2 in two images of four (2 of 4 px, then 1 of 4); void (255) is not a labelled pixel.
    source = _Labels([[[0, 0], [2, 2]], [[0, 1], [1, 255]], [[0, 0], [0, 0]], [[2, 0], [0, 1]]])
    pixels, images, image_pixels = class_statistics(source)
    assert pixels.tolist() == [9, 3, 3] and images.tolist() == [4, 2, 2]
    assert image_pixels.tolist() == [15, 7, 8]  # class 2: 4 + 4, not the 15 of all four images


def test_class_weights_median_frequency_and_from_a_file(tmp_path, capsys):
    from fcn_tf1.train import main as train_main
    root = write_folder(str(tmp_path / "set"), n=8)
    args = ["--data", "folder", "--data-dir", root, "--preset", "quick", "--steps", "1",
            "--width", "0.0625", "--no-eval", "--no-export", "--checkpoint-root",
            str(tmp_path / "ck")]
    assert train_main(args + ["--class-weights", "median-freq"]) == 0
    assert "class weights: ground " in capsys.readouterr().out
    stored = json.load(open(str(tmp_path / "ck" / "folder-fcn8s" / "options.json")))
    assert len(stored["class_weights"]) == 3 and stored["class_weights"][0] < 1 < \
        max(stored["class_weights"])  # the common background weighs least
    (tmp_path / "w.txt").write_text("1\n2\n")
    assert train_main(args + ["--class-weights", str(tmp_path / "w.txt"), "--run", "b"]) == 1
    assert "2 weights for 3 classes" in capsys.readouterr().err


def _deeplab_example(image, label, name):
    """A record as DeepLab's build_data.py makes it (JPEG image bytes, PNG mask bytes)."""
    import io
    from fcn_tf1.ground.tf_compat import tf

    def encoded(array, fmt, mode=None):
        out = io.BytesIO()
        Image.fromarray(array, mode).save(out, format=fmt, **({"quality": 95} if fmt == "JPEG"
                                                              else {}))
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[out.getvalue()]))

    def text(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))

    def number(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": encoded(image, "JPEG"), "image/filename": text(name),
        "image/format": text("jpeg"), "image/height": number(image.shape[0]),
        "image/width": number(image.shape[1]), "image/channels": number(3),
        "image/segmentation/class/encoded": encoded(label, "PNG", "L"),
        "image/segmentation/class/format": text("png")}))


def test_tfrecord_shards_read_as_the_folder_and_as_deeplab_writes_them(tmp_path):
    from fcn_tf1.data.__main__ import main as data_main
    from fcn_tf1.data.pipeline import make_dataset
    from fcn_tf1.ground.tf_compat import tf
    root = write_folder(str(tmp_path / "set"), n=10)
    shards = str(tmp_path / "shards")
    assert data_main(["tfrecord", "--data", "folder", "--data-dir", root, "--output", shards,
                      "--shards", "3", "--val-fraction", "0.2"]) == 0
    assert sorted(os.listdir(shards)) == ["classes.txt"] + [
        "train-%05d-of-00003.tfrecord" % k for k in range(3)]
    folder = FolderDataset(root, "train", 0.2)
    records = registry.open_split("tfrecord", "train", registry.DataOptions(
        os.path.join(shards, "train-*.tfrecord")))
    assert len(records) == len(folder) == 8 and records.class_names == folder.class_names
    batches = []
    for source in (folder, records):  # the same images in the same shuffled order for a seed
        with tf.Graph().as_default(), tf.Session() as own:
            batch = tf.data.make_one_shot_iterator(make_dataset(source, seed=5)).get_next()
            batches.append([own.run(batch) for _ in range(len(source))])
    for (image_a, label_a), (image_b, label_b) in zip(*batches):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(label_a, label_b)
    # A worker of two reads its own shards only.
    assert records.shard(2, 1).files == records.files[1::2]
    # Shards written by DeepLab's own script (JPEG inside), read the same way.
    deeplab = tmp_path / "deeplab"
    deeplab.mkdir()
    (deeplab / "classes.txt").write_text("ground\ndisk\nother\n")
    image, label = folder.load(0)
    with tf.python_io.TFRecordWriter(str(deeplab / "train-00000-of-00001.tfrecord")) as writer:
        writer.write(_deeplab_example(image, label, "x").SerializeToString())
    got_image, got_label = registry.open_split("tfrecord", "train", registry.DataOptions(
        str(deeplab))).load(0)
    np.testing.assert_array_equal(got_label, label)
    assert np.abs(got_image.astype(int) - image).mean() < 3  # JPEG
    # A glob that matches nothing, a record without a key, a cut file: one line each.
    with pytest.raises(DataError, match="no TFRecord file matches"):
        registry.open_split("tfrecord", "train", registry.DataOptions(str(tmp_path / "no-*")))
    broken = _deeplab_example(image, label, "x")
    del broken.features.feature["image/segmentation/class/encoded"]
    with tf.python_io.TFRecordWriter(str(deeplab / "train-00000-of-00001.tfrecord")) as writer:
        writer.write(broken.SerializeToString())
    with pytest.raises(DataError, match="has no image/segmentation/class/encoded"):
        registry.open_split("tfrecord", "train", registry.DataOptions(str(deeplab))).load(0)
    path = str(deeplab / "train-00000-of-00001.tfrecord")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 10)
    with pytest.raises(DataError, match="truncated TFRecord"):
        registry.open_split("tfrecord", "train", registry.DataOptions(str(deeplab)))


def test_tfrecord_workers_split_records_and_images_stay_on_their_masks(tmp_path):
    """Two shard files for three workers: each reads its own records, together all of them. A
    JPEG turned by its EXIF tag is stored as the pixels its mask was drawn on."""
    from fcn_tf1.data.__main__ import main as data_main
    from fcn_tf1.data.pipeline import make_dataset
    from fcn_tf1.ground.tf_compat import tf
    root = write_folder(str(tmp_path / "set"), n=6, colour=False, class_file=None)
    turned = Image.open(os.path.join(root, "images", "s00.jpg"))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: shown turned 90 degrees clockwise
    turned.transpose(Image.ROTATE_90).save(os.path.join(root, "images", "s00.jpg"), exif=exif)
    assert data_main(["tfrecord", "--data", "folder", "--data-dir", root, "--output",
                      str(tmp_path / "shards"), "--shards", "2", "--val-fraction", "0"]) == 0
    folder = FolderDataset(root, "train", 0)
    records = registry.open_split("tfrecord", "train", registry.DataOptions(
        str(tmp_path / "shards" / "train-*.tfrecord")))
    assert len(records.files) == 2 and len(records) == 6
    for i in range(6):  # the stored JPEG bytes decode to the folder's (EXIF-turned) pixels
        for got, want in zip(records.load(i), folder.load(i)):
            np.testing.assert_array_equal(got, want)
    seen = []
    for worker in range(3):
        with tf.Graph().as_default(), tf.Session() as own:
            batch = tf.data.make_one_shot_iterator(make_dataset(
                records, shuffle=False, repeat=False, num_shards=3, shard_index=worker)).get_next()
            try:
                while True:
                    seen.append(own.run(batch)[1].tobytes())
            except tf.errors.OutOfRangeError:
                pass
    assert sorted(seen) == sorted(folder.load(i)[1][None].tobytes() for i in range(6))
