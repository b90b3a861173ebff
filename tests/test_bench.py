"""python -m fcn_tf1.bench at tiny width: the report's fields, every installed runtime measured in a
fresh process and compared with TensorFlow, and FLOPs that scale with the area."""
import json
import sys

from fcn_tf1.bench import main
from fcn_tf1.model import runtimes as runtimes_module
from fcn_tf1.workflows import benchmark, ceiling
from tests.helpers import AGREEMENT


def test_bench_reports_every_measurement_in_text_and_json(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    assert main(["--width", "0.0625", "--sizes", "128,64", "--variants", "fcn8s", "--runs", "2",
                 "--optimisations", "--sgemm-size", "256", "--train-python", sys.executable,
                 "--no-first-mask", "--precisions", "fp32,bf16", "--json", path]) == 0
    out = capsys.readouterr().out
    assert "FP32 nominal peak" in out and "FP32 ceiling" in out and "tensorflow=" in out
    report = json.loads(open(path).read())
    assert report["cpu"]["cores"] >= 1 and report["cpu"]["nominal_gflops"] >= 0
    assert all(r["gflops"] > 0 and r["kernel"] for r in report["peak"]["sgemm"])
    assert report["peak"]["best"]["gflops"] == max(r["gflops"] for r in report["peak"]["sgemm"])
    # The runtime's own GEMM is a candidate for the ceiling where the runtime is installed.
    assert any(r["by"] == "OpenVINO MatMul" for r in report["peak"]["sgemm"]) == \
        benchmark.runtime_installed("openvino")
    big, small = report["results"]
    installed = benchmark.installed_runtimes()
    for r in (big, small):
        rows = {(row["runtime"], row["precision"]): row for row in r["runtimes"]}
        assert {(name, "fp32") for name in installed} | {("tf", "fp32")} <= set(rows)
        for row in rows.values():
            if "skipped" in row:  # bf16 where the CPU lacks it: said, not measured
                assert row["precision"] == "bf16" and "bf16" in row["skipped"]
                continue
            assert 0 < row["min_s"] <= row["median_s"] and row["load_s"] > 0
            assert row["describe"].startswith(row["runtime"])
            assert 50 < row["peak_rss_mb"]
            assert row["same_labels"] >= AGREEMENT[row["precision"]]
            assert "%s %s" % (r["variant"], "%dx%d" % tuple(r["size"])) in " ".join(out.split())
            assert "first_mask_s" not in row  # --no-first-mask
        assert [t["min_s"] > 0 for t in r["train_steps"]] == [True, True]
    # A fully convolutional net costs in proportion to the area: 128x128 is 4x 64x64.
    assert 3.6 < big["gflops"] / small["gflops"] < 4.4
    options = {o["option"]: o for o in big["optimisations"]}
    assert {"XLA JIT (ON_1)", "batch of 2", "optimize_for_inference",
            "OMP/KMP env (oneDNN)"} <= set(options)
    assert all(o["same_labels"] for o in options.values())


def test_the_first_mask_is_timed_cold_and_warm_in_a_fresh_predict():
    from fcn_tf1.bench import format_row
    result = benchmark.measure("fcn32s", (32, 32), width=1 / 16., runs=1, train_step=False,
                               runtimes=["tf"], first_mask=True)
    [row] = result["runtimes"]
    cold, warm = row["first_mask_s"]
    assert 0 < cold and 0 < warm
    assert format_row(result, row, 100.0, 100.0).endswith("%.1f / %.1f" % (cold, warm))


def test_a_blas_narrower_than_the_cpu_is_said():
    avx512 = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"}
    note = ceiling.widest_kernel_note("OpenBLAS, Barcelona kernel", avx512)
    assert "runs its Barcelona kernel, not the SkylakeX kernel" in note
    assert ceiling.widest_kernel_note("OpenBLAS, SkylakeX kernel", avx512) is None
    assert ceiling.widest_kernel_note("OpenBLAS, Haswell kernel", {"avx2", "fma"}) is None
    assert ceiling.widest_kernel_note("MKL", avx512) is None


def test_the_blas_kernel_is_named():
    import re
    row = ceiling.numpy_sgemm(128, 1)
    # numpy's wheels carry OpenBLAS: its version and the kernel it runs, read by threadpoolctl
    assert row["gflops"] > 0 and re.match(r"OpenBLAS \d+(\.\d+)+\S*, \w+ kernel$", row["kernel"])


def test_a_row_above_the_ceiling_says_the_ceiling_is_a_floor():
    from fcn_tf1.bench import _floor_note
    rows = [{"precision": "fp32", "min_s": 1.0, "describe": "tf 1.15.5 fp32"},
            {"precision": "bf16", "min_s": 0.1, "describe": "openvino 2023.1.0 bf16"}]
    report = {"peak": {"best": {"gflops": 150.0}}, "results": [{"gflops": 100.0, "runtimes": rows}]}
    assert _floor_note(report) == []  # bf16 passing the FP32 ceiling says nothing about it
    rows.append({"precision": "fp32", "min_s": 0.5, "describe": "openvino 2023.1.0 fp32"})
    assert _floor_note(report) == [
        "note: openvino 2023.1.0 fp32 computes at 200 GFLOP/s, above the best SGEMM measured "
        "(150): the FP32 ceiling is a floor here, not a bound"]


def test_counting_flops_prints_nothing_of_tensorflows():
    # TensorFlow's profiler prints "Parsing Inputs..." from C++: buffered, it reached the console
    # at the end of the test run.
    import subprocess
    import sys
    code = ("from fcn_tf1.ground.tf_compat import tf\n"
            "from fcn_tf1.model.config import ModelConfig\n"
            "from fcn_tf1.model.inference import build_inference_graph\n"
            "from fcn_tf1.workflows.benchmark import count_flops\n"
            "with tf.Graph().as_default() as g:\n"
            "    build_inference_graph(ModelConfig(2, 'fcn32s', 1 / 32.), [33, 35, 3])\n"
            "    print(count_flops(g) > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True)
    assert out.returncode == 0 and out.stdout == "True\n"


def test_bench_measures_tiles_and_tta_beside_the_whole_image():
    from fcn_tf1.bench import _labelling_lines
    runtimes = ["openvino"] if runtimes_module.installed("openvino") else []
    result = benchmark.measure("fcn8s", (64, 64), width=1 / 64., runs=1, train_step=False,
                               runtimes=["tf"] + runtimes, precisions=["fp32", "bf16"],
                               tiles=[[600, 600]], tile_image=[640, 700],
                               tta={"flip": True, "scales": [1.0]})
    # Every runtime x precision measured (OpenVINO's bf16 where this CPU computes it) has its
    # rows, each against its own whole image.
    measured = [(r["runtime"], r["precision"]) for r in result["runtimes"] if "min_s" in r]
    labelled = [(r["runtime"], r["precision"]) for r in result["labelling"]]
    assert labelled == [m for m in measured for _ in range(2)]
    tiled, tta = result["labelling"][:2]
    h, w = tiled["tile_shape"]
    assert tiled["tiles"] > 1 and h <= 600 and w <= 600
    assert tiled["overlap"] == tiled["tiles"] * h * w / (640 * 700.)
    whole = result["runtimes"][0]["min_s"] / (64 * 64.)
    assert abs(tiled["per_pixel_ratio"] - tiled["seconds"] / (640 * 700.) / whole) < 1e-9
    assert tta["tta"] == "flip" and tta["cost"] == tta["seconds"] / result["runtimes"][0]["median_s"]
    lines = _labelling_lines({"results": [result]})
    assert "fcn8s tf fp32 640x700 in tiles of at most 600x600: %d tiles of %dx%d" % (
        tiled["tiles"], h, w) in lines[2] and "fcn8s tf fp32 64x64 with TTA flip" in lines[3]
