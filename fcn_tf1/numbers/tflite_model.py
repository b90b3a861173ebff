"""The operators a TensorFlow Lite model file uses, read from its FlatBuffer bytes (schema.fbs:
``Model.operator_codes``), so that a file is checked before an interpreter loads it.

A FlatBuffer table starts with a signed offset back to its vtable; the vtable lists where each
field sits in the table (0: absent). Only the few fields read here are decoded, every offset
checked against the buffer's end.
"""
import struct

# schema.fbs field numbers: Model.operator_codes, OperatorCode's three code fields.
MODEL_OPERATOR_CODES = 1
DEPRECATED_BUILTIN_CODE, CUSTOM_CODE, BUILTIN_CODE = 0, 1, 3
FILE_IDENTIFIER = b"TFL3"


class NotTFLite(ValueError):
    """The bytes are not a TensorFlow Lite model."""


def _u32(data, at):
    if at < 0 or at + 4 > len(data):
        raise NotTFLite("offset %d outside the file" % at)
    return struct.unpack_from("<I", data, at)[0]


def _field(data, table, number):
    """Where field ``number`` of the table at ``table`` sits, or None when absent."""
    vtable = table - struct.unpack_from("<i", data, table)[0]
    if vtable < 0 or vtable + 4 > len(data):
        raise NotTFLite("vtable outside the file")
    size = struct.unpack_from("<H", data, vtable)[0]
    if 4 + 2 * number + 2 > size:
        return None
    offset = struct.unpack_from("<H", data, vtable + 4 + 2 * number)[0]
    return table + offset if offset else None


def _vector(data, at):
    """(first element's position, length) of the vector the uoffset at ``at`` points to."""
    start = at + _u32(data, at)
    length = _u32(data, start)
    if start + 4 + 4 * length > len(data):
        raise NotTFLite("vector outside the file")
    return start + 4, length


def _string(data, at):
    start = at + _u32(data, at)
    length = _u32(data, start)
    if start + 4 + length > len(data):
        raise NotTFLite("string outside the file")
    return data[start + 4:start + 4 + length].decode("utf-8", "replace")


def operator_codes(data):
    """[(builtin code, custom code or None)] of every operator the model uses; raises NotTFLite
    for bytes that are not a TFLite FlatBuffer."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise NotTFLite("no TFL3 file identifier")
    try:
        model = _u32(data, 0)
        field = _field(data, model, MODEL_OPERATOR_CODES)
        if field is None:
            return []
        first, count = _vector(data, field)
        return [_operator_code(data, element + _u32(data, element))
                for element in range(first, first + 4 * count, 4)]
    except struct.error as error:
        raise NotTFLite(str(error))


def _operator_code(data, table):
    deprecated = _field(data, table, DEPRECATED_BUILTIN_CODE)
    builtin = _field(data, table, BUILTIN_CODE)
    custom = _field(data, table, CUSTOM_CODE)
    # Codes above 127 live in builtin_code; older files have only the int8 deprecated field.
    code = max(struct.unpack_from("<b", data, deprecated)[0] if deprecated else 0,
               struct.unpack_from("<i", data, builtin)[0] if builtin else 0)
    return code, _string(data, custom) if custom else None
