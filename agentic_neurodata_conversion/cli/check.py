"""`anc check`: integrity check (and safe repair) of a DataLad dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import IntegrityError
from .output import print_json

if TYPE_CHECKING:
    from ..datalad_layer.integrity import IntegrityReport


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    path: Annotated[Path, typer.Argument(help="The dataset (or a folder inside it).")] = Path("."),
    full: Annotated[bool, typer.Option("--full", help="Re-hash annexed content (slow).")] = False,
    repair: Annotated[bool, typer.Option("--repair", help="Fix what is safe to fix.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a dataset: stale git locks, missing subdatasets, changes, annexed content, journal.

    Exits 0 when valid (after repair: when nothing is left unfixed), 4 otherwise.
    """
    from ..datalad_layer import integrity

    if repair:
        fixed = integrity.repair_dataset(path, full=full)
        report, ok, data = fixed.after, fixed.ok, fixed.to_dict()
        if not as_json:
            for line in fixed.actions:
                typer.echo(f"repaired: {line}")
            for line in fixed.failures:
                typer.echo(f"not repaired: {line}")
    else:
        report = integrity.check_dataset_integrity(path, full=full)
        ok, data = report.is_valid, report.to_dict()
    if as_json:
        print_json(data)
    else:
        _render(report)
    raise typer.Exit(0 if ok else IntegrityError.exit_code)


def _render(report: IntegrityReport) -> None:
    state = "ok" if report.is_valid else f"{len(report.issues)} issues"
    typer.echo(f"{report.path}: {state} ({report.mode} check)")
    for line in report.issues:
        typer.echo(f"  issue: {line}")
    for line in report.warnings:
        typer.echo(f"  warning: {line}")
    s = report.statistics
    typer.echo(
        f"  untracked {s.get('untracked_files', 0)}, modified {s.get('modified_files', 0)}, "
        f"staged {s.get('staged_files', 0)}; subdatasets {s.get('subdatasets', 0)} "
        f"({s.get('missing_subdatasets', 0)} not installed); annexed "
        f"{s.get('annexed_files', 0)} ({s.get('annexed_present', 0)} present, "
        f"{s.get('unlocked_files', 0)} unlocked, {s.get('corrupt_files', 0)} corrupt)"
    )
