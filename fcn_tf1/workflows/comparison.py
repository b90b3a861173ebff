"""Run every variant x upsampling API x shape fix over input sizes and record what happens.

The builders' tests and ``python -m fcn_tf1.compare`` both use ``probe``, so the README's table of
strategy x size behaviour is the tests' own cases.
"""
import collections

import numpy as np

from fcn_tf1.ground.names import FIXING, VARIANTS
from fcn_tf1.ground.tf_compat import error_line, tf
from fcn_tf1.model.fcn import build_fcn
from fcn_tf1.model.upsample import valid_combinations

SIZES = ((1, 1), (7, 7), (31, 31), (32, 32), (33, 33), (34, 34), (63, 63), (64, 64), (65, 65),
         (224, 224), (333, 500), (500, 500))
OK, WRONG, BUILD_ERROR, RUN_ERROR = "ok", "wrong size", "build error", "run error"

Outcome = collections.namedtuple("Outcome", "size status shape error")


def _run(session, logits, images, size, seed):
    data = np.random.RandomState(seed).uniform(-1, 1, (1,) + tuple(size) + (3,)).astype(np.float32)
    try:
        shape = session.run(logits, {images: data}).shape[1:3]
    except tf.errors.InvalidArgumentError as error:
        return Outcome(size, RUN_ERROR, None, error_line(error))
    return Outcome(size, OK if tuple(shape) == tuple(size) else WRONG, tuple(shape), None)


def probe(variant, upsampling, shape_fix, sizes=SIZES, dynamic=False, width=1 / 16.,
          num_classes=3, seed=0):
    """Build and run one model per size (static input) or one for all sizes (dynamic input); the
    static models share one graph and their weights (building dominates the cost).

    Returns a list of ``Outcome(size, status, shape, error)`` with status one of ``OK``, ``WRONG``,
    ``BUILD_ERROR`` (ValueError while building) or ``RUN_ERROR`` (InvalidArgumentError at run).
    """
    graph_sizes = [None] if dynamic else [tuple(size) for size in sizes]
    outcomes, models = [], []
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        for size in graph_sizes:
            shape = [1, None, None, 3] if dynamic else [1, size[0], size[1], 3]
            try:
                with tf.variable_scope("fcn", reuse=tf.AUTO_REUSE):
                    images = tf.placeholder(tf.float32, shape, name="images")
                    logits = build_fcn(images, num_classes, variant, upsampling, shape_fix, width)
            except ValueError as error:
                models.append((size, images, None, error_line(error)))
                continue
            models.append((size, images, logits, None))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for size, images, logits, error in models:
                if logits is None:
                    outcomes.append(Outcome(size, BUILD_ERROR, None, error))
                    continue
                outcomes += [_run(session, logits, images, run_size, seed)
                             for run_size in (sizes if dynamic else [size])]
    return outcomes


def expected_status(shape_fix_fixes, size, dynamic):
    """What the builders promise: fixing strategies give H x W; the others only at multiples of 32."""
    if shape_fix_fixes or all(s % 32 == 0 for s in size):
        return OK
    return RUN_ERROR if dynamic else BUILD_ERROR


def all_cells():
    """Every (variant, upsampling, shape_fix) the builders accept."""
    return [(variant, api, fix) for variant in VARIANTS for api, fix in valid_combinations()]


def cost(variant, upsampling, shape_fix, size, width=1 / 16., num_classes=21, runs=3):
    """{"ops", "build_s", "forward_ms"} of one static-shape graph at ``size`` (None if it fails)."""
    import time
    with tf.Graph().as_default() as graph:
        images = tf.placeholder(tf.float32, [1, size[0], size[1], 3])
        start = time.time()
        try:
            logits = build_fcn(images, num_classes, variant, upsampling, shape_fix, width)
        except ValueError:
            return None
        build = time.time() - start
        data = np.random.RandomState(0).uniform(-1, 1, (1,) + tuple(size) + (3,))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(logits, {images: data})  # warm-up
            times = []
            for _ in range(runs):
                start = time.time()
                session.run(logits, {images: data})
                times.append(time.time() - start)
        return {"ops": len(graph.get_operations()), "build_s": build,
                "forward_ms": 1000 * min(times)}


def run_matrix(variants=VARIANTS, sizes=SIZES, width=1 / 16., modes=("static", "dynamic"),
               cost_size=None, progress=None):
    """One row per variant x API x shape fix x input mode: outcomes per size, and costs."""
    rows = []
    for variant, api, fix in all_cells():
        if variant not in variants:
            continue
        for mode in modes:
            outcomes = probe(variant, api, fix, sizes, dynamic=mode == "dynamic", width=width)
            row = {"variant": variant, "upsampling": api, "shape_fix": fix, "input": mode,
                   "outcomes": outcomes}
            if cost_size and mode == "static":
                row["cost"] = cost(variant, api, fix, cost_size, width)
            rows.append(row)
            if progress:
                progress(row)
    return rows


def _shared_weights(variant, size, width, num_classes, seed):
    """Random values for every variable (score layers too; deconvs stay bilinear), by name."""
    rng = np.random.RandomState(seed)
    with tf.Graph().as_default():
        build_fcn(tf.placeholder(tf.float32, [1, size[0], size[1], 3]), num_classes, variant,
                  "nn", "crop", width)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = {}
            for var in tf.global_variables():
                value = session.run(var)
                if not var.op.name.startswith("upscore"):
                    fan_in = np.prod(value.shape[:-1]) if value.ndim > 1 else 1
                    value = rng.normal(0, np.sqrt(2.0 / fan_in), value.shape).astype(np.float32)
                values[var.op.name] = value
    return values


def agreement(variant="fcn8s", sizes=((224, 224), (333, 500)), width=1 / 16., num_classes=5,
              seed=0, border=32):
    """Do the fixing strategies compute the same scores for the same weights and image?

    Returns rows {size, shape_fix, max_diff, mean_diff, interior_max_diff, label_agreement}, each
    against ``crop`` (the n * stride output cut at the bottom/right). ``interior`` leaves out a
    ``border``-pixel band, where padding choices differ most.
    """
    rows = []
    for size in sizes:
        values = _shared_weights(variant, size, width, num_classes, seed)
        image = np.random.RandomState(seed + 1).uniform(-100, 100, (1,) + tuple(size) + (3,))
        logits = {}
        for fix in FIXING:
            with tf.Graph().as_default():
                images = tf.placeholder(tf.float32, [1, size[0], size[1], 3])
                out = build_fcn(images, num_classes, variant, "nn", fix, width)
                with tf.Session() as session:
                    session.run([v.assign(values[v.op.name]) for v in tf.global_variables()])
                    logits[fix] = session.run(out, {images: image})[0]
        reference = logits["crop"]
        inner = (slice(border, -border or None), slice(border, -border or None))
        for fix in FIXING:
            diff = np.abs(logits[fix] - reference)
            rows.append({"size": tuple(size), "shape_fix": fix, "max_diff": float(diff.max()),
                         "mean_diff": float(diff.mean()),
                         "interior_max_diff": float(diff[inner].max()) if diff[inner].size else 0.0,
                         "label_agreement": float((logits[fix].argmax(-1) ==
                                                   reference.argmax(-1)).mean()),
                         "scale": float(np.abs(reference).mean())})
    return rows
