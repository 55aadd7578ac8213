"""``datalad run``, ``rerun`` and ``clone``, and what a run commit recorded.

``run_command`` executes a command through ``datalad run`` with explicit inputs and outputs
and returns a ``RunRecord``: the commit, the run record parsed from its message (command,
inputs, outputs, exit code) and the outputs' content ids. ``explicit=True`` lets the
dataset hold unrelated uncommitted changes and saves only the declared outputs.
``rerun_in_clone`` re-executes a run commit in a throw-away ephemeral clone (inputs are not
copied) and compares the outputs' content ids with the recorded ones. A command that fails
raises ``RunFailed`` carrying DataLad's results, so a caller can name its own error.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import interrupts, timing
from ..errors import DataLadError, RunFailed, UsageError
from .dataset import (
    API_OPTIONS,
    FAILED,
    check_results,
    dl,
    is_dataset,
    message_of,
    open_dataset,
    remove_tree,
)
from .git import call_git
from .keys import key_of_blob
from .locks import clear_stale_locks

RUN_MARKER = "[DATALAD RUNCMD]"
RECORD_START = "=== Do not change lines below ==="
RECORD_END = "^^^ Do not change lines above ^^^"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A recorded run: its commit, run record and outputs' content ids."""

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


# --- what a run recorded --------------------------------------------------------------------


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
    listing = call_git(repo, "ls-tree", "-r", "-z", "--full-tree", ref, "--", *paths)
    entries: list[tuple[str, str, str]] = []  # mode, blob, path
    for item in listing.split(b"\0"):
        if item:
            meta, path = item.split(b"\t", 1)
            mode, _, blob = meta.decode().split()
            entries.append((mode, blob, path.decode()))
    # Annexed files are symlinks (locked) or small pointer files (unlocked) naming the key.
    blobs = "".join(f"{blob}\n" for _, blob, _ in entries).encode()
    out = call_git(repo, "cat-file", "--batch", input=blobs)
    ids: dict[str, str] = {}
    pos = 0
    for mode, blob, path in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        content = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        key = key_of_blob(mode, content)
        ids[path] = str(key) if key is not None else f"git:{blob}"
    return ids


def committed_text(repo: str | Path, ref: str, path: str) -> str | None:
    """The text of PATH as REF holds it in git; None when REF has no such file or annexed it."""
    listing = call_git(repo, "ls-tree", "-z", "--full-tree", ref, "--", path)
    entry = listing.split(b"\0", 1)[0]
    if not entry:
        return None
    meta, _ = entry.split(b"\t", 1)
    mode, kind, blob = meta.decode().split()
    if kind != "blob":
        return None
    content = call_git(repo, "cat-file", "blob", blob)
    if key_of_blob(mode, content) is not None:
        return None
    return content.decode()


def head(repo: str | Path) -> str:
    return call_git(repo, "rev-parse", "HEAD").decode().strip()


def commit_message(repo: str | Path, commit: str) -> str:
    return call_git(repo, "log", "-1", "--format=%B", commit).decode()


def dirty(repo: str | Path, paths: Sequence[str]) -> list[str]:
    """Those of PATHS (or files below them) with uncommitted changes, untracked included."""
    out = call_git(repo, "status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    return [item[3:].decode() for item in out.split(b"\0") if len(item) > 3]


def last_run_commit(repo: str | Path) -> str | None:
    """The newest ``datalad run`` commit of REPO, if any."""
    out = call_git(repo, "log", "--format=%H", "--grep=^\\[DATALAD RUNCMD\\]", "-n", "1")
    return out.decode().strip() or None


def recorded_run(repo: str | Path, output: str, *executed: str) -> RunRecord | None:
    """The last run, if it recorded OUTPUT and none of the EXECUTED files (the script, its
    metadata file) has changed since (a run interrupted after its commit was made, before
    the caller noted so), or None."""
    commit = last_run_commit(repo)
    if commit is None:
        return None
    changed = call_git(repo, "log", "-1", "--format=%H", "--", *executed).decode().strip()
    if not changed:
        return None
    try:  # exit 1: the script changed after that run
        call_git(repo, "merge-base", "--is-ancestor", changed, commit)
    except DataLadError:
        return None
    record = parse_run_record(commit_message(repo, commit))
    if output not in (record.get("outputs") or []):
        return None
    return RunRecord(commit, record, content_ids(repo, commit, [output]), 0.0)


# --- running ----------------------------------------------------------------------------------


def check_run_results(results: list[dict[str, Any]], what: str) -> None:
    """RunFailed when the command failed, DataLadError for any other failed result."""
    for result in results:
        if result.get("action") == "run" and result.get("status") in FAILED:
            code = result.get("exit_code")
            raise RunFailed(
                f"{what} failed (exit {code}): {message_of(result)}",
                "run the command by hand to see why",
                results=results,
                what=what,
                exit_code=code,
            )
    check_results(results, what)


class NothingSaved(DataLadError):
    """A run whose command succeeded but wrote none of its declared outputs: no commit."""


def run_command(
    dataset_path: str | Path,
    cmd: str,
    *,
    inputs: Sequence[str],
    outputs: Sequence[str],
    message: str,
    what: str = "datalad run",
    save_failed: bool = True,
    on_command_done: Callable[[], None] | None = None,
) -> RunRecord:
    """Execute CMD in the dataset through ``datalad run`` and return what it recorded.

    INPUTS and OUTPUTS are paths relative to the dataset root; only OUTPUTS are saved
    (``explicit=True``). WHAT names the run in errors. With SAVE_FAILED=False the outputs
    of a command that fails are left unsaved (DataLad goes on to save them otherwise, in a
    run commit recording the non-zero exit). ``NothingSaved`` when no output was written.
    ON_COMMAND_DONE is called once the command has exited with 0, before DataLad saves
    its outputs (which then still lie in the work tree as the command wrote them).
    """
    root = Path(dataset_path).absolute()
    if not is_dataset(root):
        raise UsageError(f"{root} is not a DataLad dataset", "create the dataset first")
    ds = open_dataset(root)
    before = head(root)
    options = API_OPTIONS if save_failed else {**API_OPTIONS, "on_failure": "stop"}
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with timing.timed("datalad.run"):
        try:
            # Results as they come: the command's own comes before the save of its outputs.
            for result in ds.run(
                cmd=cmd,
                inputs=list(inputs),
                outputs=list(outputs),
                message=message,
                explicit=True,
                **{**options, "return_type": "generator"},
            ):
                results.append(result)
                if (
                    on_command_done is not None
                    and result.get("action") == "run"
                    and result.get("status") == "ok"
                ):
                    on_command_done()
        except Exception as exc:  # on_failure="stop": the failed result, nothing saved
            from datalad.support.exceptions import IncompleteResultsError

            if not isinstance(exc, IncompleteResultsError):
                raise
            results = list(exc.failed or [])
    seconds = time.perf_counter() - started
    check_run_results(results, what)
    commit = head(root)
    if commit == before:
        raise NothingSaved(
            f"{what} saved nothing: none of its outputs ({', '.join(outputs) or 'none declared'}) "
            "was written",
            "make the command write its declared outputs",
        )
    record = parse_run_record(commit_message(root, commit))
    return RunRecord(commit, record, content_ids(root, commit, list(outputs)), seconds)


def rerun_in_clone(dataset_path: str | Path, commit: str) -> RerunResult:
    """Re-execute the run COMMIT in an ephemeral clone and compare its outputs' content ids.

    The clone shares the dataset's annex (``reckless='ephemeral'``), so inputs are not copied;
    it is deleted afterwards. A rerun whose outputs are unchanged makes no commit. The
    command runs in this process's environment: a caller that needs more sets it around.
    """
    root = Path(dataset_path).absolute()
    if not is_dataset(root):
        raise UsageError(f"{root} is not a DataLad dataset", "pass the conversion dataset")
    record = parse_run_record(commit_message(root, commit))
    outputs = list(record.get("outputs") or [])
    full = call_git(root, "rev-parse", "--verify", f"{commit}^{{commit}}").decode().strip()
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
        check_results(cloned, "clone")
        before = head(clone)
        with timing.timed("datalad.rerun"):
            results = dl().rerun(revision=full, dataset=str(clone), **API_OPTIONS)
        check_run_results(results, f"rerun of {full[:10]}")
        after = head(clone)
        rerun_ids = content_ids(clone, "HEAD", outputs)
        changed = set(dirty(clone, outputs))
        comparisons = [
            OutputComparison(
                path, recorded.get(path), None if path in changed else rerun_ids.get(path)
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
        with interrupts.shielded():  # the rerun's command may still write into the clone
            interrupts.end_children(spare)
            remove_tree(workdir)
            clear_stale_locks(root)  # the clone shares the dataset's annex
        raise
    finally:
        if workdir.exists():
            remove_tree(workdir)
