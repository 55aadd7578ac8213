"""The Markdown summary (CONVERSION_SUMMARY.md), rendered from a ConversionView."""

from __future__ import annotations

import json
from typing import Any

from ..units import binary_size
from .model import ConversionView, FieldView, Overview

# NWB requires the first three; DANDI expects the rest.
REQUIRED_FIELDS = (
    "NWBFile.identifier",
    "NWBFile.session_description",
    "NWBFile.session_start_time",
)
DANDI_FIELDS = (
    "NWBFile.experimenter",
    "NWBFile.lab",
    "NWBFile.institution",
    "NWBFile.experiment_description",
    "Subject.subject_id",
    "Subject.species",
    "Subject.sex",
    "Subject.age",
)
# Untrusted record numbers listed in full up to this many.
MAX_LISTED_SEQS = 50


def fmt(value: Any, limit: int = 80) -> str:
    """One line of table-safe text for VALUE, cut to LIMIT characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def integrity_lines(view: ConversionView) -> list[str]:
    """The warning every renderer puts first when the journal failed its check."""
    integ = view.integrity
    notes = [f"> Note: {fmt(w, 300)}" for w in integ.warnings]
    if integ.ok:
        return [*notes, ""] if notes else []
    seqs = integ.untrusted
    listed = ", ".join(map(str, seqs[:MAX_LISTED_SEQS])) + (
        " …" if len(seqs) > MAX_LISTED_SEQS else ""
    )
    out = [
        "> **WARNING: the journal failed its integrity check.** Records were edited, removed or",
        "> reordered after they were written. Untrusted records are marked; final values come",
        "> from the last trusted record. Run `anc check .` for details.",
        ">",
        *(f"> - {fmt(p, 300)}" for p in integ.problems),
    ]
    if seqs:
        out += [">", f"> Untrusted records (seq): {listed}"]
    return [*out, *([">", *notes] if notes else []), ""]


def _field_row(f: FieldView) -> str:
    h = f.final
    conf = "-" if h.confidence is None else f"{h.confidence:.2f}"
    flags = []
    if f.needs_review:
        flags.append("**review**")
    if not h.trusted:
        flags.append("**untrusted**")
    return (
        f"| `{f.name}` | {fmt(h.value, 60)} | {h.source} | {conf} | {h.level} | {' '.join(flags)} |"
    )


def _format_line(o: Overview) -> str:
    """The recording format, how it was decided, and which streams were (not) converted."""
    if o.recording_format is None:
        return "- **Format**: -"
    how = f" ({o.format_method}, confidence {o.format_confidence})" if o.format_method else ""
    line = f"- **Format**: {o.recording_format}{how}"
    others = [s for s in o.streams if s != o.converted_stream]
    if o.converted_stream:
        line += f"; stream {o.converted_stream}"
        line += f", not converted: {', '.join(others)}" if others else ""
    return line


def render_markdown(view: ConversionView) -> str:
    o = view.overview
    t = view.counts["totals"]
    out: list[str] = [f"# Conversion summary: {o.conversion_id}", "", *integrity_lines(view)]
    out += [
        "## Overview",
        "",
        f"- **Status**: {o.status}",
        f"- **Started**: {o.start_time}",
        f"- **Ended**: {o.end_time or '-'}",
        f"- **Duration**: {'-' if o.duration_s is None else f'{o.duration_s:.1f} s'}",
        f"- **Source recording**: `{o.source_path or '-'}`",
        _format_line(o),
        f"- **Tag**: `{o.tag}`"
        if o.tag
        else "- **Tag**: none (only completed conversions are tagged)",
        f"- **Tool**: {o.tool} {o.tool_version}".rstrip(),
        f"- **Inputs**: {len(view.inputs)} ({binary_size(o.input_bytes)})",
        f"- **Outputs**: {len(view.artifacts)} artifacts ({binary_size(o.output_bytes)})",
        f"- **Iterations**: {o.iterations}",
    ]
    if o.error and o.status != "completed":
        out.append(f"- **Error**: {fmt(o.error, 300)}")
    out += [
        "",
        "## Provenance",
        "",
        f"- **Records**: {t['records']} ({t['fields']} fields, {t['needs_review']} need review, "
        f"{t['conflicts']} conflicts, {t['errors']} errors, {t['tool_calls']} tool calls)",
        "",
        "### Records by source",
        "",
        *(f"- **{k}**: {v}" for k, v in view.counts["by_source"].items()),
        "",
        "### Agents",
        "",
        *(
            f"- **{a.name}** ({a.kind}): {a.records} records, {a.fields} field decisions"
            for a in view.agents.values()
        ),
    ]
    out += _fields_section(view)
    out += _pipeline_section(view)
    out += ["", "## Inputs and outputs", ""]
    for i in view.inputs:
        out.append(
            f"- input **{i.name}** ({i.mode}): `{i.path}`, {i.files} files, {binary_size(i.bytes)}"
        )
    for a in view.artifacts:
        key = f", annex key `{a.annex_key}`" if a.annex_key else ""
        out.append(f"- {a.artifact_type}: `{a.path}` ({binary_size(a.size)}{key})")
    if not view.inputs and not view.artifacts:
        out.append("none recorded")
    if view.validation is not None:
        out += ["", "## Validation", ""]
        v = view.validation
        if "error" in v:
            out.append(f"- {v['file']} is {v['error']}")
        else:
            verdict = {True: "passes", False: "FAILS", None: "-"}[v.get("passes")]
            out.append(f"- **{v.get('nwb_file') or '-'}**: {verdict} ({v.get('config') or '-'})")
            out += [f"- **{k}**: {n}" for k, n in v["counts"].items()]
            out.append(f"- **schema errors**: {v['schema_errors']}")
    out += [
        "",
        "## How to reproduce",
        "",
        "```",
        *view.reproduce,
        "```",
        "",
        "Every decision above is in `provenance/journal/` (hash-chained JSON Lines); "
        "`anc check .` verifies the chain.",
        "",
    ]
    return "\n".join(out)


def _fields_section(view: ConversionView) -> list[str]:
    t = view.counts["totals"]
    out = ["", "## Metadata fields", ""]
    out.append(
        f"{t['fields']} fields recorded, {t['needs_review']} need review, "
        f"{t['conflicts']} conflicts resolved."
    )
    if view.fields:
        out += [
            "",
            "| field | value | source | confidence | level | review |",
            "|---|---|---|---|---|---|",
            *(_field_row(f) for f in view.fields.values()),
        ]
    review = [f for f in view.fields.values() if f.needs_review]
    if review:
        out += ["", "### Needs review", ""]
        out += [f"- `{f.name}`: {'; '.join(f.review_reasons)}" for f in review]
    conflicted = [(f, h) for f in view.fields.values() for h in f.history if h.conflict]
    if conflicted:
        out += ["", "### Conflicts", ""]
        for f, h in conflicted:
            c = h.conflict or {}
            cands = "; ".join(
                f"{fmt(x.get('value'), 40)} ({x.get('source')}"
                + ("" if x.get("confidence") is None else f", {x['confidence']:.2f}")
                + ")"
                for x in c.get("candidates", [])
            )
            out.append(
                f"- `{f.name}` (seq {h.seq}): {cands} → {fmt(c.get('chosen_value'), 40)} "
                f"({c.get('resolution')}{', by ' + str(c['resolved_by']) if c.get('resolved_by') else ''})"
            )
    out += ["", "### Required fields", ""]
    final = view.overview.final_metadata
    for name in REQUIRED_FIELDS + DANDI_FIELDS:
        present = name in view.fields or name in final or name.split(".", 1)[1] in final
        kind = "required by NWB" if name in REQUIRED_FIELDS else "expected by DANDI"
        out.append(f"- [{'x' if present else ' '}] `{name}` ({kind})")
    return out


def _pipeline_section(view: ConversionView) -> list[str]:
    out = ["", "## Pipeline", ""]
    if view.stages:
        out += ["| stage | start | end |", "|---|---|---|"]
        out += [f"| {fmt(s.name)} | {s.start} | {s.end or '-'} |" for s in view.stages]
        out.append("")
    errors = [e for e in view.events if e.kind == "error"]
    if errors:
        out += ["### Errors and recovery", ""]
        for e in errors:
            d = e.detail
            extra = "".join(f"; {k}: {fmt(d[k], 100)}" for k in ("recovery", "outcome") if d.get(k))
            msg = d["error"].get("message") if isinstance(d.get("error"), dict) else d.get("error")
            out.append(f"- seq {e.seq} ({d.get('stage') or '-'}): {fmt(msg, 200)}{extra}")
        out.append("")
    calls = [e for e in view.events if e.kind == "tool_call"]
    if calls:
        per_tool: dict[str, list[int]] = {}
        for e in calls:
            n = per_tool.setdefault(str(e.detail.get("tool")), [0, 0, 0])
            n[0] += 1
            n[1] += e.status == "error"
            n[2] += e.status == "retry"
        out += ["### Tool calls", "", "| tool | calls | errors | retries |", "|---|---|---|---|"]
        out += [f"| `{k}` | {a} | {b} | {c} |" for k, (a, b, c) in sorted(per_tool.items())]
        out.append("")
    checkpoints = [e for e in view.events if e.kind == "checkpoint"]
    out += ["### Iterations", "", "| # | date | message |", "|---|---|---|"]
    out += [
        f"| {e.detail.get('iteration')} | {e.time} | {fmt(e.detail.get('message', ''), 100)} |"
        for e in checkpoints
    ]
    if view.overview.end_time:
        out.append(
            f"| {view.overview.iterations + 1} | {view.overview.end_time} | "
            f"finalize conversion - status {view.overview.status} |"
        )
    return out
