"""What a trained model is (``ModelConfig``), and the versioned format it is stored in: ``model.json``
beside the checkpoints, and the config inside every export.

Every file carries ``"format"``; ``read_config`` is the one reader: it migrates older formats and
refuses newer ones in one line.
"""
import collections
import json
import numbers
import os

from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import (CONFIG_FILE, DEFAULT_BACKBONE, DEFAULT_SHAPE_FIX, FORMAT_VERSION,
                                  FUSIONS, MAX_WIDTH, MIN_WIDTH, MODALITIES, MODALITY_SPECS,
                                  SLIM_RGB, VARIANTS, Convention, backbone_problem, pair_problem)
from fcn_tf1.model.signature import Signature


# One task of a model: its name (None for the one head of a model of one), its classes' count,
# names and colours (None: VOC's).
HeadSpec = collections.namedtuple("HeadSpec", "name num_classes class_names class_colours")
# One input of a model: its modality (names.MODALITIES, also its tensor's name) and convention.
InputSpec = collections.namedtuple("InputSpec", "modality convention")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(choices), value))


class ModelConfig(object):
    """The architecture and input convention of a model, saved beside its checkpoints and exports."""

    FIELDS = ("num_classes", "variant", "width", "upsampling", "shape_fix", "convention",
              "class_names", "scale_skips", "backbone", "modality", "heads", "inputs", "fusion")

    def __init__(self, num_classes, variant="fcn8s", width=1.0, upsampling="nn",
                 shape_fix=None, convention=SLIM_RGB, class_names=None, scale_skips=False,
                 class_colours=None, backbone=DEFAULT_BACKBONE, modality=MODALITIES[0],
                 heads=None, inputs=None, fusion=None):
        _check_choice("variant", variant, VARIANTS)
        _check_choice("modality", modality, MODALITIES)
        shape_fix = shape_fix or DEFAULT_SHAPE_FIX.get(upsampling)
        problem = pair_problem(upsampling, shape_fix) or backbone_problem(backbone, variant)
        if problem:
            raise ValueError(problem)
        if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError("num_classes must be a positive integer, got %r" % (num_classes,))
        if not isinstance(width, numbers.Real) or not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ValueError("width must be in [%g, %g] (1.0 = the real backbone), got %r"
                             % (MIN_WIDTH, MAX_WIDTH, width))
        self.num_classes = int(num_classes)
        self.backbone, self.variant, self.width = backbone, variant, float(width)
        self.modality = modality  # what the one input is (names.MODALITIES)
        self.upsampling, self.shape_fix = upsampling, shape_fix
        self.convention = convention
        self.class_names = list(class_names or ["class_%d" % i for i in range(self.num_classes)])
        self.scale_skips = bool(scale_skips)
        if len(self.class_names) != self.num_classes:
            raise ValueError("%d class names for %d classes" % (len(self.class_names), num_classes))
        # The colours of a data set's classes (its masks, predict's palette); None: VOC's colours.
        self.class_colours = _colours(class_colours, self.num_classes)
        # A model of several tasks (SIFT Flow's semantic and geometric classes) lists its heads;
        # the first is the one num_classes, class_names and class_colours describe.
        self._heads = _heads(heads, self.head_spec(None))
        # A model of several inputs lists them (the first is modality / convention) and how they
        # are fused (names.FUSIONS).
        self._inputs, self.fusion = _inputs(inputs, InputSpec(modality, convention), fusion,
                                            variant), fusion

    @property
    def inputs(self):
        """[InputSpec] of every input, in the order of the graph's inputs."""
        return self._inputs or [InputSpec(self.modality, self.convention)]

    def head_spec(self, name):
        return HeadSpec(name, self.num_classes, self.class_names, self.class_colours)

    @property
    def heads(self):
        """[HeadSpec] of every head, in the order of the graph's outputs."""
        return self._heads or [self.head_spec(None)]

    @property
    def signature(self):
        """What the model takes and gives (``signature.Signature``), carried in its exports."""
        return Signature.of(self)

    def build(self, images, is_training=False, **kwargs):
        """Logits of this model of one head on preprocessed ``images``."""
        if self._heads:
            raise ValueError("the model has %d heads (%s): build_heads gives their logits"
                             % (len(self._heads), ", ".join(h.name for h in self._heads)))
        return self.build_heads(images, is_training, **kwargs)[0]

    def build_heads(self, images, is_training=False, **kwargs):
        """[logits] of each head of this model on preprocessed ``images`` (a tensor, or an
        ordered {modality: tensor} of a model of several inputs)."""
        from fcn_tf1.model.fcn import build_heads_with_end_points
        heads = [(h.name, h.num_classes) for h in self._heads] or [(None, self.num_classes)]
        return build_heads_with_end_points(
            images, heads, self.variant, self.upsampling, self.shape_fix, self.width,
            is_training=is_training, scale_skips=self.scale_skips, backbone=self.backbone,
            fusion=self.fusion, **kwargs)[0]

    def to_dict(self):
        return {"format": FORMAT_VERSION, "num_classes": self.num_classes, "backbone": self.backbone,
                "modality": self.modality, "variant": self.variant,
                "width": self.width, "upsampling": self.upsampling, "shape_fix": self.shape_fix,
                "convention": _convention_dict(self.convention),
                "class_names": self.class_names, "scale_skips": self.scale_skips,
                "class_colours": self.class_colours,
                "heads": [{"name": h.name, "class_names": h.class_names,
                           "class_colours": h.class_colours} for h in self._heads] or None,
                "inputs": [{"modality": i.modality, "convention": _convention_dict(i.convention)}
                           for i in self._inputs] or None, "fusion": self.fusion}

    @classmethod
    def from_dict(cls, data, source="model config"):
        """From ``to_dict``'s output or an export's config (a superset), of any format this
        version reads; ``source`` (a path) names the culprit in the one-line errors."""
        data = migrate(data, source)
        missing = [key for key in cls.FIELDS if key not in data]
        if missing:
            raise ValueError("%s: the model config lacks %s" % (source, ", ".join(missing)))
        data = dict({key: data[key] for key in cls.FIELDS},
                    class_colours=data.get("class_colours"))  # optional: 0.3 wrote none
        try:
            data["convention"] = _convention(data["convention"])
            return cls(**data)
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError("%s: bad model config (%s)" % (source, error))

    def save(self, directory):
        fileutil.write_json(os.path.join(directory, CONFIG_FILE), self.to_dict())

    @classmethod
    def load(cls, directory):
        path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isdir(directory):
            raise ValueError("%s: no such run folder (a folder that fcn_tf1.train wrote, such as "
                             "checkpoints/synthetic-fcn8s)" % directory)
        if not os.path.isfile(path):
            raise ValueError("%s: not an fcn_tf1 run folder (no %s)" % (directory, CONFIG_FILE))
        return cls.from_dict(read_json_object(path, "fcn_tf1 model config"), path)

    def __eq__(self, other):
        return isinstance(other, ModelConfig) and self.to_dict() == other.to_dict()


def _colours(colours, num_classes):
    if colours is None:
        return None
    colours = [[int(c) for c in colour] for colour in colours]
    if len(colours) != num_classes or any(len(c) != 3 or not all(0 <= v <= 255 for v in c)
                                          for c in colours):
        raise ValueError("class_colours must be %d RGB triples of 0-255" % num_classes)
    return colours


def _heads(heads, first):
    """[HeadSpec] of a model of several heads (``heads``: [{"name", "class_names",
    "class_colours"}], the first one ``first``'s classes), [] for a model of one."""
    if heads is None:
        return []
    specs = []
    for head in heads:
        names = list(head["class_names"])
        if not isinstance(head["name"], str) or not head["name"].isidentifier() or not names:
            raise ValueError("a head needs a name of letters, digits and _ and its class names, "
                             "not %r" % (head,))
        specs.append(HeadSpec(head["name"], len(names), names,
                              _colours(head.get("class_colours"), len(names))))
    if len(specs) < 2 or len({h.name for h in specs}) != len(specs):
        raise ValueError("a model of several heads needs two or more, each of its own name")
    if specs[0][1:] != first[1:]:
        raise ValueError("the first head's classes are num_classes, class_names, class_colours")
    return specs


def _inputs(inputs, first, fusion, variant):
    """[InputSpec] of a model of several inputs (``inputs``: [{"modality", "convention"}], the
    first one ``first``), [] for a model of one; ``fusion`` checked against them."""
    if inputs is None:
        if fusion is not None:
            raise ValueError("fusion %r needs several inputs" % (fusion,))
        return []
    specs = [InputSpec(item["modality"], _convention(item["convention"])
                       if isinstance(item["convention"], dict) else item["convention"])
             for item in inputs]
    for spec in specs:
        _check_choice("an input's modality", spec.modality, MODALITIES)
        if len(spec.convention.mean) != MODALITY_SPECS[spec.modality].channels:
            raise ValueError("%s input with a convention of %d means"
                             % (spec.modality, len(spec.convention.mean)))
    if len(specs) < 2 or len({s.modality for s in specs}) != len(specs):
        raise ValueError("a model of several inputs needs two or more, each of its own modality")
    if specs[0] != first:
        raise ValueError("the first input is modality and convention")
    _check_choice("fusion", fusion, FUSIONS)
    if fusion == "late" and variant != "fcn32s":
        raise ValueError("late fusion is built on FCN-32s only, as the reference's, not %s"
                         % variant)
    return specs


def _convention_dict(convention):
    return {"channel_order": convention.channel_order, "mean": list(convention.mean)}


def _convention(data):
    """A Convention from its dict: RGB / BGR and 3 means, or LOG (log depth) and 1."""
    channels = {"RGB": 3, "BGR": 3, "LOG": 1}.get(data["channel_order"])
    if channels is None or len(data["mean"]) != channels:
        raise ValueError("not an input convention: %r" % (data,))
    return Convention(data["channel_order"], tuple(float(m) for m in data["mean"]))


def migrate(data, source):
    """``data`` in the current format: format 1 (fcn_tf1 0.1, no "format" field) has the same
    fields as 2, which has no "backbone" (VGG16's) nor "modality" (an RGB image), 3 no "heads"
    (one), "inputs" (one) nor "fusion"; a newer format than this version knows is refused."""
    version = data.get("format", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("%s: the model config's format is %r, not a version number"
                         % (source, version))
    if version > FORMAT_VERSION:
        raise ValueError("%s: written by a newer fcn_tf1 (config format %d; this version reads up "
                         "to %d): upgrade fcn_tf1" % (source, version, FORMAT_VERSION))
    if version < 3:
        data = dict(data, backbone=DEFAULT_BACKBONE, modality=MODALITIES[0])
    if version < 4:
        data = dict(data, heads=None, inputs=None, fusion=None)
    return dict(data, format=FORMAT_VERSION)


def read_json_object(path, what):
    """The JSON object in ``path``; a file that is not one is a one-line ValueError."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError("%s: not a readable %s (%s)" % (path, what, error))
    if not isinstance(data, dict):
        raise ValueError("%s: not a readable %s (not a JSON object)" % (path, what))
    return data
