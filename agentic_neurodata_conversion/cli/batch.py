"""`anc batch`: many conversions on Dask into a lab superdataset; `anc status LAB` reads it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .output import console, print_json

if TYPE_CHECKING:
    from ..batch.cluster import ClusterRequest
    from ..batch.records import BatchRecord, SessionRecord


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


def batch(
    sources: str = typer.Argument(
        ...,
        help="A path pattern like 'raw/{subject_id}/{session_id}' (quoted), a text file "
        "listing source folders, or a NeuroConv YAML conversion specification.",
    ),
    output: Path = typer.Option(
        ..., "--output", help="The lab superdataset (created if absent); a conversion each."
    ),
    workers: int = typer.Option(2, "--workers", help="Local Dask workers (or jobs to start)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="An existing Dask scheduler, e.g. tcp://10.0.0.5:8786."
    ),
    cluster: str | None = typer.Option(
        None, "--cluster", help="Start workers as jobs: slurm | pbs | sge (dask-jobqueue)."
    ),
    cluster_option: list[str] | None = typer.Option(
        None,
        "--cluster-option",
        help="KEY=VALUE for the job-queue cluster (repeatable), e.g. queue=short, memory=8GB.",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="YAML or JSON metadata for every session."
    ),
    retries: int = typer.Option(
        1, "--retries", help="Tries after a failure on an unchanged source, over all runs."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Also push each conversion to this RIA store (ria+file:///...)."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show what would be converted (and the job script of --cluster); write nothing.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run's record as JSON."),
) -> None:
    """Convert every session of SOURCES, each in its own dataset registered in LAB; re-run
    the same command to convert only what is new, changed or failed."""
    from ..batch.cluster import ClusterRequest, parse_cluster_options

    request = ClusterRequest(
        workers=workers,
        scheduler=scheduler,
        cluster=cluster,
        options=parse_cluster_options(cluster_option or []),
    )
    if dry_run:
        _dry_run(sources, output, request, metadata, retries, as_json)
        return
    from ..batch.run import BatchOptions, run_batch
    from ..conversion.workers import quiet_readers

    quiet_readers()
    _quiet_dask()
    options = BatchOptions(
        metadata_file=metadata, retries=retries, ria_url=to, command=["anc", *sys.argv[1:]]
    )
    with _Display(enabled=not as_json and sys.stderr.isatty()) as display:
        record = run_batch(sources, output, request, options, display)
    if as_json:
        sys.stdout.write(record.to_json().decode())
    else:
        _print_run(record, output)
    if any(s.status == "failed" or s.previous == "failed" for s in record.sessions):
        raise typer.Exit(1)


def _quiet_dask() -> None:
    """Dask logs worker restarts and closing connections as warnings: our table says it."""
    import logging

    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _dry_run(
    sources: str,
    output: Path,
    request: ClusterRequest,
    metadata: Path | None,
    retries: int,
    as_json: bool,
) -> None:
    from ..batch.cluster import check_request, job_script
    from ..batch.records import histories, read_runs
    from ..batch.run import check_lab, plan
    from ..batch.sources import expand_sources

    check_request(request)
    sessions = expand_sources(sources)
    lab = output.absolute()
    check_lab(lab)
    if metadata is not None:
        from ..conversion.metadata import load_user_metadata

        load_user_metadata(metadata)
    planned = plan(sessions, lab, histories(read_runs(lab)), retries, metadata)
    rows = [
        {
            "session": p.session.name,
            "source": str(p.session.source or p.session.spec),
            "action": "convert" if p.skip is None else f"skip ({p.skip.previous})",
            "fields": dict(p.session.fields),
        }
        for p in planned
    ]
    script = job_script(request) if request.cluster else None
    if as_json:
        print_json({"sessions": rows, "job_script": script})
        return
    if script:
        typer.echo(script)
    from rich.table import Table

    table = Table("session", "source", "would", "fields")
    for row in rows:
        fields = ", ".join(f"{k}={v}" for k, v in row["fields"].items())
        table.add_row(row["session"], row["source"], row["action"], fields or "-")
    console().print(table)
    todo = sum(1 for p in planned if p.skip is None)
    typer.echo(f"dry run: {todo} to convert, {len(planned) - todo} to skip; nothing written")


class _Display:
    """A rich progress bar on stderr (done, failed, running, time left); silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = None
        self._bar = None

    def __enter__(self) -> _Display:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=console(stderr=True),
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def planned(self, to_convert: int, skipped: int) -> None:
        if self._progress is not None:
            self._bar = self._progress.add_task(
                "converting", total=to_convert, counts=f"{skipped} skipped"
            )

    def progress(self, done: int, failed: int, running: int) -> None:
        if self._progress is not None and self._bar is not None:
            self._progress.update(
                self._bar,
                completed=done + failed,
                counts=f"done {done}  failed {failed}  running {running}",
            )

    def finished(self, session: SessionRecord) -> None:
        if self._progress is not None and session.status == "failed":
            self._progress.console.print(f"failed: {session.name}: {session.error}")


def _print_run(record: BatchRecord, lab: Path) -> None:
    from rich.table import Table

    table = Table("session", "status", "seconds", "conversion / error")
    for s in record.sessions:
        what = s.error if s.status == "failed" or s.previous == "failed" else (s.path or "-")
        status = s.status if s.status != "skipped" else f"skipped ({s.previous})"
        seconds = f"{s.duration_s:.1f}" if s.duration_s is not None else "-"
        table.add_row(s.name, status, seconds, what or "-")
    console().print(table)
    counts = record.counts
    typer.echo(
        f"{counts['completed']} converted, {counts['failed']} failed, {counts['skipped']} "
        f"skipped; recorded in {lab / 'batch' / (record.run + '.json')}"
    )


def lab_status(lab: Path, as_json: bool) -> None:
    """`anc status LAB`: the latest state of every session the batch runs recorded."""
    from ..batch.records import latest_sessions, read_runs

    runs = read_runs(lab)
    latest = latest_sessions(runs)
    if as_json:
        print_json(
            {
                "runs": [{"run": r.run, "status": r.status, **r.counts} for r in runs],
                "sessions": [{**s.to_dict(), "run": run} for run, s in latest],
            }
        )
        return
    from rich.table import Table

    table = Table("session", "status", "conversion / error", "run")
    for run, s in latest:
        shown = s.error if s.status == "failed" or s.previous == "failed" else s.path
        table.add_row(s.name, s.status if s.status != "skipped" else s.previous, shown or "-", run)
    console().print(table)
    completed = sum(1 for _, s in latest if "completed" in (s.status, s.previous))
    typer.echo(
        f"{len(latest)} sessions: {completed} converted, {len(latest) - completed} not; "
        f"{len(runs)} runs, the last ({runs[-1].run}) {runs[-1].status}"
    )
