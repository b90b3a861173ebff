"""python -m fcn_tf1.compare agrees with the builders' semantics and prints every format."""
import csv
import io
import json

from fcn_tf1.compare import format_rows, main
from fcn_tf1.model.upsample import get_shape_fix
from fcn_tf1.workflows import comparison


def test_compare_cells_follow_the_semantics(capsys):
    assert main(["--sizes", "1,33,64x32", "--variants", "fcn8s", "--format", "json",
                 "--width", "0.0625", "--cost-size", "32"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    cells = len(rows)
    assert "compare: 100%" in captured.err and "%d/%d" % (cells, cells) in captured.err
    assert len(rows) == len([c for c in comparison.all_cells() if c[0] == "fcn8s"]) * 2
    for row in rows:
        fixes = get_shape_fix(row["shape_fix"], row["upsampling"]).fixes
        for outcome in row["outcomes"]:
            size = tuple(outcome["size"])
            assert outcome["status"] == comparison.expected_status(
                fixes, size, row["input"] == "dynamic"), row
        if row["input"] == "static":
            assert row["cost"]["ops"] > 100 and row["cost"]["forward_ms"] > 0


def test_table_and_markdown_summary_show_each_outcome():
    rows = comparison.run_matrix(("fcn32s",), [(33, 33), (64, 64)], modes=("static",))
    table = format_rows(rows, "table")
    assert "FAIL@build" in table and "output_shape" in table
    summary = format_rows(rows, "markdown", summary=True)
    assert "| set_shape | static | FAIL@build | ok |" in summary
    assert "| crop | static | ok | ok |" in summary
    parsed = list(csv.reader(io.StringIO(format_rows(rows, "csv"))))
    assert parsed[0][:4] == ["variant", "upsampling", "shape_fix", "input"]
    assert len(parsed) == 1 + len(rows)


def test_fixing_strategies_agree_exactly_at_multiples_of_32_only():
    rows = comparison.agreement("fcn16s", sizes=((64, 96), (65, 97)), width=1 / 16.)
    by = {(r["size"], r["shape_fix"]): r for r in rows}
    for fix in ("output_shape", "crop", "pad"):
        assert by[((64, 96), fix)]["max_diff"] == 0.0
    # Off the multiples: output_shape shifts the upsampled maps, pad changes the border's context.
    assert by[((65, 97), "output_shape")]["max_diff"] > 0
    assert by[((65, 97), "pad")]["max_diff"] > 0
    # pad100 has Caffe's geometry (pad 100, fc6 'VALID'): different scores at every size.
    assert by[((64, 96), "pad100")]["mean_diff"] > 0
    for row in rows:
        assert row["label_agreement"] > 0.5


def test_plot_is_a_png_with_both_panels(tmp_path):
    from fcn_tf1.compare import plot
    from PIL import Image
    rows = comparison.run_matrix(("fcn8s",), [(33, 33), (64, 64)], cost_size=(64, 64))
    plot(rows, str(tmp_path / "p.png"))
    with Image.open(str(tmp_path / "p.png")) as image:
        assert image.format == "PNG" and image.size[0] > 800
        colours = set(image.convert("RGB").getdata())
    assert (0x4c, 0xaf, 0x50) in colours and (0xf4, 0x43, 0x36) in colours  # ok, build failure
    assert (0x21, 0x96, 0xf3) in colours  # the cost bars
