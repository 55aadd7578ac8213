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
    "base": ("errors", "runtime", "names", "timing", "units", "interrupts", "__version__"),
    "records": ("provenance.records", "provenance.journal"),
    "datalad": ("datalad_layer",),
    "core": ("provenance",),
    "services": ("conversion", "data_management", "monitoring"),
    "front ends": ("cli", "mcp_server", "reports"),
}


def layer_of(module: str) -> int:
    """Index in LAYERS of a module path relative to the package ('' is the package itself)."""
    best, found = -1, 0
    for index, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            within = module == prefix or module.startswith(prefix + ".")
            if within and len(prefix) > best:  # the longest prefix decides (records in core)
                best, found = len(prefix), index
    if best < 0 and module:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return found


def imported(source: str, here: tuple[str, ...]) -> Iterator[str]:
    """Package-relative names of the package modules SOURCE, the file at HERE, imports."""
    package = here[:-1]  # what a `from . import` is relative to (also for __init__)
    for node in ast.walk(ast.parse(source)):
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


def upward_imports(source: str, here: tuple[str, ...]) -> list[str]:
    """The imports of SOURCE (the file at HERE) that reach a higher layer than its own."""
    module = ".".join(here[:-1] if here[-1] == "__init__" else here)
    return [
        f"{module} imports {target}"
        for target in imported(source, here)
        if layer_of(target) > layer_of(module)
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
    assert upward_imports("from .journal import iter_entries\n", here) == []
    assert upward_imports("from .. import __version__\n", ("provenance", "records")) == []
    assert upward_imports("from ..datalad_layer import dataset\n", ("provenance", "journal")) == [
        "provenance.journal imports datalad_layer"
    ]
