"""The session of one conversion: what ``provenance/conversion.json`` records about it
(id, times, source, status, iteration, error, final metadata), and the pipeline state."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from .. import __version__
from ..journal.chain import iter_records
from ..journal.records import ProvenanceRecord
from .layout import CONVERSION_FILE, STATE_FILE, TOOL, read_json, write_json

TERMINAL_STATUSES = ("completed", "failed", "cancelled")


@dataclass
class ConversionSession:
    """What the session file records. Records themselves stay in the journal."""

    session_id: str
    start_time: str
    end_time: str | None = None
    dataset_path: str = ""  # the source recording
    output_path: str = ""  # the conversion dataset
    status: str = "started"
    iteration: int = 0
    revision: int = 1  # 1 for the first conversion, +1 for each `anc revise`
    final_metadata: dict[str, Any] = dc_field(default_factory=dict)
    pipeline_state: dict[str, Any] = dc_field(default_factory=dict)
    error: str | None = None
    _journal_dir: Path | None = dc_field(default=None, repr=False)

    @property
    def provenance_records(self) -> list[ProvenanceRecord]:
        """All records, read from the journal (seed compatibility; prefer iter_records)."""
        return list(iter_records(self._journal_dir)) if self._journal_dir else []

    @property
    def is_finalized(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("_journal_dir")
        return data


def read_session(root: Path) -> ConversionSession:
    """The session of the conversion at ROOT, from its conversion file and state."""
    info = read_json(root / CONVERSION_FILE)
    return ConversionSession(
        session_id=info["conversion_id"],
        start_time=info["start_time"],
        end_time=info.get("end_time"),
        dataset_path=info.get("source_path", ""),
        output_path=str(root),
        status=info.get("status", "started"),
        iteration=int(info.get("iteration", 0)),
        revision=int(info.get("revision", 1)),
        error=info.get("error"),
        final_metadata=info.get("final_metadata", {}),
        pipeline_state=read_state(root),
    )


def write_session(root: Path, session: ConversionSession) -> None:
    write_json(
        root / CONVERSION_FILE,
        {
            "conversion_id": session.session_id,
            "tool": TOOL,
            "tool_version": __version__,
            "start_time": session.start_time,
            "end_time": session.end_time,
            "source_path": session.dataset_path,
            "status": session.status,
            "iteration": session.iteration,
            "revision": session.revision,
            "error": session.error,
            "final_metadata": session.final_metadata,
        },
    )


def read_state(root: Path) -> dict[str, Any]:
    return read_json(root / STATE_FILE, {})


def write_state(root: Path, state: Mapping[str, Any]) -> None:
    write_json(root / STATE_FILE, dict(state))
