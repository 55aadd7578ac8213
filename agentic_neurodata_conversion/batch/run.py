"""``anc batch``: plan, convert on Dask, collect; resumable by re-running the same command.

    expand SOURCES -> check LAB and the cluster (nothing written yet) -> lock LAB ->
    recover what a crashed run left -> plan (skip what is done) -> submit -> collect

A session is converted again only when its source changed since its last conversion, or it
failed on this source fewer than 1 + RETRIES times (over all runs).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import Interrupted, UsageError
from ..provenance.layout import conversion_folder, is_conversion
from . import claims
from .cluster import ClusterRequest, check_request, open_client
from .collector import Collector
from .fingerprint import fingerprint, same_content, settings_digest
from .records import (
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    SKIPPED,
    BatchRecord,
    History,
    SessionRecord,
    histories,
    new_run_id,
    read_runs,
    source_key,
    utc_now,
)
from .sources import BatchSession, expand_sources
from .task import SessionOutcome, SessionTask, run_session

POLL_S = 0.5
LAB_LOCK = "batch.lock"


class BatchEvents(Protocol):
    """What a front end shows while a batch runs (the CLI: a rich progress bar)."""

    def planned(self, to_convert: int, skipped: int) -> None: ...

    def progress(self, done: int, failed: int, running: int) -> None: ...

    def finished(self, session: SessionRecord) -> None: ...


@dataclass
class BatchOptions:
    metadata_file: Path | None = None
    retries: int = 1
    ria_url: str | None = None
    batch_size: int = 50
    command: Sequence[str] = ()


@dataclass
class Planned:
    session: BatchSession
    key: str
    fingerprint: str
    settings: str
    attempts: int  # failed attempts on this fingerprint and these settings so far
    skip: SessionRecord | None = None


@dataclass
class _Running:
    planned: Planned
    task: SessionTask


def check_lab(lab: Path) -> None:
    """Refuse a LAB that cannot be a superdataset, before anything is written."""
    from ..datalad_layer.dataset import enclosing_git_repo, is_dataset

    if lab.exists() and not lab.is_dir():
        raise UsageError(f"{lab} is not a folder", "give a folder for the lab superdataset")
    if (lab / ".git").exists() and not is_dataset(lab):
        raise UsageError(
            f"{lab} is a plain git repository, not a DataLad dataset",
            f"make it one with `datalad create --force {lab}`, or give another --output",
        )
    top = enclosing_git_repo(lab.parent) if not lab.exists() else None
    if top is not None and not is_dataset(top):
        raise UsageError(
            f"{lab} would be inside the plain git repository {top}",
            "give an --output outside it, or make it a dataset with `datalad create --force`",
        )


def describe(request: ClusterRequest) -> str:
    if request.scheduler:
        return f"scheduler {request.scheduler}"
    if request.cluster:
        return f"{request.cluster}, {request.workers} jobs"
    return f"local, {request.workers} workers"


def _conversion_id(session: BatchSession, run: str, attempt: int) -> str:
    token = hashlib.sha256(f"{run}\0{session.name}\0{attempt}".encode()).hexdigest()[:8]
    return f"{session.name}-{token}"


def plan(
    sessions: Sequence[BatchSession],
    lab: Path,
    known: dict[str, History],
    retries: int,
    metadata_file: Path | None = None,
) -> list[Planned]:
    """What to convert and what to skip, from the records of earlier runs: a completed
    conversion is kept while its source and the run's --metadata are unchanged (a record
    older than the settings digest counts as unchanged)."""
    settings = settings_digest(metadata_file)
    planned = []
    for session in sessions:
        key = source_key(session.inputs)
        now = fingerprint(session.inputs)
        history = known.get(key, History())
        done = history.completed
        failures = history.failures.get((now, settings), 0)
        item = Planned(session, key, now, settings, failures)
        if (
            done is not None
            and done.path
            and done.settings in (None, settings)
            and (done.fingerprint == now or same_content(lab / done.path, session.inputs))
        ):
            item.skip = _skipped(
                item,
                COMPLETED,
                conversion_id=done.conversion_id,
                path=done.path,
                tag=done.tag,
            )
        elif failures >= 1 + retries:
            item.skip = _skipped(
                item,
                FAILED,
                error=f"failed {failures} times on this source; fix it, or raise --retries",
                attempts=failures,
            )
        planned.append(item)
    return planned


def _skipped(item: Planned, previous: str, **found: Any) -> SessionRecord:
    """The record of a session not converted this run, for what an earlier run left."""
    s = item.session
    return SessionRecord(
        s.name,
        item.key,
        SKIPPED,
        str(s.source or s.spec),
        item.fingerprint,
        item.settings,
        previous=previous,
        **found,
    )


def recover(lab: Path) -> list[str]:
    """Bring LAB back to its last commit after a crashed run: finish a registration cut
    short, end a killed run's conversion processes and remove what they half made."""
    from ..datalad_layer.dataset import remove_tree
    from ..datalad_layer.register import registered_paths, repair_registration

    fixed = repair_registration(lab)
    registered = registered_paths(lab)
    for claim in claims.left_over(lab):
        conversion_id = claim.get("conversion_id")
        if not conversion_id:
            continue
        claims.end_claimed(lab, conversion_id)
        folder = conversion_folder(lab, conversion_id)
        if folder.exists() and folder.relative_to(lab).as_posix() not in registered:
            remove_tree(folder)
            fixed.append(f"removed the unfinished {folder.name}")
        claims.release(lab, conversion_id)
    return fixed


def _task(item: Planned, lab: Path, run: str, options: BatchOptions) -> SessionTask:
    s = item.session
    attempt = item.attempts + 1
    return SessionTask(
        lab=str(lab),
        run=run,
        name=s.name,
        key=item.key,
        conversion_id=_conversion_id(s, run, attempt),
        fingerprint=item.fingerprint,
        attempt=attempt,
        source=str(s.source) if s.source else None,
        spec=str(s.spec) if s.spec else None,
        spec_session=s.spec_session,
        metadata_file=_metadata_file(s, options, lab, run),
        path_metadata=dict(s.metadata),
        evidence=s.evidence,
        ria_url=options.ria_url,
    )


def _metadata_file(session: BatchSession, options: BatchOptions, lab: Path, run: str) -> str | None:
    """The session's metadata: --metadata for every session, its own file over it (deep
    merged, as NeuroConv merges layers); both in one file the conversion keeps a copy of,
    its header naming the two."""
    common, own = options.metadata_file, session.metadata_file
    if common is None or own is None:
        chosen = own or common
        return str(chosen) if chosen else None
    import yaml
    from neuroconv.utils import dict_deep_update

    merged = dict_deep_update(_yaml(common), _yaml(own))
    target = claims.work_area(lab) / "metadata" / run / f"{session.name}.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    header = f"# anc batch: {common} (every session), then {own} (this session) over it\n"
    target.write_text(header + yaml.safe_dump(merged, sort_keys=False))
    return str(target)


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text()) or {}


def _session_record(item: Planned, outcome: SessionOutcome) -> SessionRecord:
    s = item.session
    return SessionRecord(
        s.name,
        item.key,
        outcome.status,
        str(s.source or s.spec),
        item.fingerprint,
        item.settings,
        conversion_id=outcome.conversion_id,
        tag=outcome.tag,
        duration_s=outcome.duration_s,
        error=outcome.error,
        attempts=outcome.attempt,
    )


def run_batch(
    sources: str,
    lab: Path,
    request: ClusterRequest,
    options: BatchOptions,
    events: BatchEvents | None = None,
) -> BatchRecord:
    """Convert every session of SOURCES into LAB; the run's record (also committed)."""
    from filelock import FileLock, Timeout

    from ..datalad_layer import annex
    from ..datalad_layer.dataset import create_dataset

    check_request(request)
    if options.retries < 0:
        raise UsageError(f"--retries {options.retries} is negative", "give 0 or more")
    lab = lab.absolute()
    sessions = expand_sources(sources)
    from ..conversion.metadata import load_user_metadata

    for given in {options.metadata_file, *(s.metadata_file for s in sessions)} - {None}:
        load_user_metadata(given)  # type: ignore[arg-type]  # a bad file: refused at once
    if options.ria_url is not None:
        from ..datalad_layer.ria import check_url

        check_url(options.ria_url)
    check_lab(lab)
    lock = FileLock(claims.work_area(lab) / LAB_LOCK)
    record: BatchRecord | None = None
    with contextlib.ExitStack() as stack:
        # Unwound last to first: the cluster closes (its workers and their tasks end), then
        # what their conversion processes left is ended and removed, then LAB is unlocked.
        stack.callback(lambda: lock.is_locked and lock.release())
        stack.callback(lambda: record is not None and record.status != FINISHED and recover(lab))
        client = stack.enter_context(open_client(request))  # no answer: refused here
        create_dataset(lab, "Lab superdataset (anc batch)", rules=annex.DEVELOPMENT_RULES)
        claims.work_area(lab).mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise UsageError(
                f"another anc batch is running on {lab}",
                "wait for it to end; a re-run afterwards picks up what it left",
            ) from None
        recover(lab)
        record = BatchRecord(
            new_run_id(), sources, utc_now(), describe(request), list(options.command)
        )
        known = histories(read_runs(lab))
        planned = plan(sessions, lab, known, options.retries, options.metadata_file)
        with contextlib.suppress(KeyboardInterrupt):  # recorded; the stack ends the rest
            _convert(client, lab, record, planned, options, events)
    if record is not None and record.status == INTERRUPTED:
        counts = record.counts
        raise Interrupted(
            f"batch interrupted: {counts[COMPLETED]} converted, {counts[FAILED]} failed; "
            "nothing half-made is kept",
            "run the same command again to convert the rest",
        )
    if options.ria_url is not None:
        from ..datalad_layer.ria import publish

        publish(lab, options.ria_url)
    assert record is not None
    return record


def _convert(
    client: Any,
    lab: Path,
    record: BatchRecord,
    planned: list[Planned],
    options: BatchOptions,
    events: BatchEvents | None,
) -> None:
    from distributed import wait

    collector = Collector(lab, record, batch_size=options.batch_size)
    todo = [item for item in planned if item.skip is None]
    for item in planned:
        if item.skip is not None:
            collector.note(item.skip)
            if events:
                events.finished(item.skip)
    if events:
        events.planned(len(todo), len(planned) - len(todo))
    running: dict[Any, _Running] = {}

    def submit(item: Planned) -> None:
        task = _task(item, lab, record.run, options)
        future = client.submit(run_session, task, key=f"anc-{task.conversion_id}", pure=False)
        running[future] = _Running(item, task)

    done = failed = 0
    try:
        for item in todo:
            submit(item)
        while running:
            try:
                finished = wait(list(running), timeout=POLL_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # none finished within POLL_S: show the progress, go on
                finished = set()
            for future in finished:
                entry = running.pop(future)
                outcome = _outcome(future, entry.task)
                entry.planned.attempts = outcome.attempt
                session = _session_record(entry.planned, outcome)
                if outcome.status == FAILED and outcome.attempt < 1 + options.retries:
                    # Set aside and recorded like any failure; then tried again.
                    collector.add(outcome, session)
                    submit(entry.planned)
                    continue
                collector.add(outcome, session)
                done += outcome.status == COMPLETED
                failed += outcome.status == FAILED
                if events:
                    events.finished(session)
            if events:
                events.progress(done, failed, _processing(client, running))
        record.status, record.ended = FINISHED, utc_now()
        collector.flush(
            f"[anc] batch {record.run}: {done} converted, {failed} failed, "
            f"{record.counts[SKIPPED]} skipped"
        )
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            client.cancel(list(running))
        record.status, record.ended = INTERRUPTED, utc_now()
        collector.flush(f"[anc] batch {record.run} interrupted")
        raise


def _outcome(future: Any, task: SessionTask) -> SessionOutcome:
    """The task's outcome; a task Dask gave up on (its workers kept dying) is a failure."""
    try:
        return future.result()
    except Exception as exc:
        outcome = SessionOutcome(
            task.name, task.key, task.conversion_id, task.fingerprint, task.attempt, FAILED
        )
        outcome.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if is_conversion(task.folder):
            outcome.path = str(task.folder)
        return outcome


def _processing(client: Any, running: dict[Any, _Running]) -> int:
    keys = {future.key for future in running}
    with contextlib.suppress(Exception):  # a progress figure: never worth failing the batch
        return sum(1 for tasks in client.processing().values() for key in tasks if key in keys)
    return 0
