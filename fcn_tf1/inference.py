"""What a trained model is (``ModelConfig``) and its inference graph: uint8 image in, labels out.

The same graph is used for evaluation, export (frozen GraphDef / SavedModel) and benchmarks, so the
preprocessing (channel order, mean) always travels inside it.
"""
import json
import numbers
import os

from fcn_tf1 import fileutil
from fcn_tf1.choices import MAX_WIDTH, MIN_WIDTH
from fcn_tf1.fcn import SHAPE_FIXES, UPSAMPLINGS, VARIANTS, build_fcn
from fcn_tf1.preprocessing import SLIM_RGB, convention_from_dict, convention_to_dict, preprocess
from fcn_tf1.tf_compat import tf

CONFIG_FILE = "model.json"
INPUT, LOGITS, PREDICTION = "image", "logits", "prediction"


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(choices), value))


class ModelConfig(object):
    """The architecture and input convention of a model, saved beside its checkpoints and exports."""

    def __init__(self, num_classes, variant="fcn8s", width=1.0, upsampling="nn",
                 shape_fix="output_shape", convention=SLIM_RGB, class_names=None, scale_skips=False):
        _check_choice("variant", variant, VARIANTS)
        _check_choice("upsampling", upsampling, UPSAMPLINGS)
        _check_choice("shape_fix", shape_fix, SHAPE_FIXES)
        if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError("num_classes must be a positive integer, got %r" % (num_classes,))
        if not isinstance(width, numbers.Real) or not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ValueError("width must be in [%g, %g] (1.0 = VGG16), got %r"
                             % (MIN_WIDTH, MAX_WIDTH, width))
        self.num_classes = int(num_classes)
        self.variant, self.width = variant, float(width)
        self.upsampling, self.shape_fix = upsampling, shape_fix
        self.convention = convention
        self.class_names = list(class_names or ["class_%d" % i for i in range(self.num_classes)])
        self.scale_skips = bool(scale_skips)
        if len(self.class_names) != self.num_classes:
            raise ValueError("%d class names for %d classes" % (len(self.class_names), num_classes))

    def build(self, images, is_training=False, **kwargs):
        """Logits of this model on preprocessed ``images``."""
        return build_fcn(images, self.num_classes, self.variant, self.upsampling, self.shape_fix,
                         self.width, is_training=is_training, scale_skips=self.scale_skips, **kwargs)

    def to_dict(self):
        return {"num_classes": self.num_classes, "variant": self.variant, "width": self.width,
                "upsampling": self.upsampling, "shape_fix": self.shape_fix,
                "convention": convention_to_dict(self.convention), "class_names": self.class_names,
                "scale_skips": self.scale_skips}

    FIELDS = ("num_classes", "variant", "width", "upsampling", "shape_fix", "convention",
              "class_names", "scale_skips")

    @classmethod
    def from_dict(cls, data, source="model config"):
        """From ``to_dict``'s output, or an export's metadata (a superset); ``source`` (a path)
        names the culprit when a field is missing or wrong."""
        missing = [key for key in cls.FIELDS if key not in data]
        if missing:
            raise ValueError("%s: the model config lacks %s" % (source, ", ".join(missing)))
        data = {key: data[key] for key in cls.FIELDS}
        try:
            data["convention"] = convention_from_dict(data["convention"])
            return cls(**data)
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError("%s: bad model config (%s)" % (source, error))

    def save(self, directory):
        fileutil.write_json(os.path.join(directory, CONFIG_FILE), self.to_dict())

    @classmethod
    def load(cls, directory):
        path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isfile(path):
            raise ValueError("%s: not an fcn_tf1 run folder (no %s)" % (directory, CONFIG_FILE))
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError("%s: not a readable fcn_tf1 model config (%s)" % (path, error))
        if not isinstance(data, dict):
            raise ValueError("%s: not a readable fcn_tf1 model config (not a JSON object)" % path)
        return cls.from_dict(data, path)

    def __eq__(self, other):
        return isinstance(other, ModelConfig) and self.to_dict() == other.to_dict()


def build_inference_graph(config, input_shape=None):
    """Add the inference graph of ``config`` to the default graph.

    The input ``image`` is uint8 RGB, [H, W, 3] or [N, H, W, 3] (or exactly ``input_shape``); the
    outputs ``logits`` (float32, the input's shape with C channels) and ``prediction`` (int32 labels,
    the input's shape without channels) have the input's rank. Returns (image, logits, prediction).
    """
    image = tf.placeholder(tf.uint8, input_shape, name=INPUT)
    shape = tf.shape(image)
    checks = [tf.assert_rank_in(image, [3, 4], message="image must be [H, W, 3] or [N, H, W, 3]"),
              tf.assert_equal(shape[-1], 3, message="image must have 3 (RGB) channels")]
    with tf.control_dependencies(checks):
        batch = tf.reshape(image, tf.stack([-1, shape[-3], shape[-2], 3]))
    if input_shape is not None:
        batch.set_shape([1] * (4 - len(input_shape)) + list(input_shape))
    scores = config.build(preprocess(batch, config.convention))
    logits = tf.reshape(scores, tf.concat([shape[:-1], [config.num_classes]], 0), name=LOGITS)
    if input_shape is not None:
        logits.set_shape(list(input_shape[:-1]) + [config.num_classes])
    prediction = tf.cast(tf.argmax(logits, -1), tf.int32, name=PREDICTION)
    return image, logits, prediction
