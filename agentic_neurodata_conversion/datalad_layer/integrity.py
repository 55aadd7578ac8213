"""Integrity check and safe repair of a DataLad dataset.

The check reads git's and git-annex's own output, one call for many paths: ``.gitmodules`` and
the index for subdatasets (never each subdataset's work tree), ``git status --porcelain=v2 -z
--ignore-submodules=all`` for the change counts, ``git annex find --json`` for annexed files.
Fast mode compares each present object's size with its key; full mode re-hashes the objects
with ``git annex calckey --batch`` (``git annex fsck`` would move bad content away: a check must
not change anything).

The repair only does what cannot lose data: it removes the git lock files no live process
holds (``locks.clear_stale_locks``), reinstalls registered subdatasets from their recorded source, and re-locks unlocked
files that have no modifications. It never deletes or rewrites user content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import timing
from ..errors import DataLadError, LockHeld, UsageError
from . import dataset as dsops
from . import locks as git_locks
from .git import call_git, iter_git
from .keys import key_size, parse_key, same_key

if TYPE_CHECKING:
    from datalad.api import Dataset

# Backends whose keys hold no content hash: their content cannot be verified.
UNHASHED_BACKENDS = frozenset({"WORM", "URL", "VURL"})
# Paths per git-annex call when paths go on the command line.
ARGS_PER_CALL = 500
JOURNAL_DIR = Path("provenance") / "journal"
# `anc check --repair` waits this long for a held git lock before it reports it and stops.
REPAIR_LOCK_WAIT_S = 1.0


@dataclass
class Subdataset:
    """A subdataset as recorded in ``.gitmodules``."""

    path: str
    url: str
    installed: bool


@dataclass
class IntegrityReport:
    """What `check_dataset_integrity` found; ``issues`` make it invalid, warnings do not."""

    path: str
    mode: str
    issues: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    statistics: dict[str, int] = field(default_factory=dict)
    missing_subdatasets: list[str] = field(default_factory=list)
    unlocked_files: list[str] = field(default_factory=list)
    modified_unlocked_files: list[str] = field(default_factory=list)
    corrupt_files: list[str] = field(default_factory=list)
    stale_locks: list[str] = field(default_factory=list)  # absolute paths (issues)
    held_locks: list[str] = field(default_factory=list)  # absolute paths (warnings)

    @property
    def is_valid(self) -> bool:
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        return {"is_valid": self.is_valid, **asdict(self)}


@dataclass
class RepairReport:
    """What `repair_dataset` did, what it could not do, and the check afterwards."""

    path: str
    actions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    after: IntegrityReport | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and (self.after is None or self.after.is_valid)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "actions": self.actions,
            "failures": self.failures,
            "after": self.after.to_dict() if self.after else None,
        }


def dataset_root(ds_or_path: Dataset | str | Path) -> Path:
    """The top folder of the dataset that holds DS_OR_PATH (a Dataset, its path, or below)."""
    start = Path(getattr(ds_or_path, "path", ds_or_path)).absolute()
    if not start.exists():
        raise UsageError(f"{start} does not exist", "pass the path of a DataLad dataset")
    for probe in (start, *start.parents):
        if dsops.is_dataset(probe):
            return probe
    raise UsageError(f"{start} is not in a DataLad dataset", "pass the path of a DataLad dataset")


def git_dir(root: Path) -> Path:
    """The git directory of the work tree ROOT (``.git`` may be a ``gitdir:`` file)."""
    return git_locks.git_dirs(root)[0]


def list_subdatasets(root: Path) -> list[Subdataset]:
    """Subdatasets registered in ROOT (in ``.gitmodules`` and as gitlinks in the index)."""
    gitmodules = root / ".gitmodules"
    if not gitmodules.is_file():
        return []
    entries: dict[str, dict[str, str]] = {}
    cmd = ["config", "-z", "--file", ".gitmodules", "--list"]
    for item in iter_git(root, cmd):
        key, _, value = os.fsdecode(item).partition("\n")
        name, _, var = key.removeprefix("submodule.").rpartition(".")
        entries.setdefault(name, {})[var] = value
    paths = [e["path"] for e in entries.values() if "path" in e]
    linked = _gitlinks(root, paths)
    return [
        Subdataset(e["path"], e.get("url", ""), os.path.lexists(root / e["path"] / ".git"))
        for e in entries.values()
        if e.get("path") in linked
    ]


def _gitlinks(root: Path, paths: list[str]) -> set[str]:
    """Which of PATHS are registered as gitlinks (mode 160000) in the index."""
    found: set[str] = set()
    for start in range(0, len(paths), ARGS_PER_CALL):
        chunk = paths[start : start + ARGS_PER_CALL]
        cmd = ["--literal-pathspecs", "ls-files", "-s", "-z", "--", *chunk]
        for item in iter_git(root, cmd):
            meta, _, path = item.partition(b"\t")
            if meta.startswith(b"160000 "):
                found.add(os.fsdecode(path))
    return found


@dataclass
class StatusCounts:
    untracked: int = 0
    modified: int = 0
    staged: int = 0
    unmerged: int = 0
    modified_paths: set[str] = field(default_factory=set)


def status_counts(root: Path) -> StatusCounts:
    """Untracked, modified, staged and unmerged paths of ROOT, subdatasets not entered."""
    counts = StatusCounts()
    cmd = [
        "status",
        "--porcelain=v2",
        "-z",
        "--ignore-submodules=all",
        "--untracked-files=all",
    ]
    items = iter_git(root, cmd)
    for item in items:
        kind = item[:1]
        if kind == b"?":
            counts.untracked += 1
        elif kind in (b"1", b"2"):
            xy = item[2:4]
            fields = item.split(b" ", 9 if kind == b"2" else 8)
            if kind == b"2":
                next(items)  # the rename's original path follows as its own item
            counts.staged += xy[:1] != b"."
            if xy[1:] != b".":
                counts.modified += 1
                counts.modified_paths.add(os.fsdecode(fields[-1]))
        elif kind == b"u":
            counts.unmerged += 1
    return counts


# --- annexed files --------------------------------------------------------------------------


@dataclass
class AnnexedFile:
    path: str
    key: str
    backend: str
    size: int | None
    locked: bool
    object_path: Path | None


def annexed_files(root: Path) -> Iterator[AnnexedFile]:
    """Every annexed file in ROOT's work tree, with its key and local object (if present)."""
    objects = git_dir(root) / "annex" / "objects"
    cmd = ["annex", "find", "--anything", "--json"]
    for line in iter_git(root, cmd, b"\n"):
        rec = json.loads(line)
        key = rec["key"]
        parsed = parse_key(key)
        name = parsed.file_name if parsed else key  # a URL key's "/" is escaped there
        found = None
        for hashdir in (rec["hashdirmixed"], rec["hashdirlower"]):
            candidate = objects / hashdir / name / name
            if candidate.is_file():
                found = candidate
                break
        yield AnnexedFile(
            path=rec["file"],
            key=key,
            backend=rec["backend"],
            size=key_size(key),
            locked=(root / rec["file"]).is_symlink(),
            object_path=found,
        )


def calc_keys(root: Path, files: list[Path], backend: str) -> list[str]:
    """The annex key each of FILES would get with BACKEND (one ``git annex calckey`` call)."""
    stdin = b"".join(os.fsencode(f) + b"\0" for f in files)
    out = call_git(root, "annex", "calckey", "--batch", "-z", "--backend", backend, input=stdin)
    computed = out.decode().split("\n")
    if len(computed) < len(files):
        raise DataLadError(
            f"git annex calckey failed in {root}: {len(computed)} keys for {len(files)} files"
        )
    return computed[: len(files)]


def verify_content(root: Path, files: list[AnnexedFile]) -> list[str]:
    """Paths among FILES whose local object no longer hashes to its key (one process/backend)."""
    by_backend: dict[str, list[AnnexedFile]] = {}
    for f in files:
        if f.object_path is not None and f.backend not in UNHASHED_BACKENDS:
            by_backend.setdefault(f.backend, []).append(f)
    bad: list[str] = []
    for backend, group in by_backend.items():
        computed = calc_keys(root, [f.object_path for f in group], backend)  # type: ignore[misc]
        bad.extend(
            f.path for f, key in zip(group, computed, strict=True) if not same_key(f.key, key)
        )
    return bad


# --- the check ------------------------------------------------------------------------------


@timing.timed("datalad.integrity_check")
def check_dataset_integrity(
    ds_or_path: Dataset | str | Path, full: bool = False
) -> IntegrityReport:
    """Check a dataset: git locks, subdatasets, changes, annexed files, provenance journal."""
    root = dataset_root(ds_or_path)
    report = IntegrityReport(path=str(root), mode="full" if full else "fast")
    _check_lock(root, report)
    _check_subdatasets(root, report)
    counts = status_counts(root)
    _check_changes(counts, report)
    if (git_dir(root) / "annex").is_dir():
        _check_annex(root, counts, full, report)
    if (root / JOURNAL_DIR).is_dir():
        _check_journal(root, report)
    return report


def _check_lock(root: Path, report: IntegrityReport) -> None:
    for lock in git_locks.find_locks(root):
        rel = lock.relative_to(root)
        if lock.stale:
            report.stale_locks.append(lock.path)
            report.issues.append(
                f"stale git lock {rel} ({lock.kind}; no live process holds it): git commands "
                "that need it fail until it is removed (anc check --repair)"
            )
        else:
            report.held_locks.append(lock.path)
            report.warnings.append(f"git lock {rel} is held by {lock.describe_holders()}")


def _check_subdatasets(root: Path, report: IntegrityReport) -> None:
    subs = list_subdatasets(root)
    report.missing_subdatasets = [s.path for s in subs if not s.installed]
    report.statistics["subdatasets"] = len(subs)
    report.statistics["missing_subdatasets"] = len(report.missing_subdatasets)
    if report.missing_subdatasets:
        report.warnings.append(
            f"{len(report.missing_subdatasets)} registered subdatasets are not installed: "
            + _sample(report.missing_subdatasets)
        )


def _check_changes(counts: StatusCounts, report: IntegrityReport) -> None:
    report.statistics.update(
        untracked_files=counts.untracked,
        modified_files=counts.modified,
        staged_files=counts.staged,
        unmerged_files=counts.unmerged,
    )
    if counts.unmerged:
        report.issues.append(f"{counts.unmerged} files have unresolved merge conflicts")
    changed = counts.untracked + counts.modified + counts.staged
    if changed:
        report.warnings.append(
            f"uncommitted changes: {counts.untracked} untracked, {counts.modified} modified, "
            f"{counts.staged} staged"
        )


def _check_annex(root: Path, counts: StatusCounts, full: bool, report: IntegrityReport) -> None:
    files = list(annexed_files(root))
    present = [f for f in files if f.object_path is not None]
    unlocked = [f.path for f in files if not f.locked]
    report.modified_unlocked_files = [p for p in unlocked if p in counts.modified_paths]
    report.unlocked_files = unlocked
    report.corrupt_files = (
        verify_content(root, present)
        if full
        else [
            f.path for f in present if f.size is not None and f.object_path.stat().st_size != f.size
        ]
    )
    report.statistics.update(
        annexed_files=len(files),
        annexed_present=len(present),
        unlocked_files=len(unlocked),
        corrupt_files=len(report.corrupt_files),
    )
    if unlocked:
        report.warnings.append(f"{len(unlocked)} annexed files are unlocked: {_sample(unlocked)}")
    if report.corrupt_files:
        how = "hash" if full else "size"
        report.issues.append(
            f"{len(report.corrupt_files)} annexed files no longer match their key ({how}): "
            + _sample(report.corrupt_files)
        )


def _check_journal(root: Path, report: IntegrityReport) -> None:
    from ..journal.chain import verify_journal

    check = verify_journal(root)
    report.statistics["journal_records"] = check.records
    report.issues.extend(f"journal: {problem}" for problem in check.problems)


def _sample(paths: list[str], n: int = 5) -> str:
    more = f" (+{len(paths) - n} more)" if len(paths) > n else ""
    return ", ".join(paths[:n]) + more


# --- the repair -----------------------------------------------------------------------------


@timing.timed("datalad.repair")
def repair_dataset(ds_or_path: Dataset | str | Path, full: bool = False) -> RepairReport:
    """Fix what is safe to fix, report what was done and what was not, then check again."""
    root = dataset_root(ds_or_path)
    report = RepairReport(path=str(root))
    unlocked = _repair_lock(root, report)  # first: the check's own git-annex calls need them
    before = check_dataset_integrity(root, full=full)
    if unlocked:
        _reinstall_subdatasets(root, before.missing_subdatasets, report)
        _relock(root, before, report)
    if before.corrupt_files:
        report.failures.append(
            f"{len(before.corrupt_files)} annexed files do not match their key and were left "
            "as they are: restore them from another copy (`git annex fsck --from REMOTE`)"
        )
    report.after = check_dataset_integrity(root, full=full)
    return report


def _repair_lock(root: Path, report: RepairReport) -> bool:
    """Remove the stale git locks; False when a held one remains and git must not be touched."""
    try:
        removed = git_locks.clear_stale_locks(root, wait_s=REPAIR_LOCK_WAIT_S)
        held: list[git_locks.GitLock] = []
    except LockHeld as exc:
        removed, held = exc.removed, exc.locks
    for lock in removed:
        report.actions.append(
            f"removed stale git lock {lock.relative_to(root)} ({lock.kind}; no live process held it)"
        )
    for lock in held:
        report.failures.append(
            f"left git lock {lock.relative_to(root)} alone (held by {lock.describe_holders()}); "
            "other repairs skipped"
        )
    return not held


def _reinstall_subdatasets(root: Path, missing: list[str], report: RepairReport) -> None:
    """Install each missing subdataset from its recorded source, without its content."""
    urls = {s.path: s.url for s in list_subdatasets(root)}
    todo = []
    for path in missing:
        target = root / path
        if target.exists() and any(target.iterdir()):
            report.failures.append(f"did not reinstall {path}: the folder holds other files")
        else:
            todo.append(path)
    if not todo:
        return
    ds = dsops.open_dataset(root)
    with timing.timed("datalad.get"):
        results = ds.get(path=todo, get_data=False, **dsops.API_OPTIONS)
    done = {
        Path(r["path"])
        for r in results
        if r.get("action") == "install" and r.get("status") in ("ok", "notneeded")
    }
    for path in todo:
        if (root / path) in done and (root / path / ".git").exists():
            report.actions.append(f"reinstalled subdataset {path} from {urls.get(path)}")
        else:
            why = next(
                (
                    dsops.message_of(r)
                    for r in results
                    if r.get("path") == str(root / path) and r.get("status") in dsops.FAILED
                ),
                "not installed",
            )
            report.failures.append(f"could not reinstall {path} from {urls.get(path)}: {why}")


def _relock(root: Path, before: IntegrityReport, report: RepairReport) -> None:
    """Lock unlocked files that carry no modifications; commit when HEAD had them unlocked."""
    keep = set(before.modified_unlocked_files) | set(before.corrupt_files)
    todo = [p for p in before.unlocked_files if p not in keep]
    if before.modified_unlocked_files:
        report.failures.append(
            f"left {len(before.modified_unlocked_files)} modified unlocked files unlocked "
            f"(save them first): {_sample(before.modified_unlocked_files)}"
        )
    locked = []
    for start in range(0, len(todo), ARGS_PER_CALL):
        chunk = todo[start : start + ARGS_PER_CALL]
        cmd = ["annex", "lock", "--json", "--json-error-messages", "--", *chunk]
        for line in iter_git(root, cmd, b"\n", check=False):
            rec = json.loads(line)
            if rec.get("success"):
                locked.append(rec["file"])
            else:
                msgs = " ".join(rec.get("error-messages") or []) or "failed"
                report.failures.append(f"could not lock {rec.get('file')}: {msgs}")
    if not locked:
        return
    report.actions.append(f"re-locked {len(locked)} unmodified annexed files: {_sample(locked)}")
    cmd = ["--literal-pathspecs", "diff", "--cached", "--name-only", "-z", "--", *locked]
    staged = [os.fsdecode(p) for p in iter_git(root, cmd) if p]
    if staged:
        dsops.save(
            dsops.open_dataset(root),
            "Re-lock unlocked annexed files (anc check --repair)",
            paths=[root / p for p in staged],
        )
        report.actions.append(f"saved the re-locked state of {len(staged)} files")
