"""Heavy conversion work in a forked helper process, so it overlaps DataLad's work.

NeuroConv, pynwb, spikeinterface and nwbinspector take ~1.5 s of CPU to import. `anc convert`
forks one helper before it creates the conversion dataset: the helper imports them on the
second core while the main process runs DataLad, then reads the recording's metadata, and at
the end validates and reads the NWB file back (in forked children side by side). The main
process never loads them, so its own steps stay light. Tasks and results travel pickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import interrupts

if TYPE_CHECKING:
    from .evaluation import EvaluationReport
    from .formats import Detection
    from .metadata import ConversionContext, FieldDecision, UserMetadata
    from .metadata_check import MetadataCheck
    from .validation import ValidationReport


def quiet_readers() -> None:
    """The readers' deprecation notices (meant for developers of code calling them) stay off
    the user's terminal, which shows one line per stage (the CLI turns progress bars off)."""
    import warnings

    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)


def _import_reading_libraries() -> None:
    """What reading the recording's metadata needs; loaded while DataLad creates the dataset."""
    interrupts.ignore_in_worker()
    quiet_readers()
    with contextlib.suppress(Exception):  # an import error is reported where it is used
        import neuroconv.datainterfaces  # noqa: F401


def import_validation_libraries() -> None:
    """What validation needs on top; submitted to load while the conversion script runs."""
    with contextlib.suppress(Exception):
        import nwbinspector  # noqa: F401


def _ready() -> int:
    return os.getpid()


def extract(
    folder: Path, fmt: str, choose: Mapping[str, str] | None = None
) -> tuple[Detection, list[FieldDecision], bool]:
    """Detection (paths inside FOLDER), the metadata NeuroConv reads from the recording, and
    whether the installed pynwb writes ``was_generated_by``."""
    from . import formats
    from . import metadata as md

    detection = formats.detect_format(folder, fmt, choose=choose)
    extracted = md.extract_metadata(formats.make_interface(detection), detection)
    return detection, extracted, md.supports_was_generated_by()


@dataclass(frozen=True, slots=True)
class CheckedMetadata:
    """What ``extract_and_check`` read and found: the extraction is reusable for the
    metadata stage of the same recording (its evidence names files relative to the folder)."""

    folder: Path
    user_file: str | None  # as given, for the hints
    detection: Detection
    extracted: list[FieldDecision]
    generated_by: bool
    check: MetadataCheck


def extract_and_check(
    folder: Path,
    fmt: str,
    choose: Mapping[str, str] | None,
    context: ConversionContext,
    user: UserMetadata | None = None,
    user_file: str | Path | None = None,
    from_path: Sequence[FieldDecision] = (),
) -> CheckedMetadata:
    """``extract``, the fields decided as the metadata stage decides them (CONTEXT's
    ``was_generated_by_supported`` filled in here), and ``metadata_check.check_metadata`` on
    them; a blocking problem raises its UsageError (it pickles, hint included). FROM_PATH:
    fields named by the folder path (``metadata.path_decisions``), beside the files' own."""
    import dataclasses

    from . import formats
    from . import metadata as md
    from .metadata_check import check_metadata

    detection = formats.detect_format(folder, fmt, choose=choose)
    interface = formats.make_interface(detection)
    extracted = md.add_path_decisions(md.extract_metadata(interface, detection), from_path)
    generated_by = md.supports_was_generated_by()
    context = dataclasses.replace(context, was_generated_by_supported=generated_by)
    decisions = md.decide_fields(extracted, detection.spec, context, user, user_file)
    check = check_metadata(decisions, interface, user_file=user_file)
    given = str(user_file) if user_file is not None else None
    return CheckedMetadata(folder, given, detection, extracted, generated_by, check)


def check_decisions(
    folder: Path,
    fmt: str,
    choose: Mapping[str, str] | None,
    decisions: Sequence[FieldDecision],
    user_file: str | None = None,
) -> MetadataCheck:
    """``metadata_check.check_metadata`` on DECISIONS for the recording in FOLDER (a
    revision's fields, checked before anything is written); a problem raises its UsageError."""
    from . import formats
    from .metadata_check import check_metadata

    interface = formats.make_interface(formats.detect_format(folder, fmt, choose=choose))
    return check_metadata(decisions, interface, user_file=user_file)


def evaluate(
    nwb: Path, detection: Detection, root: Path, rows: dict[str, tuple[int, int]] | None = None
) -> EvaluationReport:
    """The read-back of the NWB file's series (one per segment) against the recording; ROWS
    limits the samples compared per series (``evaluation.sample_ranges``)."""
    from . import formats
    from .evaluation import evaluate_nwb

    sources = formats.series_sources(formats.make_interface(detection))
    return evaluate_nwb(nwb, sources, root=root, rows=rows)


def _forked(fn: Callable[..., object], *args: object) -> Callable[[], object]:
    """Run FN(*ARGS) in a forked child now; the returned call waits for its result.

    A plain fork (not multiprocessing), so it also works inside a pool worker.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, send the pickled result (or the error), exit at once
        interrupts.ignore_in_worker()
        os.close(read_end)
        try:
            payload = pickle.dumps((True, fn(*args)))
        except BaseException as exc:
            payload = pickle.dumps((False, exc))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)

    def result() -> object:
        with os.fdopen(read_end, "rb") as incoming:
            data = incoming.read()
        os.waitpid(pid, 0)
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    return result


def validate_and_evaluate(
    nwb: Path, detection: Detection, root: Path, read: Path | None = None
) -> tuple[ValidationReport, EvaluationReport]:
    """Validation (pynwb's schema check forked beside nwbinspector's checks), and the
    read-back evaluation split over the cores in forked children.

    Reading back means decompressing the whole file: the longest step after the conversion
    itself (7 s for 1 GB on one core), so it is split by sample range (of every series, in
    pieces of about equal bytes); all only read. READ, when given, is where the bytes of NWB
    are read from (a hard link: ``dataset.hold``); the reports name NWB.
    """
    from .evaluation import merge, sample_ranges
    from .validation import inspector_issues, report_of, schema_errors

    quiet_readers()  # the forked evaluations inherit it
    source = read or nwb
    cores = os.cpu_count() or 1
    if cores < 2:
        validation = report_of(nwb, schema_errors(source), inspector_issues(source), root=root)
        evaluation = evaluate(source, detection, root)
    else:
        schema = _forked(schema_errors, source)
        ranges = sample_ranges(source, cores)
        waits = [_forked(evaluate, source, detection, root, rows) for rows in ranges]
        issues = inspector_issues(source)
        validation = report_of(nwb, schema(), issues, root=root)  # type: ignore[arg-type]
        evaluation = merge([wait() for wait in waits])  # type: ignore[misc]
    if read is not None:
        evaluation.nwb_file = os.path.relpath(nwb, root)
    return validation, evaluation


class HeavyWorker:
    """One forked helper with the conversion libraries loaded; use as a context manager."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(
            1, mp_context=context, initializer=_import_reading_libraries
        )
        before = interrupts.current_children()
        self._pool.submit(_ready)  # fork now: the imports start while the caller goes on
        self.pids = interrupts.current_children() - before  # the helper (a fork is at once)

    @classmethod
    def take(cls) -> HeavyWorker:
        """The helper ``fork_ahead`` started, else a new one."""
        global _ahead
        worker, _ahead = _ahead, None
        return worker or cls()

    def submit(self, fn: object, *args: object) -> Future:
        return self._pool.submit(fn, *args)  # type: ignore[arg-type]

    def close(self, *, now: bool = False) -> None:
        """Stop the helper once its tasks are done; NOW ends it at once (mid-import too)."""
        if now:
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HeavyWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Forked by ``fork_ahead``, until a ``HeavyWorker.take()`` adopts it.
_ahead: HeavyWorker | None = None


def fork_ahead() -> HeavyWorker:
    """Fork the helper now, before the caller loads the rest of its code (~0.2 s the helper
    spends importing instead); the next ``HeavyWorker.take()`` adopts it. A caller that may
    stop before that calls ``drop_ahead`` when it is done."""
    global _ahead
    if _ahead is None:
        _ahead = HeavyWorker()
    return _ahead


def drop_ahead() -> None:
    """End the helper ``fork_ahead`` started if nothing adopted it (a command refused early
    returns at once, without waiting for its imports)."""
    global _ahead
    worker, _ahead = _ahead, None
    if worker is not None:
        worker.close(now=True)
