"""python -m fcn_tf1.bench: FLOPs, latency, throughput and memory of FCN-32s/16s/8s exports on each
runtime and precision, and the training step, against this CPU's FP32 ceiling (the best measured
SGEMM, its kernel named) and nominal peak.

    python -m fcn_tf1.bench                               # full VGG16 width, 500x500 and 224x224
    python -m fcn_tf1.bench --variants fcn8s --sizes 500 --runtimes openvino --json bench.json
"""
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.formats import formats_read_by
from fcn_tf1.ground.names import PRECISIONS, RUNTIMES, VARIANTS


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.bench", description=(
        "Measure FCN inference on each installed runtime and precision, and the training step, "
        "against this CPU's FP32 ceiling. Each variant and size runs in its own process, and each "
        "runtime in one of its own (clean peak memory)."))
    p.add_argument("--variants", type=cli.choice_list(VARIANTS), default=VARIANTS,
                   help="comma-separated, default: all")
    p.add_argument("--sizes", type=cli.size_list, default=((500, 500), (224, 224)),
                   help="square sizes or HxW, comma-separated (default: 500,224)")
    p.add_argument("--runtimes", type=cli.choice_list(RUNTIMES), default=None,
                   help="comma-separated (default: every installed one; tf always runs: the "
                        "labels are compared with its); each runs the model exported as the first "
                        "format it reads (%s)" % "; ".join(
                            "%s: %s" % (r, formats_read_by(r)[0].what) for r in RUNTIMES))
    p.add_argument("--precisions", type=cli.choice_list(PRECISIONS), default=PRECISIONS,
                   help="comma-separated (default: fp32,bf16,int8; bf16 and int8 on OpenVINO only; "
                        "int8: the model quantized by NNCF on 8 synthetic images at the size "
                        "measured, see export --int8)")
    p.add_argument("--width", type=cli.width, default=1.0, help="backbone width (1.0 = VGG16)")
    p.add_argument("--runs", type=cli.positive_int, default=5, help="timed runs after 2 warm-up runs")
    p.add_argument("--no-train-step", action="store_true", help="skip the training-step timing")
    p.add_argument("--no-first-mask", action="store_true",
                   help="skip the time to a first mask (predict in a fresh process on one image, "
                        "cold and warm model cache; fp32, first variant and size)")
    p.add_argument("--train-python", metavar="PYTHON", action="append", default=[],
                   help="also time the training step under this interpreter's TensorFlow (e.g. "
                        ".venv-tf2/bin/python); repeatable")
    p.add_argument("--optimisations", action="store_true",
                   help="also time thread settings, OpenMP variables, XLA, optimize_for_inference "
                        "and batching on the frozen graph in TensorFlow")
    p.add_argument("--tile", type=cli.size_list, default=(), help=(
        "also label a --tile-image in tiles of each of these sizes (HxW, comma-separated) on each "
        "runtime in fp32: time, overlap, time per pixel against the whole image's of --sizes, "
        "peak RSS"))
    p.add_argument("--tile-image", type=cli.size_pair, default=(3000, 4000),
                   help="HxW of the image --tile labels (default: a 4000x3000 photo, 3000x4000)")
    p.add_argument("--tta", type=cli.tta_spec, help="also time test-time augmentation (flip, "
                   "scales=...) on each runtime in fp32, against the image without it")
    p.add_argument("--sgemm-size", type=cli.positive_int, default=2048,
                   help="N of the N x N x N SGEMM that measures the FP32 ceiling")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    p.add_argument("--force", action="store_true",
                   help="replace a --json file that fcn_tf1 did not write")
    return p


HEADER = "%-7s %-7s %-26s %7s %7s %7s %6s %7s %6s %6s %7s %6s %6s %11s" % (
    "variant", "size", "runtime", "GFLOPs", "min s", "med s", "img/s", "GFLOP/s", "%ceil", "%nom",
    "load s", "RSS MB", "=tf", "1st mask s")


def format_row(result, row, ceiling, nominal):
    size = "%dx%d" % tuple(result["size"])
    if "skipped" in row:
        return "%-7s %-7s %-26s %s" % (result["variant"], size, "%s %s" % (
            row["runtime"], row["precision"]), "skipped: " + row["skipped"])
    achieved = result["gflops"] / row["min_s"]
    first = "%.1f / %.1f" % tuple(row["first_mask_s"]) if "first_mask_s" in row else ""
    # The ceiling and the nominal peak are FP32's: another precision's share of them says nothing.
    shares = ("%5.0f%% %5.0f%%" % (100 * achieved / ceiling, 100 * achieved / max(nominal, 1e-9))
              if row["precision"] == "fp32" else "%6s %6s" % ("-", "-"))
    return "%-7s %-7s %-26s %7.1f %7.3f %7.3f %6.2f %7.1f %s %7.1f %6.0f %5.1f%% %11s" % (
        result["variant"], size, row["describe"], result["gflops"], row["min_s"], row["median_s"],
        1 / row["median_s"], achieved, shares, row["load_s"], row["peak_rss_mb"],
        100 * row["same_labels"], first)


def format_report(report):
    cpu, peak = report["cpu"], report["peak"]
    best = peak["best"]
    lines = ["machine: %s, %d cores at %.2f GHz, %s (%d FP32 FLOP/cycle/core)" % (
        cpu["model"], cpu["cores"], cpu["ghz"], cpu["simd"], cpu["flops_per_cycle"]),
        "FP32 nominal peak: %.0f GFLOP/s (cores x clock x FLOP/cycle; boost clocks exceed it)"
        % cpu["nominal_gflops"]]
    lines += ["SGEMM %-36s %-34s %6.0f GFLOP/s" % (r["by"], r["kernel"], r["gflops"])
              for r in peak["sgemm"]]
    lines += ["note: " + peak["note"]] if peak.get("note") else []
    lines += ["FP32 ceiling: %.0f GFLOP/s (%s, %s)" % (best["gflops"], best["by"], best["kernel"]),
              "build: %s" % ", ".join("%s=%s" % kv for kv in sorted(report["build"].items())),
              "", HEADER]
    for result in report["results"]:
        lines += [format_row(result, row, best["gflops"], cpu["nominal_gflops"])
                  for row in result["runtimes"]]
    lines += sorted({"note: " + r["int8_note"] for r in report["results"] if "int8_note" in r})
    lines += _floor_note(report)
    lines.append("(min s / med s: one image, after 2 warm-ups; GFLOP/s: at min s; %ceil / %nom: of "
                 "the FP32 ceiling / nominal peak, fp32 rows only; load s: reading and compiling the export; RSS MB: "
                 "peak of the fresh process that loaded it and labelled; =tf: labels equal to "
                 "TensorFlow fp32's; 1st mask s: python -m fcn_tf1.predict on one image in a fresh "
                 "process, start to mask written, cold / warm model cache)")
    lines += _labelling_lines(report)
    lines += _train_lines(report)
    for r in report["results"]:
        for o in r.get("optimisations", []):
            lines.append("  %s %dx%d %-22s %.3f s/image  same labels: %s" % (
                r["variant"], r["size"][0], r["size"][1], o["option"], o["median_s_per_image"],
                o["same_labels"]))
    return "\n".join(lines)


def _floor_note(report):
    """A line when an fp32 row computes faster than the best SGEMM: the ceiling is a floor then."""
    best = report["peak"]["best"]["gflops"]
    over = [(r["gflops"] / row["min_s"], row["describe"]) for r in report["results"]
            for row in r["runtimes"] if row["precision"] == "fp32" and "min_s" in row
            and r["gflops"] / row["min_s"] > best]
    if not over:
        return []
    achieved, describe = max(over)
    return ["note: %s computes at %.0f GFLOP/s, above the best SGEMM measured (%.0f): the FP32 "
            "ceiling is a floor here, not a bound" % (describe, achieved, best)]


def _labelling_lines(report):
    rows = [(r, row) for r in report["results"] for row in r.get("labelling", [])]
    lines = ["", "tiled and TTA (time per pixel against the whole image of the size above, same "
                 "runtime and precision):"] if rows else []
    for r, row in rows:
        who = "%s %s %s" % (r["variant"], row["runtime"], row["precision"])
        what = ("%dx%d in tiles of at most %dx%d" % (tuple(row["image"]) + tuple(row["tile"]))
                if "tile" in row else "%dx%d with TTA %s" % (tuple(r["size"]) + (row["tta"],)))
        if "skipped" in row:
            lines.append("  %s %s: skipped (%s)" % (who, what, row["skipped"]))
        elif "tile" in row:
            lines.append("  %s %s: %d tiles of %dx%d, overlap %.2fx, %.2f s, %.2fx the time "
                         "per pixel, peak RSS %.0f MB" % (
                             who, what, row["tiles"],
                             row["tile_shape"][0], row["tile_shape"][1], row["overlap"],
                             row["seconds"], row["per_pixel_ratio"], row["peak_rss_mb"]))
        else:
            lines.append("  %s %s: %.3f s, %.2fx the time without, peak RSS %.0f MB" % (
                who, what, row["seconds"], row["cost"],
                row["peak_rss_mb"]))
    return lines


def _train_lines(report):
    rows = [(r, t) for r in report["results"] for t in r.get("train_steps", [])]
    if not rows:
        return []
    return ["", "training step (batch 1, momentum):"] + [
        "  %s %dx%d TensorFlow %-8s %.3f s (min), %.3f s (median)" % (
            r["variant"], r["size"][0], r["size"][1], t["tensorflow"], t["min_s"], t["median_s"])
        for r, t in rows]


def run(args):
    from fcn_tf1.ground import fileutil, machine
    from fcn_tf1.ground.names import MARKER, VERSION
    from fcn_tf1.workflows import benchmark, ceiling
    if args.json:
        fileutil.check_output(args.json, fileutil.json_is_ours, args.force, what="report")
    runtimes = args.runtimes or benchmark.installed_runtimes()
    report = {MARKER: VERSION, "cpu": machine.cpu_info(),
              "peak": ceiling.best_sgemm(args.sgemm_size), "build": benchmark.tensorflow_build(),
              "results": []}
    for variant in args.variants:
        for size in args.sizes:
            print("measuring %s at %dx%d on %s ..." % ((variant,) + size + (", ".join(runtimes),)),
                  file=sys.stderr)
            result = benchmark.measure_in_subprocess(
                variant, size, width=args.width, runs=args.runs, runtimes=list(runtimes),
                precisions=list(args.precisions), train_step=not args.no_train_step,
                optimisations=args.optimisations and variant == args.variants[-1]
                and size == args.sizes[0],
                first_mask=not args.no_first_mask and (variant, size) == (args.variants[0],
                                                                           args.sizes[0]),
                tiles=[list(t) for t in args.tile] if size == args.sizes[0] else [],
                tile_image=list(args.tile_image), tta=args.tta.to_dict() if args.tta else None)
            result["train_steps"] = [result.pop("train_step")] if "train_step" in result else []
            if not args.no_train_step:
                result["train_steps"] += [benchmark.train_step_in(python, variant, size, args.width)
                                          for python in args.train_python]
            report["results"].append(result)
    print(format_report(report))
    if args.json:
        fileutil.write_json(args.json, report)


main = cli.command(parser, run)


if __name__ == "__main__":
    sys.exit(main())
