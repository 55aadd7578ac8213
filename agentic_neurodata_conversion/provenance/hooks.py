"""Finalize hooks: files derived from the journal that finalize writes before its commit.

Exporters live in higher layers (reports/); they register here when imported, so the
tracker calls them without importing upwards. ``PLUGINS`` names the modules loaded (once)
before finalize, like entry points: the core knows their names, not their code. A hook gets
the tracker and writes files inside its dataset.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tracker import ConversionProvenanceTracker

FinalizeHook = Callable[["ConversionProvenanceTracker"], None]

_HOOKS: dict[str, FinalizeHook] = {}
PLUGINS = ("agentic_neurodata_conversion.reports",)


@cache
def load_plugins() -> None:
    """Import the plugin modules; each registers its hooks and renderers."""
    for name in PLUGINS:
        importlib.import_module(name)


def register_finalize_hook(name: str, hook: FinalizeHook) -> None:
    """Register (or replace) the hook called NAME; hooks run in registration order."""
    _HOOKS[name] = hook


def finalize_hooks() -> list[FinalizeHook]:
    load_plugins()
    return list(_HOOKS.values())
