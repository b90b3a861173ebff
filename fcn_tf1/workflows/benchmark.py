"""Performance measurements for ``python -m fcn_tf1.bench``: FLOPs, latency, memory, peak FP32.

Each (variant, size) is measured by ``measure`` in a fresh process (``isolated.call``), so that its
peak RSS is its own; so are the frozen graph's load-and-label memory and its latency under the
OpenMP variables.
"""
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time

import numpy as np

from fcn_tf1.ground.machine import cpu_cores, openmp_settings
from fcn_tf1.ground.names import INPUT, PREDICTION
from fcn_tf1.ground.tf_compat import TF_VERSION, onednn_enabled, optimize_for_inference, tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph
from fcn_tf1.model.loss import segmentation_loss
from fcn_tf1.model.models import FrozenModel, read_graph_def
from fcn_tf1.workflows import exporting, isolated

FLOPS_PER_CYCLE = (("avx512f", 64), ("fma", 32), ("avx2", 32), ("avx", 16), ("sse2", 8))


def cpu_info():
    """{"model", "cores", "ghz", "flops_per_cycle", "simd", "nominal_gflops"} from /proc/cpuinfo.

    FP32 FLOP per cycle and core: two FMA units of the widest vector the flags name. AMD family 25
    (Zen 3/4) has AVX-512 only on Zen 4, which executes it on 256-bit units: 32, as AVX2.
    """
    model, mhz, flags, vendor, family = platform.processor() or "unknown", [], set(), "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "cpu MHz":
                    mhz.append(float(value))
                elif key == "flags":
                    flags = set(value.split())
                elif key == "vendor_id":
                    vendor = value.strip()
                elif key == "cpu family":
                    family = value.strip()
    except OSError:
        pass
    cores = cpu_cores()
    simd, per_cycle = next(((f, n) for f, n in FLOPS_PER_CYCLE if f in flags), ("none", 2))
    if simd == "avx512f" and vendor == "AuthenticAMD" and family == "25":
        simd, per_cycle = "avx512f on 256-bit units (Zen 4)", 32
    ghz = max(mhz) / 1000.0 if mhz else 0.0
    return {"model": model, "cores": cores, "ghz": ghz, "simd": simd,
            "flops_per_cycle": per_cycle, "nominal_gflops": cores * ghz * per_cycle}


def best_sgemm(n=2048, runs=5):
    """Best measured FP32 GEMM in GFLOP/s: numpy's BLAS and tf.matmul."""
    a = np.random.RandomState(0).rand(n, n).astype(np.float32)
    b = np.random.RandomState(1).rand(n, n).astype(np.float32)
    flops = 2.0 * n ** 3
    numpy_best = min(_timed(lambda: a.dot(b)) for _ in range(runs))
    with tf.Graph().as_default(), tf.Session() as session:
        product = tf.matmul(tf.constant(a), tf.constant(b))
        session.run(product)
        tf_best = min(_timed(lambda: session.run(product.op)) for _ in range(runs))
    return {"numpy_gflops": flops / numpy_best / 1e9, "tf_gflops": flops / tf_best / 1e9}


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def count_flops(graph):
    """FLOPs of a static-shape graph by TensorFlow's profiler."""
    options = tf.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.profiler.profile(graph, options=options).total_float_ops


def session_config(threads=None, xla=False):
    config = tf.ConfigProto()
    if threads:
        config.intra_op_parallelism_threads, config.inter_op_parallelism_threads = threads
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


def latency(session, fetch, feed, runs, warmup=2):
    for _ in range(warmup):
        session.run(fetch, feed)
    times = [_timed(lambda: session.run(fetch, feed)) for _ in range(runs)]
    return {"min_s": min(times), "median_s": statistics.median(times)}


def measure(variant, size, width=1.0, runs=5, train_step=True, optimisations=False, classes=21):
    """Everything for one (variant, size): run in a fresh process by ``measure_in_subprocess``."""
    config = ModelConfig(classes, variant, width)
    h, w = size
    image = np.random.RandomState(0).randint(0, 256, (h, w, 3), dtype=np.uint8)
    result = {"variant": variant, "size": list(size), "width": width}
    # About 1 GB per variant and size at full width: removed whatever happens.
    work = tempfile.mkdtemp(prefix="fcn_tf1_bench_")
    try:
        reference = _measure_graphs(config, size, image, runs, work, result)
        frozen_path = os.path.join(work, "frozen.pb")
        result["inference_rss_mb"] = inference_rss_mb(frozen_path, size)
        if optimisations:
            result["optimisations"] = _optimisations(frozen_path, image, reference, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if train_step:
        with tf.Graph().as_default():
            images = tf.placeholder(tf.float32, [1, h, w, 3])
            labels = tf.placeholder(tf.int32, [1, h, w])
            loss = segmentation_loss(config.build(images, is_training=True), labels, classes)
            step = tf.train.MomentumOptimizer(1e-4, 0.9).minimize(loss)
            with tf.Session(config=session_config()) as session:
                session.run(tf.global_variables_initializer())
                feed = {images: image[None].astype(np.float32), labels: np.zeros((1, h, w))}
                result["train_step"] = latency(session, step, feed, max(2, runs // 2), warmup=1)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return result


def _measure_graphs(config, size, image, runs, work, result):
    """FLOPs and latency of the checkpoint graph and of its frozen export (written to ``work``)
    into ``result``; returns the checkpoint graph's labels."""
    h, w = size
    with tf.Graph().as_default() as graph:
        start = time.time()
        placeholder, logits, prediction = build_inference_graph(config, [h, w, 3])
        result["build_s"] = time.time() - start
        result["gflops"] = count_flops(graph) / 1e9
        with tf.Session(config=session_config()) as session:
            session.run(tf.global_variables_initializer())
            config.save(work)
            tf.train.Saver().save(session, os.path.join(work, "model.ckpt"))
            result["checkpoint_graph"] = latency(session, prediction, {placeholder: image}, runs)
            reference = session.run(prediction, {placeholder: image})
    frozen_path = os.path.join(work, "frozen.pb")
    exporting.export_frozen(work, frozen_path)
    with FrozenModel(frozen_path) as model:
        result["frozen_graph"] = latency(model.session, model.outputs[1], {model.input: image},
                                         runs)
        result["frozen_same_labels"] = bool(np.array_equal(model.predict(image), reference))
    return reference


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
    timing, same = _frozen_latency_in_env(frozen_path, image, reference, runs, openmp_settings())
    out.append({"option": "OMP/KMP env (oneDNN)", "median_s_per_image": timing["median_s"],
                "same_labels": same})
    for name, kwargs, batch in options:
        with tf.Graph().as_default():
            tf.import_graph_def(optimized if kwargs.pop("optimized", False) else graph_def, name="")
            with tf.Session(config=session_config(**kwargs)) as session:
                feed = {INPUT + ":0": np.stack([image] * batch) if batch > 1 else image}
                timing = latency(session, PREDICTION + ":0", feed, runs)
                labels = session.run(PREDICTION + ":0", feed)
                same = bool(np.array_equal(labels[0] if batch > 1 else labels, reference))
        per_image = timing["median_s"] / batch
        out.append({"option": name, "median_s_per_image": per_image, "same_labels": same})
    return out


def _frozen_latency_in_env(frozen_path, image, reference, runs, env):
    """Latency and same-labels of the frozen graph in a fresh process with ``env`` set."""
    work = os.path.dirname(frozen_path)
    image_path, reference_path = os.path.join(work, "image.npy"), os.path.join(work, "reference.npy")
    np.save(image_path, image)
    np.save(reference_path, reference)
    result = isolated.call("fcn_tf1.workflows.benchmark:frozen_latency", {
        "frozen_path": frozen_path, "image_path": image_path, "reference_path": reference_path,
        "runs": runs}, env=env)
    return result["timing"], result["same_labels"]


def frozen_latency(frozen_path, image_path, reference_path, runs):
    """{"timing", "same_labels"} of the frozen graph on a saved image (run in a fresh process)."""
    image = np.load(image_path)
    with FrozenModel(frozen_path) as model:
        timing = latency(model.session, model.outputs[1], {model.input: image}, runs)
        same = bool(np.array_equal(model.predict(image), np.load(reference_path)))
    return {"timing": timing, "same_labels": same}


def label_once(frozen_path, size):
    """Load the frozen graph, label one image of ``size``; {"peak_rss_mb"} (run in a fresh process)."""
    with FrozenModel(frozen_path) as model:
        model.predict(np.zeros(tuple(size) + (3,), np.uint8))
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def inference_rss_mb(frozen_path, size):
    """Peak RSS of a fresh process that loads the frozen graph and labels one image of ``size``."""
    return isolated.call("fcn_tf1.workflows.benchmark:label_once",
                         {"frozen_path": frozen_path, "size": list(size)})["peak_rss_mb"]


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
