"""Validate an NWB file: nwbinspector with the DANDI configuration, and pynwb's schema check.

A file ``passes`` when nothing is CRITICAL (or worse: unreadable) and the schema check found
no error. Reports are saved as ``reports/validation.json`` and ``reports/validation.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# nwbinspector's importance levels, most severe first.
IMPORTANCE_ORDER = (
    "ERROR",
    "PYNWB_VALIDATION",
    "CRITICAL",
    "BEST_PRACTICE_VIOLATION",
    "BEST_PRACTICE_SUGGESTION",
)
FAILING_IMPORTANCES = frozenset({"ERROR", "PYNWB_VALIDATION", "CRITICAL"})
JSON_NAME = "validation.json"
MARKDOWN_NAME = "validation.md"


@dataclass(frozen=True, slots=True)
class InspectorIssue:
    importance: str
    check: str
    message: str
    object_type: str | None = None
    object_name: str | None = None
    location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "importance": self.importance,
            "check": self.check,
            "message": self.message,
            "object_type": self.object_type,
            "object_name": self.object_name,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class SchemaError:
    name: str
    location: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "location": self.location, "reason": self.reason}


@dataclass(slots=True)
class ValidationReport:
    """What nwbinspector (DANDI config) and pynwb's validator said about one file."""

    nwb_file: str
    issues: list[InspectorIssue] = field(default_factory=list)
    schema_errors: list[SchemaError] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)
    config: str = "dandi"

    @property
    def counts(self) -> dict[str, int]:
        """Issues per importance, every level present (zeros included)."""
        counts = dict.fromkeys(IMPORTANCE_ORDER, 0)
        for issue in self.issues:
            counts[issue.importance] = counts.get(issue.importance, 0) + 1
        return counts

    @property
    def passes(self) -> bool:
        return not self.schema_errors and not any(
            i.importance in FAILING_IMPORTANCES for i in self.issues
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "nwb_file": self.nwb_file,
            "passes": self.passes,
            "config": self.config,
            "counts": self.counts,
            "schema_errors": [e.to_dict() for e in self.schema_errors],
            "issues": [i.to_dict() for i in self.issues],
            "tools": dict(self.tools),
        }

    def to_markdown(self) -> str:
        verdict = "PASSES" if self.passes else "FAILS"
        lines = [
            f"# Validation of {self.nwb_file}: {verdict}",
            "",
            f"nwbinspector with the {self.config.upper()} configuration, and pynwb's schema "
            "validation. " + ", ".join(f"{k} {v}" for k, v in sorted(self.tools.items())) + ".",
            "",
            "## Schema validation (pynwb)",
            "",
        ]
        if self.schema_errors:
            lines += [f"- `{e.name}` at `{e.location}`: {e.reason}" for e in self.schema_errors]
        else:
            lines.append("No schema errors.")
        lines += ["", "## Best practices (nwbinspector)", ""]
        if not self.issues:
            lines.append("No issues found.")
        else:
            lines += ["| importance | count |", "| --- | --- |"]
            lines += [f"| {k} | {v} |" for k, v in self.counts.items() if v]
            for importance in IMPORTANCE_ORDER:
                chosen = [i for i in self.issues if i.importance == importance]
                if chosen:
                    lines += ["", f"### {importance}", ""]
                    lines += [
                        f"- `{i.check}` on {i.object_type or 'file'} `{i.location or '/'}`: "
                        f"{_one_line(i.message)}"
                        for i in chosen
                    ]
        return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("nwbinspector", "pynwb", "hdmf")}


def validate_nwb(path: str | Path, *, root: str | Path | None = None) -> ValidationReport:
    """Run pynwb's schema validation and nwbinspector (DANDI config) on the NWB file at PATH.

    ROOT, when given, makes the file name in the report relative to it (reports are committed).
    """
    return report_of(path, schema_errors(path), inspector_issues(path), root=root)


def schema_errors(path: str | Path) -> list[SchemaError]:
    """pynwb's schema validation of the file at PATH, against the namespaces it caches.

    When those are the installed pynwb's own (same names, same versions: a file this
    environment wrote), it validates against the installed ones, already parsed, instead
    of parsing the file's copy of the whole schema again (~0.5 s of CPU per file)."""
    import pynwb

    cached = not _caches_installed_schema(path)
    result = pynwb.validate(path=str(path), use_cached_namespaces=cached)
    errors = result[0] if isinstance(result, tuple) else result
    return [
        SchemaError(str(e.name), str(e.location or "/"), _one_line(str(e.reason))) for e in errors
    ]


def _caches_installed_schema(path: str | Path) -> bool:
    """Whether every namespace the file at PATH caches is installed here at its version."""
    import h5py
    import pynwb

    installed = pynwb.get_type_map().namespace_catalog
    try:
        with h5py.File(path, "r") as file:
            specifications = file.get("specifications")
            if not isinstance(specifications, h5py.Group) or not len(specifications):
                return False
            cached = {name: set(group.keys()) for name, group in specifications.items()}
    except OSError:
        return False  # pynwb's own reading then says what is wrong
    for name, versions in cached.items():
        if name not in installed.namespaces:
            return False
        if versions != {installed.get_namespace(name).version}:
            return False
    return True


def inspector_issues(path: str | Path) -> list[InspectorIssue]:
    """nwbinspector's findings (DANDI config) on the file at PATH, most severe first."""
    from nwbinspector import inspect_nwbfile, load_config

    # The schema check is schema_errors'; inspect_nwbfile would run it a second time.
    issues = [
        InspectorIssue(
            importance=message.importance.name,
            check=str(message.check_function_name),
            message=_one_line(str(message.message)),
            object_type=message.object_type,
            object_name=message.object_name,
            location=message.location,
        )
        for message in inspect_nwbfile(
            nwbfile_path=str(path), skip_validate=True, config=load_config("dandi")
        )
    ]
    issues.sort(key=lambda i: (IMPORTANCE_ORDER.index(i.importance), i.check, i.location or ""))
    return issues


def report_of(
    path: str | Path,
    schema: list[SchemaError],
    issues: list[InspectorIssue],
    *,
    root: str | Path | None = None,
) -> ValidationReport:
    """The report of the file at PATH from its SCHEMA errors and inspector ISSUES."""
    name = os.path.relpath(path, root) if root is not None else str(path)
    return ValidationReport(nwb_file=name, issues=issues, schema_errors=schema, tools=_versions())


def write_validation_reports(
    report: ValidationReport, reports_dir: str | Path
) -> tuple[Path, Path]:
    """Save ``validation.json`` and ``validation.md`` in REPORTS_DIR; return their paths."""
    return write_report_files(
        report.to_dict(), report.to_markdown(), Path(reports_dir), JSON_NAME, MARKDOWN_NAME
    )


def write_report_files(
    data: dict[str, Any], markdown: str, folder: Path, json_name: str, md_name: str
) -> tuple[Path, Path]:
    """Write a report as JSON and Markdown into FOLDER, replacing earlier versions."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / json_name, folder / md_name
    for path, text in (
        (json_path, json.dumps(data, indent=2, default=float) + "\n"),
        (md_path, markdown),
    ):
        path.unlink(missing_ok=True)  # never write through a link into the annex
        path.write_text(text)
    return json_path, md_path
