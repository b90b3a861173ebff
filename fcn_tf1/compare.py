"""python -m fcn_tf1.compare: every variant x upsampling API x shape fix over input sizes.

    python -m fcn_tf1.compare                                  # the default sizes, a table
    python -m fcn_tf1.compare --sizes 33,34,64 --format markdown --summary

For each cell: the output shape, or where it fails (at build / at run) with the error's first line;
and the cost of a static graph at --cost-size: ops, build seconds, forward milliseconds.
"""
import argparse
import sys

from fcn_tf1 import cli

SHORT = {"ok": "ok", "wrong size": "WRONG", "build error": "FAIL@build", "run error": "FAIL@run"}


def parse_sizes(text):
    """'1,33,224x224,333x500' -> [(1, 1), (33, 33), (224, 224), (333, 500)]."""
    return [cli.size_pair(part) for part in text.split(",") if part]


def parser():
    p = argparse.ArgumentParser(prog="python -m fcn_tf1.compare", description=(
        "Compare the shape-fixing strategies on input sizes, with static and dynamic input shapes."))
    p.add_argument("--sizes", type=parse_sizes, help="sizes, e.g. '1,31,33,224x224,333x500' "
                   "(default: 1,7,31,32,33,34,63,64,65,224x224,333x500,500x500)")
    p.add_argument("--variants", default="fcn32s,fcn16s,fcn8s")
    p.add_argument("--width", type=float, default=1 / 16., help="backbone width for the runs")
    p.add_argument("--cost-size", type=cli.size_pair, default=(224, 224),
                   help="the size at which ops, build time and forward time are measured")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    p.add_argument("--summary", action="store_true", help="one row per shape fix and input mode "
                   "(identical across variants and APIs, as the tests show)")
    return p


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


def main(argv=None):
    args = parser().parse_args(argv)
    cli.quiet_tensorflow()

    def run():
        from fcn_tf1 import comparison
        variants = tuple(v for v in args.variants.split(",") if v)
        unknown = set(variants) - set(comparison.VARIANTS)
        if unknown:
            raise ValueError("--variants: unknown %s (choose from %s)"
                             % (", ".join(sorted(unknown)), ", ".join(comparison.VARIANTS)))
        rows = comparison.run_matrix(variants, args.sizes or comparison.SIZES, args.width,
                                     cost_size=None if args.summary else args.cost_size)
        print(format_rows(rows, args.format, args.summary))
        if args.format in ("table", "markdown"):
            print("\nHow the non-fixing strategies fail (first line of each error):")
            for line in errors(rows):
                print("- " + line)
    return cli.run(run, "fcn_tf1.compare")


if __name__ == "__main__":
    sys.exit(main())
