"""CONVERSION_SUMMARY.md before the reports are rendered: what finalize writes first.

The full summary (fields, sources, confidence, conflicts, pipeline) is rendered from the
journal by ``reports``, whose finalize hook replaces this file from the same view it renders
the HTML report and the RO-Crate from. Without that hook (the tracker used alone) this short
summary stays, and says how to render the full one.
"""

from __future__ import annotations

from .session import ConversionSession


def stub_summary(s: ConversionSession) -> str:
    lines = [
        f"# Conversion summary: {s.session_id}",
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
