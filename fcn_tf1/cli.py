"""What the commands share: their ``main``, a quiet TensorFlow, flag types, and one-line errors
with a non-zero exit."""
import argparse
import os
import re
import shutil
import sys
import warnings

from fcn_tf1.ground import console, machine, tf_versions
from fcn_tf1.ground.formats import clients_text, readable, readable_text
from fcn_tf1.ground.names import (AUTO, IGNORE_LABEL, MAX_INFERENCE_PIXELS, MAX_WIDTH, MIN_WIDTH,
                                  PRECISIONS, RUNTIMES, TILE_CHOICES)


def prepare_tensorflow(prog):
    """Import TensorFlow for an entry point: C++ info logs off, Keras 2 chosen for TensorFlow 2.16+
    (TF_USE_LEGACY_KERAS=1), deprecation chatter silenced; the user's own settings of the two
    variables win. An unsupported TensorFlow is one error line and exit 1, an untested one a
    warning line. Call before the entry point's first TensorFlow import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    filter_noise = os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0"  # 0 asks for every C++ log line
    tf_versions.choose_keras_2()
    warnings.simplefilter("ignore", tf_versions.UntestedVersionWarning)  # said in one line below
    with console.stderr_without(_IMPORT_NOISE if filter_noise else None):
        try:
            from fcn_tf1.ground import tf_compat
        except ImportError as error:
            sys.exit("%s: error: %s" % (prog, error))
        tf_compat.gpu_count()  # the CUDA platform's start-up notes come now, while held back
    note = tf_versions.untested_note(tf_compat.TF_VERSION)
    if note:
        print("%s: warning: %s" % (prog, note), file=sys.stderr)
    tf_compat.quiet()


# What TensorFlow 2.16+'s CUDA-enabled wheel logs on a machine without a GPU driver, at import
# (before it reads TF_CPP_MIN_LOG_LEVEL) and at the first look for GPUs, and its oneDNN note
# (port.cc: "oneDNN custom operations are on").
_IMPORT_NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|"
                           r"[IWE]\d{4} [\d:. ]+\d+ "
                           r"(cudart_stub|cuda_platform|cpu_feature_guard|port)\.cc:\d+\]|"
                           r"To enable the following instructions:")


def openmp_defaults():
    """Apply ``machine.openmp_settings`` where the user set nothing (the README's "Performance" has
    what they change). Call before the first TensorFlow import of an entry point."""
    for name, value in machine.openmp_settings().items():
        os.environ.setdefault(name, value)


def command(parser, run_args, check=None, openmp=False):
    """A command's ``main(argv=None)``: parse the flags of ``parser()`` (``check(parser, args)`` may
    refuse a combination), set up TensorFlow (and OpenMP's defaults with ``openmp``), then
    ``run_args(args)`` under the one-line error contract; it returns the exit status."""
    def main(argv=None):
        p = parser()
        args = p.parse_args(argv)
        if check:
            check(p, args)
        prog = p.prog.split()[-1]
        if openmp:
            openmp_defaults()
        prepare_tensorflow(prog)
        return run(lambda: run_args(args), prog)
    return main


def run(main, prog):
    """Call ``main()``; expected failures become ``prog: error: <one line>`` and exit status 1."""
    try:
        return main() or 0
    except (ValueError, OSError, RuntimeError) as error:  # DataError is a ValueError
        message = " ".join(str(error).split()) or type(error).__name__
        print("%s: error: %s" % (prog, message), file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        return _interrupted(prog, error)
    except Exception as error:
        if isinstance(error.__context__, KeyboardInterrupt):  # Ctrl-C inside TensorFlow's C API
            return _interrupted(prog, error.__context__)
        tf_errors = sys.modules.get("tensorflow.python.framework.errors_impl")
        if tf_errors is None or not isinstance(error, tf_errors.OpError):
            raise  # a bug of ours: the traceback is wanted
        from fcn_tf1.ground.tf_compat import error_line
        print("%s: error: TensorFlow: %s" % (prog, error_line(error)), file=sys.stderr)
        return 1


def _interrupted(prog, error):
    """One line for Ctrl-C (or SIGTERM while training) and the shell's status for it."""
    print("%s: %s" % (prog, str(error) or "interrupted"), file=sys.stderr)
    return 128 + getattr(error, "signum", 2)


def python_command():
    """How a fresh shell in this folder starts this interpreter: ``python`` when that is what
    PATH gives (an activated venv), else this interpreter's path (./dev.sh's venv, not activated)."""
    on_path = shutil.which("python")
    if on_path and os.path.abspath(on_path) == os.path.abspath(sys.executable):
        return "python"
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative


def add_data_set_flags(parser, seed=True):
    """The flags of particular data sets, the same for every command that opens one: a folder
    set's --val-fraction, --seed (train has its own) and --ignore-label; PASCAL-Context's
    --context-dir."""
    parser.add_argument("--context-dir", help="--data pascal-context: the annotations' folder "
                        "(trainval/<id>.mat, labels.txt, 59_labels.txt); --data-dir holds VOC2010")
    parser.add_argument("--val-fraction", type=bounded(float, 0, 1, high_open=True), default=0.1,
                        help="a folder data set without train.txt / val.txt: the share of its "
                             "images held out for validation (a seeded split; a run keeps it)")
    if seed:
        parser.add_argument("--seed", type=nonnegative_int, default=0,
                            help="the seed of that split (train's --seed)")
    parser.add_argument("--ignore-label", type=bounded(int, 0, 255), default=IGNORE_LABEL,
                        help="the value of ignored pixels in a folder data set's index masks "
                             "(not trained on, not scored)")


def add_runtime_flags(parser):
    """--runtime and --precision, the same for every command that runs an export."""
    parser.add_argument("--runtime", choices=RUNTIMES, help=(
        "what runs the export; default: the first installed that reads the file (%s)"
        % "; ".join("%s: %s" % (fmt.what, ", ".join(fmt.runtimes)) for fmt in readable())))
    parser.add_argument("--precision", choices=PRECISIONS + (AUTO,), help=(
        "default: the export's own (%s); bf16: OpenVINO on a CPU that computes it; auto: the "
        "fastest precision that export --int8 measured within its --max-drop on the validation "
        "split, else the default" % ", ".join("%s for %s" % (fmt.precisions[0], fmt.what)
                                            for fmt in readable())))


def add_labelling_flags(parser):
    """--tile, --max-inference-pixels, --downscale and --tta: how an image of any size is labelled."""
    parser.add_argument("--tile", type=tile_choice, default="auto", help=(
        "HxW (or N): label images larger than that in tiles of at most that size, stitched "
        "exactly (tiles overlap by the model's receptive field, their origins on its 32 px grid); "
        "auto: tiles when an image has more than --max-inference-pixels; off: always whole"))
    parser.add_argument("--max-inference-pixels", type=positive_int, default=MAX_INFERENCE_PIXELS,
                        help="the most pixels labelled at once (memory is bounded by it): larger "
                             "images are tiled, or downscaled with --downscale")
    parser.add_argument("--downscale", action="store_true", help=(
        "label images of more than --max-inference-pixels on a downscaled copy, the labels "
        "enlarged back (faster, not the whole-image result) instead of in tiles"))
    parser.add_argument("--tta", type=tta_spec, help=(
        "test-time augmentation: flip, scales=0.5,0.75,1,1.25,1.5 or flip,scales=...: softmax "
        "probabilities averaged over the flipped and rescaled copies"))


def labeller(args, model):
    """The ``Labeller`` of the labelling flags for ``model``."""
    from fcn_tf1.model.labelling import Labeller
    if args.downscale and isinstance(args.tile, tuple):
        raise ValueError("--downscale labels on a downscaled copy, --tile %dx%d in tiles: choose one"
                         % args.tile)
    return Labeller(model, args.tile, args.max_inference_pixels, args.downscale, args.tta)


def tile_choice(text):
    """'auto', 'off' or a size (H or HxW), for argparse."""
    return text if text in TILE_CHOICES else size_pair(text)


def tta_spec(text):
    from fcn_tf1.numbers.tta import TTA
    try:
        return TTA.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).split(": ", 1)[1])


def add_export_flag(parser, help_text, **kwargs):
    """The flag that names an export to run: --graph, with every readable format in its help."""
    parser.add_argument("--graph", help="%s: %s; %s" % (help_text, readable_text(), clients_text()),
                        **kwargs)


class HelpFormatter(argparse.HelpFormatter):
    """Each flag's help ends with its real default, unless the text says it already or there is
    none to say (a flag whose default depends on others says so in its text)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default is None or action.default is False or action.default == argparse.SUPPRESS
                or not action.option_strings or "default" in text):  # (0 == False: by identity)
            return text
        return text + " (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the tools' error contract: one line ``fcn_tf1.<tool>: error: <flag>: <problem>``
    (no usage block), exit status 2 as argparse's own; every flag's default in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super(ArgumentParser, self).__init__(*args, **kwargs)

    def error(self, message):
        tool = self.prog.split()[-1]
        message = message[len("argument "):] if message.startswith("argument ") else message
        self.exit(2, "%s: error: %s (--help lists the flags)\n" % (tool, message))


def bounded(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse type: ``kind(text)`` within [low, high] (or open at either end), so that a bad
    value is refused where it is parsed, naming the flag."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (
                "an integer" if kind is int else "a number", text))
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high or value != value:  # value != value: NaN
            raise argparse.ArgumentTypeError("expected %s, got %r" % (_range_text(
                low, high, low_open, high_open), text))
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _range_text(low, high, low_open, high_open):
    if high is None:
        return "a value %s %g" % (">" if low_open else ">=", low)
    return "a value in %s%g, %g%s" % ("(" if low_open else "[", low, high,
                                       ")" if high_open else "]")


positive_int = bounded(int, 1)
nonnegative_int = bounded(int, 0)
positive_float = bounded(float, 0, low_open=True)
nonnegative_float = bounded(float, 0)
width = bounded(float, MIN_WIDTH, MAX_WIDTH)


def choice_list(choices):
    """An argparse type: 'a,b' -> ('a', 'b'), each one of ``choices``."""
    def parse(text):
        items = tuple(item for item in text.split(",") if item)
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list of %s, got %r"
                                             % (", ".join(choices), text))
        return items
    parse.__name__ = "list"
    return parse


def size_pair(text):
    """'H' or 'H,W' (or HxW) -> (H, W), for argparse."""
    try:
        parts = [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("expected H or H,W, got %r" % text)
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError("expected H or H,W with positive sizes, got %r" % text)
    return tuple(parts)


def size_list(text):
    """'1,33,224x224,333x500' -> [(1, 1), (33, 33), (224, 224), (333, 500)], for argparse."""
    return [size_pair(part) for part in text.split(",") if part]


def float_pair(text):
    """'LOW,HIGH' -> (LOW, HIGH) with 0 < LOW <= HIGH, for argparse."""
    try:
        low, high = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LOW,HIGH, got %r" % text)
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError("expected 0 < LOW <= HIGH, got %r" % text)
    return low, high
