"""Finalize: the last iteration of a conversion. Its record, the session file, a first
summary, the derived files the registered hooks write, the commit, and for a completed
conversion the tag ``conversion-<id>``; nothing can be recorded after it."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource
from .layout import SESSION_FILE, SUMMARY_FILE, write_json
from .session import TERMINAL_STATUSES, ConversionSession
from .summary import stub_summary


def check_status(status: str) -> None:
    if status not in TERMINAL_STATUSES:
        raise UsageError(
            f"unknown final status {status!r}", f"use one of: {', '.join(TERMINAL_STATUSES)}"
        )


def finalize_record(status: str, session: ConversionSession) -> ProvenanceRecord:
    tag = tag_name(session.session_id, session.revision) if status == "completed" else None
    return ProvenanceRecord(
        source=ProvenanceSource.AUTO_EXTRACTED,
        operation="finalize",
        agent="tracker",
        output_data={
            "status": status,
            "final_metadata": session.final_metadata,
            "error": session.error,
            "revision": session.revision,
            "tag": tag,
        },
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
    )


def write_final_files(root: Path, session: ConversionSession) -> None:
    """The session file and the first summary (the reports hook replaces it)."""
    write_json(root / SESSION_FILE, session.to_dict())
    (root / SUMMARY_FILE).write_text(stub_summary(session))


def tag_name(conversion_id: str, revision: int = 1) -> str:
    """``conversion-<id>`` for the first conversion, ``conversion-<id>-v<N>`` for revision N."""
    return f"conversion-{conversion_id}" + (f"-v{revision}" if revision > 1 else "")
