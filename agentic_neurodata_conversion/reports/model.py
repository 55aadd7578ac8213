"""ConversionView: everything a report shows, built from the journal in one streaming pass.

The journal is checked first (``verify_journal``); when its hash chain is broken the view
keeps the problems and flags every untrusted record, and final field values come from the
last trusted record. Files in the dataset are read only where the journal cannot say:
``reports/validation.json`` (validation counts), annex keys of outputs (``readlink``), the
DataLad dataset id. Values stay in their journal (JSON-safe, type-tagged) encoding.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..datalad_layer.keys import AnnexKey, key_of_file
from ..errors import UsageError
from ..journal.chain import (
    JOURNAL_DIR,
    JournalCheck,
    verify_journal,
)
from ..journal.reader import as_dict, as_int, read_entries
from ..journal.records import HUMAN_LEVELS, ConfidenceLevel, parse_level
from ..provenance.field_report import review_reasons

CONVERSION_FILE = Path("provenance") / "conversion.json"
VALIDATION_FILE = Path("reports") / "validation.json"
# Confidence histogram: ten bins of 0.1, the last one closed ([0.9, 1.0]).
CONFIDENCE_BINS = tuple(f"{i / 10:.1f}-{(i + 1) / 10:.1f}" for i in range(10))
LEVEL_ORDER = tuple(level.value for level in ConfidenceLevel)
EVENT_KINDS = {
    "start_conversion": "start",
    "detect_format": "detection",
    "state_update": "stage",
    "checkpoint": "checkpoint",
    "save_artifact": "artifact",
    "add_input": "input",
    "error": "error",
    "finalize": "finalize",
    "crash_recovery": "recovery",
    "mcp_tool_call": "tool_call",
}


@dataclass(slots=True)
class HistoryEntry:
    """One decision about a field."""

    seq: int
    time: str
    source: str
    agent: str | None
    operation: str
    value: Any
    confidence: float | None
    level: str
    method: str | None
    reasoning: list[str]
    evidence: list[Any]
    conflict: dict[str, Any] | None
    trusted: bool


@dataclass(slots=True)
class FieldView:
    """An NWB metadata field: its final value and every decision that led to it."""

    name: str
    history: list[HistoryEntry]
    final: HistoryEntry
    needs_review: bool
    review_reasons: list[str]
    conflicts: int

    @property
    def is_human_decision(self) -> bool:
        return parse_level(self.final.level) in HUMAN_LEVELS


@dataclass(slots=True)
class Event:
    """A pipeline record that is not a field decision: stage, tool call, error, artifact..."""

    seq: int
    time: str
    kind: str
    operation: str
    agent: str | None
    source: str
    title: str
    status: str  # ok | error | retry
    detail: dict[str, Any]
    trusted: bool


@dataclass(slots=True)
class Stage:
    name: str
    start: str
    end: str | None
    seq: int


@dataclass(slots=True)
class AgentView:
    name: str
    kind: str  # person | ai_model | mcp_client | software
    records: int = 0
    fields: int = 0
    first_time: str = ""
    last_time: str = ""
    operations: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Artifact:
    path: str
    artifact_type: str
    size: int
    seq: int
    time: str
    description: str
    annex_key: str | None
    trusted: bool


@dataclass(slots=True)
class InputView:
    name: str
    mode: str
    path: str
    source: str
    files: int
    bytes: int
    reason: str
    dataset_id: str | None
    dataset_commit: str | None
    seq: int
    time: str


@dataclass(slots=True)
class Integrity:
    """What ``verify_journal`` found; records in ``untrusted`` are shown but not relied on."""

    ok: bool
    problems: list[str]
    warnings: list[str]
    untrusted: list[int]

    @classmethod
    def of(cls, check: JournalCheck) -> Integrity:
        return cls(check.ok, list(check.problems), list(check.warnings), sorted(check.bad_seqs))


@dataclass(slots=True)
class Overview:
    conversion_id: str
    status: str  # started | completed | failed | cancelled
    start_time: str
    end_time: str | None
    duration_s: float | None
    source_path: str
    tool: str
    tool_version: str
    tag: str | None
    error: str | None
    iterations: int
    input_bytes: int
    output_bytes: int
    dataset_id: str | None
    final_metadata: dict[str, Any]
    # From the latest detect_format record: the format, how it was decided, its streams.
    recording_format: str | None = None
    format_method: str | None = None
    format_confidence: float | None = None
    streams: list[str] = field(default_factory=list)
    converted_stream: str | None = None


@dataclass(slots=True)
class ConversionView:
    """The one model every renderer reads."""

    path: Path
    overview: Overview
    integrity: Integrity
    records: int
    fields: dict[str, FieldView]
    events: list[Event]
    stages: list[Stage]
    agents: dict[str, AgentView]
    artifacts: list[Artifact]
    inputs: list[InputView]
    validation: dict[str, Any] | None
    counts: dict[str, dict[str, int]]

    @property
    def needs_review(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.needs_review]

    @property
    def reproduce(self) -> list[str]:
        return [
            f"datalad clone {self.path} conversion && cd conversion",
            "anc check .             # dataset and journal integrity",
            "anc verify .            # re-executes the recorded run in a clone and compares outputs",
            "anc report . --format html -o report.html   # rebuild this report from the journal",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the ``json`` report format)."""
        return {
            "format": "anc-conversion-report/1",
            "path": str(self.path),
            "overview": asdict(self.overview),
            "integrity": asdict(self.integrity),
            "records": self.records,
            "counts": self.counts,
            "needs_review": self.needs_review,
            "fields": {
                name: {
                    "final_value": f.final.value,
                    "source": f.final.source,
                    "agent": f.final.agent,
                    "confidence": f.final.confidence,
                    "confidence_level": f.final.level,
                    "method": f.final.method,
                    "seq": f.final.seq,
                    "trusted": f.final.trusted,
                    "is_human_decision": f.is_human_decision,
                    "needs_review": f.needs_review,
                    "review_reasons": f.review_reasons,
                    "conflicts": f.conflicts,
                    "history": [_plain(h) for h in f.history],
                }
                for name, f in self.fields.items()
            },
            "stages": [asdict(s) for s in self.stages],
            "events": [_plain(e) for e in self.events],
            "agents": {name: asdict(a) for name, a in self.agents.items()},
            "inputs": [asdict(i) for i in self.inputs],
            "artifacts": [asdict(a) for a in self.artifacts],
            "validation": self.validation,
            "reproduce": self.reproduce,
        }


def _plain(obj: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict, without ``asdict``'s deep copy (values are JSON-safe)."""
    return {name: getattr(obj, name) for name in obj.__slots__}


# --------------------------------------------------------------------------- reading


def check_conversion(path: str | Path) -> Path:
    """The absolute conversion root, or UsageError when PATH is not a conversion."""
    root = Path(path).absolute()
    if not root.is_dir():
        raise UsageError(
            f"{root} does not exist or is not a folder", "give a conversion_<id> folder"
        )
    if not (root / CONVERSION_FILE).is_file():
        raise UsageError(
            f"{root} is not a conversion (no {CONVERSION_FILE.as_posix()})",
            "give the conversion_<id> folder made by `anc convert` or the tracker",
        )
    return root


def build_view(path: str | Path) -> ConversionView:
    """Check the journal, then stream it once into a ConversionView."""
    root = check_conversion(path)
    check = verify_journal(root)
    if not (root / JOURNAL_DIR).is_dir():
        check.problem(f"{JOURNAL_DIR.as_posix()} is missing: no record can be shown")
    builder = _Builder(root, Integrity.of(check))
    for entry in read_entries(root / JOURNAL_DIR):
        builder.add(entry)
    return builder.finish()


class _Builder:
    def __init__(self, root: Path, integrity: Integrity) -> None:
        self.root = root
        self.integrity = integrity
        self.untrusted = frozenset(integrity.untrusted)
        self.records = 0
        self.history: dict[str, list[HistoryEntry]] = {}
        self.events: list[Event] = []
        self.stages: list[Stage] = []
        self.agents: dict[str, AgentView] = {}
        self.artifacts: dict[str, Artifact] = {}
        self.inputs: list[InputView] = []
        self.by_source: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.confidence_bins: Counter[str] = Counter()
        self.start: dict[str, Any] | None = None
        self.finalize: dict[str, Any] | None = None
        self.detection: dict[str, Any] | None = None
        self.first_time = ""
        self.iterations = 0
        self.last_error: str | None = None
        self.failed_calls: set[tuple[str | None, str]] = set()

    def add(self, entry: dict[str, Any]) -> None:
        e = entry
        self.records += 1
        seq = e["seq"]
        trusted = seq > 0 and seq not in self.untrusted
        time, op, agent, source = e["time"], e["operation"], e["agent"], e["source"]
        self.first_time = self.first_time or time
        self.by_source[source] += 1
        self.by_operation[op] += 1
        name = agent or "system"
        view = self.agents.get(name)
        if view is None:
            view = self.agents[name] = AgentView(name, "software", first_time=time)
        view.records += 1
        view.last_time = time
        view.operations[op] = view.operations.get(op, 0) + 1
        view.kind = _agent_kind(view.kind, source, op)
        if e["field"]:
            view.fields += 1
            self._field(e["field"], e, seq, time, op, agent, source, trusted)
        else:
            self._event(e, seq, time, op, agent, source, trusted)

    def _field(
        self,
        name: str,
        e: dict[str, Any],
        seq: int,
        time: str,
        op: str,
        agent: str | None,
        source: str,
        trusted: bool,
    ) -> None:
        confidence = e.get("confidence")
        self.history.setdefault(name, []).append(
            HistoryEntry(
                seq=seq,
                time=time,
                source=source,
                agent=agent,
                operation=op,
                value=e.get("value"),
                confidence=confidence,
                level=e["confidence_level"],
                method=e.get("method"),
                reasoning=e["reasoning"],
                evidence=e["evidence"],
                conflict=e.get("conflict"),
                trusted=trusted,
            )
        )
        if confidence is not None:
            self.confidence_bins[CONFIDENCE_BINS[min(int(confidence * 10), 9)]] += 1
        else:
            self.confidence_bins["none"] += 1

    def _event(
        self,
        e: dict[str, Any],
        seq: int,
        time: str,
        op: str,
        agent: str | None,
        source: str,
        trusted: bool,
    ) -> None:
        inp = e["input_data"]
        out = e["output_data"]
        kind = EVENT_KINDS.get(op, "operation")
        status = "ok"
        title = op
        detail: dict[str, Any] = {}
        if kind == "start":
            self.start = self.start or e
            title = f"start conversion {out.get('conversion_id', '')}".strip()
            detail = {"source_path": inp.get("source_path"), **(e.get("metadata") or {})}
        elif kind == "detection":
            self.detection = e
            title = f"format: {out.get('format', '?')}"
            detail = {**out, "reasoning": e.get("reasoning") or []}
        elif kind == "stage":
            changes = (e.get("metadata") or {}).get("state_changes") or {}
            new_state = out.get("new_state") or {}
            detail = {"changes": changes}
            stage = changes.get("stage") if isinstance(changes, dict) else None
            if stage is not None and (not self.stages or self.stages[-1].name != str(stage)):
                if self.stages:
                    self.stages[-1].end = time
                self.stages.append(Stage(str(stage), time, None, seq))
                title = f"stage: {stage}"
            else:
                keys = ", ".join(sorted(changes)) if isinstance(changes, dict) else ""
                title = f"state update: {keys or 'no change'}"
            detail["state"] = new_state
        elif kind == "checkpoint":
            self.iterations = max(self.iterations, as_int(out.get("iteration")))
            title = f"iteration {out.get('iteration')}: {out.get('message', '')}"
            detail = dict(out)
        elif kind == "artifact":
            path = str(out.get("path", ""))
            title = f"{out.get('artifact_type', 'artifact')}: {path}"
            detail = {**out, "mode": inp.get("mode")}
            meta = e.get("metadata") or {}
            self.artifacts[path] = Artifact(
                path=path,
                artifact_type=str(out.get("artifact_type", "")),
                size=as_int(out.get("size")),
                seq=seq,
                time=time,
                description=str(meta.get("description") or ""),
                annex_key=_annex_key(self.root / path) if path else None,
                trusted=trusted,
            )
        elif kind == "input":
            title = f"input {out.get('name', '')} ({out.get('mode', '')})"
            detail = dict(out)
            self.inputs.append(
                InputView(
                    name=str(out.get("name", "")),
                    mode=str(out.get("mode", "")),
                    path=str(out.get("path", "")),
                    source=str(out.get("source", "")),
                    files=as_int(out.get("files")),
                    bytes=as_int(out.get("bytes")),
                    reason=str(out.get("reason", "")),
                    dataset_id=out.get("dataset_id"),
                    dataset_commit=out.get("dataset_commit"),
                    seq=seq,
                    time=time,
                )
            )
        elif kind == "error":
            err = out.get("error")
            message = err.get("message") if isinstance(err, dict) else err
            self.last_error = str(message)
            status = "error"
            title = f"error in {inp.get('stage') or '-'}: {message}"
            detail = {
                "stage": inp.get("stage"),
                "error": err,
                "recovery": out.get("recovery"),
                "outcome": out.get("outcome"),
            }
        elif kind == "finalize":
            self.finalize = e
            title = f"finalize: {out.get('status')}"
            detail = {"status": out.get("status"), "error": out.get("error")}
        elif kind == "recovery":
            title = "crash recovery"
            detail = {**out, "reasoning": e.get("reasoning") or []}
        elif kind == "tool_call":
            tool = str(inp.get("tool", "?"))
            key = (agent, tool)
            # The MCP server marks failures (status, error) and retries (retry_of); a call
            # after a failed call of the same tool by the same client is a retry too.
            retried = "retry_of" in out or key in self.failed_calls
            if out.get("error") is not None or out.get("status") in ("error", "refused"):
                status = "error"
                self.failed_calls.add(key)
            else:
                status = "retry" if retried else "ok"
                self.failed_calls.discard(key)
            title = f"tool {tool}" + (" (retry)" if retried else "")
            detail = {
                "tool": tool,
                "arguments": inp.get("arguments"),
                "status": out.get("status"),
                "result": out.get("result"),
                "error": out.get("error"),
                "duration_ms": out.get("duration_ms"),
                "retry_of": out.get("retry_of"),
            }
        else:
            detail = {"input": inp, "output": out}
        self.events.append(
            Event(seq, time, kind, op, agent, source, title, status, detail, trusted)
        )

    def finish(self) -> ConversionView:
        fields: dict[str, FieldView] = {}
        by_level: Counter[str] = Counter()
        conflicts_total = 0
        for name in sorted(self.history):
            items = self.history[name]
            trusted = [h for h in items if h.trusted]
            final = trusted[-1] if trusted else items[-1]
            reasons = review_reasons(parse_level(final.level), final.confidence)
            if not final.trusted:
                reasons.append("its record failed the journal check")
            conflicts = sum(1 for h in items if h.conflict)
            conflicts_total += conflicts
            by_level[final.level] += 1
            fields[name] = FieldView(name, items, final, bool(reasons), reasons, conflicts)
        if self.stages:
            self.stages[-1].end = self.finalize["time"] if self.finalize else None
        overview = self._overview()
        review = sum(1 for f in fields.values() if f.needs_review)
        counts = {
            "totals": {
                "records": self.records,
                "fields": len(fields),
                "needs_review": review,
                "conflicts": conflicts_total,
                "errors": sum(1 for ev in self.events if ev.status == "error"),
                "tool_calls": self.by_operation.get("mcp_tool_call", 0),
                "untrusted": len(self.integrity.untrusted),
            },
            "by_source": dict(sorted(self.by_source.items())),
            "by_operation": dict(sorted(self.by_operation.items())),
            "by_agent": {n: a.records for n, a in sorted(self.agents.items())},
            "by_level": {k: by_level[k] for k in LEVEL_ORDER if by_level[k]},
            "confidence": {
                k: self.confidence_bins[k]
                for k in (*CONFIDENCE_BINS, "none")
                if k in self.confidence_bins
            },
        }
        return ConversionView(
            path=self.root,
            overview=overview,
            integrity=self.integrity,
            records=self.records,
            fields=fields,
            events=self.events,
            stages=self.stages,
            agents=dict(sorted(self.agents.items())),
            artifacts=sorted(self.artifacts.values(), key=lambda a: a.path),
            inputs=self.inputs,
            validation=_validation(self.root),
            counts=counts,
        )

    def _overview(self) -> Overview:
        start = self.start or {}
        out = start.get("output_data") or {}
        meta = start.get("metadata") or {}
        fin = (self.finalize or {}).get("output_data") or {}
        status = str(fin.get("status") or "started")
        conversion_id = str(out.get("conversion_id") or self.root.name.removeprefix("conversion_"))
        start_time = str(start.get("time") or self.first_time)
        end_time = self.finalize.get("time") if self.finalize else None
        detected = (self.detection or {}).get("output_data") or {}
        return Overview(
            conversion_id=conversion_id,
            status=status,
            start_time=start_time,
            end_time=end_time,
            duration_s=_seconds(start_time, end_time),
            source_path=str((start.get("input_data") or {}).get("source_path") or ""),
            tool=str(meta.get("tool") or "agentic-neurodata-conversion"),
            tool_version=str(meta.get("version") or ""),
            tag=(fin.get("tag") or f"conversion-{conversion_id}")
            if status == "completed"
            else None,
            error=str(fin["error"]) if fin.get("error") else self.last_error,
            iterations=self.iterations,
            input_bytes=sum(i.bytes for i in self.inputs),
            output_bytes=sum(a.size for a in self.artifacts.values()),
            dataset_id=_dataset_id(self.root),
            final_metadata=as_dict(fin.get("final_metadata")),
            recording_format=detected.get("format"),
            format_method=detected.get("method"),
            format_confidence=detected.get("confidence"),
            streams=[str(s) for s in detected.get("streams") or []],
            converted_stream=detected.get("stream")
            or as_dict(detected.get("source_data")).get("stream_id"),
        )


def _agent_kind(current: str, source: str, operation: str) -> str:
    """The strongest kind seen: person > AI model > MCP client > software."""
    if operation == "mcp_tool_call":  # recorded as ai_generated, but by the client
        kind = "mcp_client"
    elif source == "user_provided":
        kind = "person"
    elif source == "ai_generated":
        kind = "ai_model"
    else:
        kind = "software"
    rank = ("software", "mcp_client", "ai_model", "person")
    return kind if rank.index(kind) > rank.index(current) else current


def _seconds(start: str, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round(
            (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3
        )
    except ValueError:
        return None


def _annex_key(path: Path) -> str | None:
    """The git-annex key of an annexed file (its symlink's target name), without reading it."""
    key = key_of_file(path)
    return str(key) if key is not None else None


def annex_key_info(key: str) -> tuple[str, int | None, str]:
    """(backend, size, hash) of a git-annex key such as ``SHA256E-s12--<hex>.nwb``."""
    parsed = AnnexKey.parse(key)
    return parsed.backend, parsed.size, parsed.hash


def _dataset_id(root: Path) -> str | None:
    """The DataLad dataset id from .datalad/config (a git-config file)."""
    try:
        text = (root / ".datalad" / "config").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "id":
            return value.strip()
    return None


def _validation(root: Path) -> dict[str, Any] | None:
    path = root / VALIDATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {"file": VALIDATION_FILE.as_posix(), "error": "not valid JSON"}
    if not isinstance(data, dict):
        return {"file": VALIDATION_FILE.as_posix(), "error": "not a JSON object"}
    issues = data.get("issues") or []
    return {
        "file": VALIDATION_FILE.as_posix(),
        "nwb_file": data.get("nwb_file"),
        "passes": data.get("passes"),
        "config": data.get("config"),
        "counts": data.get("counts") or {},
        "schema_errors": len(data.get("schema_errors") or []),
        "issues": issues[:50],
        "issues_total": len(issues),
        "tools": data.get("tools") or {},
    }
