"""The export formats' registry (one record each, with its reader and writer), the model signature
every export carries, and the exports of the last release (0.3.0), which must still load."""
import os
import re

import numpy as np
import pytest

from fcn_tf1.ground.formats import FORMATS, readable, readable_format
from fcn_tf1.ground.names import PRECISIONS, RUNTIME_SPECS, RUNTIMES
from fcn_tf1.model import runtimes
from fcn_tf1.model.export_readers import READERS
from fcn_tf1.model.models import FrozenModel
from fcn_tf1.model.signature import Signature
from fcn_tf1.workflows.writer_registry import WRITERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "tests", "data", "release-0.3.0")
# The modules that may name a format's suffix: the registry, the readers and the writers (the
# int8 IR's writer is quantization.py).
SUFFIX_HOMES = {"ground/formats.py", "model/export_readers.py", "workflows/export_writers.py",
                "workflows/quantization.py"}


def test_every_format_record_is_complete_with_a_reader_and_a_writer():
    for name, fmt in FORMATS.items():
        assert fmt.name == name and fmt.flag.startswith("--") and fmt.what and fmt.help, fmt
        assert fmt.precisions and set(fmt.precisions) <= set(PRECISIONS), fmt
        assert fmt.sidecar in ("inside", "beside") and set(fmt.runtimes) <= set(RUNTIMES), fmt
        assert fmt.client and all(s.startswith(".") and s == s.lower() for s in fmt.suffixes), fmt
    assert set(WRITERS) == set(FORMATS)
    assert set(READERS) == {fmt.name for fmt in readable()}
    assert len({fmt.flag for fmt in FORMATS.values()}) == len(FORMATS)


def test_every_readable_suffix_reaches_a_runtime_that_computes_its_precisions(monkeypatch):
    monkeypatch.setattr(runtimes, "installed", lambda runtime: True)
    for fmt in readable():
        for suffix in fmt.suffixes:
            path = "model" + suffix.upper()  # suffixes are matched whatever their case
            assert readable_format(path) is fmt
            assert runtimes.choose(None, fmt.precisions[0], path) == fmt.runtimes[0]
        for precision in fmt.precisions:
            assert any(precision in RUNTIME_SPECS[r].precisions for r in fmt.runtimes), fmt
    # Every runtime reads a format, and an unknown suffix is a frozen graph (a run's file).
    assert {r for fmt in readable() for r in fmt.runtimes} == set(RUNTIMES)
    assert readable_format("frozen_model") is FORMATS["pb"]


@pytest.mark.parametrize("tool", ["predict", "evaluate"])
def test_the_help_of_the_tools_that_run_exports_names_every_readable_format(tool):
    import importlib
    text = " ".join(importlib.import_module("fcn_tf1." + tool).parser().format_help().split())
    for fmt in FORMATS.values():  # those it runs, and those it does not (for their own clients)
        assert fmt.what in text and (fmt.runtimes or fmt.client in text), (tool, fmt.name)
        for runtime in fmt.runtimes:
            assert runtime in text


def test_the_bench_says_which_format_each_runtime_runs():
    from fcn_tf1.bench import parser
    text = " ".join(parser().format_help().split())
    for runtime in RUNTIMES:
        [first] = [f for f in readable() if runtime in f.runtimes][:1]
        assert "%s: %s" % (runtime, first.what) in text


def test_the_export_command_has_a_flag_for_every_format():
    from fcn_tf1.export import outputs, parser
    args = parser().parse_args(sum(([fmt.flag, "x" + fmt.name] for fmt in FORMATS.values()), []))
    assert outputs(args) == {name: "x" + name for name in FORMATS}
    assert list(outputs(args)) == list(FORMATS)  # written in the registry's order


def test_a_suffix_is_named_only_by_the_registry_and_the_readers_and_writers():
    suffixes = {s for fmt in FORMATS.values() for s in fmt.suffixes}
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(re.escape(s) for s in suffixes))
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "fcn_tf1")):
        for name in files:
            path = os.path.join(folder, name)
            module = os.path.relpath(path, os.path.join(ROOT, "fcn_tf1")).replace(os.sep, "/")
            if name.endswith(".py") and module not in SUFFIX_HOMES:
                with open(path) as f:
                    found += ["%s: %s" % (module, m) for m in pattern.findall(f.read())]
    assert not found


@pytest.mark.parametrize("name,runtime", [("model.pb", "tf"), ("model.pb", None),
                                          ("model.tflite", None)])
def test_the_last_releases_exports_still_load_and_compute_the_same(name, runtime):
    if runtime is None and not runtimes.installed(readable_format(name).runtimes[0]):
        runtime = readable_format(name).runtimes[-1]
    expected = np.load(os.path.join(RELEASE, "expected.npz"))
    with FrozenModel(os.path.join(RELEASE, name), runtime) as model:
        assert "signature" not in model.metadata  # 0.3.0 wrote none: the config implies it
        assert model.signature == Signature.of(model.config)
        logits, labels = model.run(expected["image"])
    np.testing.assert_allclose(logits, expected[name.replace(".", "_")], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(labels, logits.argmax(-1))
