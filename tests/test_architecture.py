"""The layout docs/architecture.md states: imports point down the floors, never up, never in a
circle, never between data/ and model/; no TensorFlow below model/; short functions; one home for
OpenVINO's shims; data sets read through their interface; the TensorFlow-free names agree with the
code that implements them."""
import ast
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "fcn_tf1")
# The README's layers, top first: a module may import its own layer or the ones below it.
LAYERS = (("commands", 4), ("workflows", 3), ("data", 2), ("model", 2), ("numbers", 1),
          ("ground", 0))
COMMANDS = ("train", "evaluate", "export", "predict", "compare", "bench", "weights")


def module_names():
    names = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.relpath(os.path.join(folder, name), ROOT)[:-3]
                names.append(path.replace(os.sep, ".").replace(".__init__", ""))
    return sorted(names)


def layer(module):
    """The layer's rank of ``fcn_tf1.<...>``: a module directly in the package is a command."""
    parts = module.split(".")
    if len(parts) == 1:
        return 5  # the package itself: the public API above everything
    if parts[-1] == "__main__":
        return dict(LAYERS)["commands"]  # python -m fcn_tf1.<package>: that package's command
    if len(parts) == 2 and parts[1] not in dict(LAYERS):
        return dict(LAYERS)["commands"]
    return dict(LAYERS)[parts[1]]


def imports(module, known):
    """Every fcn_tf1 module that ``module``'s source imports, at any depth of its code."""
    path = os.path.join(ROOT, *module.split("."))
    path = path + ".py" if os.path.isfile(path + ".py") else os.path.join(path, "__init__.py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fcn_tf1"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fcn_tf1"):
            for alias in node.names:
                sub = node.module + "." + alias.name
                found.add(sub if sub in known else node.module)
    return found - {module}


def graph():
    known = set(module_names())
    return {module: imports(module, known) for module in known}


def upward_imports(edges):
    return sorted("%s imports %s" % (module, target) for module, targets in edges.items()
                  for target in targets if layer(target) > layer(module))


def cycles(edges):
    """One import circle per strongly connected group of modules (Tarjan), as lists of names."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_sits_in_a_layer():
    for module in module_names():
        assert layer(module) is not None, module
    top_level = {m.split(".")[1] for m in module_names() if m.count(".") == 1}
    assert top_level - set(dict(LAYERS)) == set(COMMANDS) | {"cli"}


def test_imports_point_down_the_layers():
    assert upward_imports(graph()) == []


def test_there_is_no_import_circle():
    assert cycles(graph()) == []


def sibling_imports(edges):
    """Imports between data/ and model/: they share a floor and neither may use the other (data
    sets know nothing of the graph, the graph nothing of data sets)."""
    floor = lambda module: tuple(module.split(".")[1:2])
    return sorted("%s imports %s" % (module, target) for module, targets in edges.items()
                  for target in targets if {floor(module), floor(target)} == {("data",), ("model",)})


def test_data_and_model_do_not_import_each_other():
    assert sibling_imports(graph()) == []
    edges = graph()
    edges["fcn_tf1.data.voc"] = edges["fcn_tf1.data.voc"] | {"fcn_tf1.model.config"}
    assert sibling_imports(edges) == ["fcn_tf1.data.voc imports fcn_tf1.model.config"]


TENSORFLOW = ("fcn_tf1.ground.tf_compat", "tensorflow")


def tensorflow_users(package):
    """The modules of ``fcn_tf1.<package>`` whose source imports TensorFlow, at any depth."""
    found = []
    for module in module_names():
        if module.startswith("fcn_tf1.%s." % package) and module not in TENSORFLOW:
            path = os.path.join(ROOT, *module.split(".")) + ".py"
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            names += ["%s.%s" % (n.module, a.name) for n in ast.walk(tree)
                      if isinstance(n, ast.ImportFrom) and n.module for a in n.names]
            if any(name.startswith(TENSORFLOW) for name in names):
                found.append(module)
    return found


def test_numbers_and_ground_have_no_tensorflow_but_its_one_import():
    assert tensorflow_users("numbers") == []
    assert tensorflow_users("ground") == []
    assert "fcn_tf1.model.checkpoints" in tensorflow_users("model")  # the check sees them


def test_the_checks_bite():
    edges = graph()
    edges["fcn_tf1.model.fcn"] = edges["fcn_tf1.model.fcn"] | {"fcn_tf1.workflows.training"}
    assert upward_imports(edges) == ["fcn_tf1.model.fcn imports fcn_tf1.workflows.training"]
    edges = graph()
    edges["fcn_tf1.ground.names"] = {"fcn_tf1.ground.fileutil"}
    assert cycles(edges) == [["fcn_tf1.ground.fileutil", "fcn_tf1.ground.names"]]


def test_names_agree_with_the_code():
    from fcn_tf1.ground import names
    from fcn_tf1.model import backbones, upsample
    from fcn_tf1.numbers import backbone_shapes
    from fcn_tf1.workflows import recipes
    assert tuple(backbones.REGISTRY) == tuple(backbone_shapes.REGISTRY) == names.BACKBONES
    assert all(isinstance(backbones.REGISTRY[name], type(shapes))
               for name, shapes in backbone_shapes.REGISTRY.items())
    assert tuple(upsample.REGISTRY) == names.SHAPE_FIXES
    assert tuple(n for n, fix in upsample.REGISTRY.items() if fix.fixes) == names.FIXING
    assert sorted(recipes.PRESETS) == sorted(names.PRESETS)
    assert set(recipes.PRESET_WIDTHS) <= set(names.PRESETS)
    assert {api for fix in upsample.REGISTRY.values() for api in fix.apis} == set(
        names.UPSAMPLINGS)


def test_the_public_api_stays_where_it_was_and_imports_lazily():
    code = ("import sys, fcn_tf1, fcn_tf1.predict\n"
            "print('tensorflow' in sys.modules, fcn_tf1.VARIANTS, fcn_tf1.__version__)\n"
            "from fcn_tf1.predict import FrozenModel\n"
            "from fcn_tf1.model import models, preprocessing\n"
            "print(FrozenModel is models.FrozenModel, fcn_tf1.preprocess is "
            "preprocessing.preprocess, callable(fcn_tf1.build_fcn))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    from fcn_tf1.ground.names import VERSION
    assert out == ["False ('fcn32s', 'fcn16s', 'fcn8s') %s" % VERSION, "True True True"]


MAX_FUNCTION_LINES = 60


def long_functions(limit=MAX_FUNCTION_LINES):
    """'module.function: N lines' of every function of the package longer than ``limit`` (its last
    line: ``end_lineno`` on Python 3.8+, else the last line any of its nodes starts on)."""
    found = []
    for module in module_names():
        path = os.path.join(ROOT, *module.split("."))
        path = path + ".py" if os.path.isfile(path + ".py") else os.path.join(path, "__init__.py")
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                last = getattr(node, "end_lineno", None) or max(
                    getattr(n, "lineno", node.lineno) for n in ast.walk(node))
                if last - node.lineno + 1 > limit:
                    found.append("%s.%s: %d lines" % (module, node.name, last - node.lineno + 1))
    return found


def test_no_function_is_longer_than_a_screen():
    assert long_functions() == []
    assert long_functions(limit=20)  # the check sees functions at all


def _sources():
    for module in module_names():
        path = os.path.join(ROOT, *module.split("."))
        path = path + ".py" if os.path.isfile(path + ".py") else os.path.join(path, "__init__.py")
        with open(path) as f:
            yield module, f.read()


def test_openvinos_release_shims_live_in_one_module():
    # Where OpenVINO keeps its API moved between releases (openvino.runtime before 2024).
    assert [m for m, text in _sources() if "openvino.runtime" in text or
            re.search(r"""import_module\(["']openvino["']\)|^import openvino""", text, re.M)] == [
        "fcn_tf1.model.openvino_api"]


def test_data_sets_are_read_through_their_interface_not_probed():
    from fcn_tf1.data import registry
    from fcn_tf1.data.source import DataSource
    assert [m for m, text in _sources() if re.search(r"getattr\((source|self\.source)\b", text)] == []
    from fcn_tf1.data.folder import FolderDataset
    from fcn_tf1.data.synthetic import SyntheticDataset
    from fcn_tf1.data.tfrecord import TFRecordDataset
    from fcn_tf1.data.voc import VOCDataset
    from fcn_tf1.data.sbd import SBDDataset
    from fcn_tf1.data.pascal_context import PascalContextDataset
    from fcn_tf1.data.nyud import NYUDDataset
    from fcn_tf1.data.siftflow import SIFTFlowDataset
    classes = (FolderDataset, SyntheticDataset, TFRecordDataset, VOCDataset, SBDDataset,
               PascalContextDataset, NYUDDataset, SIFTFlowDataset)
    assert all(issubclass(c, DataSource) for c in classes)
    # nyud-hha, nyud-color-d, nyud-color-hha: NYUDDataset on other inputs
    assert len(classes) == len(registry.REGISTRY) - 3
