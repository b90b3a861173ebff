"""python -m fcn_tf1.compare: every variant x upsampling API x shape fix over input sizes.

    python -m fcn_tf1.compare                                  # the default sizes, a table
    python -m fcn_tf1.compare --sizes 33,34,64 --format markdown --summary

For each cell: the output shape, or where it fails (at build / at run) with the error's first line;
and the cost of a static graph at --cost-size: ops, build seconds, forward milliseconds.
"""
import sys

from fcn_tf1 import cli
from fcn_tf1.ground.names import VARIANTS
SHORT = {"ok": "ok", "wrong size": "WRONG", "build error": "FAIL@build", "run error": "FAIL@run"}


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.compare", description=(
        "Compare the shape-fixing strategies on input sizes, with static and dynamic input shapes."))
    p.add_argument("--sizes", type=cli.size_list, help="sizes, e.g. '1,31,33,224x224,333x500' "
                   "(default: 1,7,31,32,33,34,63,64,65,224x224,333x500,500x500)")
    p.add_argument("--variants", type=cli.choice_list(VARIANTS), default=VARIANTS,
                   help="comma-separated, default: all")
    p.add_argument("--width", type=cli.width, default=1 / 16., help="backbone width for the runs")
    p.add_argument("--cost-size", type=cli.size_pair, default=(224, 224),
                   help="the size at which ops, build time and forward time are measured")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table",
                   help="how the outcome table is printed")
    p.add_argument("--summary", action="store_true", help="one row per shape fix and input mode "
                   "(identical across variants and APIs, as the tests show)")
    p.add_argument("--values", action="store_true", help="also compare what the fixing "
                   "strategies compute: the same weights and image, scores against crop's")
    p.add_argument("--plot", metavar="PNG", help="save the outcome matrix and the costs as a PNG "
                   "(needs matplotlib)")
    return p


def format_agreement(rows):
    header = "%-9s %-13s %10s %10s %13s %9s" % ("size", "shape_fix", "max|d|", "mean|d|",
                                                 "interior max", "labels=")
    lines = [header]
    for r in rows:
        lines.append("%-9s %-13s %10.3g %10.3g %13.3g %8.2f%%" % (
            _size(r["size"]), r["shape_fix"], r["max_diff"], r["mean_diff"],
            r["interior_max_diff"], 100 * r["label_agreement"]))
    return "\n".join(lines)


def plot(rows, path):
    """Two panels: the shape fix x size outcome matrix (every variant and API), and the costs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    codes = {"ok": 0, "wrong size": 1, "build error": 2, "run error": 3}
    sizes = [_size(o.size) for o in rows[0]["outcomes"]]
    labels = ["%s %s %s %s" % (r["variant"], r["upsampling"], r["shape_fix"], r["input"])
              for r in rows]
    matrix = np.array([[codes[o.status] for o in r["outcomes"]] for r in rows])
    costed = [r for r in rows if r.get("cost")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, max(4, 0.22 * len(rows) + 1.5)),
                                      gridspec_kw={"width_ratios": [3, 2]})
    colours = matplotlib.colors.ListedColormap(["#4caf50", "#9c27b0", "#f44336", "#ff9800"])
    left.imshow(matrix, cmap=colours, vmin=0, vmax=3, aspect="auto")
    left.set_xticks(range(len(sizes)))
    left.set_xticklabels(sizes, rotation=45)
    left.set_yticks(range(len(labels)))
    left.set_yticklabels(labels, fontsize=7)
    left.set_title("outcome: green ok, red fails at build, orange fails at run")
    if costed:
        names = ["%s %s %s" % (r["variant"], r["upsampling"], r["shape_fix"]) for r in costed]
        right.barh(range(len(costed)), [r["cost"]["forward_ms"] for r in costed], color="#2196f3")
        right.set_yticks(range(len(costed)))
        right.set_yticklabels(names, fontsize=7)
        right.invert_yaxis()
        right.set_xlabel("forward ms (static graph)")
        right.set_title("cost")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _size(size):
    return "%d" % size[0] if size[0] == size[1] else "%dx%d" % size


def _cell(outcome):
    return SHORT[outcome.status]


def format_rows(rows, fmt, summary=False):
    import csv
    import io
    import json
    sizes = [o.size for o in rows[0]["outcomes"]]
    if fmt == "json":
        return json.dumps([dict(r, outcomes=[dict(o._asdict()) for o in r["outcomes"]])
                           for r in rows], indent=1)
    if summary:
        groups = {}
        for row in rows:
            key = (row["shape_fix"], row["input"])
            groups.setdefault(key, []).append(row)
        header = ["shape_fix", "input"] + [_size(s) for s in sizes]
        body = []
        for (fix, mode), members in groups.items():
            cells = []
            for i in range(len(sizes)):
                seen = {_cell(m["outcomes"][i]) for m in members}
                cells.append(seen.pop() if len(seen) == 1 else "mixed")
            body.append([fix, mode] + cells)
    else:
        header = ["variant", "upsampling", "shape_fix", "input"] + [_size(s) for s in sizes] + [
            "ops", "build s", "fwd ms"]
        body = []
        for row in rows:
            c = row.get("cost")
            body.append([row["variant"], row["upsampling"], row["shape_fix"], row["input"]] +
                        [_cell(o) for o in row["outcomes"]] +
                        (["%d" % c["ops"], "%.2f" % c["build_s"], "%.1f" % c["forward_ms"]]
                         if c else ["", "", ""]))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(body)
        return out.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(r, widths))
                     for r in [header] + body)


def errors(rows):
    """The distinct first lines of the errors, per shape fix: how each one fails."""
    seen = {}
    for row in rows:
        for o in row["outcomes"]:
            if o.error:
                seen.setdefault((row["shape_fix"], o.status), o.error)
    return ["%s (%s): %s" % (fix, status, error) for (fix, status), error in sorted(seen.items())]


def run(args):
    from tqdm import tqdm
    from fcn_tf1.workflows import comparison
    sizes = args.sizes or comparison.SIZES
    cells = len([c for c in comparison.all_cells() if c[0] in args.variants]) * 2
    with tqdm(total=cells, desc="compare", unit="cell") as bar:
        rows = comparison.run_matrix(args.variants, sizes, args.width,
                                     cost_size=None if args.summary else args.cost_size,
                                     progress=lambda row: bar.update())
    print(format_rows(rows, args.format, args.summary))
    if args.format in ("table", "markdown"):
        print("\nHow the non-fixing strategies fail (first line of each error):")
        for line in errors(rows):
            print("- " + line)
    if args.values:
        print("\nScores of the fixing strategies against crop's (same weights and image, "
              "%s, width %g):" % (args.variants[-1], args.width))
        print(format_agreement(comparison.agreement(args.variants[-1], width=args.width)))
    if args.plot:
        plot(rows, args.plot)
        print("plot: %s" % args.plot)


main = cli.command(parser, run)


if __name__ == "__main__":
    sys.exit(main())
