"""Questions across conversions, answered from the index.

A ``Query`` combines filters (all must hold). The answer's rows are of the most specific
kind a filter asks about, and every other filter restricts the conversions they come from:

    inconsistent            one row per subject and field whose sessions disagree
    field, level, needs_review, source, max_confidence
                            one row per field (its final value in a conversion)
    tool (+ status)         one row per tool call
    derived_from            one row per output made from that input
    otherwise               one row per conversion (status, tool_version filter these)

Every row says whether it comes from a journal whose hash chain holds (``trusted``); the
result lists the untrusted conversions it used, with what is wrong with their journals.
Names are checked against the index: an unknown one is refused with the closest names.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from ..errors import UsageError
from ..journal.records import ConfidenceLevel, ProvenanceSource
from .backends import Database

LEVELS = tuple(level.value for level in ConfidenceLevel)
SOURCES = tuple(source.value for source in ProvenanceSource)
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Query:
    field: str | None = None
    level: str | None = None
    needs_review: bool = False
    source: str | None = None
    max_confidence: float | None = None
    tool: str | None = None
    status: str | None = None  # of the tool's calls with `tool`, else of the conversion
    derived_from: str | None = None
    tool_version: str | None = None  # a requirement: "neuroconv<0.10.2"
    inconsistent: str | None = None  # a section: "Subject"
    limit: int | None = DEFAULT_LIMIT

    @property
    def kind(self) -> str:
        if self.inconsistent:
            return "inconsistency"
        if self.field or self.level or self.needs_review or self.source:
            return "field"
        if self.max_confidence is not None:
            return "field"
        if self.tool:
            return "tool_call"
        if self.derived_from:
            return "output"
        return "conversion"


@dataclass
class ConversionHit:
    conversion: str
    conversion_id: str
    status: str
    tag: str | None
    format: str | None
    subject: str | None
    started: str | None
    ended: str | None
    trusted: bool


@dataclass
class FieldHit:
    conversion: str
    conversion_id: str
    subject: str | None
    field: str
    value: Any
    source: str
    agent: str | None
    confidence: float | None
    level: str
    needs_review: bool
    seq: int
    trusted: bool


@dataclass
class ToolCallHit:
    conversion: str
    conversion_id: str
    seq: int
    tool: str
    status: str
    client: str | None
    duration_ms: float | None
    error: str | None
    trusted: bool


@dataclass
class OutputHit:
    conversion: str
    conversion_id: str
    input: str
    output: str
    annex_key: str | None
    trusted: bool


@dataclass
class Inconsistency:
    subject: str
    field: str
    values: dict[str, Any]  # conversion -> its final value
    conversions: list[str]
    trusted: bool


HITS = {
    "conversion": ConversionHit,
    "field": FieldHit,
    "tool_call": ToolCallHit,
    "output": OutputHit,
    "inconsistency": Inconsistency,
}


@dataclass
class QueryResult:
    kind: str
    rows: list[Any]
    total: int
    untrusted: dict[str, list[str]] = field(default_factory=dict)  # conversion -> problems
    notes: list[str] = field(default_factory=list)
    milliseconds: float = 0.0

    @property
    def columns(self) -> list[str]:
        return [f.name for f in fields(HITS[self.kind])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "rows": [asdict(r) for r in self.rows],
            "total": self.total,
            "untrusted": self.untrusted,
            "notes": self.notes,
        }


def run_query(db: Database, query: Query) -> QueryResult:
    """Answer QUERY from the index DB (see the module's docstring for the row kinds)."""
    started = time.perf_counter()
    where, params = _conversion_filters(db, query)
    kind = query.kind
    limit = query.limit
    if kind == "inconsistency":
        rows = _inconsistencies(db, query, where, params)
    elif kind == "field":
        rows = _fields(db, query, where, params, limit)
    elif kind == "tool_call":
        rows = _select(
            db,
            "SELECT t.conversion, NULL, t.seq, t.tool, t.status, t.client, "
            "t.duration_ms, t.error, t.trusted FROM tool_calls t",
            ["t.tool = ?", *(["t.status = ?"] if query.status else []), *where("t")],
            [query.tool, *([query.status] if query.status else []), *params],
            "t.conversion, t.seq",
            limit,
            ToolCallHit,
        )
    elif kind == "output":
        rows = _select(
            db,
            "SELECT o.conversion, NULL, MIN(i.path), o.path, o.checksum, MIN(o.trusted) "
            "FROM lineage o JOIN lineage i ON i.conversion = o.conversion AND i.kind = 'input'",
            ["o.kind = 'output'", *_input_match("i"), *where("o")],
            [*_input_params(query.derived_from), *params],
            "o.conversion, o.path",
            limit,
            OutputHit,
            group="o.conversion, o.path, o.checksum",
        )
    else:
        rows = _select(
            db,
            "SELECT c.conversion, c.conversion_id, c.status, c.tag, c.format, c.subject, "
            "c.started, c.ended, c.trusted FROM conversions c",
            [*(["c.status = ?"] if query.status else []), *where("c")],
            [*([query.status] if query.status else []), *params],
            "c.conversion",
            limit,
            ConversionHit,
        )
    hits, total = rows
    if kind in ("field", "tool_call", "output"):
        _fill_ids(db, hits)
    result = QueryResult(kind, hits, total)
    result.untrusted = _untrusted(db, hits)
    result.milliseconds = (time.perf_counter() - started) * 1000
    return result


# ---------------------------------------------------------------------------- filters


def _conversion_filters(db: Database, query: Query) -> tuple[Any, list[Any]]:
    """The filters that restrict conversions (not the kind's own), as SQL on ALIAS."""
    clauses: list[str] = []
    params: list[Any] = []
    kind = query.kind
    if query.tool and kind != "tool_call":
        sub = "SELECT conversion FROM tool_calls WHERE tool = ?"
        params.append(query.tool)
        if query.status:
            sub += " AND status = ?"
            params.append(query.status)
        clauses.append(f"IN ({sub})")
    if query.status and not query.tool and kind != "conversion":
        clauses.append("IN (SELECT conversion FROM conversions WHERE status = ?)")
        params.append(query.status)
    if query.derived_from and kind != "output":
        match = " AND ".join(_input_match("lineage"))
        clauses.append(f"IN (SELECT conversion FROM lineage WHERE {match})")
        params.extend(_input_params(query.derived_from))
    if query.tool_version:
        name, versions = _matching_versions(db, query.tool_version)
        marks = ", ".join("?" * len(versions)) or "NULL"
        clauses.append(f"IN (SELECT conversion FROM tools WHERE name = ? AND version IN ({marks}))")
        params.extend([name, *versions])
    if kind == "inconsistency" and (query.field or query.level or query.source):
        raise UsageError(
            "--inconsistent compares final values across sessions: it takes no --field, "
            "--level or --source",
            "ask for the subject's fields separately",
        )

    def where(alias: str) -> list[str]:
        return [f"{alias}.conversion {c}" for c in clauses]

    return where, params


def _input_match(alias: str) -> list[str]:
    # the input itself, or a file inside the folder given (a range: index-friendly, no LIKE)
    return [
        f"{alias}.kind = 'input'",
        f"({alias}.path = ? OR ({alias}.path > ? AND {alias}.path < ?))",
    ]


def _input_params(path: str | None) -> list[str]:
    text = str(Path(path).absolute()).rstrip("/") if path else ""
    return [text, text + "/", text + "0"]  # "0" follows "/" in every collation we use


def _matching_versions(db: Database, text: str) -> tuple[str, list[str]]:
    """The tool a requirement names and the indexed versions of it that satisfy it."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(
            f"malformed version constraint {text!r}: {str(exc).splitlines()[0]}",
            "write NAME then a PEP 440 specifier, e.g. 'neuroconv<0.10.2' or 'pynwb>=3,<4'",
        ) from None
    name = requirement.name
    known = db.fetchall("SELECT DISTINCT version FROM tools WHERE name = ?", (name,))
    if not known:
        names = [r[0] for r in db.fetchall("SELECT DISTINCT name FROM tools")]
        raise UsageError(f"no conversion records a version of {name!r}", _closest(name, names))
    wanted = []
    for (version,) in known:
        try:
            if requirement.specifier.contains(Version(version), prereleases=True):
                wanted.append(version)
        except InvalidVersion:
            continue
    return name, wanted


def _closest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(repr(c) for c in close) + "?"
    if not known:
        return "the index holds none: is it built, and are the conversions there?"
    listed = sorted(known)[:5]
    more = f" and {len(known) - 5} more" if len(known) > 5 else ""
    return "the index knows " + ", ".join(repr(k) for k in listed) + more


def check_names(db: Database, query: Query) -> None:
    """Refuse names the index has never seen, with the closest ones."""
    if query.level and query.level not in LEVELS:
        raise UsageError(
            f"unknown confidence level {query.level!r}", _closest(query.level, list(LEVELS))
        )
    if query.source and query.source not in SOURCES:
        raise UsageError(
            f"unknown provenance source {query.source!r}", _closest(query.source, list(SOURCES))
        )
    if query.max_confidence is not None and not 0 <= query.max_confidence <= 1:
        raise UsageError(
            f"--max-confidence {query.max_confidence} is outside 0-1", "give a number from 0 to 1"
        )
    if query.field and not db.fetchone(
        "SELECT 1 FROM fields WHERE field = ? LIMIT 1", (query.field,)
    ):
        names = [r[0] for r in db.fetchall("SELECT DISTINCT field FROM fields")]
        raise UsageError(f"unknown field {query.field!r}", _closest(query.field, names))
    if query.inconsistent and not db.fetchone(
        "SELECT 1 FROM fields WHERE section = ? LIMIT 1", (query.inconsistent,)
    ):
        names = [r[0] for r in db.fetchall("SELECT DISTINCT section FROM fields")]
        raise UsageError(
            f"unknown section {query.inconsistent!r}", _closest(query.inconsistent, names)
        )
    if query.status:
        table = "tool_calls" if query.tool else "conversions"
        known = [r[0] for r in db.fetchall(f"SELECT DISTINCT status FROM {table}")]
        if query.status not in known:
            whose = "tool call" if query.tool else "conversion"
            raise UsageError(
                f"no {whose} has status {query.status!r}", _closest(query.status, known)
            )
    if query.tool and not db.fetchone(
        "SELECT 1 FROM tool_calls WHERE tool = ? LIMIT 1", (query.tool,)
    ):
        names = [r[0] for r in db.fetchall("SELECT DISTINCT tool FROM tool_calls")]
        raise UsageError(f"no tool call of {query.tool!r} is indexed", _closest(query.tool, names))


# ---------------------------------------------------------------------------- row kinds


def _select(
    db: Database,
    head: str,
    clauses: list[str],
    params: list[Any],
    order: str,
    limit: int | None,
    hit: type,
    *,
    group: str | None = None,
) -> tuple[list[Any], int]:
    sql = head + (" WHERE " + " AND ".join(clauses) if clauses else "")
    if group:
        sql += f" GROUP BY {group}"
    tail = f" ORDER BY {order}" + (f" LIMIT {int(limit) + 1}" if limit is not None else "")
    rows = db.fetchall(sql + tail, params)
    total = len(rows)
    if limit is not None and total > limit:
        rows = rows[:limit]
        total = db.fetchone(f"SELECT COUNT(*) FROM ({sql}) AS matched", params)[0]
    return [_hit(hit, r) for r in rows], total


def _hit(hit: type, row: tuple[Any, ...]) -> Any:
    values = list(row)
    values[-1] = bool(values[-1])  # trusted
    return hit(*values)


def _fields(db: Database, query: Query, where: Any, params: list[Any], limit: int | None) -> Any:
    clauses, own = ["f.latest = 1"], []
    if query.field:
        clauses.append("f.field = ?")
        own.append(query.field)
    if query.level:
        clauses.append("f.level = ?")
        own.append(query.level)
    if query.needs_review:
        clauses.append("f.needs_review = 1")
    if query.source:
        clauses.append("f.source = ?")
        own.append(query.source)
    if query.max_confidence is not None:
        clauses.append("f.confidence <= ?")
        own.append(query.max_confidence)
    hits, total = _select(
        db,
        "SELECT f.conversion, NULL, f.subject, f.field, f.value, f.source, f.agent, "
        "f.confidence, f.level, f.needs_review, f.seq, f.trusted FROM fields f",
        [*clauses, *where("f")],
        [*own, *params],
        "f.conversion, f.field",
        limit,
        FieldHit,
    )
    for h in hits:
        h.value = orjson.loads(h.value)
        h.needs_review = bool(h.needs_review)
    return hits, total


def _inconsistencies(db: Database, query: Query, where: Any, params: list[Any]) -> Any:
    """Subjects whose sessions disagree on a field of the section (final values that are
    not stand-ins)."""
    section = query.inconsistent
    clauses = [
        "f.latest = 1",
        "f.section = ?",
        "f.subject IS NOT NULL",
        "f.field <> ?",
        "f.level NOT IN ('placeholder', 'unknown')",  # a stand-in is nobody's claim
        *where("f"),
    ]
    base = " AND ".join(clauses)
    args = [section, "Subject.subject_id" if section == "Subject" else "", *params]
    pairs = db.fetchall(
        f"SELECT f.subject, f.field FROM fields f WHERE {base} GROUP BY f.subject, f.field "
        "HAVING COUNT(DISTINCT f.value) > 1 ORDER BY f.subject, f.field",
        args,
    )
    total = len(pairs)
    if query.limit is not None:
        pairs = pairs[: query.limit]
    hits = []
    for subject, name in pairs:
        rows = db.fetchall(
            f"SELECT f.conversion, f.value, f.trusted FROM fields f WHERE {base} "
            "AND f.subject = ? AND f.field = ? ORDER BY f.conversion",
            [*args, subject, name],
        )
        hits.append(
            Inconsistency(
                subject=subject,
                field=name,
                values={c: orjson.loads(v) for c, v, _ in rows},
                conversions=[c for c, _, _ in rows],
                trusted=all(t for _, _, t in rows),
            )
        )
    return hits, total


def _fill_ids(db: Database, hits: list[Any]) -> None:
    """Each row's conversion id, in one look-up for the rows shown (a join in the query
    would be paid for every matching row, and by its count)."""
    keys = sorted({h.conversion for h in hits})
    ids: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        marks = ", ".join("?" * len(part))
        ids.update(
            db.fetchall(
                f"SELECT conversion, conversion_id FROM conversions WHERE conversion IN ({marks})",
                part,
            )
        )
    for h in hits:
        h.conversion_id = ids.get(h.conversion, h.conversion)


def _untrusted(db: Database, hits: list[Any]) -> dict[str, list[str]]:
    """The untrusted conversions among the rows, with their journals' problems."""
    names: set[str] = set()
    for h in hits:
        if not h.trusted:
            names.update(h.conversions if isinstance(h, Inconsistency) else [h.conversion])
    found = {}
    for name in sorted(names):
        row = db.fetchone("SELECT problems FROM journals WHERE conversion = ?", (name,))
        found[name] = json.loads(row[0]) if row and row[0] else []
    return found
