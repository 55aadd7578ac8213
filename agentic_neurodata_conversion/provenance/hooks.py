"""Finalize hooks: files derived from the journal that finalize writes before its commit.

The writers live in higher layers (``reports`` registers the summary, HTML report and
RO-Crate when it is imported; monitoring adds its metrics file per conversion), so the
tracker calls them without importing upwards. Whoever finalizes with reports in mind imports
``reports`` first: the pipeline and the MCP server do. A hook gets the tracker and writes
files inside its dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Called with the finalizing ConversionProvenanceTracker (typed Any: the tracker imports
# this module, and this module imports nothing of the tracker).
FinalizeHook = Callable[[Any], None]

_HOOKS: dict[str, FinalizeHook] = {}
# Called after the final commit (and tag): for what reads the finished conversion from
# outside it (the lab's index). They must not raise: the conversion is final already.
_AFTER: dict[str, FinalizeHook] = {}


def register_finalize_hook(name: str, hook: FinalizeHook) -> None:
    """Register (or replace) the hook called NAME; hooks run in registration order."""
    _HOOKS[name] = hook


def finalize_hooks() -> list[FinalizeHook]:
    return list(_HOOKS.values())


def register_after_finalize_hook(name: str, hook: FinalizeHook) -> None:
    """Register (or replace) HOOK, called after finalize's commit and tag."""
    _AFTER[name] = hook


def after_finalize_hooks() -> list[FinalizeHook]:
    return list(_AFTER.values())
