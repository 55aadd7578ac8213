"""`anc revise`: a new iteration of a finished conversion with corrected metadata."""

from __future__ import annotations

from pathlib import Path

import typer

from .output import print_json, stage_printer


def register(app: typer.Typer) -> None:
    app.command("revise")(revise)


def revise(
    conversion: Path = typer.Argument(..., help="A completed or failed conversion_<id> folder."),
    sets: list[str] = typer.Option(
        [],
        "--set",
        help="FIELD=VALUE, e.g. Subject.species='Mus musculus' (repeatable; lists as [a, b]).",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="YAML or JSON file of metadata (NWB's sections), under --set."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why: recorded with each value."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Record corrected values (user_provided, human_override), re-make the NWB file under
    `datalad run`, validate it again and tag conversion-<id>-v<N>."""
    from ..conversion import workers

    workers.fork_ahead()  # the helper imports NeuroConv while the revision's checks run
    try:
        from ..conversion.revise import revise as run_revise

        result = run_revise(
            conversion,
            sets,
            metadata_file=metadata,
            reason=reason,
            progress=None if as_json else stage_printer(),
        )
    finally:
        workers.drop_ahead()  # not taken (refused before): ended at once
    conv = result.conversion
    if conv.registration_problem:
        typer.echo(f"warning: {conv.registration_problem}", err=True)
    if as_json:
        print_json(result.to_dict())
    else:
        changed = sum(c.changed for c in result.changes)
        what = f"{changed} changed, {len(result.changes) - changed} confirmed"
        remade = "NWB re-made" if result.nwb_remade else "NWB unchanged"
        typer.echo(
            f"revision {result.revision} {conv.status} ({what}; {remade})"
            + (f", tagged {conv.tag}" if conv.tag else f" ({conv.reason})")
        )
        typer.echo(str(conv.path))
    if conv.status != "completed":
        raise typer.Exit(1)
