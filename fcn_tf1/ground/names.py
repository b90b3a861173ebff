"""Every name and choice that flags, help texts, file formats and the model code share, free of
TensorFlow so that ``--help`` stays instant and ``setup.py`` can read the version from the text."""
import collections

VERSION = "0.3.0"

# The model (paper sections 3-4).
VARIANTS = ("fcn32s", "fcn16s", "fcn8s")
UPSAMPLINGS = ("nn", "layers")  # tf.nn.conv2d_transpose, tf.layers.conv2d_transpose
# The shape strategies, in the order of the registry (model/upsample.py); FIXING give H x W always.
SHAPE_FIXES = ("output_shape", "set_shape", "reshape", "crop", "pad", "pad100")
FIXING = ("output_shape", "crop", "pad", "pad100")
# The APIs each fix works with (tf.layers.conv2d_transpose has no output_shape), and the pairs.
SHAPE_FIX_APIS = {fix: ("nn",) if fix == "output_shape" else UPSAMPLINGS for fix in SHAPE_FIXES}
VALID_PAIRS = tuple((api, fix) for fix in SHAPE_FIXES for api in SHAPE_FIX_APIS[fix])
# The shape fix an API gets unless told: each fixes every size, and tf.layers has no output_shape.
DEFAULT_SHAPE_FIX = {"nn": "output_shape", "layers": "crop"}


def pair_problem(upsampling, shape_fix):
    """Why the (upsampling, shape_fix) pair cannot be built, in one line, or None: the one check of
    the pair (the model config and the shape-fix registry both ask it)."""
    if upsampling not in UPSAMPLINGS:
        return "upsampling must be one of %s, got %r" % (", ".join(UPSAMPLINGS), upsampling)
    if shape_fix not in SHAPE_FIXES:
        return "shape_fix must be one of %s, got %r" % (", ".join(SHAPE_FIXES), shape_fix)
    if (upsampling, shape_fix) not in VALID_PAIRS:
        return ("shape_fix %s does not work with upsampling %s (tf.layers.conv2d_transpose has no "
                "output_shape); with %s choose one of %s (default: %s)" % (
                    shape_fix, upsampling, upsampling, ", ".join(
                        f for a, f in VALID_PAIRS if a == upsampling), DEFAULT_SHAPE_FIX[upsampling]))
    return None
# The backbones (numbers/backbone_shapes.py and model/backbones.py hold one class each): the variants
# each has heads for, the ImageNet weight files train --backbone-weights takes and the preset it
# trains with on real data (the reference's recipe for it, workflows/recipes.py). The reference
# scores AlexNet from fc7 alone (voc-fcn-alexnet); its 3x3 stride-2 pools leave no skip geometry of
# the reference's to follow.
Backbone = collections.namedtuple("Backbone", "variants weights preset")
BACKBONE_SPECS = collections.OrderedDict([
    ("vgg16", Backbone(VARIANTS, "Keras .h5, TF-slim .ckpt, .npy or the VGG authors' .caffemodel",
                       "heavy")),
    ("alexnet", Backbone(("fcn32s",), "Caffe's bvlc_reference_caffenet.caffemodel", "alexnet"))])
BACKBONES = tuple(BACKBONE_SPECS)
DEFAULT_BACKBONE = "vgg16"


def backbone_problem(backbone, variant):
    """Why ``variant`` cannot be built on ``backbone``, in one line, or None."""
    if backbone not in BACKBONE_SPECS:
        return "backbone must be one of %s, got %r" % (", ".join(BACKBONES), backbone)
    variants = BACKBONE_SPECS[backbone].variants
    if variant not in variants:
        return ("the %s backbone has the %s head only, as the reference's nets on it, not %s"
                % (backbone, " / ".join(variants), variant))
    return None


# Which transposed convs learn: the reference's nets none (all fixed bilinear), the CVPR paper's
# text the 2x ones.
TRAIN_UPSAMPLING = ("none", "2x", "all")
# VGG16: (block, convs, channels at width 1.0), and fc6/fc7's channels (AlexNet's too).
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
FC_CHANNELS = 4096
# The backbone's channel multiplier: 1/64 keeps one channel in conv1; 4 is far beyond any use and
# keeps a config from asking for terabytes.
MIN_WIDTH, MAX_WIDTH = 1 / 64., 4.0

# The input convention: the order the first conv expects; mean per channel in that order, 0-255.
Convention = collections.namedtuple("Convention", "channel_order mean")
# Caffe-trained VGG16 (Keras h5 in 'caffe' mode, vgg16.npy): BGR, ImageNet mean in BGR.
CAFFE_BGR = Convention("BGR", (103.939, 116.779, 123.68))
# TF-slim's vgg_16.ckpt: RGB, the same ImageNet mean in RGB.
SLIM_RGB = Convention("RGB", (123.68, 116.78, 103.94))
# The FCN reference's trained models (fcn.berkeleyvision.org): BGR, its own mean, no scaling.
REFERENCE_BGR = Convention("BGR", (104.00699, 116.66877, 122.67892))
# What a model's input is: an RGB photo, NYUDv2's HHA encoding of depth (horizontal disparity,
# height above ground, angle with gravity) as its PNGs store it, 3 channels of uint8, or NYUDv2's
# depth as its 16-bit PNGs store it (millimetres, 0 where the sensor had no reading). The modality
# names the input tensor of every export; each has its dtype and channels (depth: [H, W]).
Modality = collections.namedtuple("Modality", "dtype channels")
MODALITY_SPECS = collections.OrderedDict([("image", Modality("uint8", 3)),
                                          ("hha", Modality("uint8", 3)),
                                          ("depth", Modality("uint16", 1))])
MODALITIES = tuple(MODALITY_SPECS)  # "image" is INPUT, the tensor name of every RGB model
# A model of several inputs fuses them: "early" concatenates the preprocessed inputs into one
# stream's input (nyud-fcn32s-color-d: BGR and log depth, 4 channels); "late" runs one stream per
# input and averages their score_fr (nyud-fcn32s-color-hha: coefficients 0.5 / 0.5), FCN-32s only
# as the reference's.
FUSIONS = ("early", "late")
# NYUDv2's depth as nyud_layers.py gives it: log(millimetres) minus the mean log depth.
LOG_DEPTH = Convention("LOG", (7.844,))
NYUD_COLOR = Convention("BGR", (116.190, 97.203, 92.318))
NYUD_HHA = Convention("RGB", (132.431, 94.076, 118.477))
# The data sets of the reference's trained FCNs: the inputs its data layer gives them, each
# (modality, convention) (voc_layers.py, pascalcontext_layers.py, nyud_layers.py: colour as BGR
# minus that data set's mean, HHA in its file's order minus its mean, log depth minus its mean),
# the class count of each of their heads (SIFT Flow's nets: 33 semantic, 3 geometric;
# siftflow_layers.py) and how several inputs are fused. weights convert tells the data set from
# the class counts and inputs where only one has them and otherwise needs --data.
ReferenceData = collections.namedtuple("ReferenceData", "inputs classes fusion")
REFERENCE_DATA = collections.OrderedDict([
    ("voc", ReferenceData((("image", REFERENCE_BGR),), (21,), None)),
    ("pascal-context", ReferenceData((("image", REFERENCE_BGR),), (60,), None)),
    ("nyud-color", ReferenceData((("image", NYUD_COLOR),), (40,), None)),
    ("nyud-hha", ReferenceData((("hha", NYUD_HHA),), (40,), None)),
    ("nyud-color-d", ReferenceData((("image", NYUD_COLOR), ("depth", LOG_DEPTH)), (40,), "early")),
    ("nyud-color-hha", ReferenceData((("image", NYUD_COLOR), ("hha", NYUD_HHA)), (40,), "late")),
    ("siftflow", ReferenceData((("image", Convention("BGR", (114.578, 115.294, 108.353))),),
                               (33, 3), None)),
])
# The "at-once" FCN-8s scales the pool4 / pool3 features before scoring them (voc-fcn8s-atonce).
SKIP_SCALES = {"pool4": 0.01, "pool3": 0.0001}

# Training.
DATA_SETS = ("synthetic", "voc", "sbd", "pascal-context", "nyud", "nyud-hha", "nyud-color-d",
             "nyud-color-hha", "siftflow", "folder", "tfrecord")
CLUSTER_JOBS = ("chief", "worker", "ps")  # a chief (or worker 0) also restores and writes the run
PRESETS = ("quick", "heavy", "cvpr", "alexnet")
OPTIMIZERS = ("momentum", "adam", "sgd")
LOSSES = ("mean", "sum")  # normalised, or Caffe's summed loss
IGNORE_LABEL = 255  # void: neither trained on nor scored

# Files and graph nodes. MARKER is how fcn_tf1 knows its own outputs (a JSON key, a PNG text chunk).
MARKER = "fcn_tf1"
CONFIG_FILE = "model.json"
OPTIONS_FILE = "options.json"
LOCK_FILE = ".lock"
FROZEN_NAME = "frozen_model.pb"
SAVED_MODEL_MARKER = "fcn_tf1.json"
CONFIG_NODE = "fcn_tf1_config"
INPUT, LOGITS, PREDICTION = "image", "logits", "prediction"
# A SavedModel's signatures: the uint8 tensor one, and TF Serving's encoded images (names ending in
# _bytes are base64 in its REST API).
BYTES_INPUT, BYTES_SIGNATURE = "image_bytes", "serving_bytes"
# The version of the model config in model.json and in exports; 1 had no "format" field, 2 no
# "backbone" (VGG16), 3 no "heads" (one).
FORMAT_VERSION = 4

# Inference on an export: one description per runtime, in the order of preference (the formats
# each reads, and which runtime a file gets unless told, are in ground/formats.py; docs/runtimes.md
# has the measurements). ``module``: what is imported; ``extra``: the pip extra that brings it;
# ``precisions``: what it computes in (bf16 on CPUs that do, int8 from an int8 IR); ``graph_def``: it
# takes the checked GraphDef itself (else a private copy of the checked file) and runs a batch
# [N, H, W, 3] whole (else image by image). Adding a runtime is one entry here, its engine class in
# model/runtimes.py and its name in the records of the formats it reads.
Runtime = collections.namedtuple("Runtime", "name module extra precisions graph_def")
RUNTIME_SPECS = collections.OrderedDict((spec.name, spec) for spec in (
    Runtime("openvino", "openvino", "openvino", ("fp32", "bf16", "int8"), False),
    Runtime("onnxruntime", "onnxruntime", "onnx", ("fp32",), False),
    Runtime("tf", "tensorflow", "tf", ("fp32",), True),
    Runtime("tflite", "tensorflow", "tf", ("fp32",), False)))
RUNTIMES = tuple(RUNTIME_SPECS)
PRECISIONS = ("fp32", "bf16", "int8")
# --precision auto: the fastest precision that the export measured within its gate (export --int8).
AUTO = "auto"
# export --int8: calibration images (of the training split) and the largest mean-IU drop written.
CALIBRATION_IMAGES = 300
MAX_DROP = 0.01

# Images of more pixels are labelled in tiles of at most this many (or, with --downscale, on a
# downscaled copy): the largest square tile that keeps the full-width FCN-8s under 2 GB on OpenVINO
# fp32 within 2.2x the time per pixel of a 500x500 image (docs/performance.md has the figures).
MAX_INFERENCE_PIXELS = 1344 * 1344
TILE_CHOICES = ("auto", "off")  # or HxW

# The TensorFlow releases fcn_tf1 runs on (2.16+ through tf-keras), and the newest tested here.
TENSORFLOW_SUPPORTED = "1.15 or 2.13-2.21"
TENSORFLOW_NEWEST_TESTED = (2, 21)
