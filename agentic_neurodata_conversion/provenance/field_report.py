"""Per-field provenance: for each NWB metadata field, its history and why it has its value."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..journal.records import (
    REVIEW_CONFIDENCE,
    REVIEW_LEVELS,
    ConfidenceLevel,
    ProvenanceRecord,
    encode_value,
)


def _entry(record: ProvenanceRecord) -> dict[str, Any]:
    assert record.confidence_level is not None
    return {
        "seq": record.seq,
        "time": record.time,
        "source": record.source.value,
        "agent": record.agent,
        "operation": record.operation,
        "value": encode_value(record.value),
        "confidence": record.confidence,
        "confidence_level": record.confidence_level.value,
        "method": record.method,
        "reasoning": record.reasoning,
        "evidence": encode_value(record.evidence),
        "conflict": record.conflict.to_dict() if record.conflict else None,
    }


def review_reasons(level: ConfidenceLevel, confidence: float | None) -> list[str]:
    reasons = []
    if level in REVIEW_LEVELS:
        reasons.append(f"confidence level is {level.value}")
    if confidence is not None and confidence < REVIEW_CONFIDENCE:
        reasons.append(f"confidence {confidence:.2f} is below {REVIEW_CONFIDENCE}")
    return reasons


def build_field_report(records: Iterable[ProvenanceRecord]) -> dict[str, Any]:
    """Stream RECORDS once; the last decision about a field is its final value."""
    history: dict[str, list[ProvenanceRecord]] = {}
    for record in records:
        if record.field:
            history.setdefault(record.field, []).append(record)
    fields: dict[str, Any] = {}
    for name, items in history.items():
        final = items[-1]
        assert final.confidence_level is not None
        reasons = review_reasons(final.confidence_level, final.confidence)
        conflicts = [r.conflict.to_dict() for r in items if r.conflict]
        fields[name] = {
            **{k: v for k, v in _entry(final).items() if k not in ("seq", "time", "conflict")},
            "final_value": encode_value(final.value),
            "is_human_decision": final.is_human_decision,
            "needs_review": bool(reasons),
            "review_reasons": reasons,
            "conflicts": conflicts,
            "history": [_entry(r) for r in items],
        }
    return {
        "fields": fields,
        "summary": {
            "fields": len(fields),
            "needs_review": sorted(k for k, v in fields.items() if v["needs_review"]),
            "conflicts": sum(len(v["conflicts"]) for v in fields.values()),
            "by_source": dict(Counter(v["source"] for v in fields.values())),
            "by_level": dict(Counter(v["confidence_level"] for v in fields.values())),
        },
    }
