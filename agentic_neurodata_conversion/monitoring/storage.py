"""Storage analysis and cleanup over every DataLad dataset under a folder, without reading data.

How the scan stays fast (200 conversion datasets well under 5 s):

- Datasets are found by one walk of the folder that never enters ``.git`` and never follows
  symlinks (annexed files are symlinks into ``.git/annex/objects``). A folder holding
  ``.datalad/`` and ``.git`` is a dataset; nested datasets are found by the same walk. The
  walk also collects names matching the temporary-file patterns.
- Per dataset, git is asked in batches, never per file: ``git ls-tree -r -l -z HEAD``
  (mode, blob size, path of every committed file), one ``git cat-file --batch`` for the
  symlink targets and small blobs (annex pointers of unlocked files), and
  ``git count-objects -v`` (the on-disk size of the git object store). An annexed file's
  key comes from its link target; the key name carries the size (``...-s1234--...``).
- Presence comes from listing ``.git/annex/objects`` (directory entries and ``lstat``,
  never opening an object). Present objects that no file in HEAD references are reported
  as *unreferenced*: a fast estimate of ``git annex unused``, which also looks at other
  branches and is slower (~0.3 s per dataset); cleanup uses the latter.

What counts where: *git bytes* are the uncompressed blobs committed in HEAD; *git store
bytes* the on-disk object store including history; *annexed bytes* the key sizes of the
annexed files in HEAD, split into present and absent. *Temporary files* are files whose
names match ``TEMP_PATTERNS``, are not in the index nor in HEAD, and lie inside a dataset,
plus git-annex's partial transfers (``.git/annex/tmp``) and quarantined bad objects
(``.git/annex/bad``). Files under the folder but outside every dataset are left alone.
Duplicates are present annex objects with the same backend, size and hash (file extension
ignored), in several datasets or under several keys of one; one shared store or hardlinks
would keep one copy, saving ``size x (copies - 1)``.
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import os
import stat
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runtime
from ..datalad_layer.git import call_git
from ..datalad_layer.keys import POINTER_MAX, content_id, key_of_blob, key_size, parse_key
from ..errors import DataLadError, GitError, UsageError
from ..timing import timed

TEMP_PATTERNS = ("*.tmp", "*.temp", "*.bak", "*.swp", "*.swo", "*~", ".~lock*")
ANNEX_DIRS = ("tmp", "bad")  # under .git/annex: partial transfers, corrupt objects


# ---------------------------------------------------------------------------- discovery


def is_temporary(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in TEMP_PATTERNS)


def check_folder(path: str | Path) -> Path:
    """PATH as an absolute real path; UsageError when it is missing or unreadable."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p} does not exist", "name an existing folder")
    if not p.is_dir():
        raise UsageError(f"{p} is not a folder", "name a folder")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UsageError(f"{p} is not readable", "check its permissions")
    return p.resolve()


@dataclass
class Discovery:
    datasets: list[Path]
    temp_candidates: dict[Path, list[str]]  # dataset -> relative paths
    problems: list[str]


def discover(base: Path) -> Discovery:
    """Find datasets under BASE and temp-pattern names inside them, in one walk.

    Files in a plain git repository (nested in a dataset or not) belong to no dataset.
    """
    datasets: list[Path] = []
    temps: dict[Path, list[str]] = defaultdict(list)
    problems: list[str] = []
    stack: list[tuple[str, Path | None]] = [(str(base), None)]
    while stack:
        folder, owner = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(f"{folder}: cannot list ({exc.strerror})")
            continue
        names = {e.name for e in entries}
        if ".git" in names:
            if ".datalad" in names and os.path.isdir(folder + "/.datalad"):
                owner = Path(folder)
                datasets.append(owner)
            else:  # a plain git repository: not ours to scan or clean
                owner = None
        for e in entries:
            if e.name == ".git":
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append((e.path, owner))
            elif owner is not None and is_temporary(e.name):
                temps[owner].append(os.path.relpath(e.path, owner))
    datasets.sort()
    return Discovery(datasets, dict(temps), problems)


# ---------------------------------------------------------------------------- git batches


def git_dir(repo: Path) -> Path:
    """The repository's git dir (``.git`` may be a file pointing elsewhere)."""
    dot = repo / ".git"
    if dot.is_file():
        text = dot.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            return (repo / text.split(":", 1)[1].strip()).resolve()
    return dot


@dataclass
class TreeEntry:
    mode: str
    sha: str
    size: int
    path: str


def ls_tree(repo: Path) -> list[TreeEntry]:
    """Every entry committed in HEAD (empty for a repository without commits)."""
    try:
        listing = call_git(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD")
    except GitError:
        if not call_git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False):
            return []  # no commit yet
        raise
    out = []
    for rec in listing.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, _type, sha, size = meta.split(None, 3)
        out.append(
            TreeEntry(
                mode.decode(), sha.decode(), int(size) if size != b"-" else 0, os.fsdecode(path)
            )
        )
    return out


def cat_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Contents of the blobs SHAS through one ``git cat-file --batch`` process."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    data = call_git(repo, "cat-file", "--batch", input="".join(f"{s}\n" for s in wanted).encode())
    out: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1
    return out


def store_bytes(repo: Path) -> int:
    """On-disk bytes of the git object store (loose + packs + garbage), from count-objects."""
    total = 0
    for line in call_git(repo, "count-objects", "-v", check=False).decode().splitlines():
        name, _, value = line.partition(":")
        if name in ("size", "size-pack", "size-garbage"):
            total += int(value.strip() or 0) * 1024
    return total


def annex_objects(gitdir: Path) -> dict[str, int]:
    """Present annex objects: key -> size on disk (listing and lstat only)."""
    objects = gitdir / "annex" / "objects"
    present: dict[str, int] = {}
    try:
        level1 = list(os.scandir(objects))
    except OSError:
        return present
    for d1 in level1:
        if not d1.is_dir(follow_symlinks=False):
            continue
        for d2 in os.scandir(d1.path):
            if not d2.is_dir(follow_symlinks=False):
                continue
            for keydir in os.scandir(d2.path):
                try:
                    st = os.lstat(os.path.join(keydir.path, keydir.name))
                except OSError:  # an empty key folder left after a drop
                    continue
                if stat.S_ISREG(st.st_mode):
                    present[keydir.name] = st.st_size
    return present


def annex_scratch(gitdir: Path) -> list[tuple[str, int]]:
    """Files in .git/annex/tmp and .git/annex/bad: (path relative to the git dir, size)."""
    found = []
    for sub in ANNEX_DIRS:
        for root, _dirs, files in os.walk(gitdir / "annex" / sub):
            for name in files:
                p = os.path.join(root, name)
                try:
                    found.append((os.path.relpath(p, gitdir), os.lstat(p).st_size))
                except OSError:
                    continue
    return found


def untracked_among(repo: Path, paths: list[str], head_paths: set[str] | None = None) -> list[str]:
    """The PATHS that are neither in the index nor in HEAD (batch calls, 500 paths each).

    HEAD_PATHS, when the caller already listed HEAD, saves asking git for it.
    """
    queries = [("ls-files", "-z", "--cached")]
    if head_paths is None:
        queries.append(("ls-tree", "-r", "-z", "--name-only", "HEAD"))
    remaining = [p for p in paths if head_paths is None or p not in head_paths]
    out: list[str] = []
    for i in range(0, len(remaining), 500):
        chunk = remaining[i : i + 500]
        tracked: set[str] = set()
        for args in queries:
            listed = call_git(repo, "--literal-pathspecs", *args, "--", *chunk, check=False)
            tracked.update(os.fsdecode(p) for p in listed.split(b"\0") if p)
        out += [p for p in chunk if p not in tracked]
    return out


# ---------------------------------------------------------------------------- per dataset


@dataclass
class DatasetScan:
    """What one dataset holds; sizes in bytes."""

    path: Path
    kind: str
    git_files: int = 0
    git_bytes: int = 0
    git_store_bytes: int = 0
    annexed_files: int = 0
    annexed_bytes: int = 0
    present_files: int = 0
    present_bytes: int = 0
    absent_files: int = 0
    absent_bytes: int = 0
    unknown_size_files: int = 0
    annex_store_bytes: int = 0
    keys: dict[str, int | None] = field(default_factory=dict)  # keys in HEAD -> size
    backend_bytes: dict[str, int] = field(default_factory=dict)  # annexed bytes per backend
    present_keys: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)  # paths whose content is absent
    unreferenced: list[tuple[str, int]] = field(default_factory=list)
    temporary: list[tuple[str, int]] = field(default_factory=list)
    subdatasets: list[tuple[str, bool]] = field(default_factory=list)  # (path, installed)
    # (size, path, "git" or "annex", present)
    largest: list[tuple[int, str, str, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "git_files": self.git_files,
            "git_bytes": self.git_bytes,
            "git_store_bytes": self.git_store_bytes,
            "annexed_files": self.annexed_files,
            "annexed_bytes": self.annexed_bytes,
            "present_files": self.present_files,
            "present_bytes": self.present_bytes,
            "absent_files": self.absent_files,
            "absent_bytes": self.absent_bytes,
            "unknown_size_files": self.unknown_size_files,
            "annex_store_bytes": self.annex_store_bytes,
            "unreferenced_objects": len(self.unreferenced),
            "unreferenced_bytes": sum(s for _, s in self.unreferenced),
            "temporary_files": len(self.temporary),
            "temporary_bytes": sum(s for _, s in self.temporary),
            "subdatasets": len(self.subdatasets),
            "subdatasets_installed": sum(i for _, i in self.subdatasets),
            "annexed_bytes_by_backend": dict(self.backend_bytes),
        }


def dataset_kind(path: Path) -> str:
    """``conversion`` for the tracker's layout (conversion_<id>/ or provenance/ + reports/)."""
    if path.name.startswith("conversion_") or (
        (path / "provenance").is_dir() and (path / "reports").is_dir()
    ):
        return "conversion"
    return "development"


def scan_dataset(path: Path, temp_candidates: Sequence[str] = (), top: int = 10) -> DatasetScan:
    """Scan one dataset with three batch git calls (see the module docstring)."""
    scan = DatasetScan(path, dataset_kind(path))
    gdir = git_dir(path)
    entries = ls_tree(path)
    # symlinks and small blobs may be annex pointers: read them in one batch
    contents = cat_blobs(
        path,
        (
            e.sha
            for e in entries
            if e.mode == "120000" or (e.mode.startswith("100") and e.size <= POINTER_MAX)
        ),
    )
    present = annex_objects(gdir)
    files: list[tuple[int, str, str, bool]] = []
    for e in entries:
        if e.mode == "160000":
            scan.subdatasets.append((e.path, (path / e.path / ".git").exists()))
            continue
        annex_key = key_of_blob(e.mode, contents[e.sha]) if e.sha in contents else None
        if annex_key is None:
            scan.git_files += 1
            scan.git_bytes += e.size
            files.append((e.size, e.path, "git", True))
            continue
        key, size = annex_key.file_name, annex_key.size  # as .git/annex/objects names it
        if size is None:
            size = present.get(key)
        is_present = key in present
        scan.annexed_files += 1
        scan.keys[key] = size
        if size is None:
            scan.unknown_size_files += 1
            size = 0
        scan.annexed_bytes += size
        backend = annex_key.backend
        scan.backend_bytes[backend] = scan.backend_bytes.get(backend, 0) + size
        if is_present:
            scan.present_files += 1
            scan.present_bytes += size
        else:
            scan.absent_files += 1
            scan.absent_bytes += size
            scan.missing.append(e.path)
        files.append((size, e.path, "annex", is_present))
    scan.largest = heapq.nlargest(top, files)
    scan.present_keys = {k for k in scan.keys if k in present}
    scan.annex_store_bytes = sum(present.values())
    scan.unreferenced = sorted((k, s) for k, s in present.items() if k not in scan.keys)
    scan.git_store_bytes = store_bytes(path)
    head_paths = {e.path for e in entries}
    for rel in untracked_among(path, list(temp_candidates), head_paths) if temp_candidates else ():
        try:
            st = os.lstat(path / rel)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            scan.temporary.append((rel, st.st_size))
    scan.temporary += [(os.path.join(".git", rel), size) for rel, size in annex_scratch(gdir)]
    return scan


def scan_all(base: Path, top: int = 10) -> tuple[list[DatasetScan], list[str]]:
    """Discover and scan every dataset under BASE, a few in parallel (git runs outside the GIL)."""
    found = discover(base)
    problems = list(found.problems)

    def one(ds: Path) -> DatasetScan | None:
        try:
            return scan_dataset(ds, found.temp_candidates.get(ds, []), top)
        except (DataLadError, OSError, ValueError) as exc:
            problems.append(f"{ds}: {exc}")
            return None

    runtime.prepare()
    workers = min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        scans = [s for s in pool.map(one, found.datasets) if s is not None]
    return scans, problems


# ---------------------------------------------------------------------------- analysis


def _rel(base: Path, path: Path) -> str:
    rel = os.path.relpath(path, base)
    return "." if rel == "." else rel


def find_duplicates(scans: list[DatasetScan], base: Path) -> list[dict[str, Any]]:
    """Content stored more than once, biggest saving first.

    Each present key of each dataset is one stored copy: the same content under two keys
    (other extension or backend-E variant) in one dataset is stored twice as well.
    """
    groups: dict[str, list[tuple[DatasetScan, str]]] = defaultdict(list)
    for scan in scans:
        for key in scan.present_keys:
            cid = content_id(key)
            if cid is not None:
                groups[cid].append((scan, key))
    dups = []
    for cid, holders in groups.items():
        if len(holders) < 2:
            continue
        size = key_size(holders[0][1]) or 0
        dups.append(
            {
                "content": cid,
                "size": size,
                "copies": len(holders),
                "saving_bytes": size * (len(holders) - 1),
                "datasets": sorted({_rel(base, s.path) for s, _ in holders}),
                "keys": sorted({k for _, k in holders}),
            }
        )
    dups.sort(key=lambda d: (-d["saving_bytes"], d["content"]))
    return dups


def analyze(base: str | Path, top: int = 10, max_listed: int = 50) -> dict[str, Any]:
    """The storage breakdown of every dataset under BASE (see the module docstring).

    Lists are cut to the TOP largest files and MAX_LISTED temporary files, unreferenced
    objects and duplicate groups; the totals always cover everything.
    """
    t0 = time.perf_counter()
    root = check_folder(base)
    with timed("storage.analyze"):
        scans, problems = scan_all(root, top)
    dups = find_duplicates(scans, root)
    per = [s.summary() for s in scans]
    total_keys = (
        "git_files",
        "git_bytes",
        "git_store_bytes",
        "annexed_files",
        "annexed_bytes",
        "present_files",
        "present_bytes",
        "absent_files",
        "absent_bytes",
        "unknown_size_files",
        "annex_store_bytes",
        "unreferenced_objects",
        "unreferenced_bytes",
        "temporary_files",
        "temporary_bytes",
    )
    totals: dict[str, Any] = {k: sum(p[k] for p in per) for k in total_keys}
    by_backend: dict[str, int] = defaultdict(int)
    for s in scans:
        for backend, size in s.backend_bytes.items():
            by_backend[backend] += size
    totals["annexed_bytes_by_backend"] = dict(by_backend)
    totals["duplicate_groups"] = len(dups)
    totals["duplicate_saving_bytes"] = sum(d["saving_bytes"] for d in dups)
    for p in per:
        p["path"] = _rel(root, Path(p["path"]))
    largest = heapq.nlargest(
        top,
        ((size, s, p, where, pres) for s in scans for size, p, where, pres in s.largest),
        key=lambda t: t[0],
    )
    temp = [
        {"dataset": _rel(root, s.path), "path": p, "size": size}
        for s in scans
        for p, size in s.temporary
    ]
    unref = [
        {"dataset": _rel(root, s.path), "key": k, "size": size}
        for s in scans
        for k, size in s.unreferenced
    ]
    temp.sort(key=lambda t: -t["size"])
    unref.sort(key=lambda t: -t["size"])
    return {
        "base": str(root),
        "datasets": len(scans),
        "conversion_datasets": sum(s.kind == "conversion" for s in scans),
        "development_datasets": sum(s.kind == "development" for s in scans),
        "totals": totals,
        "by_dataset": per,
        "largest_files": [
            {
                "dataset": _rel(root, s.path),
                "path": p,
                "size": size,
                "where": where,
                "present": pres,
            }
            for size, s, p, where, pres in largest
        ],
        "temporary_files": temp[:max_listed],
        "unreferenced_objects": unref[:max_listed],
        "duplicates": dups[:max_listed],
        "problems": problems,
        "seconds": round(time.perf_counter() - t0, 3),
        "notes": [
            "unreferenced = present annex objects no file in HEAD uses (fast estimate of "
            "`git annex unused`; `anc storage cleanup --unused` runs the real check)",
            "git_bytes: uncompressed blobs in HEAD; git_store_bytes: .git/objects on disk",
        ],
    }


# ---------------------------------------------------------------------------- cleanup


@dataclass
class UnusedObject:
    number: str  # what `git annex dropunused` takes
    key: str
    kind: str  # "unused" (old version), "tmp" (partial transfer) or "bad" (failed fsck)
    size: int  # bytes on disk


def annex_unused(repo: Path) -> list[UnusedObject]:
    """``git annex unused`` of REPO with the on-disk size of each object (slow: walks history)."""
    out = call_git(repo, "annex", "unused", "--json")
    gdir = git_dir(repo)
    sizes = annex_objects(gdir)
    found = []
    for line in out.splitlines():
        if not line.strip().startswith(b"{"):
            continue
        rec = json.loads(line)
        for kind in ("unused", "tmp", "bad"):
            for number, key in (rec.get(f"{kind}-list") or {}).items():
                if kind == "unused":
                    parsed = parse_key(key)
                    size = sizes.get(parsed.file_name if parsed else key, key_size(key) or 0)
                else:
                    try:
                        size = os.lstat(gdir / "annex" / kind / key).st_size
                    except OSError:
                        size = 0
                found.append(UnusedObject(number, key, kind, size))
    found.sort(key=lambda u: int(u.number))
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def _remove_temporary(base: Path, ds: Path, rel: str) -> str | None:
    """Delete one untracked temporary file after re-checking it; an error text or None."""
    p = ds / rel
    if not _inside(p.parent, base) or not _inside(p.parent, ds):
        return f"{p}: outside {base}, left alone"
    try:
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode):
            return f"{p}: not a regular file, left alone"
        os.unlink(p)
    except OSError as exc:
        return f"{p}: {exc.strerror}"
    return None


def cleanup(
    base: str | Path, *, apply: bool = False, unused: bool = False, min_age_s: float = 600.0
) -> dict[str, Any]:
    """List (dry run) or, with APPLY, remove temporary files nothing tracks under BASE.

    Only files unchanged for MIN_AGE_S seconds are taken, so a running conversion keeps the
    temporary files it is writing. With UNUSED, also unused annex objects (old versions,
    partial transfers) found by ``git annex unused``; they are dropped with
    ``git annex dropunused --force`` because they are usually the only copy. Tracked
    content and files outside BASE or outside a dataset are never touched.
    """
    root = check_folder(base)
    found = discover(root)
    runtime.prepare()
    temp: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    errors = list(found.problems)
    for ds in found.datasets:
        candidates = found.temp_candidates.get(ds, [])
        for rel in untracked_among(ds, candidates) if candidates else []:
            try:
                st = os.lstat(ds / rel)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or time.time() - st.st_mtime < min_age_s:
                continue
            item = {"dataset": _rel(root, ds), "path": rel, "size": st.st_size, "removed": False}
            if apply:
                err = _remove_temporary(root, ds, rel)
                item["removed"] = err is None
                if err:
                    errors.append(err)
            temp.append(item)
        if not unused:
            continue
        try:
            listed = annex_unused(ds)
        except DataLadError as exc:
            errors.append(str(exc))
            continue
        items = [
            {
                "dataset": _rel(root, ds),
                "number": u.number,
                "key": u.key,
                "kind": u.kind,
                "size": u.size,
                "removed": False,
            }
            for u in listed
        ]
        if apply and items:
            numbers = [u.number for u in listed]
            try:
                out = call_git(ds, "annex", "dropunused", "--force", "--json", *numbers)
            except GitError as exc:  # some dropped all the same: its JSON says which
                out = exc.stdout
                errors.append(f"{ds}: git annex dropunused failed: {exc.stderr.strip()}")
            results = [json.loads(ln) for ln in out.splitlines() if ln.startswith(b"{")]
            # its JSON names the number it was given, not the key
            dropped = {n for r in results if r.get("success") for n in r.get("input", [])}
            for item in items:
                item["removed"] = item["number"] in dropped
        objects += items
    return {
        "base": str(root),
        "applied": apply,
        "min_age_s": min_age_s,
        "temporary_files": temp,
        "unused_objects": objects if unused else None,
        "found_bytes": sum(i["size"] for i in temp + objects),
        "freed_bytes": sum(i["size"] for i in temp + objects if i["removed"]),
        "errors": errors,
    }


class StorageOptimizer:
    """The seed's entry points over one base folder."""

    def __init__(self, base_path: str | Path) -> None:
        self.base_path = Path(base_path)

    def analyze_storage_usage(self, top: int = 10) -> dict[str, Any]:
        return analyze(self.base_path, top)

    def cleanup_temporary_files(
        self, dry_run: bool = True, include_unused: bool = False, min_age_s: float = 600.0
    ) -> dict[str, Any]:
        return cleanup(
            self.base_path, apply=not dry_run, unused=include_unused, min_age_s=min_age_s
        )
