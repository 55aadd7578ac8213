"""Reports of a conversion: Markdown, HTML, JSON, W3C PROV and RO-Crate, from its journal.

Importing this package registers the finalize hooks (HTML report and ``ro-crate-metadata.json``)
and the Markdown summary renderer with the provenance core, which calls them at finalize.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..provenance.hooks import register_finalize_hook
from ..provenance.summary import register_summary_renderer
from .api import DEFAULT_FILES, FORMATS, build_report, render, write_report, write_view
from .model import ConversionView, build_view

if TYPE_CHECKING:
    from pathlib import Path

    from ..provenance.tracker import ConversionProvenanceTracker


def _write_reports(tracker: ConversionProvenanceTracker) -> None:
    """Finalize hook: the HTML report, then the RO-Crate (which describes the HTML file)."""
    view = build_view(tracker.conversion_repo_path)
    write_view(view, "html")
    write_view(view, "rocrate")


def _summary(path: Path) -> str:
    return render(build_view(path), "md")


register_finalize_hook("reports", _write_reports)
register_summary_renderer(_summary)

__all__ = [
    "DEFAULT_FILES",
    "FORMATS",
    "ConversionView",
    "build_report",
    "build_view",
    "render",
    "write_report",
    "write_view",
]
