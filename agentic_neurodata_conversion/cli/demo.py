"""`anc demo`: the main job on its embedded default, a small synthetic recording converted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .output import print_json, stage_printer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the recording and its conversion.")
    ] = Path("anc-demo"),
    format: Annotated[str, typer.Option("--format", help="spikeglx or openephys.")] = "spikeglx",
    channels: Annotated[int, typer.Option("--channels", help="Number of channels.")] = 64,
    seconds: Annotated[float, typer.Option("--seconds", help="Duration in seconds.")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a small synthetic recording into OUTPUT and convert it (tracked, validated, tagged)."""
    from ..conversion.demo import run_demo

    result = run_demo(
        output,
        format=format,
        channels=channels,
        seconds=seconds,
        progress=None if as_json else stage_printer(),
    )
    if as_json:
        print_json(result.to_dict())
    else:
        c = result.conversion
        typer.echo(f"recording: {result.recording} (kept: try `anc convert {result.recording}`)")
        typer.echo(
            f"{c.status}: {c.nwb.name if c.nwb else 'no NWB'}"
            + (f", tagged {c.tag}" if c.tag else "")
            + "; next: `anc show`, `anc verify`, `anc check` on the folder below"
        )
        typer.echo(str(c.path))
    if result.conversion.status != "completed":
        raise typer.Exit(1)
