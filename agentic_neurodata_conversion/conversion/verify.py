"""`anc verify`: is what the user has exactly what the recorded script makes, and is its record intact?

Four checks, each answered on its own so a report names every difference:

- ``journal``: the hash chain of the provenance journal (the first bad line is named);
- ``head``: each output of the run commit is unchanged at HEAD (else the commit that last
  changed it is named);
- ``worktree``: the bytes in the work tree hash to the key HEAD records (an unlocked and
  edited file, or an annexed object written through its symlink, is named);
- ``rerun``: re-executing the recorded ``datalad run`` in a throw-away clone reproduces the
  outputs of the run commit; with ``fresh_env`` its ``python`` is that of a new virtual
  environment built from the run commit's lock file (``fresh_env.py``).

Nothing in the conversion is changed: hashes are computed with ``git annex calckey``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import timing
from ..datalad_layer.dataset import git
from ..datalad_layer.integrity import calc_keys
from ..datalad_layer.keys import AnnexKey, key_of_file, same_key
from ..datalad_layer.run import commit_message, content_ids, last_run_commit, parse_run_record
from ..errors import Interrupted, UsageError
from ..journal.chain import verify_journal
from ..provenance.layout import is_conversion
from .engine import rerun_in_clone
from .fresh_env import FreshEnvironment, fresh_environment, lock_at

CHECKS = ("journal", "head", "worktree", "rerun")


@dataclass
class Check:
    """One question verify answers: its verdict and what it found."""

    name: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    detail: str = ""

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "detail": self.detail}


@dataclass
class OutputState:
    """The content id of one output at the run commit, at HEAD, in the work tree, re-executed."""

    path: str
    recorded: str | None
    head: str | None = None
    worktree: str | None = None
    rerun: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class VerifyReport:
    path: str
    run_commit: str
    checks: dict[str, Check]
    outputs: list[OutputState]
    seconds: float = 0.0
    fresh_env: FreshEnvironment | None = None  # the environment the rerun ran in, if new

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def problems(self) -> list[str]:
        return [p for c in self.checks.values() for p in c.problems]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "run_commit": self.run_commit,
            "checks": {name: c.to_dict() for name, c in self.checks.items()},
            "outputs": [o.to_dict() for o in self.outputs],
            "seconds": round(self.seconds, 3),
            "fresh_env": self.fresh_env.to_dict() if self.fresh_env else {"used": False},
        }


def conversion_root(path: str | Path) -> Path:
    """The conversion dataset holding PATH (its root, or a folder inside it; `.` works)."""
    start = Path(path).expanduser().absolute()
    for probe in (start, *start.parents):
        if is_conversion(probe):
            return probe
    raise UsageError(f"{start} is not in a conversion dataset", "give a conversion_<id> folder")


def run_commit(root: Path) -> str:
    """The last `datalad run` commit: the one that produced the conversion's outputs."""
    out = last_run_commit(root)
    if not out:
        raise UsageError(
            f"conversion {root.name} has no recorded run",
            "only conversions that reached the convert stage can be verified",
        )
    return out


def verify(
    path: str | Path,
    *,
    rerun: bool = True,
    fresh_env: bool = False,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Run every check on the conversion at PATH; the report says which failed and why.

    FRESH_ENV re-executes the run in a new virtual environment built from the lock file
    of the run commit (PROGRESS hears when the build starts: it takes minutes).
    """
    root = conversion_root(path)
    started = time.perf_counter()
    fresh: FreshEnvironment | None = None
    with timing.timed("stage.verify"):
        commit = run_commit(root)
        if fresh_env and rerun:
            lock_at(root, commit)  # a conversion without a lock is refused before any work
        record = parse_run_record(commit_message(root, commit))
        paths = list(record.get("outputs") or [])
        recorded = content_ids(root, commit, paths)
        head = content_ids(root, "HEAD", paths)
        outputs = [
            OutputState(p, recorded.get(p), head.get(p)) for p in sorted(set(paths) | set(recorded))
        ]
        checks = {name: Check(name) for name in CHECKS}
        _check_journal(root, checks["journal"])
        _check_head(root, outputs, checks["head"])
        _check_worktree(root, outputs, checks["worktree"])
        if rerun:
            try:
                if fresh_env and progress is not None:
                    progress(f"building a fresh environment from the lock at {commit[:10]}")
                building = fresh_environment(root, commit) if fresh_env else nullcontext()
                with building as fresh:
                    _check_rerun(root, commit, outputs, checks["rerun"], fresh)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"interrupted during verify; nothing in the conversion was changed: "
                    f"run `anc verify {root}` again"
                ) from None
        else:
            checks["rerun"].detail = "skipped"
    return VerifyReport(str(root), commit, checks, outputs, time.perf_counter() - started, fresh)


def _check_journal(root: Path, check: Check) -> None:
    journal = verify_journal(root)
    check.detail = f"{journal.records} records, hash chain " + (
        "intact" if journal.ok else "BROKEN"
    )
    for problem in journal.problems[:1]:  # the first bad line; the rest follow from it
        check.fail(f"journal: {problem}")
    if len(journal.problems) > 1:
        check.problems.append(f"journal: {len(journal.problems) - 1} more problems (anc check)")


def _check_head(root: Path, outputs: list[OutputState], check: Check) -> None:
    for out in outputs:
        if out.head == out.recorded:
            continue
        if out.head is None:
            check.fail(f"{out.path}: removed after the run ({_last_change(root, out.path)})")
        else:
            check.fail(f"{out.path}: changed after the run by {_last_change(root, out.path)}")
    check.detail = "every output at HEAD is the run commit's" if check.ok else ""


def _last_change(root: Path, path: str) -> str:
    line = git(root, "log", "-1", "--format=%h %s", "--", path).decode().strip()
    commit, _, subject = line.partition(" ")
    return f"commit {commit} ({subject!r})" if commit else "an uncommitted change"


def _check_worktree(root: Path, outputs: list[OutputState], check: Check) -> None:
    """Hash what is in the work tree: the file itself if unlocked, the object if locked."""
    for out in outputs:
        out.worktree, problem = _worktree_id(root, out.path, out.head)
        if problem:
            check.fail(f"{out.path}: {problem}")
    check.detail = "the work tree holds what HEAD records" if check.ok else ""


def _worktree_id(root: Path, path: str, head: str | None) -> tuple[str | None, str | None]:
    file = root / path
    if not os.path.lexists(file):
        return None, "missing from the work tree"
    if head is None:
        return None, "in the work tree but not committed"
    if head.startswith("git:"):
        blob = git(root, "hash-object", "--", path).decode().strip()
        return f"git:{blob}", None if blob == head[4:] else "modified in the work tree"
    backend = AnnexKey.parse(head).backend
    if file.is_symlink():
        key = key_of_file(file)
        link_key = str(key) if key is not None else os.readlink(file)
        if link_key != head:
            return link_key, f"points to {link_key}, HEAD records {head} (not committed)"
        target = file.resolve()
        if not target.is_file():
            return None, "annexed content is not present (datalad get it to verify)"
        computed = calc_keys(root, [target], backend)[0]
        if not same_key(head, computed):
            return computed, (
                "its annexed content was modified in place (written through the symlink): "
                f"it hashes to {computed}, not to its key"
            )
        return head, None
    computed = calc_keys(root, [file], backend)[0]
    if not same_key(head, computed):
        return computed, f"unlocked and modified in the work tree (hashes to {computed})"
    return head, None


def _check_rerun(
    root: Path,
    commit: str,
    outputs: list[OutputState],
    check: Check,
    fresh: FreshEnvironment | None = None,
) -> None:
    result = rerun_in_clone(root, commit, bin_dir=fresh.bin_dir if fresh else None)
    by_path = {o.path: o for o in result.outputs}
    for out in outputs:
        item = by_path.get(out.path)
        out.rerun = item.rerun if item else None
        if item is None or not item.same:
            check.fail(
                f"{out.path}: re-executing {commit[:10]} gives {out.rerun}, "
                f"the run commit recorded {out.recorded}"
            )
    where = ""
    if fresh is not None:
        where = (
            f" in a fresh environment (Python {fresh.python}, {fresh.distributions} "
            f"distributions from {fresh.lock}, built in {fresh.seconds:.0f} s)"
        )
        if fresh.recorded_python and fresh.recorded_python != fresh.python:
            where += f"; the conversion ran with Python {fresh.recorded_python}"
    check.detail = (
        f"re-executing {commit[:10]}{where} reproduces every output byte for byte"
        if check.ok
        else f"re-executing {commit[:10]}{where} differs"
    )
