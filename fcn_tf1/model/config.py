"""What a trained model is (``ModelConfig``), and the versioned format it is stored in: ``model.json``
beside the checkpoints, and the config inside every export.

Every file carries ``"format"``; ``read_config`` is the one reader: it migrates older formats and
refuses newer ones in one line.
"""
import json
import numbers
import os

from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import (CONFIG_FILE, DEFAULT_BACKBONE, DEFAULT_SHAPE_FIX, FORMAT_VERSION,
                                  MAX_WIDTH, MIN_WIDTH, MODALITIES, SLIM_RGB, VARIANTS, Convention,
                                  backbone_problem, pair_problem)
from fcn_tf1.model.signature import Signature


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(choices), value))


class ModelConfig(object):
    """The architecture and input convention of a model, saved beside its checkpoints and exports."""

    FIELDS = ("num_classes", "variant", "width", "upsampling", "shape_fix", "convention",
              "class_names", "scale_skips", "backbone", "modality")

    def __init__(self, num_classes, variant="fcn8s", width=1.0, upsampling="nn",
                 shape_fix=None, convention=SLIM_RGB, class_names=None, scale_skips=False,
                 class_colours=None, backbone=DEFAULT_BACKBONE, modality=MODALITIES[0]):
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

    @property
    def signature(self):
        """What the model takes and gives (``signature.Signature``), carried in its exports."""
        return Signature.of(self)

    def build(self, images, is_training=False, **kwargs):
        """Logits of this model on preprocessed ``images``."""
        from fcn_tf1.model.fcn import build_fcn
        return build_fcn(images, self.num_classes, self.variant, self.upsampling, self.shape_fix,
                         self.width, is_training=is_training, scale_skips=self.scale_skips,
                         backbone=self.backbone, **kwargs)

    def to_dict(self):
        return {"format": FORMAT_VERSION, "num_classes": self.num_classes, "backbone": self.backbone,
                "modality": self.modality, "variant": self.variant,
                "width": self.width, "upsampling": self.upsampling, "shape_fix": self.shape_fix,
                "convention": {"channel_order": self.convention.channel_order,
                               "mean": list(self.convention.mean)},
                "class_names": self.class_names, "scale_skips": self.scale_skips,
                "class_colours": self.class_colours}

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


def _convention(data):
    if data["channel_order"] not in ("RGB", "BGR") or len(data["mean"]) != 3:
        raise ValueError("not an input convention: %r" % (data,))
    return Convention(data["channel_order"], tuple(float(m) for m in data["mean"]))


def migrate(data, source):
    """``data`` in the current format: format 1 (fcn_tf1 0.1, no "format" field) has the same
    fields as 2, which has no "backbone" (VGG16's) nor "modality" (an RGB image); a newer format
    than this version knows is refused."""
    version = data.get("format", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("%s: the model config's format is %r, not a version number"
                         % (source, version))
    if version > FORMAT_VERSION:
        raise ValueError("%s: written by a newer fcn_tf1 (config format %d; this version reads up "
                         "to %d): upgrade fcn_tf1" % (source, version, FORMAT_VERSION))
    if version < 3:
        data = dict(data, backbone=DEFAULT_BACKBONE, modality=MODALITIES[0])
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
