"""python -m fcn_tf1.bench: FLOPs, latency, throughput, training step and memory of FCN-32s/16s/8s,
against this CPU's FP32 peak (nominal and measured SGEMM).

    python -m fcn_tf1.bench                               # full VGG16 width, 500x500 and 224x224
    python -m fcn_tf1.bench --variants fcn8s --sizes 500 --optimisations --json bench.json
"""
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import VARIANTS


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.bench", description=(
        "Measure FCN inference and training cost on this machine. Each variant and size runs in its "
        "own process (clean peak memory)."))
    p.add_argument("--variants", type=cli.choice_list(VARIANTS), default=VARIANTS,
                   help="comma-separated, default: all")
    p.add_argument("--sizes", type=cli.size_list, default=((500, 500), (224, 224)),
                   help="square sizes or HxW, comma-separated (default: 500,224)")
    p.add_argument("--width", type=cli.width, default=1.0, help="backbone width (1.0 = VGG16)")
    p.add_argument("--runs", type=cli.positive_int, default=5, help="timed runs after 2 warm-up runs")
    p.add_argument("--no-train-step", action="store_true", help="skip the training-step timing")
    p.add_argument("--optimisations", action="store_true",
                   help="also time thread settings, OpenMP variables, XLA, optimize_for_inference "
                        "and batching on the frozen graph")
    p.add_argument("--sgemm-size", type=cli.positive_int, default=2048)
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    p.add_argument("--force", action="store_true",
                   help="replace a --json file that fcn_tf1 did not write")
    return p


def format_report(report):
    cpu, peak = report["cpu"], report["peak"]
    lines = [
        "machine: %s, %d cores at %.2f GHz, %s (%d FP32 FLOP/cycle/core)" % (
            cpu["model"], cpu["cores"], cpu["ghz"], cpu["simd"], cpu["flops_per_cycle"]),
        "FP32 peak: nominal %.0f GFLOP/s; measured SGEMM %.0f (numpy) / %.0f (tf.matmul) GFLOP/s" % (
            cpu["nominal_gflops"], peak["numpy_gflops"], peak["tf_gflops"]),
        "build: %s" % ", ".join("%s=%s" % kv for kv in sorted(report["build"].items())),
        "",
        "%-7s %-9s %7s %9s %9s %7s %8s %7s %7s %9s %9s %8s %8s" % (
            "variant", "size", "GFLOPs", "min s", "median s", "img/s", "GFLOP/s", "%peak",
            "%sgemm", "frozen s", "train s", "infer MB", "all MB")]
    sgemm = max(peak["numpy_gflops"], peak["tf_gflops"])
    for r in report["results"]:
        median = r["checkpoint_graph"]["median_s"]
        achieved = r["gflops"] / r["frozen_graph"]["min_s"]
        lines.append("%-7s %-9s %7.1f %9.3f %9.3f %7.2f %8.1f %6.0f%% %6.0f%% %9.3f %9s %8.0f %8.0f" % (
            r["variant"], "%dx%d" % tuple(r["size"]), r["gflops"], r["checkpoint_graph"]["min_s"],
            median, 1 / median, achieved, 100 * achieved / max(cpu["nominal_gflops"], 1e-9),
            100 * achieved / sgemm,
            r["frozen_graph"]["min_s"],
            "%.2f" % r["train_step"]["min_s"] if "train_step" in r else "-",
            r["inference_rss_mb"], r["peak_rss_mb"]))
    for r in report["results"]:
        for o in r.get("optimisations", []):
            lines.append("  %s %dx%d %-22s %.3f s/image  same labels: %s" % (
                r["variant"], r["size"][0], r["size"][1], o["option"], o["median_s_per_image"],
                o["same_labels"]))
    lines.append("(min s / median s: checkpoint graph; GFLOP/s: frozen graph's best run; %peak: of "
                 "the nominal figure; %sgemm: of the best measured SGEMM; infer MB: peak RSS of a process "
                 "that loads the frozen graph and labels one image; all MB: the measuring process, "
                 "training step included)")
    return "\n".join(lines)


def run(args):
    from fcn_tf1.ground import fileutil
    from fcn_tf1.ground.names import MARKER, VERSION
    from fcn_tf1.workflows import benchmark
    if args.json:
        fileutil.check_output(args.json, fileutil.json_is_ours, args.force, what="report")
    report = {MARKER: VERSION, "cpu": benchmark.cpu_info(),
              "peak": benchmark.best_sgemm(args.sgemm_size), "build": benchmark.tensorflow_build(),
              "results": []}
    for variant in args.variants:
        for size in args.sizes:
            print("measuring %s at %dx%d ..." % ((variant,) + size), file=sys.stderr)
            report["results"].append(benchmark.measure_in_subprocess(
                variant, size, width=args.width, runs=args.runs,
                train_step=not args.no_train_step,
                optimisations=args.optimisations and variant == args.variants[-1]
                and size == args.sizes[0]))
    print(format_report(report))
    if args.json:
        fileutil.write_json(args.json, report)


main = cli.command(parser, run)


if __name__ == "__main__":
    sys.exit(main())
