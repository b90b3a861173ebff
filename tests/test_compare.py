"""python -m fcn_tf1.compare agrees with the builders' semantics and prints every format."""
import csv
import io
import json

from fcn_tf1 import comparison
from fcn_tf1.compare import format_rows, main
from fcn_tf1.upsample import get_shape_fix


def test_compare_cells_follow_the_semantics(capsys):
    assert main(["--sizes", "1,33,64x32", "--variants", "fcn8s", "--format", "json",
                 "--width", "0.0625", "--cost-size", "32"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len([c for c in comparison.all_cells() if c[0] == "fcn8s"]) * 2
    for row in rows:
        fixes = get_shape_fix(row["shape_fix"], row["upsampling"]).fixes
        for outcome in row["outcomes"]:
            size = tuple(outcome["size"])
            assert outcome["status"] == comparison.expected_status(
                fixes, size, row["input"] == "dynamic"), row
        if row["input"] == "static":
            assert row["cost"]["ops"] > 100 and row["cost"]["forward_ms"] > 0


def test_formats():
    rows = comparison.run_matrix(("fcn32s",), [(33, 33), (64, 64)], modes=("static",))
    table = format_rows(rows, "table")
    assert "FAIL@build" in table and "output_shape" in table
    summary = format_rows(rows, "markdown", summary=True)
    assert "| set_shape | static | FAIL@build | ok |" in summary
    assert "| crop | static | ok | ok |" in summary
    parsed = list(csv.reader(io.StringIO(format_rows(rows, "csv"))))
    assert parsed[0][:4] == ["variant", "upsampling", "shape_fix", "input"]
    assert len(parsed) == 1 + len(rows)
