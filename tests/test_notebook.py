"""notebooks/shape_strategies.ipynb runs headless, so it cannot rot, and is stored with its outputs,
so its figures show where people read it. ``python tests/test_notebook.py`` re-executes it and
stores the new outputs."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "shape_strategies.ipynb")


def execute(notebook):
    """Run every cell of ``notebook`` (nbformat's) in a fresh kernel that imports this checkout."""
    import nbclient
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = ROOT + (os.pathsep + env_path if env_path else "")
    try:
        nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": ROOT}}).execute()
    finally:
        if env_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_path
    return notebook


def images(cells):
    return [out for cell in cells if cell["cell_type"] == "code" for out in cell["outputs"]
            if "image/png" in out.get("data", {})]


def test_the_stored_notebook_shows_its_outputs():
    with open(NOTEBOOK) as f:
        cells = json.load(f)["cells"]
    text = "".join("".join(out.get("text", "")) for cell in cells if cell["cell_type"] == "code"
                   for out in cell["outputs"])
    assert "input 33 -> down [17, 17] -> up [34, 34]" in text and "FAIL@build" in text
    assert len(images(cells)) >= 2


@pytest.mark.slow
def test_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    notebook = execute(nbformat.read(NOTEBOOK, 4))
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.outputs)
    assert "input 33 -> down [17, 17] -> up [34, 34]" in text
    assert "input 34 -> down [17, 17] -> up [34, 34]" in text
    assert "FAIL@build" in text and "pad100" in text and "labels=" in text
    assert len(images(notebook.cells)) >= 2  # the comparison plot and the predictions


if __name__ == "__main__":
    import nbformat
    notebook = execute(nbformat.read(NOTEBOOK, 4))
    for cell in notebook.cells:
        if cell.cell_type == "code":  # progress bars and warnings are not part of the story
            cell.outputs = [out for out in cell.outputs if out.get("name") != "stderr"]
            cell.metadata.pop("execution", None)
    nbformat.write(notebook, NOTEBOOK)
    print("stored %s with its outputs" % NOTEBOOK, file=sys.stderr)
