"""Safe dataset operations: each either does its job or raises a typed error.

DataLad is called through its Python API with ``on_failure='ignore'`` so that failures come
back as result records, which are turned into one ``DataLadError`` naming the path and the
reason (no logging-and-returning-None).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import runtime, timing
from ..errors import DataLadError, DiskFull, EnvironmentProblem, UsageError, is_disk_full
from . import annex
from .git import call_git as git  # re-exported: the package's modules call dsops.git(...)

if TYPE_CHECKING:
    from datalad.api import Dataset

FAILED = frozenset({"error", "impossible"})
# Options for every DataLad API call: raw result records, failures returned not raised.
API_OPTIONS = {
    "result_renderer": "disabled",
    "on_failure": "ignore",
    "return_type": "list",
    "result_xfm": None,  # raw result records, not Dataset objects
}


def dl():
    """Import datalad.api lazily (0.26 s) after the environment is prepared."""
    runtime.prepare()
    import datalad.api

    # DataLad logs progress at INFO ("Making sure inputs are available", "Command start")
    # and the failures it returns to us as warnings too; our front ends show their own
    # progress and one line per error, and stdout may carry a protocol (MCP stdio).
    if logging.getLogger("datalad").getEffectiveLevel() < logging.ERROR:
        logging.getLogger("datalad").setLevel(logging.ERROR)
    return datalad.api


def open_dataset(path: str | Path) -> Dataset:
    return dl().Dataset(str(path))


def is_dataset(path: str | Path) -> bool:
    """True when PATH is the root of an installed DataLad dataset (cheap: no import)."""
    p = Path(path)
    return (p / ".datalad").is_dir() and (p / ".git").exists()


def message_of(result: dict[str, Any]) -> str:
    msg = result.get("message") or result.get("error_message") or result.get("status", "")
    if isinstance(msg, tuple | list) and msg:
        try:
            msg = msg[0] % tuple(msg[1:])
        except (TypeError, ValueError):
            msg = " ".join(str(m) for m in msg)
    return " ".join(str(msg).split())


def check_results(results: Iterable[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Raise DataLadError on the first failed result; return all results."""
    results = list(results)
    failed = [r for r in results if r.get("status") in FAILED]
    if failed:
        first = failed[0]
        where = first.get("path", "")
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        raise DataLadError(f"{what} failed for {where}: {message_of(first)}{more}")
    return results


def ensure_writable_parent(path: Path) -> None:
    """Refuse early, with a clear message, when PATH cannot be created or written."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{probe} is not a folder", "choose a folder path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise EnvironmentProblem(f"{probe} is not writable", "choose a folder you can write to")


def remove_tree(path: Path) -> None:
    """Remove a dataset (or clone) we made; git-annex makes its object folders read-only.
    Symlinks are never followed."""
    import shutil

    def retry(func: Any, target: str, _exc_info: Any) -> None:
        parent = os.path.dirname(target)
        if not os.path.islink(parent):
            os.chmod(parent, 0o755)
        func(target)

    shutil.rmtree(path, onerror=retry)


def enclosing_git_repo(path: Path) -> Path | None:
    """The top of a git work tree that contains PATH (PATH itself excluded), if any."""
    probe = path.parent if not path.exists() else path
    while not probe.exists():
        probe = probe.parent
    out = os.fsdecode(git(probe, "rev-parse", "--show-toplevel", check=False)).strip()
    if not out:
        return None
    top = Path(out).resolve()
    return None if top == path.resolve() else top


@timing.timed("datalad.create")
def create_dataset(
    path: str | Path,
    description: str = "",
    *,
    rules: str = annex.DEVELOPMENT_RULES,
    refuse_inside_plain_git: bool = False,
    commit_rules: bool = True,
) -> Dataset:
    """Create a dataset with our annex rules and backend, or adopt the one already at PATH.

    Idempotent: an existing dataset is returned as is, its rules added if missing.
    """
    path = Path(path).absolute()
    if is_dataset(path):
        ds = open_dataset(path)
        ensure_rules(ds, rules, commit=commit_rules)
        return ds
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder", "choose a folder path")
    if (path / ".git").exists():
        raise UsageError(
            f"{path} is a git repository but not a DataLad dataset",
            "run `datalad create --force` there first, or choose another folder",
        )
    ensure_writable_parent(path)
    if refuse_inside_plain_git:
        top = enclosing_git_repo(path)
        if top is not None and not is_dataset(top):
            raise UsageError(
                f"{path} is inside the plain git repository {top}",
                "choose a folder outside it, or make that repository a dataset with "
                "`datalad create --force`",
            )
    name, email, fallback = runtime.git_identity()
    force = path.exists() and any(path.iterdir())
    results = dl().create(
        path=str(path), description=description or None, force=force, **API_OPTIONS
    )
    check_results(results, "create")
    ds = open_dataset(path)
    if fallback:
        # No identity on this machine: make plain git commits inside the dataset work too.
        git(path, "config", "user.name", name)
        git(path, "config", "user.email", email)
    ensure_rules(ds, rules, commit=commit_rules)
    return ds


def ensure_rules(ds: Dataset, rules: str, *, commit: bool = True) -> bool:
    """Write our backend and largefiles rules into .gitattributes once; True if it changed.

    With ``commit=False`` the caller commits it (git-annex reads the rules from the work
    tree, so they apply to files added before that commit too).
    """
    attrs = Path(ds.path) / ".gitattributes"
    current = attrs.read_text() if attrs.exists() else ""
    if annex.RULES_MARKER in current:
        return False
    kept = [ln for ln in current.splitlines() if not ln.startswith("* annex.backend=")]
    text = annex.gitattributes_text(rules, annex.preferred_backend())
    extra = "\n".join(ln for ln in kept if ln.strip() and ln not in text)
    attrs.write_text(text + (f"# kept from before\n{extra}\n" if extra else ""))
    if commit:
        save(ds, "Configure annex rules: text in git, large binaries annexed", paths=[attrs])
    return True


def changed_paths(repo: str | Path) -> list[str]:
    """Paths with changes (staged, unstaged, untracked) from one `git status` call."""
    out = git(
        repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=none"
    )
    paths, entries = [], iter(out.split(b"\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        paths.append(entry[3:].decode())
        if entry[:1] in (b"R", b"C"):  # renames and copies carry the old path next
            next(entries, None)
    return paths


def untracked_files(repo: str | Path, under: str) -> list[str]:
    """Files below UNDER that git does not track (and does not ignore), relative to REPO."""
    out = git(repo, "ls-files", "-z", "--others", "--exclude-standard", "--", under)
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def remove_stranded_objects(repo: str | Path, pattern: str) -> list[str]:
    """Delete annex objects of files matching PATTERN that no commit, nor the index, names.

    A save that fails half way (a full disk) can leave a file's content moved into the
    annex with no file pointing at it: bytes nobody can reach, taking the space needed to
    go on. ``git log -p`` over every ref and the staged diff name every key in use.
    """
    root = Path(repo)
    objects = root / ".git" / "annex" / "objects"
    if not objects.is_dir():
        return []
    suffix = pattern.removeprefix("*")
    candidates = [p for p in objects.glob(f"*/*/*{suffix}/*{suffix}") if p.is_file()]
    if not candidates:
        return []
    named = git(root, "log", "--all", "-p", "--format=", "--", pattern)
    named += git(root, "diff", "--cached", "-p", "--", pattern)  # staged, not yet committed
    text = named.decode(errors="replace")
    removed = []
    for obj in candidates:
        if obj.name in text:
            continue
        obj.parent.chmod(0o755)
        obj.unlink()
        obj.parent.rmdir()
        removed.append(obj.name)
    return removed


def commit_in_git(repo: str | Path, message: str, paths: Sequence[str]) -> None:
    """Commit PATHS, every one kept in git by the annex rules (see ``kept_in_git``), with
    MESSAGE: the `git add` + `git commit` that `datalad save --to-git` runs for them, without
    its own status and result passes (0.04 s, not 0.29 s per checkpoint)."""
    git(repo, "add", "--all", "--", *paths)
    git(repo, "commit", "--quiet", "--no-verify", "-m", message)


def kept_in_git(repo: str | Path, paths: Sequence[str]) -> bool:
    """True when the annex rules keep every one of PATHS in git (one `git check-attr`)."""
    if not paths:
        return False
    out = git(
        repo,
        "check-attr",
        "-z",
        "--stdin",
        "annex.largefiles",
        input="\0".join(paths).encode() + b"\0",
    )
    triples = out.split(b"\0")
    values = dict(zip(triples[0::3], triples[2::3], strict=False))  # path -> rule
    return all(
        values.get(os.fsencode(p)) == b"nothing" or PurePosixPath(p).name in GIT_DOTFILES
        for p in paths
    )


# The layout's own dotfiles: text or empty, so in git under any rule (git-annex keeps
# dotfiles out of the annex unless told, and the default rule annexes only binary content).
GIT_DOTFILES = (".gitattributes", ".gitignore", ".gitkeep")


FILTER_MARKER = "# anc: files kept in git bypass the git-annex filter"


def bypass_annex_filter(ds: Dataset, rules: str) -> None:
    """Let git handle files that RULES keep in git without git-annex's smudge/clean filter.

    git-annex sets ``* filter=annex`` in .git/info/attributes, so every git status, add and
    commit pipes freshly written files (the journal, reports) through a git-annex process:
    a checkpoint took ~0.6 s, ~0.28 s without. Those files are never annexed, so the
    filter has nothing to do for them. Local to this clone; idempotent.
    """
    info = Path(ds.path) / ".git" / "info" / "attributes"
    current = info.read_text() if info.exists() else ""
    if FILTER_MARKER in current:
        return
    # the layout's dotfiles (.gitkeep, .gitignore, .gitattributes) too: each commit that
    # adds one would otherwise start a git-annex filter process (~0.05 s)
    patterns = annex.git_only_patterns(annex.TOOL_FILE_RULES + rules)
    lines = [FILTER_MARKER, *(f"{pattern} -filter" for pattern in patterns)]
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(
        current + ("" if current.endswith("\n") or not current else "\n") + "\n".join(lines) + "\n"
    )


HELD = "anc-held"  # in .git/: hard links to work-tree files read while they are saved


def hold(repo: str | Path, rel: str) -> Path | None:
    """A hard link in .git/ to the work-tree file REL of REPO, so its bytes can be read while
    git-annex moves the file into the annex (a move keeps the inode; the link stays valid
    throughout, where REL itself is briefly absent). None where hard links fail."""
    folder = Path(repo) / ".git" / HELD
    folder.mkdir(exist_ok=True)
    link = folder / PurePosixPath(rel).name
    link.unlink(missing_ok=True)
    try:
        os.link(Path(repo) / rel, link)
    except OSError:
        return None
    return link


def release_held(repo: str | Path) -> None:
    """Remove the links ``hold`` made in REPO (the annexed content stays)."""
    folder = Path(repo) / ".git" / HELD
    if folder.is_dir():
        remove_tree(folder)


@timing.timed("datalad.save")
def save(
    ds: Dataset,
    message: str,
    paths: Sequence[str | Path] | None = None,
    *,
    recursive: bool = False,
    to_git: bool | None = None,
) -> list[dict[str, Any]]:
    """Save PATHS (or everything) with MESSAGE; raise on any failed path."""
    try:
        results = ds.save(
            message=message,
            path=[str(p) for p in paths] if paths else None,
            recursive=recursive,
            to_git=to_git,
            **API_OPTIONS,
        )
        return check_results(results, "save")
    except Exception as exc:  # DataLad raises CommandError past on_failure for some git errors
        if is_disk_full(exc):
            raise DiskFull(
                f"no space left on the device holding {ds.path}: the commit was not made",
                "free space there and retry; nothing recorded before was lost",
            ) from exc
        if type(exc).__name__ != "CommandError":
            raise
        lines = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        said = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-1:]
        raise DataLadError(
            f"save failed in {ds.path}: {said[0] if said else exc}",
            "run `anc check --repair` on the dataset, then retry",
        ) from exc


def tag(ds_path: str | Path, name: str, message: str = "") -> None:
    """Tag HEAD of the dataset at DS_PATH as NAME (annotated with MESSAGE when given)."""
    git(ds_path, "tag", *(("-m", message) if message else ()), name)


REGISTER_LOCK = "anc-register.lock"


def enclosing_dataset(path: Path) -> Path | None:
    """The root of the DataLad dataset containing PATH, PATH itself included (no import)."""
    for probe in [path, *path.parents]:
        if is_dataset(probe):
            return probe
    return None


@timing.timed("datalad.register")
def record_subdataset(superdataset: Path, path: Path, message: str) -> None:
    """Save PATH's state in SUPERDATASET: registers a new subdataset, updates its recorded
    commit, or (when PATH is gone) removes it. Only PATH is saved; the superdataset's other
    changes stay as they are. A lock in its .git serialises registrations by many processes
    (two saves at once fail on git's index.lock)."""
    from filelock import FileLock

    with FileLock(superdataset / ".git" / REGISTER_LOCK):
        save(open_dataset(superdataset), message, paths=[path])


@timing.timed("datalad.get")
def get(
    ds: Dataset, paths: str | Path | Sequence[str | Path], source: str | None = None
) -> list[dict[str, Any]]:
    """Fetch annexed content (or install subdatasets) for PATHS."""
    if isinstance(paths, str | Path):
        paths = [paths]
    results = ds.get(path=[str(p) for p in paths], source=source, **API_OPTIONS)
    return check_results(results, "get")


@timing.timed("datalad.install")
def install_subdataset(
    ds: Dataset,
    source: str,
    path: str | Path,
    *,
    recursive: bool = False,
    reckless: str | None = None,
) -> Dataset:
    """Clone SOURCE as a registered subdataset at PATH (content is not downloaded).

    ``reckless='ephemeral'`` shares a local origin's annex, so its content is available
    without a copy (for inputs referenced from a local dataset).
    """
    target = Path(path)
    if not target.is_absolute():
        target = Path(ds.path) / target
    results = dl().clone(
        source=source, path=str(target), dataset=ds, reckless=reckless, **API_OPTIONS
    )
    check_results(results, f"install of {source}")
    sub = open_dataset(target)
    if recursive:
        check_results(sub.get(path=".", recursive=True, get_data=False, **API_OPTIONS), "install")
    return sub
