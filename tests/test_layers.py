"""Imports point down the layers of docs/DEVELOPING.md, never up (function-level ones too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import agentic_neurodata_conversion

PACKAGE = Path(agentic_neurodata_conversion.__file__).parent
NAME = PACKAGE.name

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS = {
    "base": (
        "errors",
        "runtime",
        "names",
        "timing",
        "units",
        "interrupts",
        "environment",
        "__version__",
    ),
    "journal": ("journal",),
    "datalad": ("datalad_layer",),
    "core": ("provenance",),
    "services": (
        "conversion",
        "data_management",
        "monitoring",
        "reports",
        "batch",
        "index",
        "dandi",
    ),
    "front ends": ("cli", "mcp_server"),
}


def layer_of(module: str) -> int:
    """Index in LAYERS of a module path relative to the package ('' is the package itself)."""
    for index, prefixes in enumerate(LAYERS.values()):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    if module:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return 0


def imported(source: str, here: tuple[str, ...]) -> Iterator[str]:
    """Package-relative names of the package modules SOURCE, the file at HERE, imports:
    import statements, and loads by name (``importlib.import_module``, or any string
    naming a module of the package, as plugin lists do)."""
    package = here[:-1]  # what a `from . import` is relative to (also for __init__)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.name + ".").startswith(NAME + "."):
                    yield ".".join(alias.name.split(".")[1:])
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(NAME + ".") and node.value.replace(".", "").isidentifier():
                yield ".".join(node.value.split(".")[1:])
            continue
        if isinstance(node, ast.Call) and _is_import_module(node) and node.args:
            name = node.args[0]
            if isinstance(name, ast.Constant) and str(name.value).startswith("."):
                yield ".".join([*package, str(name.value).lstrip(".")]).strip(".")
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            if node.module and (node.module + ".").startswith(NAME + "."):
                base = node.module.split(".")[1:]
            else:
                continue
        else:
            base = list(package[: len(package) - node.level + 1])
            base += node.module.split(".") if node.module else []
        if base:
            yield ".".join(base)
        else:  # `from .. import x`: x is a module (or __version__)
            yield from (alias.name for alias in node.names)


def _is_import_module(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )


def upward_imports(source: str, here: tuple[str, ...]) -> list[str]:
    """The imports of SOURCE (the file at HERE) that reach a higher layer than its own."""
    module = ".".join(here[:-1] if here[-1] == "__init__" else here)
    # The package's own __init__ is the public API (``track_conversion``, ``convert_spec``):
    # a façade that lazily re-exports from any layer, like a front end.
    own = len(LAYERS) - 1 if module == "" else layer_of(module)
    return [
        f"{module} imports {target}" for target in imported(source, here) if layer_of(target) > own
    ]


def test_imports_only_point_down() -> None:
    upward = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in upward_imports(
            path.read_text(), path.relative_to(PACKAGE).with_suffix("").parts
        )
    ]
    assert upward == []


def test_the_check_sees_upward_imports() -> None:
    here = ("provenance", "tracker")
    assert upward_imports("def f():\n    from ..reports import html\n", here) == [
        "provenance.tracker imports reports"
    ]
    assert upward_imports(f"from {NAME}.cli.main import app\n", here) == [
        "provenance.tracker imports cli.main"
    ]
    assert upward_imports("from ..journal.chain import iter_entries\n", here) == []
    assert upward_imports("from .. import __version__\n", ("journal", "records")) == []
    assert upward_imports("from ..datalad_layer import dataset\n", ("journal", "chain")) == [
        "journal.chain imports datalad_layer"
    ]
    # loads by name count too: a plugin list, import_module with a literal
    plugins = f'PLUGINS = ("{NAME}.cli.main",)\n'
    assert upward_imports(plugins, here) == ["provenance.tracker imports cli.main"]
    assert upward_imports(f"import {NAME}.mcp_server\n", here) == [
        "provenance.tracker imports mcp_server"
    ]
    loaded = "import importlib\nimportlib.import_module('.x', __name__)\n"
    assert upward_imports(loaded, ("provenance", "tracker")) == []
    assert upward_imports(loaded, ("datalad_layer", "__init__")) == []
