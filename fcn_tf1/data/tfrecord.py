"""TFRecord shards in the format of tensorflow/models' DeepLab (``research/deeplab/datasets/
build_data.py``): one ``tf.train.Example`` per image with the keys below, masks as index PNGs, and
the class file beside the shards. fcn_tf1 writes them from any data set it reads and reads them,
as well as the shards DeepLab's own scripts write.

The reader indexes each shard once (the byte offset of every record: TFRecord framing is a length,
its CRC, the bytes, their CRC) and then reads record i directly, so a set of shards is a data set like
the others: the same pipeline, the same batches for the same seed, and a cluster worker opens only
its own shards.
"""
import glob
import io
import os
import struct
import threading

import numpy as np
from PIL import Image

from fcn_tf1.data.folder import read_classes
from fcn_tf1.data.images import DataError, read_image
from fcn_tf1.data.source import DataSource
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.tf_compat import tf

KEYS = ("image/encoded", "image/filename", "image/format", "image/height", "image/width",
        "image/channels", "image/segmentation/class/encoded", "image/segmentation/class/format")
SHARD_NAME = "%s-%05d-of-%05d.tfrecord"


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _png(array, mode=None):
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, format="PNG")
    return out.getvalue()


def _encoded(source, i, image):
    """(bytes, format) of sample i's image: its own JPEG or PNG file where that decodes to exactly
    ``image`` (no EXIF turn to apply; decoding a JPEG is what makes reading fast), else a PNG."""
    path = source.paths(i)[0] if hasattr(source, "paths") else None
    fmt = {".jpg": b"jpeg", ".jpeg": b"jpeg", ".png": b"png"}.get(
        os.path.splitext(str(path))[1].lower())
    if fmt:
        with open(path, "rb") as f:
            data = f.read()
        if np.array_equal(read_image(io.BytesIO(data)), image):
            return data, fmt
    return _png(image), b"png"


def example(image, label, filename, encoded=None):
    """The DeepLab ``tf.train.Example`` of one (uint8 RGB image, uint8 label) pair; ``encoded``:
    the image's (bytes, format) where they are at hand."""
    data, fmt = encoded or (_png(image), b"png")
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes(data), "image/filename": _bytes(filename.encode("utf-8")),
        "image/format": _bytes(fmt), "image/height": _int(image.shape[0]),
        "image/width": _int(image.shape[1]), "image/channels": _int(3),
        "image/segmentation/class/encoded": _bytes(_png(label, "L")),
        "image/segmentation/class/format": _bytes(b"png")}))


def write_shards(source, output, split, shards):
    """``output``/<split>-%05d-of-%05d.tfrecord from every sample of ``source`` in order, in
    contiguous runs as DeepLab's scripts cut them (so records read back in the source's order),
    each shard written under a temporary name and renamed once all are whole; the class file
    beside them."""
    if source.heads:
        raise ValueError("%s: labelled for %d tasks (%s); DeepLab's TFRecords hold one label map "
                         "an image" % (source.split_file or split, len(source.heads),
                                       ", ".join(name for name, _ in source.heads)))
    os.makedirs(output, exist_ok=True)
    paths = [os.path.join(output, SHARD_NAME % (split, k, shards)) for k in range(shards)]
    with _Writers(paths) as writers:
        for i in range(len(source)):
            image, label = source.load(i)
            name = os.path.splitext(os.path.basename(str(source.name(i))))[0]
            writers[i * shards // len(source)].write(
                example(image, label, name, _encoded(source, i, image)).SerializeToString())
    colours = source.class_colours
    lines = [name + (" %d %d %d" % tuple(colours[k]) if colours else "")
             for k, name in enumerate(source.class_names)]
    fileutil.write_bytes(os.path.join(output, "classes.txt"), ("\n".join(lines) + "\n").encode())
    return paths


class _Writers(object):
    """TFRecord writers on temporary names, renamed to ``paths`` only when all are complete."""

    def __init__(self, paths):
        self.paths = paths

    def __enter__(self):
        self.tmps = [os.path.join(os.path.dirname(p), "." + os.path.basename(p) + ".tmp")
                     for p in self.paths]
        self.writers = [tf.python_io.TFRecordWriter(t) for t in self.tmps]
        return self.writers

    def __exit__(self, kind, *exc):
        for writer in self.writers:
            writer.close()
        for tmp, path in zip(self.tmps, self.paths):
            if kind is None:
                os.replace(tmp, path)
            elif os.path.exists(tmp):
                os.remove(tmp)


def _offsets(path):
    """The (offset, length) of every record of a TFRecord file, from its framing."""
    out = []
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if not header:
                return out
            if len(header) < 12:
                raise DataError(path, "truncated TFRecord (a record header ends the file)")
            (length,) = struct.unpack("<Q", header[:8])
            out.append((f.tell(), length))
            f.seek(length + 4, os.SEEK_CUR)
            if f.tell() > os.fstat(f.fileno()).st_size:
                raise DataError(path, "truncated TFRecord (record %d is cut)" % (len(out) - 1))


class TFRecordDataset(DataSource):
    """The records of the shards ``pattern`` matches (a glob), in file then record order."""

    def __init__(self, pattern, split=None, files=None):
        self.pattern, self.split = pattern, split
        self.files = files if files is not None else sorted(glob.glob(pattern))
        if not self.files:
            raise DataError(pattern, "no TFRecord file matches")
        self.records = [(path, offset, length) for path in self.files
                        for offset, length in _offsets(path)]
        classes = read_classes(os.path.dirname(self.files[0]))
        if classes is None:
            raise DataError(os.path.join(os.path.dirname(self.files[0]), "classes.txt"),
                            "no class file beside the shards (one class name a line)")
        self.class_names, self.num_classes = list(classes.names), len(classes.names)
        self.class_colours = classes.colours
        self._open = threading.local()  # each reader thread keeps its shards open

    def shard(self, count, index):
        """The part a cluster worker reads: every ``count``-th shard file from ``index`` (records
        of one file when there are fewer files than workers)."""
        if len(self.files) >= count:
            return TFRecordDataset(self.pattern, self.split, self.files[index::count])
        part = TFRecordDataset(self.pattern, self.split, self.files)
        part.records = part.records[index::count]
        return part

    def __len__(self):
        return len(self.records)

    def name(self, i):
        path, offset, _ = self.records[i]
        return "%s@%d" % (path, offset)

    def load(self, i):
        path, offset, length = self.records[i]
        files = self._open.__dict__.setdefault("files", {})
        if path not in files:
            files[path] = open(path, "rb")
        files[path].seek(offset)
        data = files[path].read(length)
        try:
            features = tf.train.Example.FromString(data).features.feature
        except Exception:  # protobuf's DecodeError differs between implementations
            raise DataError(self.name(i), "not a tf.train.Example")
        missing = [k for k in ("image/encoded", "image/segmentation/class/encoded")
                   if k not in features]
        if missing:
            raise DataError(self.name(i), "the record has no %s" % ", ".join(missing))
        try:
            image = read_image(io.BytesIO(features["image/encoded"].bytes_list.value[0]))
            with Image.open(io.BytesIO(features["image/segmentation/class/encoded"]
                                       .bytes_list.value[0])) as mask:
                if mask.mode not in ("L", "P"):
                    raise DataError(self.name(i), "a %s mask; expected class indices" % mask.mode)
                label = np.asarray(mask, np.uint8)
        except (DataError, OSError, ValueError, SyntaxError) as error:
            if isinstance(error, DataError) and error.path == self.name(i):
                raise
            raise DataError(self.name(i), "the image or mask does not decode (%s)"
                            % getattr(error, "problem", error))
        return image, label
