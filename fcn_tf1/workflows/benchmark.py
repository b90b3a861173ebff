"""Performance measurements for ``python -m fcn_tf1.bench``: FLOPs, latency and memory of the export
on each runtime and precision, the training step, and the FP32 ceiling they are held against.

Each (variant, size) is measured by ``measure`` in a fresh process (``isolated.call``), and in it
each runtime x precision in a fresh process of its own, so that each peak RSS is its own; so is the
frozen graph's latency under the OpenMP variables.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.ground import console, machine
from fcn_tf1.ground.machine import cpu_cores, openmp_settings, peak_rss_mb
from fcn_tf1.ground.formats import FORMATS, formats_read_by
from fcn_tf1.ground.names import INPUT, PREDICTION, RUNTIME_SPECS, RUNTIMES
from fcn_tf1.ground.tf_compat import TF_VERSION, onednn_enabled, optimize_for_inference, tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph
from fcn_tf1.model.loss import segmentation_loss
from fcn_tf1.model.export_readers import read_graph_def
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.model.runtimes import installed as runtime_installed
from fcn_tf1.numbers.tta import TTA
from fcn_tf1.workflows import isolated, labelling_bench, quantization, writer_registry
from fcn_tf1.workflows.timing import latency


def count_flops(graph):
    """FLOPs of a static-shape graph by TensorFlow's profiler."""
    options = tf.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    with console.stdout_silenced():
        return tf.profiler.profile(graph, options=options).total_float_ops


def session_config(threads=None, xla=False):
    config = tf.ConfigProto()
    if threads:
        config.intra_op_parallelism_threads, config.inter_op_parallelism_threads = threads
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


def measure(variant, size, width=1.0, runs=5, train_step=True, optimisations=False, classes=21,
            runtimes=("tf",), precisions=("fp32",), first_mask=False, tiles=(), tile_image=None,
            tta=None):
    """Everything for one (variant, size), run in a fresh process by ``measure_in_subprocess``:
    FLOPs, then the export on each runtime x precision in a fresh process of its own (latency,
    peak RSS, labels against TensorFlow fp32's; with ``first_mask``, fp32's time to a first mask),
    ``tile_image`` labelled in each of ``tiles`` and the image with ``tta`` (a TTA's dict) on each
    runtime in fp32, the training step."""
    config = ModelConfig(classes, variant, width)
    h, w = size
    image = np.random.RandomState(0).randint(0, 256, (h, w, 3), dtype=np.uint8)
    result = {"variant": variant, "size": list(size), "width": width}
    # About 1 GB per variant and size at full width (2 with ONNX): removed whatever happens.
    work = tempfile.mkdtemp(prefix="fcn_tf1_bench_")
    # The children's model cache (OpenVINO's IR): the bench's own, empty at first, and only
    # theirs (a caller's later models would refill it after it is removed).
    cache_dir = os.environ.get("FCN_TF1_CACHE_DIR")
    os.environ["FCN_TF1_CACHE_DIR"] = os.path.join(work, "cache")
    try:
        frozen_path = _export(config, size, work, result, runtimes)
        if "openvino" in runtimes and "int8" in precisions:
            _export_int8(frozen_path, size, work, result)
        np.save(os.path.join(work, "image.npy"), image)
        # TensorFlow fp32 first: the labels the others are compared with.
        result["runtimes"] = [_runtime_row(work, runtime, precision, runs, first_mask,
                                           result.get("int8_skipped"))
                              for runtime in ("tf",) + tuple(r for r in runtimes if r != "tf")
                              for precision in precisions
                              if precision in RUNTIME_SPECS[runtime].precisions]
        result["labelling"] = _labelling_rows(work, result["runtimes"], size, tiles, tile_image,
                                              tta)
        if optimisations:
            reference = np.load(os.path.join(work, "tf-fp32.npy"))
            result["optimisations"] = _optimisations(frozen_path, image, reference, runs)
    finally:
        if cache_dir is None:
            os.environ.pop("FCN_TF1_CACHE_DIR")
        else:
            os.environ["FCN_TF1_CACHE_DIR"] = cache_dir
        shutil.rmtree(work, ignore_errors=True)
    if train_step:
        result["train_step"] = train_step_latency(config, image, max(2, runs // 2))
    return result


def _export(config, size, work, result, runtimes):
    """FLOPs of the static-shape graph into ``result``; the model (score layers made non-zero, so
    that runtimes can disagree) exported to ``work`` in every format ``runtimes`` read (the TFLite
    one at ``size``); returns the frozen graph's path. Its random weights are seeded: every run
    measures the same model, so that its labels-equal column can be compared."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        start = time.time()
        build_inference_graph(config, list(size) + [3])
        result["build_s"] = time.time() - start
        result["gflops"] = count_flops(graph) / 1e9
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            _randomise_zeros(session)
            config.save(work)
            tf.train.Saver().save(session, os.path.join(work, "model.ckpt"))
    frozen_path = _model_path(work, "tf")
    plan = writer_registry.ExportPlan(work, None, False, frozen_path, size, None, None)
    wanted = {formats_read_by(runtime)[0].name for runtime in ("tf",) + tuple(runtimes)}
    # The frozen graph first (the registry's order): the others are made from it.
    for fmt in FORMATS.values():
        if fmt.name in wanted:
            start = time.time()
            writer_registry.WRITERS[fmt.name].write(_format_path(work, fmt), plan)
            result["%s_export_s" % fmt.name] = time.time() - start
    return frozen_path


def _labelling_rows(work, rows, size, tiles, tile_image, tta):
    """The --tile and --tta rows of every runtime x precision measured whose export takes any
    size, each set beside its own row."""
    out = []
    for row in rows:
        if "min_s" not in row or FORMATS[formats_read_by(row["runtime"])[0].name].fixed_size:
            continue
        path = _row_path(work, row["runtime"], row["precision"])
        if tiles:
            out += labelling_bench.tile_rows(path, row, tile_image, tiles, size)
        if tta:
            out.append(labelling_bench.tta_row(path, row, size, TTA(**tta)))
    return out


def _row_path(work, runtime, precision):
    """The export a runtime x precision row runs: the int8 IR, else the runtime's own."""
    return os.path.join(work, INT8_FILE) if precision == "int8" else _model_path(work, runtime)


def _model_path(work, runtime):
    """Where the bench writes the export that ``runtime`` runs: the first format it reads."""
    return _format_path(work, formats_read_by(runtime)[0])


def _format_path(work, fmt):
    return os.path.join(work, "model" + fmt.suffixes[0])


INT8_FILE, INT8_CALIBRATION_IMAGES = "model_int8" + FORMATS["ir"].suffixes[0], 8


def _export_int8(frozen_path, size, work, result):
    """The int8 IR of the bench's model, calibrated on synthetic images at ``size`` (its random
    weights have no mean IU to gate on); where it cannot be made, why, for its row."""
    start = time.time()
    try:
        quantization.quantize_export(frozen_path, os.path.join(work, INT8_FILE),
                                     SyntheticDataset("train", INT8_CALIBRATION_IMAGES),
                                     INT8_CALIBRATION_IMAGES, size)
    except (ValueError, RuntimeError) as error:
        result["int8_skipped"] = _reason(error)
        return
    result["int8_export_s"] = time.time() - start
    note = machine.int8_note()
    if note:
        result["int8_note"] = note


def _reason(error):
    """Why an export could not be made or measured: the failing line, without its wrapping."""
    return str(error).rpartition("failed: ")[2].replace("ValueError: ", "")


def _randomise_zeros(session, scale=0.01):
    """Give the variables that start at zero (the score layers) small random values: an untrained
    FCN's zero scores would make every runtime agree trivially."""
    rng = np.random.RandomState(0)
    for variable in tf.global_variables():
        if variable.dtype.base_dtype == tf.float32 and not session.run(variable).any():
            shape = variable.shape.as_list()
            variable.load(rng.normal(0, scale, shape).astype(np.float32), session)


def _runtime_row(work, runtime, precision, runs, first_mask=False, skipped_int8=None):
    """One runtime x precision measured in a fresh process; labels compared with tf fp32's."""
    row = {"runtime": runtime, "precision": precision}
    path = _row_path(work, runtime, precision)
    if not os.path.exists(path):  # the int8 IR, when it could not be made
        row["skipped"] = skipped_int8
        return row
    labels = os.path.join(work, "%s-%s.npy" % (runtime, precision))
    try:
        row.update(isolated.call("fcn_tf1.workflows.benchmark:runtime_latency", {
            "path": path, "runtime": runtime, "precision": precision, "runs": runs,
            "image_path": os.path.join(work, "image.npy"), "labels_path": labels}))
    except RuntimeError as error:
        row["skipped"] = _reason(error)
        return row
    reference = np.load(os.path.join(work, "tf-fp32.npy"))
    row["same_labels"] = float(np.mean(np.load(labels) == reference))
    if first_mask and precision == "fp32":
        row["first_mask_s"] = first_mask_seconds(work, path, runtime)
    return row


def first_mask_seconds(work, path, runtime):
    """[cold, warm]: seconds from starting ``python -m fcn_tf1.predict`` on one image to its exit,
    the mask written, with an empty model cache and then with the one the first run filled."""
    image = os.path.join(work, "image.png")
    if not os.path.exists(image):
        Image.fromarray(np.load(os.path.join(work, "image.npy"))).save(image)
    env = dict(os.environ, FCN_TF1_CACHE_DIR=tempfile.mkdtemp(prefix="cache-", dir=work))
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "fcn_tf1.predict", "--graph", path,
                               "--runtime", runtime, image, "--output-dir",
                               os.path.join(work, "masks"), "--force"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              universal_newlines=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode:
            raise RuntimeError("predict on %s failed: %s" % (runtime, done.stderr.strip()[-300:]))
    return seconds


def runtime_latency(path, runtime, precision, runs, image_path, labels_path):
    """Load the export on ``runtime``, label the saved image: {"describe", "load_s", "min_s",
    "median_s", "peak_rss_mb"}, the labels saved to ``labels_path`` (run in a fresh process)."""
    image = np.load(image_path)
    start = time.time()
    with FrozenModel(path, runtime, precision) as model:
        load_s = time.time() - start
        result = latency(model.predict, image, runs)
        np.save(labels_path, model.predict(image))
        result.update(describe=model.describe(), load_s=load_s)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def train_step_latency(config, image, runs):
    """One momentum step at batch 1 on the image's size (this process's TensorFlow)."""
    h, w = image.shape[:2]
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [1, h, w, 3])
        labels = tf.placeholder(tf.int32, [1, h, w])
        loss = segmentation_loss(config.build(images, is_training=True), labels,
                                 config.num_classes)
        step = tf.train.MomentumOptimizer(1e-4, 0.9).minimize(loss)
        with tf.Session(config=session_config()) as session:
            session.run(tf.global_variables_initializer())
            feed = {images: image[None].astype(np.float32), labels: np.zeros((1, h, w))}
            timing = latency(lambda: session.run(step, feed), None, runs, warmup=1)
    timing["tensorflow"] = TF_VERSION
    return timing


def train_step_in(python, variant, size, width=1.0, runs=2):
    """The training step's latency under another interpreter's TensorFlow (TF 1.15 vs 2.x)."""
    return isolated.call("fcn_tf1.workflows.benchmark:train_step_of", {
        "variant": variant, "size": list(size), "width": width, "runs": runs}, python=python)


def train_step_of(variant, size, width, runs):
    config = ModelConfig(21, variant, width)
    image = np.random.RandomState(0).randint(0, 256, tuple(size) + (3,), dtype=np.uint8)
    return train_step_latency(config, image, runs)


def _optimisations(frozen_path, image, reference, runs):
    """Each inference option on the frozen graph: latency and whether the labels stay the same."""
    graph_def = read_graph_def(frozen_path)
    cores = cpu_cores()
    options = [("default threads", {}, 1), ("intra=%d inter=1" % cores, {"threads": (cores, 1)}, 1),
               ("intra=1 inter=1", {"threads": (1, 1)}, 1), ("XLA JIT (ON_1)", {"xla": True}, 1),
               ("batch of 2", {}, 2)]
    options.append(("optimize_for_inference", {"optimized": True}, 1))
    optimized = optimize_for_inference(graph_def, [INPUT], [PREDICTION], tf.uint8.as_datatype_enum)
    out = []
    # OpenMP reads its variables at process start: a fresh process.
    work = os.path.dirname(frozen_path)
    labels_path = os.path.join(work, "openmp.npy")
    timing = isolated.call("fcn_tf1.workflows.benchmark:runtime_latency", {
        "path": frozen_path, "runtime": "tf", "precision": "fp32", "runs": runs,
        "image_path": os.path.join(work, "image.npy"), "labels_path": labels_path},
        env=openmp_settings())
    out.append({"option": "OMP/KMP env (oneDNN)", "median_s_per_image": timing["median_s"],
                "same_labels": bool(np.array_equal(np.load(labels_path), reference))})
    for name, kwargs, batch in options:
        with tf.Graph().as_default():
            tf.import_graph_def(optimized if kwargs.pop("optimized", False) else graph_def, name="")
            with tf.Session(config=session_config(**kwargs)) as session:
                feed = {INPUT + ":0": np.stack([image] * batch) if batch > 1 else image}
                timing = latency(lambda: session.run(PREDICTION + ":0", feed), None, runs)
                labels = session.run(PREDICTION + ":0", feed)
                same = bool(np.array_equal(labels[0] if batch > 1 else labels, reference))
        per_image = timing["median_s"] / batch
        out.append({"option": name, "median_s_per_image": per_image, "same_labels": same})
    return out


def installed_runtimes():
    """The runtimes this venv has; onnxruntime only with the ONNX converter beside it (the bench
    exports its model)."""
    return [r for r in RUNTIMES if runtime_installed(r) and (
        r != "onnxruntime" or importlib.util.find_spec("tf2onnx") is not None)]


def measure_in_subprocess(variant, size, python=None, **kwargs):
    """``measure`` in a fresh process of ``python`` (a clean peak RSS); returns its result dict."""
    return isolated.call("fcn_tf1.workflows.benchmark:measure",
                         dict(kwargs, variant=variant, size=list(size)), python=python)


def tensorflow_build():
    return {"tensorflow": TF_VERSION, "onednn_mkl": onednn_enabled(),
            "cuda": tf.test.is_built_with_cuda(),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "KMP_BLOCKTIME": os.environ.get("KMP_BLOCKTIME"),
            "KMP_AFFINITY": os.environ.get("KMP_AFFINITY")}
