"""Git lock files a killed git or git-annex leaves behind, judged by who holds them.

git changes a file X by creating ``X.lock`` (``O_CREAT|O_EXCL``), writing the new X into it
and renaming it over X. A killed git leaves ``X.lock``, and every later git that needs X
fails ("Unable to create '.git/index.lock': File exists", "cannot lock ref 'HEAD'").
Removing such a lock loses nothing: X keeps its old content (the rename is atomic) and the
change the killed process was making was never acknowledged.

A lock is *held* while a live process has the file open, or while a live git or git-annex
process works in this repository (its cwd, ``--git-dir``/``--work-tree`` or
``GIT_DIR``/``GIT_WORK_TREE`` inside the work tree or git dir; a cwd inside a repository of
its own below the work tree, a subdataset, is not this repository): git closes a ref lock's file
before renaming it and ``git commit`` keeps ``index.lock`` closed while its hooks run, so
the open-file test alone misses holders. Processes we may not inspect count as holders
when they run as the lock's owner (whoever made a lock owns it). A lock nobody holds is *stale*, however
young: no age rule (a lock left a moment ago by a killed process blocks as much as an old
one).

Not reported, because they block nothing once their process is gone: git-annex's ``.lck``
files (``fcntl`` locks the kernel drops when the process dies; the file stays by design),
git-annex's ``pidlock`` (only with ``annex.pidlock``; git-annex checks the pid in it),
git's ``gc.pid`` (gc checks the pid in it), and our own ``anc-*.lock`` (``flock`` files).

Limit: a process in another PID namespace (a container sharing the folder) is invisible.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LockHeld

# Lock files directly in the git dir, by the file they guard (pseudo-refs such as HEAD,
# ORIG_HEAD, FETCH_HEAD, MERGE_HEAD match PSEUDO_REF).
TOP_LEVEL = {
    "index": "index",
    "packed-refs": "packed-refs",
    "config": "config",
    "shallow": "shallow",
}
PSEUDO_REF = re.compile(r"[A-Z][A-Z_]*")
# `git commit -- paths` builds its commit from a temporary index next-index-<pid>.lock.
NEXT_INDEX = "next-index-"
# Single lock files elsewhere (no walk of the object store).
FIXED = {
    "objects/maintenance.lock": "maintenance",
    "objects/info/commit-graph.lock": "commit-graph",
    "objects/info/commit-graphs/commit-graph-chain.lock": "commit-graph",
    "objects/pack/multi-pack-index.lock": "multi-pack-index",
}
# Entries looked at below refs/ and logs/ at most (loose refs are few; this bounds a freak).
MAX_REF_ENTRIES = 100_000
WAIT_POLL_S = (0.02, 0.5)  # first and largest pause between looks at a held lock


@dataclass
class GitLock:
    """One lock file, what it guards, and the live processes that may hold it."""

    path: str  # absolute
    kind: str  # index, HEAD, ORIG_HEAD, ref, reflog, packed-refs, config, annex-index, ...
    holders: list[int] = field(default_factory=list)
    commands: dict[int, str] = field(default_factory=dict)  # holder pid: its command line
    _identity: tuple[int, int, int] = field(default=(0, 0, 0), repr=False, compare=False)

    @property
    def stale(self) -> bool:
        """No live process holds it: left by a process that died."""
        return not self.holders

    def relative_to(self, root: Path) -> str:
        """The lock's path as seen from the work tree ROOT (``.git/index.lock``)."""
        return os.path.relpath(self.path, Path(root).resolve())

    def describe_holders(self) -> str:
        return ", ".join(
            f"pid {pid} ({self.commands[pid]})" if self.commands.get(pid) else f"pid {pid}"
            for pid in self.holders
        )


# --- finding lock files ----------------------------------------------------------------------


def git_dirs(root: Path) -> tuple[Path, Path]:
    """The git dir of ROOT and its common dir (they differ for a linked worktree)."""
    dotgit = root / ".git"
    if dotgit.is_file():
        target = dotgit.read_text().strip().removeprefix("gitdir:").strip()
        gitdir = (root / target).resolve()
    else:
        gitdir = dotgit.resolve()
    try:
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    except (FileNotFoundError, NotADirectoryError):
        common = gitdir
    return gitdir, common


def find_locks(root: str | Path) -> list[GitLock]:
    """Every lock file a killed git or git-annex can leave in ROOT's repository, judged.

    Cheap when there is none: a few ``scandir`` calls (git dir, annex/, refs/, logs/) and a
    few ``stat``s; the processes are looked at only when a lock exists.
    """
    root = Path(root).absolute()
    gitdir, common = git_dirs(root)
    found: dict[str, GitLock] = {}
    for path, kind in _candidates(gitdir, common):
        try:
            st = os.lstat(path)
        except OSError:
            continue
        key = str(path)
        if key not in found:
            found[key] = GitLock(key, kind, _identity=(st.st_dev, st.st_ino, st.st_ctime_ns))
    if not found:
        return []
    # The files were listed first and the processes are looked at now: a process that made
    # one of these locks and still runs is seen; a git started later cannot have made it
    # (the file already existed, O_EXCL would have failed).
    locks = sorted(found.values(), key=lambda lock: lock.path)
    _judge(locks, (root.resolve(), gitdir, common))
    return locks


def _candidates(gitdir: Path, common: Path) -> Iterator[tuple[Path, str]]:
    for top in dict.fromkeys((gitdir, common)):
        yield from _top_level(top)
    for rel, kind in FIXED.items():
        yield common / rel, kind
    yield from _annex_locks(common / "annex")
    budget = [MAX_REF_ENTRIES]
    yield from ((p, "ref") for p in _lock_files(common / "refs", budget))
    for top in dict.fromkeys((gitdir, common)):
        yield from ((p, "reflog") for p in _lock_files(top / "logs", budget))


def _top_level(top: Path) -> Iterator[tuple[Path, str]]:
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        stem = entry.name.removesuffix(".lock")
        if stem == entry.name:
            continue
        if stem in TOP_LEVEL:
            yield Path(entry.path), TOP_LEVEL[stem]
        elif stem.startswith(NEXT_INDEX):
            yield Path(entry.path), "next-index"
        elif PSEUDO_REF.fullmatch(stem):
            yield Path(entry.path), stem


def _annex_locks(annex: Path) -> Iterator[tuple[Path, str]]:
    """git's locks on git-annex's own indexes (index.lock, viewindex.lock, ...)."""
    try:
        entries = list(os.scandir(annex))
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(".lock"):
            yield Path(entry.path), "annex-" + entry.name.removesuffix(".lock")


def _lock_files(top: Path, budget: list[int]) -> Iterator[Path]:
    """``*.lock`` files anywhere below TOP (refs/ or logs/), at most BUDGET entries."""
    stack = [top]
    while stack and budget[0] > 0:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        budget[0] -= len(entries)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.name.endswith(".lock"):
                yield Path(entry.path)


# --- who holds them --------------------------------------------------------------------------


@dataclass
class _Process:
    pid: int
    comm: str
    uid: int
    state: str = ""
    cwd: str | None = None  # None: not readable
    open_files: set[str] | None = None  # None: not readable
    repo_paths: list[str] = field(default_factory=list)  # --git-dir, GIT_DIR, ...

    @property
    def is_git(self) -> bool:
        return self.comm.startswith("git")


def _judge(locks: list[GitLock], repo: tuple[Path, ...]) -> None:
    """Fill each lock's holders (see the module docstring for the rule)."""
    targets = {os.path.realpath(lock.path): lock for lock in locks}
    owners: dict[str, int] = {}
    for lock in locks:
        try:
            owners[lock.path] = os.lstat(lock.path).st_uid
        except OSError:
            owners[lock.path] = -1
    dirs = [str(d) for d in dict.fromkeys(repo)]
    for proc in _processes(set(targets)):
        if proc.state in ("Z", "X"):  # a zombie has no files and no cwd: it holds nothing
            continue
        in_repo = (
            proc.is_git
            and proc.cwd is not None
            and (
                (_inside(proc.cwd, dirs) and not _in_nested_repo(proc.cwd, dirs[0]))
                or any(_inside(p, dirs) for p in proc.repo_paths)
            )
        )
        # What we may not inspect may hold a lock if it runs as the lock's owner (the
        # process that made a lock owns it); other users' processes cannot have made it.
        uncertain = proc.open_files is None or (proc.is_git and proc.cwd is None)
        for real, lock in targets.items():
            if (
                in_repo
                or (proc.open_files is not None and real in proc.open_files)
                or (uncertain and proc.uid == owners[lock.path])
            ):
                lock.holders.append(proc.pid)
                lock.commands[proc.pid] = _command(proc.pid) or proc.comm


def _inside(path: str, dirs: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in dirs)


def _in_nested_repo(cwd: str, root: str) -> bool:
    """True when CWD is in a repository of its own below the work tree ROOT (a subdataset):
    a git there works in that repository, not in ROOT's (a superdataset's conversions)."""
    probe = cwd
    while probe != root and _inside(probe, [root]):
        if os.path.lexists(os.path.join(probe, ".git")):
            return True
        probe = os.path.dirname(probe)
    return False


def _processes(lock_paths: set[str]) -> Iterator[_Process]:
    if os.path.isdir("/proc/self/fd"):
        yield from _proc_processes(lock_paths)
    else:
        yield from _psutil_processes(lock_paths)


def _proc_processes(lock_paths: set[str]) -> Iterator[_Process]:
    """Linux: read /proc directly (cheaper than psutil for this one question)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid, base = int(name), f"/proc/{name}"
        try:
            uid = os.stat(base).st_uid
            with open(f"{base}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone
        # "pid (comm) state ...": comm may hold spaces and parentheses
        head, _, tail = stat.rpartition(b")")
        proc = _Process(
            pid,
            head.partition(b"(")[2].decode(errors="replace"),
            uid,
            tail.split()[0].decode() if tail.split() else "",
        )
        if proc.state in ("Z", "X"):
            yield proc
            continue
        try:
            proc.cwd = os.readlink(f"{base}/cwd")
        except PermissionError:
            pass
        except OSError:
            continue
        try:
            opened = set()
            for fd in os.listdir(f"{base}/fd"):
                try:
                    target = os.readlink(f"{base}/fd/{fd}")
                except OSError:
                    continue
                if target in lock_paths:
                    opened.add(target)
            proc.open_files = opened
        except PermissionError:
            pass
        except OSError:
            continue
        if proc.is_git:
            proc.repo_paths = _git_repo_paths(base, proc.cwd)
        yield proc


def _git_repo_paths(base: str, cwd: str | None) -> list[str]:
    """Where a git process's --git-dir/--work-tree and GIT_DIR/GIT_WORK_TREE point."""
    values = []
    try:
        with open(f"{base}/cmdline", "rb") as fh:
            for arg in fh.read().split(b"\0"):
                for opt in (b"--git-dir=", b"--work-tree="):
                    if arg.startswith(opt):
                        values.append(arg[len(opt) :])
        with open(f"{base}/environ", "rb") as fh:
            for var in fh.read().split(b"\0"):
                for opt in (b"GIT_DIR=", b"GIT_WORK_TREE="):
                    if var.startswith(opt):
                        values.append(var[len(opt) :])
    except OSError:
        pass
    return [os.path.normpath(os.path.join(cwd or "/", os.fsdecode(v))) for v in values if v]


def _psutil_processes(lock_paths: set[str]) -> Iterator[_Process]:
    """Elsewhere (macOS): the same facts through psutil."""
    import psutil

    for p in psutil.process_iter(["name", "uids", "status"]):
        info = p.info
        uid = info["uids"].effective if info.get("uids") else -1
        state = "Z" if info.get("status") == psutil.STATUS_ZOMBIE else ""
        proc = _Process(p.pid, info.get("name") or "", uid, state)
        try:
            proc.cwd = p.cwd()
        except psutil.AccessDenied:
            pass
        except psutil.Error:
            continue
        try:
            proc.open_files = {os.path.realpath(f.path) for f in p.open_files()} & lock_paths
        except psutil.AccessDenied:
            pass
        except psutil.Error:
            continue
        yield proc


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return ""
    text = " ".join(os.fsdecode(a) for a in args)
    return text if len(text) <= 80 else text[:77] + "..."


# --- removing stale ones ---------------------------------------------------------------------


def remove_lock(lock: GitLock) -> bool:
    """Remove LOCK if it is still the very file that was judged; False if it changed or went."""
    try:
        st = os.lstat(lock.path)
        if (st.st_dev, st.st_ino, st.st_ctime_ns) != lock._identity:
            return False  # another file by that name now: judged nothing about it
        os.unlink(lock.path)
    except FileNotFoundError:
        return False
    return True


def clear_stale_locks(root: str | Path, *, wait_s: float = 30.0) -> list[GitLock]:
    """Remove every stale lock in ROOT's repository at once and return them.

    A lock a live process holds is never removed: it is waited for (it goes away when its
    process finishes, or turns stale when that process dies) for at most WAIT_S seconds;
    then ``LockHeld`` names the lock and its holders. The locks removed before are on the
    error's ``removed``.
    """
    deadline = time.monotonic() + wait_s
    pause, removed = WAIT_POLL_S[0], []
    while True:
        locks = find_locks(root)
        removed += [lock for lock in locks if lock.stale and remove_lock(lock)]
        held = [lock for lock in locks if not lock.stale]
        if not held:
            return removed
        left = deadline - time.monotonic()
        if left <= 0:
            raise _held_error(Path(root), held, wait_s, removed)
        time.sleep(min(pause, left))
        pause = min(pause * 2, WAIT_POLL_S[1])


def _held_error(root: Path, held: list[GitLock], wait_s: float, removed: list[GitLock]) -> LockHeld:
    first = held[0]
    more = f" (and {len(held) - 1} more locks)" if len(held) > 1 else ""
    waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
    pids = " ".join(str(pid) for pid in first.holders)
    error = LockHeld(
        f"{first.relative_to(root)} in {root} is held by {first.describe_holders()}{more}{waited}",
        f"wait for that process to finish, or stop it (kill {pids}), then retry",
    )
    error.locks, error.removed = held, removed
    return error
