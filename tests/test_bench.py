"""python -m fcn_tf1.bench at tiny width: the report's fields, and FLOPs that scale with the area."""
import json

from fcn_tf1.bench import main


def test_bench_reports_every_measurement_in_text_and_json(tmp_path, capsys):
    path = str(tmp_path / "bench.json")
    assert main(["--width", "0.0625", "--sizes", "128,64", "--variants", "fcn8s", "--runs", "2",
                 "--optimisations", "--sgemm-size", "256", "--json", path]) == 0
    out = capsys.readouterr().out
    assert "FP32 peak: nominal" in out and "GFLOP/s" in out and "tensorflow=" in out
    report = json.loads(open(path).read())
    assert report["cpu"]["cores"] >= 1 and report["cpu"]["nominal_gflops"] >= 0
    assert report["peak"]["numpy_gflops"] > 0 and report["peak"]["tf_gflops"] > 0
    big, small = report["results"]
    for r in (big, small):
        assert r["gflops"] > 0 and r["peak_rss_mb"] > 50
        assert 50 < r["inference_rss_mb"] <= r["peak_rss_mb"] * 1.5
        assert 0 < r["checkpoint_graph"]["min_s"] <= r["checkpoint_graph"]["median_s"]
        assert r["frozen_graph"]["min_s"] > 0 and r["train_step"]["min_s"] > 0
        assert r["frozen_same_labels"]
    # A fully convolutional net costs in proportion to the area: 128x128 is 4x 64x64.
    assert 3.6 < big["gflops"] / small["gflops"] < 4.4
    options = {o["option"]: o for o in big["optimisations"]}
    assert {"XLA JIT (ON_1)", "batch of 2", "optimize_for_inference",
            "OMP/KMP env (oneDNN)"} <= set(options)
    assert all(o["same_labels"] for o in options.values())
