"""`anc index rebuild|update|check LAB` and `anc query LAB [filters]`."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import IntegrityError, UsageError
from .output import console, print_json

if TYPE_CHECKING:
    from ..index import QueryResult

LabArg = Annotated[Path, typer.Argument(help="The lab folder (or superdataset) of conversions.")]
IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: the lab's own).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

group = typer.Typer(
    help="The lab's provenance index: rebuild, update, check.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="index")
    app.command("query")(query)


@group.command("rebuild")
def rebuild(lab: LabArg, index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Build the index anew from every journal under LAB (a URL given is remembered)."""
    from .. import index as idx

    _render_build(idx.rebuild(lab, index), as_json, "rebuilt")


@group.command("update")
def update(lab: LabArg, index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Read only the journals whose chain head changed, the new ones; drop removed ones."""
    from .. import index as idx

    _render_build(idx.update(lab, index), as_json, "updated")


@group.command("check")
def check(lab: LabArg, index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Compare the index with the journals and name every difference (exit 4 if any)."""
    from .. import index as idx

    report = idx.check_index(lab, index)
    _notes(report.notes)
    if as_json:
        print_json(report.to_dict())
    else:
        for line in report.differences:
            typer.echo(f"  difference: {line}")
        state = "matches the journals" if report.ok else f"{len(report.differences)} differences"
        typer.echo(f"index of {report.conversions} conversions: {state}")
    raise typer.Exit(0 if report.ok else IntegrityError.exit_code)


def query(
    lab: LabArg,
    field: Annotated[
        str | None, typer.Option("--field", help="A field, e.g. Subject.species.")
    ] = None,
    level: Annotated[str | None, typer.Option("--level", help="Its confidence level.")] = None,
    needs_review: Annotated[
        bool, typer.Option("--needs-review", help="Fields flagged for review.")
    ] = False,
    source: Annotated[
        str | None, typer.Option("--source", help="Its source (ai_generated, ...).")
    ] = None,
    max_confidence: Annotated[
        float | None, typer.Option("--max-confidence", help="Confidence at most this.")
    ] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="Calls of this MCP tool.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="With --tool: the call's status; else the conversion's."),
    ] = None,
    derived_from: Annotated[
        Path | None,
        typer.Option("--derived-from", help="Outputs made from this input file or folder."),
    ] = None,
    tool_version: Annotated[
        str | None, typer.Option("--tool-version", help="A version constraint: 'neuroconv<0.10.2'.")
    ] = None,
    inconsistent: Annotated[
        str | None,
        typer.Option(
            "--inconsistent", help="A section (Subject): subjects whose sessions disagree."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 1000,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Ask across the conversions of LAB: filters combine (every one must hold)."""
    from .. import index as idx

    if as_json and as_csv:
        raise UsageError("--json and --csv exclude each other", "choose one output")
    q = idx.Query(
        field=field,
        level=level,
        needs_review=needs_review,
        source=source,
        max_confidence=max_confidence,
        tool=tool,
        status=status,
        derived_from=str(derived_from) if derived_from else None,
        tool_version=tool_version,
        inconsistent=inconsistent,
        limit=limit,
    )
    result = idx.query(lab, q, index)
    _notes(result.notes)  # on stderr whatever the format: a rebuild, a stale index
    if as_json:
        print_json(result.to_dict())
    elif as_csv:
        _csv(result)
    else:
        _table(result)


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.2f}"
    return json.dumps(value, default=str)


def _csv(result: QueryResult) -> None:
    from dataclasses import asdict

    writer = csv.writer(sys.stdout)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_cell(v) for v in asdict(row).values()])


def _table(result: QueryResult) -> None:
    from dataclasses import asdict

    from rich.table import Table

    table = Table(box=None, show_edge=False)
    for col in result.columns:
        table.add_column(col)
    for row in result.rows:
        cells = [_cell(v) for v in asdict(row).values()]
        cells[-1] = "yes" if row.trusted else "NO (untrusted)"
        table.add_row(*cells)
    out = console()
    out.print(table)
    shown = len(result.rows)
    more = f" (showing {shown}; --limit to see more)" if shown < result.total else ""
    out.print(f"{result.total} {result.kind} rows{more}")
    for name, problems in result.untrusted.items():
        first = problems[0] if problems else "its hash chain is broken"
        out.print(f"untrusted: {name}: {first}", markup=False)


def _render_build(report: Any, as_json: bool, verb: str) -> None:
    _notes(report.notes)
    if as_json:
        print_json(report.to_dict())
        return
    data = report.to_dict()
    typer.echo(
        f"index {verb}: {data['conversions']} conversions, {data['read']} journals read "
        f"({data['records']} records), {data['removed']} removed, in {data['seconds']:.2f} s "
        f"[{data['url']}]"
    )
    for name in report.untrusted:
        typer.echo(f"  untrusted (hash chain broken): {name}")
