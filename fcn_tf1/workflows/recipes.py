"""The learning recipes: defaults, the four presets (the paper's two, the reference's FCN-AlexNet
one and a quick one), and the rules that combine them with flags into one checked
``LearningOptions``. TensorFlow-free, so that ``--help`` can show them."""
import collections
import numbers

from fcn_tf1.ground.names import LOSSES, OPTIMIZERS, TRAIN_UPSAMPLING

# Learning options; a preset changes some of them, flags change any of them.
DEFAULTS = {
    "steps": 1000, "batch_size": 1, "crop_size": None, "flip": False, "scale_range": None,
    "optimizer": "momentum", "learning_rate": 1e-4, "momentum": 0.9, "weight_decay": 5e-4,
    "bias_lr_mult": 2.0, "loss": "mean", "accumulate": 1, "train_upsampling": "2x",
    "save_every": 500, "summary_every": 100, "seed": 0, "threads": 0, "sync_replicas": False,
    "class_weights": None,  # one weight per class in the loss (--class-weights), or none
}
PRESETS = {
    # Small crops and Adam: FCN-8s learns the synthetic set in minutes on a laptop CPU (at the
    # reduced width of PRESET_WIDTHS).
    "quick": {"optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 0.0,
              "bias_lr_mult": 1.0, "batch_size": 8, "crop_size": (64, 64), "flip": True,
              "steps": 1500, "save_every": 250, "summary_every": 50, "train_upsampling": "all"},
    # The reference "heavy learning": batch 1, summed loss, high momentum, tiny fixed rates, every
    # deconvolution fixed bilinear (lr_mult 0 in voc-fcn*/net.py).
    "heavy": {"optimizer": "momentum", "momentum": 0.99, "loss": "sum", "batch_size": 1,
              "learning_rate": {"fcn32s": 1e-10, "fcn16s": 1e-12, "fcn8s": 1e-14},
              "weight_decay": 5e-4, "bias_lr_mult": 2.0, "steps": 100000,
              "train_upsampling": "none"},
    # The CVPR paper: normalised loss, momentum 0.9, lr 1e-4, minibatch 20 by gradient accumulation,
    # the 2x upsamplings learned (its text).
    "cvpr": {"optimizer": "momentum", "momentum": 0.9, "loss": "mean", "batch_size": 1,
             "learning_rate": 1e-4, "accumulate": 20, "weight_decay": 5e-4, "bias_lr_mult": 2.0,
             "steps": 10000, "train_upsampling": "2x"},
    # voc-fcn-alexnet/solver.prototxt: lr 1e-4 fixed ("lr for normalized softmax"), momentum 0.9,
    # iter_size 20, 100000 iterations, upscore fixed bilinear (lr_mult 0 in its net.py).
    "alexnet": {"optimizer": "momentum", "momentum": 0.9, "loss": "mean", "batch_size": 1,
                "learning_rate": 1e-4, "accumulate": 20, "weight_decay": 5e-4,
                "bias_lr_mult": 2.0, "steps": 100000, "train_upsampling": "none"},
}
# The model width a preset implies (a model option, not a learning one); 1.0 (VGG16) otherwise.
PRESET_WIDTHS = {"quick": 0.125}


class LearningOptions(collections.namedtuple("LearningOptions", sorted(DEFAULTS))):
    """The learning options of a training, checked whole when made (``options_for``); the
    workflows read its fields. ``learning_rate`` is a number or ``{variant: rate}``."""

    def rate_for(self, variant):
        rate = self.learning_rate
        return float(rate[variant] if isinstance(rate, dict) else rate)

    def to_dict(self):
        """As ``options.json`` stores them."""
        return dict(self._asdict())


def options_for(preset=None, **overrides):
    """DEFAULTS, then the preset, then every override that is not None, checked as a whole."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError("not a learning option: %s (the model's width goes to ModelConfig)"
                         % ", ".join(unknown))
    options = dict(DEFAULTS)
    if preset:
        if preset not in PRESETS:
            raise ValueError("preset must be one of %s, got %r" % (sorted(PRESETS), preset))
        options.update(PRESETS[preset])
    options.update((k, v) for k, v in overrides.items() if v is not None)
    return check(LearningOptions(**options))


def _number(name, value, low, high=float("inf"), integer=False, low_open=False, high_open=False):
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and value == value
    if not (ok and (value > low if low_open else value >= low)
            and (value < high if high_open else value <= high)):
        raise ValueError("%s must be %s %s %s%s, got %r" % (
            name, "an integer" if integer else "a number", ">" if low_open else ">=", low,
            "" if high == float("inf") else " and %s %s" % ("<" if high_open else "<=", high),
            value))


def check(options):
    """``options`` when every choice, range and pair is valid; else a ValueError naming the flag."""
    for name in ("steps", "batch_size", "accumulate", "save_every", "summary_every"):
        _number("--" + name.replace("_", "-"), getattr(options, name), 1, integer=True)
    for name in ("seed", "threads"):
        _number("--" + name, getattr(options, name), 0, integer=True)
    for name, choices in (("optimizer", OPTIMIZERS), ("loss", LOSSES),
                          ("train_upsampling", TRAIN_UPSAMPLING)):
        if getattr(options, name) not in choices:
            raise ValueError("--%s must be one of %s, got %r" % (
                name.replace("_", "-"), ", ".join(choices), getattr(options, name)))
    rates = options.learning_rate
    for rate in rates.values() if isinstance(rates, dict) else [rates]:
        _number("--lr", rate, 0, low_open=True)
    _number("--momentum", options.momentum, 0, 1, high_open=True)
    _number("--weight-decay", options.weight_decay, 0)
    _number("--bias-lr-mult", options.bias_lr_mult, 0)
    if options.crop_size is not None:
        if len(options.crop_size) != 2:
            raise ValueError("--crop-size must be H,W, got %r" % (options.crop_size,))
        for side in options.crop_size:
            _number("--crop-size", side, 1, integer=True)
    if options.scale_range is not None:
        low, high = options.scale_range
        _number("--scale-range", low, 0, low_open=True)
        _number("--scale-range HIGH", high, low)
    for weight in options.class_weights or []:
        _number("--class-weights", weight, 0)
    return options


def width_for(preset=None, width=None):
    """The model width: the flag's, else the preset's, else 1.0."""
    return width if width is not None else PRESET_WIDTHS.get(preset, 1.0)


def preset_defaults(key):
    """What each preset gives option ``key``, for --help: ``quick: 1500, heavy: 100000, ...``."""
    def shown(value):
        if isinstance(value, dict):
            return " / ".join("%s %g" % kv for kv in sorted(value.items()))
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        return "none" if value is None else ("%g" % value if isinstance(value, float) else
                                             str(value))
    return ", ".join("%s: %s" % (preset, shown(PRESETS[preset].get(key, DEFAULTS[key])))
                     for preset in PRESETS)
