"""Caffe's ``.caffemodel`` (a serialized ``NetParameter``) read without Caffe or protobuf: a small
reader of the protobuf wire format over a memory map, blobs taken by ``np.frombuffer`` without a
copy, so a 540 MB file is listed in a fraction of a second and in bounded memory.

Field numbers are those of Caffe's ``caffe.proto``; both the current ``layer`` (100) and the old
``layers`` / V1 (2) forms are read, repeated numbers packed or not, blob shapes in either form.
"""
import collections
import mmap

import numpy as np

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5
# V1LayerParameter's type enum -> the type string of LayerParameter.
V1_TYPES = {4: "Convolution", 39: "Deconvolution", 14: "InnerProduct", 17: "Pooling", 18: "ReLU",
            6: "Dropout", 25: "Eltwise", 5: "Data", 21: "SoftmaxWithLoss", 20: "Softmax",
            15: "LRN", 3: "Concat", 33: "Slice", 26: "Power", 8: "Flatten", 22: "Split"}
# (name, type, blobs) field numbers of each layer form.
LAYER_FIELDS = {"layer": (1, 2, 7), "layers": (4, 5, 6)}

Layer = collections.namedtuple("Layer", "name type blobs")


class CaffeModelError(ValueError):
    """A file that is not a readable Caffe model; the message names the file and the field."""


def _varint(data, pos, end):
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise IndexError("a number runs past its message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(data, start=0, end=None):
    """(field number, wire type, value) of one message in ``data[start:end]``: an int for numbers,
    (offset, length) for length-delimited fields, so that nothing large is copied."""
    pos, end = start, len(data) if end is None else end
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(data, pos, end)
        elif wire == BYTES:
            length, pos = _varint(data, pos, end)
            value = (pos, length)
            pos += length
        elif wire in (FIXED32, FIXED64):
            size = 4 if wire == FIXED32 else 8
            value = (pos, size)
            pos += size
        else:
            raise ValueError("wire type %d of field %d is not protobuf's" % (wire, number))
        if pos > end or number == 0:
            raise IndexError("field %d runs past its message" % number)
        yield number, wire, value


def _text(data, span):
    return bytes(data[span[0]:span[0] + span[1]]).decode("utf-8", "replace")


def _numbers(data, wire, value):
    """The numbers of one occurrence of a repeated integer field, packed or not."""
    if wire == VARINT:
        return [value]
    offset, length = value
    out, pos = [], offset
    while pos < offset + length:
        number, pos = _varint(data, pos, offset + length)
        out.append(number)
    return out


def _floats(data, wire, value, dtype):
    """The values of one occurrence of a repeated float / double field, packed or not."""
    offset, length = value
    if wire == BYTES and length % dtype.itemsize == 0:
        return np.frombuffer(data, dtype, length // dtype.itemsize, offset)
    return np.frombuffer(data, dtype, 1, offset)


def read_blob(data, span):
    """A ``BlobProto`` as a float32 array of its shape (a view of the file where it can be)."""
    dims, legacy, chunks = [], {}, []
    for number, wire, value in fields(data, span[0], span[0] + span[1]):
        if number == 7 and wire == BYTES:  # shape: BlobShape { repeated int64 dim = 1 }
            for sub, sub_wire, sub_value in fields(data, value[0], value[0] + value[1]):
                if sub == 1:
                    dims += _numbers(data, sub_wire, sub_value)
        elif number in (1, 2, 3, 4) and wire == VARINT:
            legacy[number] = value
        elif number == 5:
            chunks.append(_floats(data, wire, value, np.dtype("<f4")))
        elif number == 8:
            chunks.append(_floats(data, wire, value, np.dtype("<f8")).astype(np.float32))
    values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else \
        np.zeros(0, np.float32)
    shape = dims or [legacy.get(n, 1) for n in (1, 2, 3, 4)]
    if int(np.prod(shape)) != values.size:
        raise ValueError("a blob of shape %s holds %d values" % (list(shape), values.size))
    return values.reshape(shape)


def read_layer(data, span, form):
    """One ``LayerParameter`` (form "layer") or ``V1LayerParameter`` (form "layers")."""
    name_f, type_f, blobs_f = LAYER_FIELDS[form]
    name, kind, blobs = "", "", []
    for number, wire, value in fields(data, span[0], span[0] + span[1]):
        if number == name_f and wire == BYTES:
            name = _text(data, value)
        elif number == type_f:
            kind = _text(data, value) if wire == BYTES else V1_TYPES.get(value, "V1:%d" % value)
        elif number == blobs_f and wire == BYTES:
            blobs.append(read_blob(data, value))
    return Layer(name, kind, blobs)


class CaffeModel(object):
    """The layers of a ``.caffemodel``, in file order: ``layers`` [Layer], ``by_name``, ``name``.
    Use as a context manager (or ``close()``); arrays are views of the mapped file until copied."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            raise CaffeModelError("%s: empty file, not a Caffe model" % path)
        except OSError as error:
            raise CaffeModelError("%s: %s" % (path, error.strerror or error))
        try:
            self.name, self.layers = self._read()
        except (IndexError, ValueError, UnicodeDecodeError) as error:
            self.close()
            raise CaffeModelError("%s: not a readable .caffemodel (truncated or another format: "
                                  "%s)" % (path, error))
        self.by_name = collections.OrderedDict((layer.name, layer) for layer in self.layers)

    def _read(self):
        data, name, layers = self._map, "", []
        for number, wire, value in fields(data):
            if number == 1 and wire == BYTES:
                name = _text(data, value)
            elif number in (100, 2) and wire == BYTES:
                layers.append(read_layer(data, value, "layer" if number == 100 else "layers"))
        if not layers:
            raise ValueError("no layers")
        return name, layers

    def close(self):
        self.layers = self.by_name = None
        self._map = None  # the views die with the layers; the map closes when unreferenced

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
