"""The HTML report: one self-contained file (styles, script and data inline, no fetches).

The page template, stylesheet and script live in ``assets/``; the view goes in as compact
JSON (rows as arrays, long values cut) in a ``<script type="application/json">`` tag. The
script pages the tables, so tens of thousands of records stay responsive. The integrity
warning is rendered here, in HTML, so it shows even where scripts do not run.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import orjson

from .markdown import MAX_LISTED_SEQS
from .model import ConversionView, FieldView

# Longest value text embedded per cell; the JSON and PROV exports keep values whole.
VALUE_LIMIT = 2000
HISTORY_VALUE_LIMIT = 500
DETAIL_LIMIT = 2000
TIMELINE_BINS = 120
MAX_LANES = 12
MAX_MARKERS = 2000
MAX_GRAPH_AGENTS = 12
FIELD_COLS = (
    "name",
    "value",
    "source",
    "agent",
    "confidence",
    "level",
    "review",
    "human",
    "conflicts",
    "trusted",
    "reasons",
)
HIST_COLS = (
    "seq",
    "time",
    "source",
    "agent",
    "operation",
    "value",
    "confidence",
    "level",
    "method",
    "reasoning",
    "evidence",
    "conflict",
    "trusted",
)
EVENT_COLS = ("seq", "time", "kind", "agent", "title", "status", "trusted", "detail")


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return None


def _field_row(f: FieldView) -> list[Any]:
    h = f.final
    return [
        f.name,
        _text(h.value, VALUE_LIMIT),
        h.source,
        h.agent,
        h.confidence,
        h.level,
        int(f.needs_review),
        int(f.is_human_decision),
        f.conflicts,
        int(h.trusted),
        "; ".join(f.review_reasons),
    ]


def _history(f: FieldView) -> list[list[Any]]:
    return [
        [
            h.seq,
            h.time,
            h.source,
            h.agent,
            h.operation,
            _text(h.value, HISTORY_VALUE_LIMIT),
            h.confidence,
            h.level,
            h.method,
            _text(" ".join(map(str, h.reasoning)), HISTORY_VALUE_LIMIT) if h.reasoning else None,
            _text(h.evidence, HISTORY_VALUE_LIMIT) if h.evidence else None,
            h.conflict,
            int(h.trusted),
        ]
        for h in f.history
    ]


def _timeline(view: ConversionView) -> tuple[dict[str, Any], list[list[Any]]]:
    """Per-agent record counts in time bins, and markers for errors, retries, checkpoints."""
    times = [
        (t, ev.agent or "system") for ev in view.events if (t := _seconds(ev.time)) is not None
    ]
    times += [
        (t, h.agent or "system")
        for f in view.fields.values()
        for h in f.history
        if (t := _seconds(h.time)) is not None
    ]
    t0 = min((t for t, _ in times), default=0.0)
    t1 = max((t for t, _ in times), default=1.0)
    span = max(t1 - t0, 1e-9)
    busiest = [name for name, _ in Counter(a for _, a in times).most_common()]
    lanes = busiest[:MAX_LANES]
    lane_of = {name: i for i, name in enumerate(lanes)}
    if len(busiest) > MAX_LANES:
        lanes.append("other agents")
    bins = [[0] * TIMELINE_BINS for _ in lanes]
    for t, agent in times:
        lane = lane_of.get(agent, len(lanes) - 1)
        bins[lane][min(int((t - t0) / span * TIMELINE_BINS), TIMELINE_BINS - 1)] += 1
    markers: list[list[Any]] = []
    for ev in view.events:
        kind = "stage" if ev.kind == "stage" and ev.title.startswith("stage:") else ev.kind
        if ev.status in ("error", "retry"):
            kind = ev.status
        elif kind not in ("checkpoint", "finalize", "stage"):
            continue
        t = _seconds(ev.time)
        if t is not None and len(markers) < MAX_MARKERS:
            lane = lane_of.get(ev.agent or "system", len(lanes) - 1)
            markers.append([t, kind, lane, f"seq {ev.seq}: {_text(ev.title, 200)}"])
    agents = [
        {
            "name": name,
            "kind": view.agents[name].kind if name in view.agents else "grouped",
            "bins": b,
        }
        for name, b in zip(lanes, bins, strict=True)
    ]
    start = min((ev.time for ev in view.events), default="")
    end = max((ev.time for ev in view.events), default="")
    return {"t0": t0, "t1": t1, "start": start, "end": end, "agents": agents}, markers


def _graph(view: ConversionView) -> dict[str, Any]:
    """PROV graph grouped by kind: agents, activities (by operation), entity groups."""
    nodes: list[dict[str, Any]] = []
    edges: list[list[Any]] = []
    agents = sorted(view.agents.values(), key=lambda a: (-a.records, a.name))
    shown = agents[:MAX_GRAPH_AGENTS]
    for a in shown:
        nodes.append(
            {
                "id": f"agent:{a.name}",
                "label": a.name,
                "kind": a.kind,
                "type": "agent",
                "count": a.records,
            }
        )
    if len(agents) > len(shown):
        rest = agents[len(shown) :]
        nodes.append(
            {
                "id": "agent:*",
                "label": "other agents",
                "type": "agent",
                "count": sum(a.records for a in rest),
            }
        )
    nodes.append({"id": "act:run", "label": "conversion run", "type": "activity", "count": 1})
    for op, n in view.counts["by_operation"].items():
        nodes.append({"id": f"act:{op}", "label": op, "type": "activity", "count": n})
    for a in agents:
        target = f"agent:{a.name}" if a in shown else "agent:*"
        for op, n in a.operations.items():
            edges.append([f"act:{op}", target, "wasAssociatedWith", n])
    value_ops: Counter[str] = Counter()
    candidate_ops: Counter[str] = Counter()
    derivations = 0
    for f in view.fields.values():
        derivations += len(f.history) - 1
        for h in f.history:
            value_ops[h.operation] += 1
            candidate_ops[h.operation] += len((h.conflict or {}).get("candidates") or [])
    if value_ops:
        nodes.append(
            {
                "id": "ent:values",
                "label": "metadata values",
                "type": "entity",
                "count": sum(value_ops.values()),
            }
        )
        for op, n in value_ops.items():
            edges.append(["ent:values", f"act:{op}", "wasGeneratedBy", n])
        if derivations:
            edges.append(["ent:values", "ent:values", "wasDerivedFrom", derivations])
    candidate_ops = +candidate_ops  # drop zero counts
    if candidate_ops:
        nodes.append(
            {
                "id": "ent:candidates",
                "label": "conflict candidates",
                "type": "entity",
                "count": sum(candidate_ops.values()),
            }
        )
        for op, n in candidate_ops.items():
            edges.append([f"act:{op}", "ent:candidates", "used", n])
    if view.inputs:
        nodes.append(
            {"id": "ent:inputs", "label": "inputs", "type": "entity", "count": len(view.inputs)}
        )
        edges.append(["act:run", "ent:inputs", "used", len(view.inputs)])
    if view.artifacts:
        nodes.append(
            {
                "id": "ent:outputs",
                "label": "artifacts",
                "type": "entity",
                "count": len(view.artifacts),
            }
        )
        edges.append(["ent:outputs", "act:save_artifact", "wasGeneratedBy", len(view.artifacts)])
        if view.inputs:
            edges.append(["ent:outputs", "ent:inputs", "wasDerivedFrom", len(view.artifacts)])
    return {"nodes": nodes, "edges": edges}


def report_data(view: ConversionView) -> dict[str, Any]:
    """The compact JSON the page script renders."""
    fields = list(view.fields.values())
    lanes, markers = _timeline(view)
    overview = {
        **asdict(view.overview),
        "inputs": [{"name": i.name, "mode": i.mode, "files": i.files} for i in view.inputs],
        "artifacts": [
            {
                "path": a.path,
                "artifact_type": a.artifact_type,
                "size": a.size,
                "annex_key": a.annex_key,
            }
            for a in view.artifacts
        ],
        "reproduce": view.reproduce,
    }
    return {
        "overview": overview,
        "integrity": {
            "ok": view.integrity.ok,
            "problems": view.integrity.problems,
            "untrusted": len(view.integrity.untrusted),
        },
        "counts": view.counts,
        "fieldCols": FIELD_COLS,
        "fields": [_field_row(f) for f in fields],
        "histCols": HIST_COLS,
        "histories": [_history(f) for f in fields],
        "eventCols": EVENT_COLS,
        "events": [
            [
                ev.seq,
                ev.time,
                ev.kind,
                ev.agent,
                _text(ev.title, 300),
                ev.status,
                int(ev.trusted),
                _text(ev.detail, DETAIL_LIMIT) if ev.detail else "",
            ]
            for ev in view.events
        ],
        "stages": [
            [s.name, _seconds(s.start), _seconds(s.end) if s.end else None] for s in view.stages
        ],
        "lanes": lanes,
        "markers": markers,
        "validation": view.validation,
        "graph": _graph(view),
    }


def _banner(view: ConversionView) -> str:
    integ = view.integrity
    notes = "".join(
        f'<p class="banner warn" role="status">{html.escape(w)}</p>' for w in integ.warnings
    )
    if integ.ok:
        return notes
    items = "".join(f"<li>{html.escape(p)}</li>" for p in integ.problems)
    seqs = integ.untrusted
    listed = ", ".join(map(str, seqs[:MAX_LISTED_SEQS])) + (
        " …" if len(seqs) > MAX_LISTED_SEQS else ""
    )
    untrusted = f"<p>Untrusted records (seq): {html.escape(listed)}</p>" if seqs else ""
    return (
        '<div class="banner" id="integrity-warning" role="alert">'
        "<h2>Warning: the journal failed its integrity check</h2>"
        "<p>Records were edited, removed or reordered after they were written. Untrusted "
        "records are marked in red; final values come from the last trusted record. "
        "Run <code>anc check .</code> for details.</p>"
        f"<ul>{items}</ul>{untrusted}</div>{notes}"
    )


STAND_INS = ("placeholder", "unknown")


def _lab_section(view: ConversionView) -> str:
    """The subject's other sessions and disagreements, from the lab's index (when the
    conversion lies in an indexed lab); static HTML, links to the sessions' reports."""
    from ..index.subject import Session, subject_view

    sid = view.fields.get("Subject.subject_id")
    if sid is None or sid.final.level in STAND_INS or not isinstance(sid.final.value, str):
        return ""
    own = {
        name: f.final.value
        for name, f in view.fields.items()
        if name.startswith("Subject.") and f.final.level not in STAND_INS
    }
    o = view.overview
    here = Session("", o.conversion_id, o.status, o.start_time, view.integrity.ok, "")
    lab = subject_view(view.path, sid.final.value, own, here)
    if lab is None:
        return ""
    esc = html.escape
    rows = []
    for s in lab.sessions:
        this = s.conversion == lab.conversion
        link = f'<a href="{esc(s.report)}">{esc(s.conversion_id)}</a>'
        mark = ' class="this"' if this else ""
        note = " (this report)" if this else ""
        trusted = "yes" if s.trusted else "NO (untrusted)"
        rows.append(
            f'<tr data-conversion="{esc(s.conversion)}"{mark}><td>{link}{note}</td>'
            f"<td>{esc(s.status)}</td><td>{esc(s.started or '')}</td><td>{trusted}</td></tr>"
        )
    if lab.inconsistencies:
        items = []
        for i in lab.inconsistencies:
            values = "; ".join(
                f"{esc(c)}: <code>{esc(_text(orjson.dumps(v, default=str).decode(), 200))}</code>"
                for c, v in i.values.items()
            )
            items.append(f'<li data-field="{esc(i.field)}"><b>{esc(i.field)}</b> — {values}</li>')
        disagreements = (
            f'<p class="warn">The sessions of subject {esc(lab.subject)} disagree:</p>'
            f'<ul id="lab-inconsistencies">{"".join(items)}</ul>'
        )
    else:
        disagreements = '<p id="lab-consistent">Its sessions agree on every Subject field.</p>'
    built = f", built {esc(lab.built)}" if lab.built else ""
    return (
        f'<section id="lab-subject"><h2>Subject {esc(lab.subject)} in the lab</h2>'
        f"<p>From the provenance index of <code>{esc(str(lab.lab))}</code>{built} "
        f"(<code>anc query {esc(str(lab.lab))} --inconsistent Subject</code>): "
        f"{len(lab.sessions)} sessions.</p>"
        '<table class="grid" id="lab-sessions"><thead><tr><th>Session</th><th>Status</th>'
        f"<th>Started</th><th>Trusted</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{disagreements}</section>"
    )


def render_html(view: ConversionView) -> str:
    o = view.overview
    # "<" never appears outside JSON strings, so escaping it keeps "</script>" out of the data.
    data = orjson.dumps(report_data(view)).replace(b"<", b"\\u003c").decode()
    title = f"Conversion {o.conversion_id}: provenance report"
    page = _asset("report.html")
    for key, value in (
        ("__TITLE__", html.escape(title)),
        ("__HEADING__", html.escape(f"Conversion {o.conversion_id}")),
        ("__BANNER__", _banner(view)),
        ("__LAB__", _lab_section(view)),
        ("__CSS__", _asset("report.css")),
        ("__JS__", _asset("report.js")),
    ):
        page = page.replace(key, value, 1)
    return page.replace("__DATA__", data, 1)
