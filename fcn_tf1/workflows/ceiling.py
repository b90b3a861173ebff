"""The FP32 ceiling that ``python -m fcn_tf1.bench`` holds the models against: the best measured
GEMM of numpy's BLAS (with each OpenBLAS kernel the CPU allows), of tf.matmul and of OpenVINO's
MatMul. The CPU's nominal peak is ``ground.machine.cpu_info``; numpy's BLAS and its kernel are read
by threadpoolctl."""
import os

import numpy as np

from fcn_tf1.ground.machine import cpu_flags
from fcn_tf1.ground.tf_compat import TF_VERSION, onednn_enabled, tf
from fcn_tf1.model import openvino_api
from fcn_tf1.model.runtimes import installed as runtime_installed
from fcn_tf1.workflows import isolated
from fcn_tf1.workflows.timing import latency

# What makes OpenBLAS run a kernel other than the one it would pick for this CPU, and the kernels
# worth trying by the CPU flags they need.
OPENBLAS_FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
OPENBLAS_KERNELS = (("Haswell", {"avx2", "fma"}), ("SkylakeX", {"avx512f", "avx512bw", "avx512vl"}))


def best_sgemm(n=2048, runs=5):
    """The measured FP32 ceiling: the best GEMM in GFLOP/s of numpy's BLAS as the environment runs
    it, without OPENBLAS_CORETYPE where the environment forces a kernel, with each OpenBLAS kernel
    the CPU's flags allow (an old OpenBLAS may not know a new CPU and pick a slow generic one), each
    with the kernel it ran named; of tf.matmul; and of OpenVINO's MatMul where it is installed.
    {"sgemm": [{"by", "kernel", "gflops"}], "best": the fastest, "note"}."""
    rows = [numpy_sgemm(n, runs)]
    forced = sorted(k for k in OPENBLAS_FORCING if k in os.environ)
    if forced:
        rows.append(dict(isolated.call("fcn_tf1.workflows.ceiling:numpy_sgemm",
                                       {"n": n, "runs": runs}, unset=forced)))
        rows[-1]["by"] += " without %s" % ", ".join(forced)
    flags = cpu_flags()
    for kernel, needs in OPENBLAS_KERNELS:
        if needs <= flags and not any(kernel in r["kernel"] for r in rows):
            rows.append(isolated.call("fcn_tf1.workflows.ceiling:numpy_sgemm", {
                "n": n, "runs": runs}, env={"OPENBLAS_CORETYPE": kernel}, unset=forced))
            rows[-1]["by"] += " OPENBLAS_CORETYPE=%s" % kernel
    rows.append(tf_sgemm(n, runs))
    if runtime_installed("openvino"):
        rows.append(openvino_sgemm(n, runs))
    return {"sgemm": rows, "best": max(rows, key=lambda r: r["gflops"]),
            "note": widest_kernel_note(rows[0]["kernel"], flags)}


def widest_kernel_note(kernel, flags):
    """A line when numpy's OpenBLAS runs a kernel narrower than the CPU's widest, else None."""
    widest = next((name for name, needs in reversed(OPENBLAS_KERNELS) if needs <= flags), None)
    if "OpenBLAS" not in kernel or widest is None or widest.lower() in kernel.lower():
        return None
    return ("numpy's OpenBLAS runs its %s, not the %s kernel this CPU allows (an OpenBLAS older "
            "than the CPU): the numpy rows understate it" % (kernel.split(", ")[-1], widest))


def _operands(n):
    return (np.random.RandomState(0).rand(n, n).astype(np.float32),
            np.random.RandomState(1).rand(n, n).astype(np.float32))


def _gflops(n, runs, call):
    """GFLOP/s of an n x n x n product by ``call()``: the best of ``runs`` after a first call."""
    return 2.0 * n ** 3 / latency(call, None, runs, warmup=1)["min_s"] / 1e9


def numpy_sgemm(n=2048, runs=5):
    """{"by", "kernel", "gflops"} of numpy's float32 matrix product in this process."""
    a, b = _operands(n)
    return {"by": "numpy", "kernel": blas_kernel(), "gflops": _gflops(n, runs, lambda: a.dot(b))}


def tf_sgemm(n=2048, runs=5):
    """{"by", "kernel", "gflops"} of tf.matmul (oneDNN or Eigen, as this TensorFlow is built)."""
    a, b = _operands(n)
    with tf.Graph().as_default(), tf.Session() as session:
        product = tf.matmul(tf.constant(a), tf.constant(b))
        gflops = _gflops(n, runs, lambda: session.run(product.op))
    return {"by": "tf.matmul", "kernel": "TensorFlow %s (%s)" % (
        TF_VERSION, "oneDNN" if onednn_enabled() else "Eigen"), "gflops": gflops}


def openvino_sgemm(n=2048, runs=5):
    """{"by", "kernel", "gflops"} of OpenVINO's MatMul at f32 on the CPU: the runtime's own GEMM
    (oneDNN), which a BLAS that does not know the CPU understates."""
    opset = openvino_api.opset()
    a, b = _operands(n)
    x = opset.parameter([n, n], np.float32)
    model = openvino_api.model([opset.matmul(x, opset.constant(b), False, False)], [x])
    request = openvino_api.core().compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
    return {"by": "OpenVINO MatMul", "kernel": "OpenVINO %s (oneDNN), f32" % openvino_api.version(),
            "gflops": _gflops(n, runs, lambda: request.infer({0: a}))}


def blas_kernel():
    """The BLAS numpy has loaded (threadpoolctl reads it) and, for OpenBLAS, the kernel it runs:
    'OpenBLAS 0.3.7, Haswell kernel'."""
    from threadpoolctl import threadpool_info
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if not blas:
        return "unknown BLAS"
    lib = blas[0]
    if lib.get("internal_api") == "openblas":
        return "OpenBLAS %s, %s kernel" % (lib.get("version"), lib.get("architecture"))
    return "%s %s" % (lib.get("internal_api"), lib.get("version"))
