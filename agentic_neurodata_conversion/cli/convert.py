"""`anc convert`, `anc verify`, `anc status`, `anc show`: tracked conversions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..units import binary_size
from .output import print_json, stage_printer

if TYPE_CHECKING:
    from ..conversion.pipeline import ConversionResult

INPUT_MODES = ("auto", "subdataset", "reference", "copy")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
    app.command("resume")(resume)
    app.command("discard")(discard)
    app.command("verify")(verify)
    app.command("status")(status)
    app.command("show")(show)


def convert(
    source: Path | None = typer.Argument(None, help="Folder of the raw recording."),
    spec: Path | None = typer.Option(
        None, "--spec", help="A NeuroConv YAML conversion specification (instead of SOURCE)."
    ),
    session: str | None = typer.Option(
        None, "--session", help="With --spec: only this session (default: every session)."
    ),
    data_folder: Path | None = typer.Option(
        None,
        "--data-folder",
        help="With --spec: where its relative paths start (default: its folder).",
    ),
    format: str | None = typer.Option(None, "--format", help="Recording format (skip detection)."),
    stream: str | None = typer.Option(
        None,
        "--stream",
        help="Which stream to convert, e.g. imec0.lf (SpikeGLX default: the first AP).",
    ),
    record_node: str | None = typer.Option(
        None, "--record-node", help="Which record node (Open Ephys), e.g. 'Record Node 105'."
    ),
    block: str | None = typer.Option(
        None, "--block", help="Which block: experiment (Open Ephys), gate (SpikeGLX), file."
    ),
    all_streams: bool = typer.Option(
        False,
        "--all-streams",
        help="Every stream into one NWB (SpikeGLX AP, LF, NIDQ; all Open Ephys streams).",
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
    """Convert a recording (or each session of a NeuroConv YAML spec) to NWB, each inside a
    new tracked conversion dataset."""
    if spec is not None or source is None:
        given = {
            "SOURCE": source,
            "--format": format,
            "--stream": stream,
            "--record-node": record_node,
            "--block": block,
            "--all-streams": all_streams or None,
            "--metadata": metadata,
            "--id": conversion_id,
            "--input-mode": None if input_mode == "auto" else input_mode,
        }
        _convert_spec(
            spec, session, data_folder, output, as_json, [k for k, v in given.items() if v]
        )
        return
    from ..conversion import workers

    workers.fork_ahead()  # the helper imports NeuroConv while the conversion code loads
    try:
        from ..conversion.formats import stream_wish
        from ..conversion.pipeline import convert as run_convert
        from ..errors import UsageError

        if session is not None or data_folder is not None:
            raise UsageError(
                f"{'--session' if session is not None else '--data-folder'} needs --spec",
                "give the YAML specification with --spec FILE",
            )
        stream = stream_wish(stream, all_streams, ("--stream", "--all-streams"))
        if input_mode not in INPUT_MODES:
            raise UsageError(
                f"unknown --input-mode {input_mode!r}", f"use one of: {', '.join(INPUT_MODES)}"
            )
        result = run_convert(
            source,
            output,
            format=format,
            choose={"stream": stream, "record_node": record_node, "block": block},
            metadata_file=metadata,
            conversion_id=conversion_id,
            input_mode=input_mode,
            progress=None if as_json else stage_printer(),
            on_warning=lambda warning: typer.echo(f"warning: {warning}", err=True),
        )
    finally:
        workers.drop_ahead()  # not taken by a conversion (refused before it): ended at once
    _print_result(result, as_json)


def _convert_spec(
    spec: Path | None,
    session: str | None,
    data_folder: Path | None,
    output: Path,
    as_json: bool,
    conflicting: list[str],
) -> None:
    """`anc convert --spec`: one conversion per session; exit 1 if any did not complete."""
    from ..conversion.converter import convert_spec
    from ..conversion.workers import quiet_readers
    from ..errors import UsageError

    quiet_readers()  # in this process: the readers' notices would break the one-line output

    if spec is None:
        raise UsageError(
            "no recording given", "give the recording's folder, or a YAML spec with --spec FILE"
        )
    if conflicting:
        raise UsageError(
            f"{conflicting[0]} does not go with --spec",
            "the spec names the sources and metadata of every session; set them there",
        )
    results = convert_spec(
        spec,
        output,
        session=session,
        data_folder=data_folder,
        progress=None if as_json else stage_printer(),
        on_warning=lambda warning: typer.echo(f"warning: {warning}", err=True),
    )
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        for result in results:
            line = f"{result.status}: {result.nwb.name if result.nwb else 'no NWB file'}"
            line += f", tagged {result.tag}" if result.tag else f" ({result.reason})"
            typer.echo(line)
            typer.echo(str(result.path))
    if any(r.status != "completed" for r in results):
        raise typer.Exit(1)


def _print_result(result: ConversionResult, as_json: bool) -> None:
    if result.registration_problem:
        typer.echo(f"warning: {result.registration_problem}", err=True)
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


def resume(
    conversion: Path = typer.Argument(..., help="An interrupted conversion_<id> folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Go on with an interrupted conversion from the first stage it had not completed."""
    from ..conversion.resume import resume as run_resume

    _print_result(run_resume(conversion, progress=None if as_json else stage_printer()), as_json)


def discard(
    conversion: Path = typer.Argument(..., help="A conversion_<id> folder that did not complete."),
) -> None:
    """Delete an interrupted or failed conversion (a completed one is refused)."""
    from ..conversion.resume import discard as run_discard

    typer.echo(f"discarded {run_discard(conversion)}")


def verify(
    conversion: Path = typer.Argument(..., help="A conversion_<id> folder (or `.` inside it)."),
    as_json: bool = typer.Option(False, "--json", help="Print each check's result as JSON."),
    fresh_env: bool = typer.Option(
        False,
        "--fresh-env",
        help="Re-execute in a new virtual environment built from the conversion's "
        "scripts/requirements.lock (pip; takes minutes), removed afterwards.",
    ),
) -> None:
    """Check the journal, the outputs at HEAD and in the work tree, and re-execute the recorded
    run in a temporary clone; exit 0 only if everything matches."""
    from ..conversion.verify import verify as run_verify

    def say(message: str) -> None:
        typer.echo(message, err=True)

    report = run_verify(conversion, fresh_env=fresh_env, progress=None if as_json else say)
    if as_json:
        print_json(report.to_dict())
    else:
        for name, check in report.checks.items():
            typer.echo(
                f"{name}: {'ok' if check.ok else 'FAILED'}"
                + (f" ({check.detail})" if check.detail else "")
            )
            for problem in check.problems:
                typer.echo(f"  {problem}")
    if not report.ok:
        if not as_json:
            count = len(report.problems)
            typer.echo(
                f"error: {count} difference{'s' if count > 1 else ''}: what you have is not "
                "what the recorded run makes, or its record is not intact (see above)",
                err=True,
            )
        raise typer.Exit(1)
    if not as_json:
        where = " in a fresh environment" if report.fresh_env else ""
        typer.echo(
            f"verified: re-executing {report.run_commit[:10]}{where} reproduces every output"
        )


def status(
    directory: Path = typer.Argument(Path("conversions"), help="Folder holding conversions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List conversions: id, status, tag, NWB size, validation counts; for a lab
    superdataset made by `anc batch`, every session's latest conversion or failure."""
    from ..batch.records import RECORD_DIR
    from ..datalad_layer.dataset import is_dataset
    from ..provenance.catalog import list_conversions

    if (directory / RECORD_DIR).is_dir() and is_dataset(directory):
        from .batch import lab_status

        lab_status(directory, as_json)
        return

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
    from ..provenance.layout import SUMMARY_FILE, is_conversion

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
