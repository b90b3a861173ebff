"""Data sets: the synthetic generator, VOC and SBD readers, the checks, the tf.data pipeline."""
import inspect
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from fcn_tf1.data.source import DataSource
from fcn_tf1.data.images import DataError, read_image
from fcn_tf1.data.pipeline import make_dataset
from fcn_tf1.data.sbd import SBDDataset
from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.data.validate import check_dataset
from fcn_tf1.data.voc import VOCDataset
from fcn_tf1.ground.tf_compat import tf
from tests.helpers import write_voc


def test_synthetic_is_deterministic_and_varied():
    a, b = SyntheticDataset("train", 30, seed=3), SyntheticDataset("train", 30, seed=3)
    for i in (0, 7):
        np.testing.assert_array_equal(a.load(i)[0], b.load(i)[0])
        np.testing.assert_array_equal(a.load(i)[1], b.load(i)[1])
    val_image = SyntheticDataset("val", 5, seed=3).load(0)[0]
    assert val_image.shape != a.load(0)[0].shape or not np.array_equal(val_image, a.load(0)[0])
    shapes, classes, touches_border, void = set(), set(), 0, 0
    for i in range(30):
        image, label = a.load(i)
        assert image.dtype == np.uint8 and image.shape[:2] == label.shape
        shapes.add(label.shape)
        classes |= set(np.unique(label))
        objects = (label != 0) & (label != 255)
        touches_border += objects[0].any() or objects[-1].any() or objects[:, 0].any() \
            or objects[:, -1].any()
        void += (label == 255).any()
    assert len(shapes) > 20 and any(h % 2 for h, w in shapes)
    assert classes == {0, 1, 2, 3, 4, 255}
    assert touches_border > 5 and void == 30


def write_sbd(root, ids, size=(17, 23)):
    for sub in ("img", "cls"):
        os.makedirs(os.path.join(root, "dataset", sub), exist_ok=True)
    rng = np.random.RandomState(1)
    for name in ids:
        Image.fromarray(rng.randint(0, 255, size + (3,), dtype=np.uint8)).save(
            os.path.join(root, "dataset", "img", name + ".jpg"))
        seg = rng.randint(0, 21, size).astype(np.uint8)
        gt = {"Segmentation": seg, "Boundaries": np.zeros((20, 1), object),
              "CategoriesPresent": np.unique(seg)}
        scipy.io.savemat(os.path.join(root, "dataset", "cls", name + ".mat"), {"GTcls": gt})
    with open(os.path.join(root, "dataset", "train.txt"), "w") as f:
        f.write("".join(name + "\n" for name in ids))
    return root


def test_voc_reads_palette_indices_not_colours(tmp_path):
    root = write_voc(str(tmp_path / "VOC2012"), ["2007_000032", "2007_000033"])
    data = VOCDataset(str(tmp_path), "train")  # a VOCdevkit-like parent works too
    image, label = data.load(1)
    assert image.shape == (21, 30, 3) and label.shape == (21, 30)
    with Image.open(os.path.join(root, "SegmentationClass", "2007_000033.png")) as png:
        np.testing.assert_array_equal(label, np.asarray(png))
    assert label.max() <= 255 and set(np.unique(label)) - set(range(21)) == {255}
    assert check_dataset(data) == []


def test_sbd_reads_mat_labels(tmp_path):
    write_sbd(str(tmp_path), ["2008_000002", "2008_000003"])
    data = SBDDataset(str(tmp_path), "train")
    image, label = data.load(0)
    assert image.shape == (17, 23, 3) and label.shape == (17, 23) and label.max() < 21
    assert check_dataset(data) == []
    open(os.path.join(str(tmp_path), "dataset", "cls", "2008_000003.mat"), "wb").close()
    [problem] = check_dataset(data)
    # scipy's own reason (its wording differs between releases) in one line naming the file.
    assert "2008_000003.mat: cannot read .mat (Mat file appears to be " in problem


def test_broken_data_sets_name_the_file(tmp_path):
    root = write_voc(str(tmp_path / "voc"), ["a", "b", "c", "d", "e"], label_value=40)
    # b: corrupt image; c: label of another size; d: named in the split but missing
    with open(os.path.join(root, "JPEGImages", "b.jpg"), "wb") as f:
        f.write(b"\xff\xd8 truncated")
    Image.fromarray(np.zeros((5, 5), np.uint8), mode="P").save(
        os.path.join(root, "SegmentationClass", "c.png"))
    os.remove(os.path.join(root, "JPEGImages", "d.jpg"))
    problems = check_dataset(VOCDataset(root, "train"))
    text = "\n".join(problems)
    assert "b.jpg: cannot read image" in text
    assert "c.png: label is 5x5 but its image is 21x30" in text
    assert "d.jpg: no such file" in text
    assert "a.png: label values 40 outside 0..20" in text
    assert all("\n" not in p for p in problems)

    open(os.path.join(root, "ImageSets", "Segmentation", "empty.txt"), "w").close()
    with pytest.raises(DataError, match="empty.txt: the split is empty"):
        VOCDataset(root, "empty")
    with pytest.raises(DataError, match="nosplit.txt: no such split file"):
        VOCDataset(root, "nosplit")


def test_grayscale_rgba_and_palette_images_become_rgb(tmp_path):
    rgb = np.random.RandomState(0).randint(0, 255, (9, 11, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("L").save(str(tmp_path / "gray.png"))
    Image.fromarray(rgb).convert("RGBA").save(str(tmp_path / "rgba.png"))
    Image.fromarray(rgb).convert("P").save(str(tmp_path / "pal.png"))
    for name in ("gray.png", "rgba.png", "pal.png"):
        image = read_image(str(tmp_path / name))
        assert image.shape == (9, 11, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(read_image(str(tmp_path / "rgba.png")), rgb)
    with pytest.raises(DataError, match="empty.png: cannot read image"):
        (tmp_path / "empty.png").write_bytes(b"")
        read_image(str(tmp_path / "empty.png"))


def test_pipeline_whole_images_and_crops(session):
    source = SyntheticDataset("train", 6)
    whole = make_dataset(source, shuffle=False, repeat=False)
    images, labels = tf.data.make_one_shot_iterator(whole).get_next()
    for i in range(6):
        image, label = session.run([images, labels])
        np.testing.assert_array_equal(image[0], source.load(i)[0])
        np.testing.assert_array_equal(label[0], source.load(i)[1])
    crops = make_dataset(source, batch_size=4, crop_size=(100, 40), flip=True,
                         scale_range=(0.8, 1.2))
    images, labels = tf.data.make_one_shot_iterator(crops).get_next()
    image, label = session.run([images, labels])
    assert image.shape == (4, 100, 40, 3) and label.shape == (4, 100, 40)
    assert (label == 255).any()  # the padding of images shorter than 100 is void
    with pytest.raises(ValueError, match="crop_size"):
        make_dataset(source, batch_size=2)


def test_the_pipeline_calls_readers_as_plain_python(session, tmp_path):
    # AutoGraph let into a reader converts it anew at every call: a VOC folder trained 50x slower
    # than the synthetic set. The reader must run as written, not under AutoGraph's converted_call.
    source = VOCDataset(write_voc(str(tmp_path / "voc"), ["a", "b"]), "train")
    stacks = []
    load = source.load
    source.load = lambda i: stacks.append([f.function for f in inspect.stack()]) or load(i)
    session.run(tf.data.make_one_shot_iterator(make_dataset(source, 2, (16, 16), True)).get_next())
    # (TF 2.x's py_func wraps the function in AutoGraph's do-not-convert wrapper: that one is fine)
    assert stacks and not any("converted_call" in stack for stack in stacks)


class _Encoded(DataSource):
    """Images whose label is written in their own pixels (red = 40 x label), in blocks of 16 px:
    whatever an augmentation does, image and label must still say the same thing."""
    num_classes, class_names = 4, ["a", "b", "c", "d"]

    def __len__(self):
        return 4

    def load(self, i):
        rng = np.random.RandomState(i)
        ids = rng.choice([0, 3], (3, 5))  # what lies between them (1, 2) would be a mixed id
        label = np.kron(ids, np.ones((16, 16), int)).astype(np.uint8)
        image = np.stack([label * 40, np.tile(np.arange(80, dtype=np.uint8), (48, 1)),
                          np.full_like(label, 7)], -1)
        return image, label


def test_augmentations_move_image_and_label_together(session):
    source = _Encoded()
    ids = {0, 3, 255}
    for flip, scale in [(True, None), (True, (0.5, 1.7))]:
        data = make_dataset(source, 4, (40, 56), flip, scale, seed=3)
        images, labels = session.run(tf.data.make_one_shot_iterator(data).get_next())
        for image, label in zip(images, labels):
            assert set(np.unique(label)) <= ids  # nearest neighbour: no mixed ids at edges
            real = label != 255
            agree = (image[..., 0][real] == 40 * label[real]).mean()
            # bilinear image edges differ from nearest labels by at most a pixel's width
            assert agree >= (1.0 if scale is None else 0.85), (flip, scale, agree)
    # flips happen, and to both: the green ramp runs right to left in a flipped crop
    data = make_dataset(source, 8, (48, 80), True, seed=1)
    images, _ = session.run(tf.data.make_one_shot_iterator(data).get_next())
    ramps = np.sign(images[:, 0, -1, 1].astype(int) - images[:, 0, 0, 1])
    assert set(ramps) == {-1, 1}


def test_shards_are_disjoint(session):
    source = SyntheticDataset("train", 10)
    seen = []
    for shard in range(2):
        data = make_dataset(source, shuffle=False, repeat=False, num_shards=2, shard_index=shard)
        labels = tf.data.make_one_shot_iterator(data).get_next()[1]
        shard_sums = []
        for _ in range(5):
            shard_sums.append(int(session.run(labels).sum()))
        seen.append(shard_sums)
    expected = [int(source.load(i)[1].sum()) for i in range(10)]
    assert seen == [expected[0::2], expected[1::2]]


def test_seg11valid_is_shipped_and_read_from_a_voc2011_folder(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    root = write_voc(str(devkit / "VOC2011"), ["2007_000033", "2007_000042"], split="val")
    data = VOCDataset(str(devkit), "seg11valid")
    assert data.root == root and len(data) == 736
    assert data.ids[:2] == ["2007_000033", "2007_000042"] and len(set(data.ids)) == 736
    image, label = data.load(1)
    assert image.shape[:2] == label.shape
    problems = check_dataset(data)
    assert len(problems) == 734 and "no such file" in problems[0]
