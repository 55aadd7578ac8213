"""CONVERSION_SUMMARY.md: what a person reads first when opening a conversion.

The summary is rendered from the conversion's journal by the Markdown renderer of
``reports`` (one renderer for finalize and ``anc report --format md``). That renderer lives
above this layer, so it registers itself here when ``reports`` is loaded as a plugin (see
hooks.py); the tracker only calls ``render_summary``. Should no renderer be registered,
finalize writes a short stub that says how to render the full summary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tracker import ConversionProvenanceTracker

SummaryRenderer = Callable[[Path], str]

_RENDERER: list[SummaryRenderer] = []


def register_summary_renderer(renderer: SummaryRenderer) -> None:
    """Make RENDERER (conversion folder -> Markdown) the one finalize uses."""
    _RENDERER[:] = [renderer]


def render_summary(tracker: ConversionProvenanceTracker) -> str:
    """The Markdown summary of TRACKER's conversion, derived from its journal."""
    from .hooks import load_plugins

    load_plugins()
    if _RENDERER:
        return _RENDERER[0](tracker.conversion_repo_path)
    s = tracker.session
    lines = [
        f"# Conversion summary: {tracker.conversion_id}",
        "",
        f"- **Status**: {s.status}",
        f"- **Started**: {s.start_time}",
        f"- **Ended**: {s.end_time or '-'}",
    ]
    if s.error:
        lines.append(f"- **Error**: {' '.join(s.error.split())}")
    lines += [
        "",
        "The full summary (fields, sources, confidence, conflicts, pipeline) is rendered from",
        "the journal by `anc report . --format md`.",
        "",
    ]
    return "\n".join(lines)
