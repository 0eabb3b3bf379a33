"""The floors rule (docs/architecture.md, "Floors"): every import points downwards.

Read from the source with ast, not by importing, so that an import inside a function (the zoo
imports TensorFlow-heavy modules lazily) counts as much as one at the top of a module.
"""
import ast
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Inside zoo: a module may import its own package and the packages on lower floors only;
# packages that share a floor are siblings and do not import each other.
ZOO_FLOORS = {
    "zoo.arguments": 0, "zoo.cache": 0, "zoo.files": 0, "zoo.host_allocator": 0, "zoo.lazy": 0,
    "zoo.weights": 1, "zoo.kernels": 1,
    "zoo.models": 2,
    "zoo.audio": 3, "zoo.conversion": 3,
    "zoo.datasets": 4,
    "zoo.tagging": 5, "zoo.training": 5,
    # The public face: `import zoo` and the old `python -m` paths kept as one-line shims; the
    # zoo-demo page, an application on tagging.
    "zoo": 6, "zoo.beam": 6, "zoo.describe": 6, "zoo.demo": 6, "zoo.hear": 6,
}
# The packages beside zoo build on it; zoo never imports them.
TOP_LEVEL_FLOORS = {"zoo": 0, "pretrained": 1, "export": 1, "benchmarks": 2}


def _module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path):
    """Every module ``path`` imports, relative imports resolved, as dotted names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from zoo import layers` imports the module zoo.layers when there is one.
            found += [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names]
    return [module for module in found if module.split(".")[0] in TOP_LEVEL_FLOORS]


def _is_module(dotted):
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def zoo_unit(module):
    """The entry of ZOO_FLOORS a zoo module belongs to (its package, or the module itself)."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in ZOO_FLOORS:
            return prefix
    raise AssertionError(f"{module} is on no floor: add its package to ZOO_FLOORS and to the floors table "
                         "in docs/architecture.md")


def upward_imports(path):
    """'module imports other (why)' for each import of ``path`` that breaks the floors rule."""
    module = _module_name(path)
    top = module.split(".")[0]
    problems = []
    for imported in _imported_modules(path):
        imported_top = imported.split(".")[0]
        if TOP_LEVEL_FLOORS[imported_top] > TOP_LEVEL_FLOORS[top]:
            problems.append(f"{module} imports {imported} ({imported_top} builds on {top})")
        elif top == "zoo" == imported_top:
            own, other = zoo_unit(module), zoo_unit(imported)
            if own != other and ZOO_FLOORS[other] >= ZOO_FLOORS[own]:
                relation = "a sibling on its floor" if ZOO_FLOORS[other] == ZOO_FLOORS[own] else "a higher floor"
                problems.append(f"{module} imports {imported} ({other} is {relation})")
    return problems


def _sources():
    for top in TOP_LEVEL_FLOORS:
        for folder, _, files in os.walk(REPO / top):
            yield from (Path(folder) / f for f in sorted(files) if f.endswith(".py"))


def test_every_import_points_downwards():
    problems = [problem for path in _sources() for problem in upward_imports(path)]
    assert not problems, "\n".join(problems)


def test_every_zoo_package_is_on_a_floor_and_says_what_it_may_import():
    for path in sorted((REPO / "zoo").glob("*/__init__.py")):
        package = _module_name(path)
        assert zoo_unit(package) == package
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "May import" in docstring, f"{package}'s docstring does not say which packages it may import"


def test_at_most_eight_modules_directly_in_zoo():
    modules = sorted(p.name for p in (REPO / "zoo").glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 8, modules


@pytest.mark.parametrize("source, expected", [
    ("from zoo.tagging import analyser\n",
     "zoo.models.registry imports zoo.tagging.analyser (zoo.tagging is a higher floor)"),
    ("from ..audio import decoding\n", "zoo.models.registry imports zoo.audio.decoding (zoo.audio is a higher floor)"),
    ("def f():\n    import pretrained\n", "zoo.models.registry imports pretrained (pretrained builds on zoo)"),
    ("import zoo\n", "zoo.models.registry imports zoo (zoo is a higher floor)"),
])
def test_an_upward_import_is_caught(tmp_path, monkeypatch, source, expected):
    # The checker on a copy of the tree's shape: zoo/models/registry.py holding the bad import.
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    for package in ("zoo", "zoo/models", "zoo/audio", "zoo/tagging"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "zoo/audio/decoding.py").write_text("")
    (tmp_path / "zoo/tagging/analyser.py").write_text("")
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "pretrained/__init__.py").write_text("")
    bad = tmp_path / "zoo/models/registry.py"
    bad.write_text(source)
    assert upward_imports(bad) == [expected]
