"""One conversion's journal as index rows: the only reader of journals the index has.

The chain is verified first (``verify_journal``, the check `anc check` runs); a broken chain
does not stop the reading: every row is kept with ``trusted = 0`` and the problems go into
the ``journals`` row. Final field values come from the last trusted record of each field,
as in the reports. Input checksums come from the manifests the ``add_input`` records name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..datalad_layer.keys import key_size
from ..journal.chain import verify_journal
from ..journal.reader import clean
from ..journal.records import REVIEW_CONFIDENCE, ConfidenceLevel
from ..provenance.catalog import has_tag, read_json_object
from ..provenance.layout import CONVERSION_FILE

REVIEW_LEVELS = frozenset(
    {ConfidenceLevel.PLACEHOLDER.value, ConfidenceLevel.UNKNOWN.value, "low_evidence"}
)
STAND_IN_LEVELS = frozenset({ConfidenceLevel.PLACEHOLDER.value, ConfidenceLevel.UNKNOWN.value})
SUBJECT_ID = "Subject.subject_id"
RUN_OPERATIONS = ("run_conversion", "run_command")


@dataclass
class ConversionRows:
    """Rows of every per-conversion table for one conversion (see schema.TABLES)."""

    conversion: str
    head_seq: int
    head_hash: str
    trusted: bool
    problems: list[str]
    conversions: tuple[Any, ...] = ()
    fields: list[tuple[Any, ...]] = field(default_factory=list)
    tool_calls: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[tuple[Any, ...]] = field(default_factory=list)
    lineage: list[tuple[Any, ...]] = field(default_factory=list)
    tools: list[tuple[Any, ...]] = field(default_factory=list)
    records: int = 0

    def journal_row(self, now: str) -> tuple[Any, ...]:
        return (
            self.conversion,
            self.head_seq,
            self.head_hash,
            self.records,
            int(self.trusted),
            json.dumps(self.problems),
            now,
        )

    def table_rows(self, now: str) -> dict[str, list[tuple[Any, ...]]]:
        return {
            "conversions": [self.conversions],
            "journals": [self.journal_row(now)],
            "fields": self.fields,
            "tool_calls": self.tool_calls,
            "errors": self.errors,
            "lineage": self.lineage,
            "tools": self.tools,
        }


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def needs_review(level: str, confidence: float | None) -> bool:
    return level in REVIEW_LEVELS or (confidence is not None and confidence < REVIEW_CONFIDENCE)


def extract(root: Path, key: str) -> ConversionRows:
    """Read the conversion at ROOT (KEY: its folder relative to the lab) into rows."""
    raw: list[dict[str, Any]] = []
    check = verify_journal(root, entries=raw, max_problems=10**9)
    trusted = check.ok
    t = int(trusted)
    rows = ConversionRows(key, check.last_seq, check.last_hash, trusted, check.problems[:50])
    # what the tolerant reader gives, from the lines the check parsed (each read once)
    entries = [clean(e) for e in raw if "operation" in e]
    rows.records = len(entries)
    bad = set(check.bad_seqs)
    latest: dict[str, int] = {}  # field -> index in rows.fields of its deciding record
    latest_trusted: dict[str, bool] = {}
    cid = status = fmt = source = started = ended = error = None
    software: dict[str, str] = {}
    for e in entries:
        op, seq = e["operation"], e["seq"]
        out = e["output_data"]
        if started is None:
            started = e["time"]
        name = e["field"]
        if name is not None:
            level = e["confidence_level"]
            confidence = e["confidence"]
            row_ok = seq not in bad
            rows.fields.append(
                [
                    key,
                    seq,
                    name,
                    name.split(".", 1)[0],
                    None,  # subject: filled below
                    dumps(e.get("value")),
                    e["source"],
                    e["agent"],
                    confidence,
                    level,
                    int(needs_review(level, confidence)),
                    e["method"],
                    dumps(e["evidence"]) if e["evidence"] else None,
                    dumps(e["conflict"]) if e["conflict"] else None,
                    0,
                    t,
                ]
            )
            # the last trusted record decides; an untrusted one only when none is trusted
            if row_ok or not latest_trusted.get(name, False):
                latest[name] = len(rows.fields) - 1
                latest_trusted[name] = row_ok
            continue
        if op == "start_conversion":
            cid = out.get("conversion_id") or cid
            source = e["input_data"].get("source_path") or source
        elif op == "detect_format":
            fmt = out.get("format") or fmt
        elif op == "finalize":
            status, ended = out.get("status"), e["time"]
            error = out.get("error") or error
        elif op == "mcp_tool_call":
            rows.tool_calls.append(
                (
                    key,
                    seq,
                    str(e["input_data"].get("tool")),
                    str(out.get("status", "ok")),
                    e["agent"],
                    _number(out.get("duration_ms")),
                    _text(out.get("error")),
                    t,
                )
            )
        elif op == "error":
            detail = out.get("error")
            detail = detail if isinstance(detail, dict) else {"message": detail}
            rows.errors.append(
                (
                    key,
                    seq,
                    _text(e["input_data"].get("stage")),
                    _text(detail.get("type")),
                    _text(detail.get("message")),
                    t,
                )
            )
        elif op == "add_input":
            rows.lineage.extend(_inputs(root, key, seq, out, t))
        elif op in RUN_OPERATIONS:
            outputs = out.get("outputs")
            if isinstance(outputs, dict):
                for path, annex_key in outputs.items():
                    rows.lineage.append(
                        (key, seq, "output", str(path), _text(annex_key), _size(annex_key), t)
                    )
            if isinstance(out.get("software"), dict):
                software.update({str(k): str(v) for k, v in out["software"].items()})
    for name, where in latest.items():
        rows.fields[where][14] = 1
        if name == "NWBFile.was_generated_by":
            software = {**_generated_by(rows.fields[where][5]), **software}
    subject = _subject(rows.fields, latest.get(SUBJECT_ID))
    for row in rows.fields:
        row[4] = subject
    rows.fields = [tuple(r) for r in rows.fields]
    rows.tools = [(key, name, version, t) for name, version in sorted(software.items())]
    if status is None:  # not finalized: what the conversion's state file says
        status = str(read_json_object(root / CONVERSION_FILE).get("status", "started"))
    tag = f"conversion-{cid or root.name.removeprefix('conversion_')}"
    rows.conversions = (
        key,
        cid or root.name.removeprefix("conversion_"),
        status,
        tag if status == "completed" and has_tag(root, tag) else None,
        fmt,
        source,
        subject,
        started,
        ended,
        _text(error),
        t,
    )
    return rows


def _subject(fields: list[list[Any]], where: int | None) -> str | None:
    """The subject id, unless it is a stand-in (placeholders would make one 'subject')."""
    if where is None or fields[where][9] in STAND_IN_LEVELS:
        return None
    value = orjson.loads(fields[where][5])
    return value if isinstance(value, str) and value else None


def _generated_by(value: str) -> dict[str, str]:
    try:
        pairs = orjson.loads(value)
        return {str(n): str(v) for n, v in pairs}
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return {}


def _inputs(root: Path, key: str, seq: int, out: dict[str, Any], t: int) -> list[tuple[Any, ...]]:
    """An add_input record's files: from its manifest, or the dataset it references."""
    source = str(out.get("source") or "")
    manifest = out.get("path")
    if isinstance(manifest, str) and manifest.endswith(".manifest.json"):
        files = read_json_object(root / manifest).get("files") or []
        found = [
            (
                key,
                seq,
                "input",
                f"{source.rstrip('/')}/{f['path']}",
                f"sha256:{f['sha256']}" if f.get("sha256") else None,
                f.get("size"),
                t,
            )
            for f in files
            if isinstance(f, dict) and "path" in f
        ]
        if found:
            return found
    checksum = None
    if out.get("dataset_id"):
        checksum = f"datalad:{out['dataset_id']}@{out.get('dataset_commit') or ''}"
    return [(key, seq, "input", source, checksum, out.get("bytes"), t)]


def _size(annex_key: Any) -> int | None:
    return key_size(annex_key) if isinstance(annex_key, str) else None


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return dumps(value)
