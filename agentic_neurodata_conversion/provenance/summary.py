"""CONVERSION_SUMMARY.md: what a person reads first when opening a conversion."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datalad_layer import dataset as dlayer
from .field_report import build_field_report
from .records import ProvenanceRecord

if TYPE_CHECKING:
    from .tracker import ConversionProvenanceTracker

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
TREE_DEPTH = 2


def iter_commits(repo: Path) -> Iterator[tuple[str, str, str]]:
    """(short sha, ISO date, subject) of every commit, oldest first, from one git call."""
    out = dlayer.git(repo, "log", "--reverse", "--format=%h%x00%aI%x00%s%x1e")
    for entry in out.decode(errors="replace").split("\x1e"):
        parts = entry.strip("\n").split("\x00")
        if len(parts) == 3:
            yield parts[0], parts[1], parts[2]


def _duration(start: str, end: str | None) -> str:
    if not end:
        return "running"
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.1f} s"


def _fmt(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def tree(root: Path, depth: int = TREE_DEPTH) -> list[str]:
    """An indented listing of ROOT (without .git), annexed files marked."""
    lines: list[str] = [root.name + "/"]

    def walk(path: Path, prefix: str, level: int) -> None:
        entries = sorted(
            (p for p in path.iterdir() if p.name not in (".git", ".gitkeep")),
            key=lambda p: (not p.is_dir() or p.is_symlink(), p.name),
        )
        for i, entry in enumerate(entries):
            last = i == len(entries) - 1
            is_dir = entry.is_dir() and not entry.is_symlink()
            label = entry.name + ("/" if is_dir else "")
            if entry.is_symlink() and ".git/annex/objects" in os.readlink(entry):
                label += " (annexed)"
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            if is_dir and level + 1 < depth:
                walk(entry, prefix + ("    " if last else "│   "), level + 1)

    walk(root, "", 0)
    return lines


def _files(root: Path, sub: str) -> list[tuple[str, int, bool]]:
    folder = root / sub
    if not folder.is_dir():
        return []
    found = []
    for p in sorted(folder.rglob("*")):
        if (
            p.name == ".gitkeep"
            or ".git" in p.parts[len(root.parts) :]
            or (p.is_dir() and not p.is_symlink())
        ):
            continue
        annexed = p.is_symlink()
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            size = 0
        found.append((p.relative_to(root).as_posix(), size, annexed))
    return found


def render_summary(tracker: ConversionProvenanceTracker) -> str:
    root = tracker.conversion_repo_path
    s = tracker.session
    records: list[ProvenanceRecord] = []
    by_source: Counter[str] = Counter()
    by_agent: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    errors: list[ProvenanceRecord] = []
    total = 0
    field_records: list[ProvenanceRecord] = []
    for record in tracker.iter_records():
        total += 1
        by_source[record.source.value] += 1
        by_agent[record.agent or "system"] += 1
        by_operation[record.operation] += 1
        if record.field:
            field_records.append(record)
        if record.operation == "error":
            errors.append(record)
    del records
    report = build_field_report(field_records)
    fields = report["fields"]
    tag = f"conversion-{tracker.conversion_id}" if s.status == "completed" else None

    out: list[str] = [f"# Conversion summary: {tracker.conversion_id}", ""]
    out += [
        "## Overview",
        "",
        f"- **Status**: {s.status}",
        f"- **Started**: {s.start_time}",
        f"- **Ended**: {s.end_time or '-'}",
        f"- **Duration**: {_duration(s.start_time, s.end_time)}",
        f"- **Source recording**: `{s.dataset_path or '-'}`",
        f"- **Tag**: `{tag}`" if tag else "- **Tag**: none (only completed conversions are tagged)",
    ]
    if s.error:
        out.append(f"- **Error**: {_fmt(s.error, 300)}")
    out += ["", "## Provenance", "", f"- **Records**: {total}", "", "### Records by source", ""]
    out += [f"- **{k}**: {v}" for k, v in sorted(by_source.items())]
    out += ["", "### Records by agent", ""]
    out += [f"- **{k}**: {v}" for k, v in sorted(by_agent.items())]
    if errors:
        out += ["", "### Errors and recovery", ""]
        for rec in errors:
            err = rec.output_data.get("error", {})
            msg = err.get("message") if isinstance(err, dict) else err
            out.append(f"- seq {rec.seq} ({rec.input_data.get('stage') or '-'}): {_fmt(msg, 200)}")

    out += ["", "## Metadata fields", ""]
    summary = report["summary"]
    out.append(
        f"{summary['fields']} fields recorded, {len(summary['needs_review'])} need review, "
        f"{summary['conflicts']} conflicts resolved."
    )
    if fields:
        out += [
            "",
            "| field | value | source | confidence level | review |",
            "|---|---|---|---|---|",
        ]
        for name in sorted(fields):
            f = fields[name]
            out.append(
                f"| `{name}` | {_fmt(f['final_value'], 60)} | {f['source']} | {f['confidence_level']} "
                f"| {'**review**' if f['needs_review'] else ''} |"
            )
    out += ["", "### Required fields", ""]
    final_md = s.final_metadata or {}
    for name in REQUIRED_FIELDS + DANDI_FIELDS:
        present = name in fields or name in final_md or name.split(".", 1)[1] in final_md
        kind = "required by NWB" if name in REQUIRED_FIELDS else "expected by DANDI"
        out.append(f"- [{'x' if present else ' '}] `{name}` ({kind})")

    out += ["", "## Iterations", "", "| # | commit | date | message |", "|---|---|---|---|"]
    for i, (sha, date, subject) in enumerate(iter_commits(root), 1):
        out.append(f"| {i} | `{sha}` | {date} | {_fmt(subject, 100)} |")
    if s.status in ("completed", "failed", "cancelled"):
        out.append(
            f"| {i + 1} | (this commit) | {s.end_time} | finalize conversion - status {s.status} |"
        )

    out += ["", "## Generated files", ""]
    for sub in ("outputs", "scripts", "reports"):
        files = _files(root, sub)
        out.append(
            f"- **{sub}/**: "
            + (
                ", ".join(f"`{p}` ({_size(n)}{', annexed' if a else ''})" for p, n, a in files)
                or "none"
            )
        )
    validation = root / "reports" / "validation.json"
    if validation.is_file():
        try:
            counts = json.loads(validation.read_text()).get("counts", {})
            out += ["", "## Validation", "", *(f"- **{k}**: {v}" for k, v in counts.items())]
        except ValueError:
            out += ["", "## Validation", "", "- reports/validation.json is not valid JSON"]

    out += ["", "## Dataset tree", "", "```", *tree(root), "```"]
    out += [
        "",
        "## How to reproduce",
        "",
        "```",
        f"datalad clone {root} conversion && cd conversion",
        "anc verify .            # re-executes the recorded run in a clone and compares outputs",
        "datalad rerun --since=  # or re-run every recorded command with DataLad itself",
        "```",
        "",
        "Every decision above is in `provenance/journal/` (hash-chained JSON Lines); "
        "`anc check .` verifies the chain.",
        "",
    ]
    return "\n".join(out)
