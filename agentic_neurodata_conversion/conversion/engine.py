"""Execute the generated conversion script through ``datalad run``, and re-execute it to verify.

``run_conversion`` records the run in the dataset's history: the commit message holds a
machine-readable record (command, inputs, outputs, exit code) and the NWB file, written
straight into ``outputs/``, is annexed by the run's save. ``explicit=True`` lets the dataset
hold unrelated uncommitted changes (the tracker's journal) and saves only the declared
outputs. ``rerun_in_clone`` re-executes that commit in a throw-away ephemeral clone (inputs
are not copied) and compares the outputs' content ids with the recorded ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import interrupts, timing
from ..datalad_layer.dataset import (
    API_OPTIONS,
    FAILED,
    check_results,
    dl,
    git,
    is_dataset,
    message_of,
    remove_tree,
    save,
)
from ..datalad_layer.locks import clear_stale_locks
from ..errors import ConversionError, DataLadError, UsageError
from .script import METADATA_NAME

RUN_MARKER = "[DATALAD RUNCMD]"
RECORD_START = "=== Do not change lines below ==="
RECORD_END = "^^^ Do not change lines above ^^^"
ERROR_LOG = "reports/conversion-error.log"
ERROR_LOG_ENV = "ANC_ERROR_LOG"


@dataclass(frozen=True, slots=True)
class RunResult:
    """A recorded conversion run: its commit, run record and outputs' content ids."""

    commit: str
    record: dict[str, Any]
    outputs: dict[str, str]  # path -> annex key (or "git:<blob>" for files kept in git)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "record": self.record,
            "outputs": dict(self.outputs),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class OutputComparison:
    path: str
    recorded: str | None
    rerun: str | None

    @property
    def same(self) -> bool:
        return self.recorded is not None and self.recorded == self.rerun

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "recorded": self.recorded,
            "rerun": self.rerun,
            "same": self.same,
        }


@dataclass(frozen=True, slots=True)
class RerunResult:
    """Outcome of re-executing a run commit in a clone."""

    commit: str
    outputs: list[OutputComparison] = field(default_factory=list)
    new_commit: str | None = None  # made by the rerun when something changed
    seconds: float = 0.0

    @property
    def identical(self) -> bool:
        return bool(self.outputs) and all(o.same for o in self.outputs)

    @property
    def differing(self) -> list[str]:
        return [o.path for o in self.outputs if not o.same]

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "identical": self.identical,
            "differing": self.differing,
            "outputs": [o.to_dict() for o in self.outputs],
            "new_commit": self.new_commit,
            "seconds": round(self.seconds, 3),
        }


def parse_run_record(message: str) -> dict[str, Any]:
    """The JSON run record inside a ``[DATALAD RUNCMD]`` commit message."""
    start, end = message.find(RECORD_START), message.find(RECORD_END)
    if not message.startswith(RUN_MARKER) or start < 0 or end < start:
        raise DataLadError("commit is not a datalad run commit (no run record in its message)")
    return json.loads(message[start + len(RECORD_START) : end])


def content_ids(repo: str | Path, ref: str, paths: Sequence[str]) -> dict[str, str]:
    """Content id of each file under PATHS at REF: its annex key, else ``git:<blob sha>``."""
    if not paths:
        return {}
    listing = git(repo, "ls-tree", "-r", "-z", "--full-tree", ref, "--", *paths)
    entries: list[tuple[str, str, str]] = []  # mode, blob, path
    for item in listing.split(b"\0"):
        if item:
            meta, path = item.split(b"\t", 1)
            mode, _, blob = meta.decode().split()
            entries.append((mode, blob, path.decode()))
    # Annexed files are symlinks (locked) or small pointer files (unlocked) naming the key.
    blobs = "".join(f"{blob}\n" for _, blob, _ in entries).encode()
    out = git(repo, "cat-file", "--batch", input=blobs)
    ids: dict[str, str] = {}
    pos = 0
    for mode, blob, path in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        content = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = content.decode(errors="replace").strip() if size < 1024 else ""
        if (
            mode == "120000" or target.startswith("/annex/objects/")
        ) and "annex/objects/" in target:
            ids[path] = target.rsplit("/", 1)[-1]
        else:
            ids[path] = f"git:{blob}"
    return ids


def last_run_commit(repo: str | Path) -> str | None:
    """The newest ``datalad run`` commit of REPO, if any."""
    out = git(repo, "log", "--format=%H", "--grep=^\\[DATALAD RUNCMD\\]", "-n", "1")
    return out.decode().strip() or None


def recorded_run(repo: str | Path, output: str, script: str) -> RunResult | None:
    """The run already recorded for OUTPUT with SCRIPT as it is now (a conversion
    interrupted after its run commit was made, before it noted so), or None."""
    commit = last_run_commit(repo)
    if commit is None:
        return None
    changed = git(repo, "log", "-1", "--format=%H", "--", script).decode().strip()
    if not changed:
        return None
    try:  # exit 1: the script changed after that run
        git(repo, "merge-base", "--is-ancestor", changed, commit)
    except DataLadError:
        return None
    record = parse_run_record(_commit_message(repo, commit))
    if output not in (record.get("outputs") or []):
        return None
    return RunResult(commit, record, content_ids(repo, commit, [output]), 0.0)


def _head(repo: str | Path) -> str:
    return git(repo, "rev-parse", "HEAD").decode().strip()


def _commit_message(repo: str | Path, commit: str) -> str:
    return git(repo, "log", "-1", "--format=%B", commit).decode()


def _dirty(repo: str | Path, paths: Sequence[str]) -> list[str]:
    out = git(repo, "status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    return [item[3:].decode() for item in out.split(b"\0") if len(item) > 3]


@contextmanager
def _command_environment(error_log: Path) -> Iterator[None]:
    """This interpreter first on PATH (the recorded command says plain ``python``), the
    error log location for the script, and the fixed hash seed the script would otherwise
    re-execute itself to get; restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("PATH", ERROR_LOG_ENV, "PYTHONHASHSEED")}
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ[ERROR_LOG_ENV] = str(error_log)
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _raise_on_failure(
    results: list[dict[str, Any]], error_log: Path, what: str, keep: Path | None = None
) -> None:
    """A failed command becomes a ConversionError naming the script's last error line; its
    log is copied to KEEP (best effort: the disk may be full)."""
    for result in results:
        if result.get("action") == "run" and result.get("status") in FAILED:
            code = result.get("exit_code")
            last = ""
            if error_log.is_file():
                lines = [ln for ln in error_log.read_text().splitlines() if ln.strip()]
                last = lines[-1].strip() if lines else ""
            if code is None and not last:
                break  # not the command: a datalad failure, reported below
            where = error_log
            if keep is not None and last:
                with contextlib.suppress(OSError):
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(error_log, keep)
                    where = keep
            detail = last or message_of(result)
            raise ConversionError(
                f"{what} failed (exit {code}): {detail}",
                f"the traceback is in {where}" if last else "run the script by hand to see why",
            )
    check_results(results, what)


def run_conversion(
    dataset_path: str | Path,
    script_relpath: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    message: str,
) -> RunResult:
    """Execute ``python SCRIPT`` in the dataset through ``datalad run`` and return the record.

    The script and the metadata file beside it are committed first when they are new or
    changed, so the run commit's parent holds exactly what was executed. INPUTS and OUTPUTS
    are paths relative to the dataset root; the script and its metadata file are added to
    the inputs. Raises ConversionError with the script's last error line when it fails.
    """
    root = Path(dataset_path).absolute()
    if not is_dataset(root):
        raise UsageError(f"{root} is not a DataLad dataset", "create the conversion dataset first")
    script = Path(script_relpath)
    if script.is_absolute() or not (root / script).is_file():
        raise UsageError(
            f"no script {script_relpath} in {root}", "render and write the script first"
        )
    metadata_file = (script.parent / METADATA_NAME).as_posix()
    executed = [script.as_posix()] + ([metadata_file] if (root / metadata_file).is_file() else [])
    ds = dl().Dataset(str(root))
    if _dirty(root, executed):
        save(ds, f"Add conversion script {script.as_posix()}", paths=executed)

    (root / ERROR_LOG).unlink(missing_ok=True)
    # The script's stderr goes to a log outside the dataset: written even when the
    # dataset's disk is full, and never part of the run's outputs. Kept in reports/ on failure.
    fd, name = tempfile.mkstemp(prefix="anc-run-", suffix=".log")
    os.close(fd)
    error_log = Path(name)
    all_inputs = list(dict.fromkeys([*inputs, *executed]))
    started = time.perf_counter()
    try:
        with _command_environment(error_log), timing.timed("datalad.run"):
            results = ds.run(
                cmd=f"python {shlex.quote(script.as_posix())}",
                inputs=all_inputs,
                outputs=list(outputs),
                message=message,
                explicit=True,
                **API_OPTIONS,
            )
        seconds = time.perf_counter() - started
        _raise_on_failure(
            results, error_log, f"conversion script {script.as_posix()}", keep=root / ERROR_LOG
        )
    finally:
        error_log.unlink(missing_ok=True)
    commit = _head(root)
    record = parse_run_record(_commit_message(root, commit))
    return RunResult(commit, record, content_ids(root, commit, list(outputs)), seconds)


def rerun_in_clone(dataset_path: str | Path, commit: str) -> RerunResult:
    """Re-execute the run COMMIT in an ephemeral clone and compare its outputs' content ids.

    The clone shares the dataset's annex (``reckless='ephemeral'``), so inputs are not copied;
    it is deleted afterwards. A rerun whose outputs are unchanged makes no commit.
    """
    root = Path(dataset_path).absolute()
    if not is_dataset(root):
        raise UsageError(f"{root} is not a DataLad dataset", "pass the conversion dataset")
    record = parse_run_record(_commit_message(root, commit))
    outputs = list(record.get("outputs") or [])
    full = git(root, "rev-parse", "--verify", f"{commit}^{{commit}}").decode().strip()
    recorded = content_ids(root, full, outputs)
    workdir = Path(tempfile.mkdtemp(prefix="anc-verify-"))
    clone = workdir / "clone"
    started = time.perf_counter()
    spare = interrupts.current_children()
    try:
        with timing.timed("datalad.clone"):
            cloned = dl().clone(
                source=str(root), path=str(clone), reckless="ephemeral", **API_OPTIONS
            )
        check_results(
            cloned,
            "clone",
        )
        before = _head(clone)
        error_log = workdir / "conversion-error.log"
        with _command_environment(error_log), timing.timed("datalad.rerun"):
            results = dl().rerun(revision=full, dataset=str(clone), **API_OPTIONS)
        _raise_on_failure(results, error_log, f"rerun of {full[:10]}")
        after = _head(clone)
        rerun_ids = content_ids(clone, "HEAD", outputs)
        dirty = set(_dirty(clone, outputs))
        comparisons = [
            OutputComparison(
                path, recorded.get(path), None if path in dirty else rerun_ids.get(path)
            )
            for path in sorted(set(recorded) | set(rerun_ids))
        ]
        return RerunResult(
            commit=full,
            outputs=comparisons,
            new_commit=after if after != before else None,
            seconds=time.perf_counter() - started,
        )
    except KeyboardInterrupt:
        with interrupts.shielded():  # the rerun's script may still write into the clone
            interrupts.end_children(spare)
            remove_tree(workdir)
            clear_stale_locks(root)  # the clone shares the dataset's annex
        raise
    finally:
        if workdir.exists():
            remove_tree(workdir)
