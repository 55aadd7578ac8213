"""What a reopen after a crash, an interruption and a resume put on the record.

The tracker decides when; these build the records, so the words for what happened live in
one place. A crash leaves two kinds of debris: a torn last journal line (cut off by the
journal) and git lock files (judged and removed by ``datalad_layer.locks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..datalad_layer.locks import GitLock
from ..journal.chain import TornLine
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource


def _record(operation: str, agent: str, **fields: Any) -> ProvenanceRecord:
    return ProvenanceRecord(
        source=ProvenanceSource.AUTO_EXTRACTED,
        operation=operation,
        agent=agent,
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        **fields,
    )


def crash_recovery(
    root: Path, torn: Sequence[TornLine], removed: Sequence[GitLock]
) -> ProvenanceRecord:
    """The record of what a reopen found and did: torn lines cut off, stale locks removed."""
    evidence: list[Any] = [
        {"segment": t.segment, "offset": t.offset, "torn_bytes": t.data} for t in torn
    ]
    evidence += [
        {
            "removed": lock.relative_to(root),
            "kind": lock.kind,
            "reason": "no live process had it open and no git or git-annex process was "
            "working in the dataset: left by a killed process",
        }
        for lock in removed
    ]
    reasoning = []
    if torn:
        reasoning.append(
            "the previous writer stopped mid-write; its unacknowledged line was cut off"
        )
    if removed:
        reasoning.append(
            "git lock files left by a killed process were removed; the files they guard "
            "keep their last complete state, and the journal records that were not yet "
            "committed are in files this commit adds"
        )
    return _record(
        "crash_recovery",
        "tracker",
        output_data={
            "torn_lines": len(torn),
            "removed_locks": [lock.relative_to(root) for lock in removed],
        },
        reasoning=reasoning,
        evidence=evidence,
    )


def recovery_message(torn: Sequence[TornLine], removed: Sequence[GitLock]) -> str:
    what = []
    if torn:
        what.append("torn journal line cut off")
    if removed:
        what.append(f"{len(removed)} stale git lock(s) removed")
    return "[anc] crash recovery: " + ", ".join(what) + " (recorded)"


def interrupted(
    root: Path, stage: str, cause: str, removed: Sequence[str], cleared: Sequence[GitLock]
) -> ProvenanceRecord:
    """CAUSE (a signal, a full disk) stopped STAGE; REMOVED half-done outputs were dropped."""
    return _record(
        "interrupted",
        "pipeline",
        input_data={"stage": stage, "cause": cause},
        output_data={
            "removed_partial_outputs": list(removed),
            "removed_stale_locks": [lock.relative_to(root) for lock in cleared],
        },
        reasoning=[f"{cause} stopped the {stage} stage; resume or discard the conversion"],
    )


def resumed(previous_status: str, stage: str) -> ProvenanceRecord:
    return _record(
        "resume",
        "pipeline",
        input_data={"previous_status": previous_status},
        output_data={"from_stage": stage},
    )
