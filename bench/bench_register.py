"""Registering 1,000 conversion datasets in a lab superdataset: within 10 s, flat per entry.

`register.register_subdatasets` in batches of 50, then (the superdataset reset) of 100:
total seconds, the cost per entry of the first 100 and the last 100 (wall time, and CPU time
of this process and its git children, which other work on the machine cannot inflate; flat
means a ratio near 1), the git calls per batch, `git status --ignore-submodules` and the
superdataset's .git size; `git status` and `datalad status` at the end. Side by side, in the
same run: `read_subdataset` (files) against one `git rev-parse` per dataset; a git call in
the superdataset with and without DataLad's .git/config sections (not written, see
datalad_layer/register.py); `datalad save` of one subdataset (`record_subdataset`, what
`anc convert` does) against our cost per entry.

Set-up: one conversion-like dataset (annexed session file, journal in git, our rules and
filter bypass), copied 1,005 times into the superdataset (object files hard-linked), each
copy with its own DataLad id in .datalad/config and its own commit; about half a minute.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import disk_use, report, timed

from agentic_neurodata_conversion import timing
from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer.git import call_git
from agentic_neurodata_conversion.datalad_layer.register import (
    read_subdataset,
    register_subdatasets,
)

N = 1000
EXTRA = 5  # registered one `datalad save` each, for the comparison
BATCHES = (50, 100)
REPEATS = 3  # series per batch size: the machine may be busy with other work
TARGET_S = 10.0
FLAT = 1.5  # last 100 / first 100 at most
BIN = Path(sys.executable).parent


def build_template(path: Path) -> None:
    ds = dsops.create_dataset(path, rules=annex.CONVERSION_RULES)
    dsops.bypass_annex_filter(ds, annex.CONVERSION_RULES)
    (path / "session.nwb").write_bytes(os.urandom(64 * 1024))
    (path / "provenance").mkdir()
    (path / "provenance" / "journal.jsonl").write_text('{"operation": "start"}\n')
    dsops.save(ds, "A conversion")


def _link_objects(src: str, dst: str) -> None:
    """Object files are never changed in place: share them; copy everything else."""
    if "/.git/objects/" in src or "/.git/annex/objects/" in src:
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def make_copy(template: Path, dest: Path, i: int) -> None:
    """A copy of TEMPLATE at DEST with its own DataLad id and its own commit."""
    shutil.copytree(template, dest, symlinks=True, copy_function=_link_objects)
    config = dest / ".datalad" / "config"
    config.write_text(re.sub(r"id = \S+", f"id = {uuid.uuid4()}", config.read_text()))
    # every copied file has a new inode: keep git-annex's filter out of the re-hash
    attributes = dest / ".git" / "info" / "attributes"
    kept = attributes.read_text()
    attributes.write_text(kept + "* -filter\n")
    call_git(dest, "commit", "-q", "--no-verify", "-a", "-m", f"Conversion {i}")
    attributes.write_text(kept)


def make_copies(args: tuple[Path, Path, range]) -> None:
    template, lab, indices = args
    for i in indices:
        make_copy(template, lab / f"conversion_{i:04d}", i)


def build(root: Path) -> Path:
    template, lab = root / "template", root / "LAB"
    build_template(template)
    dsops.create_dataset(lab)
    workers = os.cpu_count() or 1
    chunks = [(template, lab, range(k, N + EXTRA, workers)) for k in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(make_copies, chunks))
    # A superdataset in use is not a fresh one: without this the first batch's index write
    # re-checks the files `datalad create` wrote in the index's second (racy git), ~60 ms.
    call_git(lab, "status", "--porcelain", "--ignore-submodules")
    return lab


def wall(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (git): what load cannot inflate."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def reset(lab: Path, snapshot: Path) -> None:
    """LAB back to nothing registered (its .git as it was before the first registration)."""
    dsops.remove_tree(lab / ".git")
    shutil.copytree(snapshot, lab / ".git", symlinks=True)
    (lab / ".gitmodules").unlink(missing_ok=True)


def series(lab: Path, size: int) -> tuple[list[float], list[float], float, float]:
    """Register the N datasets in batches of SIZE: each batch's wall and CPU seconds, the
    seconds spent in read_subdataset, git calls per batch."""
    paths = [lab / f"conversion_{i:04d}" for i in range(N)]
    walls, cpus, reading, calls = [], [], 0.0, [0]

    def count(name: str, _seconds: float, _error: BaseException | None) -> None:
        if name.startswith("git."):
            calls[0] += 1

    register_subdatasets(lab, [], "warm-up: imports, nothing registered")
    timing.add_listener(count)
    try:
        for start in range(0, N, size):
            began, cpu = time.perf_counter(), cpu_seconds()
            subs = [read_subdataset(p) for p in paths[start : start + size]]
            reading += time.perf_counter() - began
            register_subdatasets(lab, subs, f"Register {len(subs)} conversions")
            walls.append(time.perf_counter() - began)
            cpus.append(cpu_seconds() - cpu)
    finally:
        timing.remove_listener(count)
    return walls, cpus, reading, calls[0] / len(walls)


def run(lab: Path, snapshot: Path, size: int) -> tuple[float, float]:
    """REPEATS series in batches of SIZE, each batch's cost the median of its repeats;
    return (total s, last/first CPU ratio)."""
    runs = []
    for _ in range(REPEATS):
        reset(lab, snapshot)
        runs.append(series(lab, size))
    walls = [statistics.median(batch) for batch in zip(*(r[0] for r in runs), strict=True)]
    cpus = [statistics.median(batch) for batch in zip(*(r[1] for r in runs), strict=True)]
    total = sum(walls)
    edge = max(1, 100 // size)

    def entry(costs: list[float]) -> tuple[float, float]:
        return sum(costs[:edge]) / 100, sum(costs[-edge:]) / 100

    (first, last), (cpu_first, cpu_last) = entry(walls), entry(cpus)
    report(
        f"batches of {size}: {N} registered (median of {REPEATS})",
        total,
        "s",
        f"target {TARGET_S:g} s",
    )
    report("  of which read_subdataset", statistics.median(r[2] for r in runs), "s")
    report("  git calls per batch", runs[0][3], "calls")
    report("  per entry, first 100 (wall)", first * 1000, "ms")
    report("  per entry, last 100 (wall)", last * 1000, "ms", f"ratio {last / first:.2f}")
    report("  per entry, first 100 (CPU, git included)", cpu_first * 1000, "ms")
    report(
        "  per entry, last 100 (CPU, git included)",
        cpu_last * 1000,
        "ms",
        f"ratio {cpu_last / cpu_first:.2f} (flat: 1, at most {FLAT:g})",
    )
    seconds, _ = wall(["git", "status", "--porcelain", "--ignore-submodules"], lab)
    report("  git status --ignore-submodules", seconds, "s")
    report("  superdataset .git size", disk_use(lab / ".git") / 1e6, "MB")
    commits = call_git(lab, "rev-list", "--count", "HEAD").decode().strip()
    report("  superdataset commits", int(commits), "commits")
    return total, cpu_last / cpu_first


def compare_reading(lab: Path) -> None:
    paths = [lab / f"conversion_{i:04d}" for i in range(100)]
    files = timed(lambda: [read_subdataset(p) for p in paths]) / 100
    git = timed(lambda: [call_git(p, "rev-parse", "HEAD") for p in paths]) / 100
    report("read_subdataset per dataset (files)", files * 1e6, "us")
    report("git rev-parse per dataset (one process)", git * 1e6, "us", f"{git / files:.0f}x")


def compare_config(lab: Path) -> None:
    """Why DataLad's .git/config sections are not written: every git call parses them."""
    calls = 20

    def git_call() -> float:
        return timed(lambda: [call_git(lab, "rev-parse", "HEAD") for _ in range(calls)]) / calls

    config = lab / ".git" / "config"
    kept = config.read_text()
    without = statistics.median(git_call() for _ in range(3))
    config.write_text(
        kept
        + "".join(
            f'[submodule "conversion_{i:04d}"]\n\tactive = true\n\turl = ./conversion_{i:04d}\n'
            for i in range(N)
        )
    )
    with_sections = statistics.median(git_call() for _ in range(3))
    config.write_text(kept)
    report("git rev-parse in the superdataset", without * 1000, "ms")
    report(
        f"  with DataLad's .git/config sections for {N}",
        with_sections * 1000,
        "ms",
        f"{with_sections / without:.2f}x",
    )


def compare_save(lab: Path, ours: float) -> None:
    seconds = []
    for i in range(N, N + EXTRA):
        path = lab / f"conversion_{i:04d}"
        seconds.append(timed(lambda p=path: dsops.record_subdataset(lab, p, f"Register {p.name}")))
    save = statistics.median(seconds)
    report(
        f"datalad save of 1 subdataset ({N} registered, median of {EXTRA})",
        save,
        "s",
        f"{save / ours:.0f}x our cost per entry",
    )


def status_at_the_end(lab: Path) -> None:
    seconds, out = wall(["git", "status", "--porcelain", "--ignore-submodules"], lab)
    report(f"git status --ignore-submodules, {N + EXTRA} registered", seconds, "s", out.strip())
    seconds, out = wall([str(BIN / "datalad"), "status", "-d", str(lab)], lab)
    report("datalad status (every subdataset evaluated)", seconds, "s", out.strip())


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report(f"set-up: {N + EXTRA} conversion datasets", timed(lambda: build(root)), "s")
        lab = root / "LAB"
        distinct = {read_subdataset(lab / f"conversion_{i:04d}").commit for i in range(N)}
        ids = {read_subdataset(lab / f"conversion_{i:04d}").datalad_id for i in range(N)}
        assert len(distinct) == len(ids) == N, (len(distinct), len(ids))
        compare_reading(lab)
        snapshot = root / "LAB.git"
        shutil.copytree(lab / ".git", snapshot, symlinks=True)
        per_entry = 0.0
        for size in BATCHES:
            total, ratio = run(lab, snapshot, size)
            ok = ok and total <= TARGET_S and ratio <= FLAT
            per_entry = total / N
        compare_config(lab)
        compare_save(lab, per_entry)
        status_at_the_end(lab)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
