"""`anc convert`, `anc verify`, `anc status`, `anc show`: tracked conversions."""

from __future__ import annotations

from pathlib import Path

import typer

from ..units import binary_size
from .output import print_json, stage_printer

INPUT_MODES = ("auto", "subdataset", "reference", "copy")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
    app.command("verify")(verify)
    app.command("status")(status)
    app.command("show")(show)


def convert(
    source: Path = typer.Argument(..., help="Folder of the raw recording."),
    format: str | None = typer.Option(None, "--format", help="Recording format (skip detection)."),
    stream: str | None = typer.Option(
        None, "--stream", help="Which stream to convert, e.g. imec0.lf (default: the first AP)."
    ),
    metadata: Path | None = typer.Option(None, "--metadata", help="YAML or JSON file of metadata."),
    output: Path = typer.Option(
        Path("conversions"), "--output", help="Where conversion_<id>/ goes."
    ),
    conversion_id: str | None = typer.Option(
        None, "--id", help="Conversion id (default: from the folder name)."
    ),
    input_mode: str = typer.Option(
        "auto",
        "--input-mode",
        help="subdataset | reference | copy (auto: subdataset if SOURCE is in a DataLad dataset).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Convert a recording to NWB inside a new tracked conversion dataset."""
    from ..conversion.pipeline import convert as run_convert
    from ..errors import UsageError

    if input_mode not in INPUT_MODES:
        raise UsageError(
            f"unknown --input-mode {input_mode!r}", f"use one of: {', '.join(INPUT_MODES)}"
        )
    result = run_convert(
        source,
        output,
        format=format,
        stream=stream,
        metadata_file=metadata,
        conversion_id=conversion_id,
        input_mode=input_mode,
        progress=None if as_json else stage_printer(),
        on_warning=lambda warning: typer.echo(f"warning: {warning}", err=True),
    )
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(
            f"{result.status}: {result.nwb.name if result.nwb else 'no NWB file'}"
            + (f", tagged {result.tag}" if result.tag else "")
        )
        typer.echo(str(result.path))
    if result.status != "completed":
        raise typer.Exit(1)


def verify(conversion: Path = typer.Argument(..., help="A conversion_<id> folder.")) -> None:
    """Re-execute the recorded run in a temporary clone; exit 0 only if the outputs match."""
    from ..conversion.pipeline import verify_conversion

    result = verify_conversion(conversion)
    for item in result.outputs:
        state = "identical" if item.same else "DIFFERS"
        typer.echo(f"{state}: {item.path} (recorded {item.recorded}, re-executed {item.rerun})")
    if not result.identical:
        typer.echo(f"error: re-execution differs for {', '.join(result.differing)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"verified: re-executing {result.commit[:10]} reproduces every output")


def status(
    directory: Path = typer.Argument(Path("conversions"), help="Folder holding conversions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List conversions: id, status, tag, NWB size, validation counts."""
    from ..provenance.catalog import list_conversions

    infos = list_conversions(directory)
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    from rich.table import Table

    table = Table("id", "status", "tag", "NWB", "validation")
    for i in infos:
        counts = i.validation or {}
        issues = ", ".join(f"{k}={v}" for k, v in counts.items() if v) or (
            "clean" if counts else "-"
        )
        table.add_row(i.conversion_id, i.status, i.tag or "-", binary_size(i.nwb_bytes), issues)
    from .output import console

    console().print(table)


def show(conversion: Path = typer.Argument(..., help="A conversion_<id> folder.")) -> None:
    """Print the conversion's summary (CONVERSION_SUMMARY.md)."""
    from ..errors import UsageError
    from ..provenance.tracker import SUMMARY_FILE, is_conversion

    if not is_conversion(conversion):
        raise UsageError(
            f"{conversion} is not a conversion dataset", "give a conversion_<id> folder"
        )
    summary = conversion / SUMMARY_FILE
    if summary.is_file():
        typer.echo(summary.read_text(), nl=False)
        return
    from ..reports.api import build_report

    typer.echo(build_report(conversion, "md"), nl=False)
