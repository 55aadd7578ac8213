"""Reports of a conversion: Markdown, HTML, JSON, W3C PROV and RO-Crate, from its journal;
and the page of the performance report over many conversions (``perf_html``).

Importing this package registers its finalize hook with the provenance core: finalize then
writes CONVERSION_SUMMARY.md, the HTML report and ``ro-crate-metadata.json`` from one view;
and, through ``index.hooks``, the after-finalize hook that adds the conversion to its lab's
index (the HTML report shows the lab's view of its subject from that index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index import hooks as _index_hooks  # noqa: F401  (a finished conversion joins its lab's index)
from ..provenance.hooks import register_finalize_hook
from ..provenance.layout import SUMMARY_FILE
from .api import DEFAULT_FILES, FORMATS, build_report, render, write_report, write_view
from .model import ConversionView, build_view

if TYPE_CHECKING:
    from ..provenance.tracker import ConversionProvenanceTracker


def _write_reports(tracker: ConversionProvenanceTracker) -> None:
    """Finalize hook: from one view of the journal, the Markdown summary, the HTML report,
    then the RO-Crate (which describes both)."""
    view = build_view(tracker.conversion_repo_path)
    (tracker.conversion_repo_path / SUMMARY_FILE).write_text(render(view, "md"))
    write_view(view, "html")
    write_view(view, "rocrate")


def load_renderers() -> None:
    """Import what ``_write_reports`` renders with (the rocrate library alone takes ~0.1 s),
    for a caller with time to spare before it finalizes."""
    import rocrate.rocrate  # noqa: F401

    from . import html, markdown, rocrate_export  # noqa: F401


register_finalize_hook("reports", _write_reports)

__all__ = [
    "DEFAULT_FILES",
    "FORMATS",
    "ConversionView",
    "build_report",
    "build_view",
    "load_renderers",
    "render",
    "write_report",
    "write_view",
]
