"""`anc run`: any conversion command, run under `datalad run` in a new conversion dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from .output import print_json, stage_printer


def register(app: typer.Typer) -> None:
    # Options end at the command's first word (or at `--`): its own options stay its own.
    app.command("run", context_settings={"allow_interspersed_args": False})(run)


def run(
    command: list[str] | None = typer.Argument(
        None,
        metavar="-- COMMAND [ARGS]...",
        help="The command and its arguments, after `--`; it runs inside the new dataset.",
    ),
    inputs: list[Path] | None = typer.Option(
        None,
        "--input",
        "-i",
        help="A file or folder the command reads (repeatable); referenced with its checksums.",
    ),
    outputs: list[str] | None = typer.Option(
        None,
        "--output",
        "-o",
        help="A path in the dataset the command writes, e.g. outputs/x.nwb (repeatable).",
    ),
    into: Path = typer.Option(
        Path("conversions"), "--into", help="Where the conversion_<id>/ dataset goes."
    ),
    conversion_id: str | None = typer.Option(
        None, "--id", help="Conversion id (default: from the script or command name)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run COMMAND under `datalad run` in a new conversion dataset: inputs, outputs, output,
    environment recorded; NWB outputs validated. The last line printed is the dataset."""
    from ..conversion.command import run_command

    result = run_command(
        command or [],
        inputs=inputs or [],
        outputs=outputs or [],
        into=into,
        conversion_id=conversion_id,
        progress=None if as_json else stage_printer(),
    )
    if result.registration_problem:
        typer.echo(f"warning: {result.registration_problem}", err=True)
    if as_json:
        print_json(result.to_dict())
    elif result.status == "completed":
        nwb = f"{result.nwb.name}, " if result.nwb else ""
        typer.echo(f"completed: {nwb}tagged {result.tag}")
    else:
        typer.echo(f"{result.status}: {result.reason}")
    if not as_json:
        typer.echo(str(result.path))
    if result.status != "completed":
        raise typer.Exit(1)
