"""A model's signature: what it takes (inputs: tensor name, modality, dtype, shape, preprocessing)
and what it gives (heads: their classes and the names of their logits and labels). It is part of
the model config, carried in every export (``"signature"`` in the config an export holds) and read
by every writer and runtime instead of assuming "one RGB image in, one logits map out".

Exports of fcn_tf1 0.3 carry none: theirs is the one their config implies (``Signature.of``).
"""
import collections

from fcn_tf1.ground.names import LOGITS, MODALITY_SPECS, PREDICTION

# shape: the input's dimensions without the batch, None where any size goes; preprocessing:
# {"channel_order", "mean"} done inside the model, or None when the caller does it (OpenCV's blob).
Input = collections.namedtuple("Input", "name modality dtype shape preprocessing")
# name: the head's task (None for a model of one head); logits/prediction: its tensors' names.
Head = collections.namedtuple("Head", "name classes logits prediction")
DTYPES = ("uint8", "uint16", "float32")


def output_names(head):
    """(logits, prediction) tensor names of the head named ``head`` (None: a model's one head)."""
    return (LOGITS, PREDICTION) if head is None else ("%s_%s" % (LOGITS, head),
                                                      "%s_%s" % (PREDICTION, head))


class Signature(object):
    """The inputs and heads of a model (today one RGB image and one head; see the module text)."""

    def __init__(self, inputs, heads):
        self.inputs, self.heads = tuple(inputs), tuple(heads)
        if not self.inputs or not self.heads:
            raise ValueError("a signature needs an input and a head")

    @classmethod
    def of(cls, config):
        """The signature a ``ModelConfig`` implies: each input of any size, named by its modality
        (an RGB ``image`` or NYUDv2's ``hha``: uint8 [H, W, 3]; NYUDv2's ``depth``: uint16
        [H, W]), preprocessed inside by its convention; a head of its classes for each of its tasks, whose outputs are ``logits`` and
        ``prediction`` for a model of one, ``logits_<head>`` and ``prediction_<head>`` else."""
        inputs = []
        for item in config.inputs:
            spec = MODALITY_SPECS[item.modality]
            inputs.append(Input(item.modality, item.modality, spec.dtype,
                                [None, None] + ([spec.channels] if spec.channels > 1 else []),
                                {"channel_order": item.convention.channel_order,
                                 "mean": list(item.convention.mean)}))
        return cls(inputs,
                   [Head(h.name, h.num_classes, *output_names(h.name)) for h in config.heads])

    @property
    def image(self):
        """The one input of a single-input model."""
        if len(self.inputs) != 1:
            raise ValueError("the model takes %d inputs (%s), not one image"
                             % (len(self.inputs), ", ".join(i.name for i in self.inputs)))
        return self.inputs[0]

    @property
    def head(self):
        """The one head of a single-head model."""
        if len(self.heads) != 1:
            raise ValueError("the model has %d heads (%s), not one"
                             % (len(self.heads), ", ".join(str(h.name) for h in self.heads)))
        return self.heads[0]

    def output_names(self):
        """[logits, prediction] tensor names of each head, in order."""
        return [name for head in self.heads for name in (head.logits, head.prediction)]

    def tensor_names(self):
        """Every input's and output's tensor name (a head may have no labels tensor: OpenCV's)."""
        return ([i.name for i in self.inputs] +
                [n for h in self.heads for n in (h.logits, h.prediction) if n])

    def with_size(self, size):
        """The signature with every input fixed at ``size`` (H, W)."""
        return Signature([i._replace(shape=list(size) + i.shape[2:]) for i in self.inputs],
                         self.heads)

    def describe_input(self):
        """'uint8 image [H, W, 3]' (or the fixed shape) of each input: for messages."""
        return " and ".join("%s %s [%s]" % (i.dtype, i.modality, ", ".join(
            "HWC"[k] if d is None else str(d) for k, d in enumerate(i.shape))) for i in self.inputs)

    def to_dict(self):
        return {"inputs": [dict(i._asdict()) for i in self.inputs],
                "outputs": [dict(h._asdict()) for h in self.heads]}

    @classmethod
    def from_dict(cls, data, source="signature"):
        """From ``to_dict``'s output; a one-line ValueError naming ``source`` otherwise."""
        try:
            inputs = [Input(**item) for item in data["inputs"]]
            heads = [Head(**item) for item in data["outputs"]]
        except (KeyError, TypeError) as error:
            raise ValueError("%s: not a model signature (%s)" % (source, error))
        for item in inputs:
            if item.dtype not in DTYPES or not isinstance(item.shape, list):
                raise ValueError("%s: input %s is not a tensor this version reads (%s %s)"
                                 % (source, item.name, item.dtype, item.shape))
        return cls(inputs, heads)

    @classmethod
    def from_metadata(cls, metadata, config, source):
        """The signature an export's config carries, else (fcn_tf1 0.3) the one its model config
        implies."""
        if "signature" in metadata:
            return cls.from_dict(metadata["signature"], source)
        return cls.of(config)

    def __eq__(self, other):
        return isinstance(other, Signature) and self.to_dict() == other.to_dict()
