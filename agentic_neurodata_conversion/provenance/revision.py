"""What a revision of a finished conversion puts on the record when it begins.

A revision (`anc revise`) is a new iteration of the same conversion dataset: its finalized
session is reopened, the changed fields are recorded, and the pipeline runs again from the
script stage; finalize then tags ``conversion-<id>-v<N>``. This module builds the record
that opens it, so the words for what happened live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource
from .finalize import tag_name
from .session import ConversionSession


def begin_revision(
    session: ConversionSession,
    fields: Sequence[str],
    reason: str | None,
    evidence: Sequence[str] = (),
    agent: str = "user",
    extra: Mapping[str, Any] | None = None,
) -> ProvenanceRecord:
    """The record opening revision ``session.revision + 1`` of a finalized conversion."""
    previous_tag = (
        tag_name(session.session_id, session.revision) if session.status == "completed" else None
    )
    return ProvenanceRecord(
        source=ProvenanceSource.USER_PROVIDED,
        operation="begin_revision",
        agent=agent,
        input_data={"fields": list(fields), "reason": reason, **dict(extra or {})},
        output_data={
            "revision": session.revision + 1,
            "previous_revision": session.revision,
            "previous_status": session.status,
            "previous_tag": previous_tag,
            "previous_error": session.error,
        },
        confidence=1.0,
        confidence_level=ConfidenceLevel.HUMAN_CONFIRMED,
        reasoning=[reason] if reason else ["revised by the user"],
        evidence=list(evidence),
    )
