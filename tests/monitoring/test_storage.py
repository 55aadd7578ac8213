"""`anc storage analyze` and `anc storage cleanup` over real DataLad datasets."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.monitoring import storage

SHARED = random.Random(1).randbytes(50_000)


def age(path: Path, seconds: float = 3600) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two conversion datasets sharing content, plus traps that cleanup must leave alone.

    conversion_a: shared.nwb, only_a.nwb, evolving.dat (its first version now unused),
      a committed config.bak, an untracked old scratch.tmp, a fresh new.tmp, and link.tmp
      (a symlink to a file outside the folder).
    conversion_b: shared.nwb, the same bytes again as copy.dat, dropped.nwb (content absent).
    Beside them: loose.tmp, in no dataset; inside a: vendor/, a plain git repository with
    an old cache.tmp.
    """
    root = tmp_path_factory.mktemp("storage") / "base"
    a = root / "conversion_a"
    ds = dsops.create_dataset(a, "a", rules=annex.CONVERSION_RULES)
    write(a / "outputs" / "shared.nwb", SHARED)
    write(a / "outputs" / "only_a.nwb", os.urandom(20_000))
    write(a / "outputs" / "evolving.dat", os.urandom(10_000))
    write(a / "reports" / "notes.md", "# notes\n" * 100)
    write(a / "config.bak", "kept: tracked in git\n")
    dsops.save(ds, "outputs v1")
    ds.unlock(path="outputs/evolving.dat", result_renderer="disabled")
    write(a / "outputs" / "evolving.dat", os.urandom(12_000))
    dsops.save(ds, "outputs v2")
    age(write(a / "outputs" / "scratch.tmp", b"x" * 777))
    write(a / "new.tmp", b"being written")
    victim = write(root.parent / "outside" / "victim.txt", "not ours\n")
    (a / "link.tmp").symlink_to(victim)
    age(a / "link.tmp")

    b = root / "nested" / "conversion_b"
    ds = dsops.create_dataset(b, "b", rules=annex.CONVERSION_RULES)
    write(b / "outputs" / "shared.nwb", SHARED)
    write(b / "outputs" / "copy.dat", SHARED)
    write(b / "outputs" / "dropped.nwb", os.urandom(30_000))
    dsops.save(ds, "outputs")
    dsops.git(b, "annex", "drop", "--force", "outputs/dropped.nwb")
    age(write(root / "loose.tmp", "in no dataset\n"))
    plain = root / "conversion_a" / "vendor"  # a plain git repository inside a dataset
    age(write(plain / "cache.tmp", "belongs to the plain repository\n"))
    dsops.git(plain.parent, "init", "-q", "vendor")
    return root


@pytest.fixture
def work(base: Path, tmp_path: Path) -> Path:
    """A private copy of BASE for tests that change it (symlinks copied as symlinks)."""
    shutil.copytree(base.parent, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "base"


def test_keys_are_parsed_for_size_and_content() -> None:
    key = "BLAKE3_256E-s1234--ab12cd.nwb"
    assert storage.key_size(key) == 1234
    assert storage.content_id(key) == storage.content_id("BLAKE3_256E-s1234--ab12cd.dat")
    assert storage.content_id(key) == storage.content_id("BLAKE3_256-s1234--ab12cd")
    assert storage.content_id(key) != storage.content_id("SHA256E-s1234--ab12cd.nwb")
    assert storage.content_id("WORM-s10-m1700000000--name.dat") is None
    assert storage.key_size("URL--https&c%%example.org%x") is None
    assert storage.is_temporary("a.tmp") and storage.is_temporary(".~lock.x.odt#")
    assert storage.is_temporary("notes.txt~") and not storage.is_temporary("tmp.nwb")


def test_analyze_finds_content_duplicated_across_datasets_and_its_size(base: Path) -> None:
    r = storage.analyze(base)
    assert r["datasets"] == 2 and r["conversion_datasets"] == 2 and r["problems"] == []
    shared = [d for d in r["duplicates"] if d["size"] == len(SHARED)]
    assert len(shared) == 1
    dup = shared[0]
    # a/shared.nwb, b/shared.nwb and b/copy.dat: three stored copies of the same bytes
    assert dup["copies"] == 3 and dup["saving_bytes"] == 2 * len(SHARED)
    assert dup["datasets"] == ["conversion_a", "nested/conversion_b"]
    assert len(dup["keys"]) == 2  # .nwb and .dat keys name the same content
    assert r["totals"]["duplicate_saving_bytes"] == 2 * len(SHARED)
    assert r["totals"]["duplicate_groups"] == 1


def test_analyze_breaks_storage_down(base: Path) -> None:
    r = storage.analyze(base)
    t = r["totals"]
    per = {d["path"]: d for d in r["by_dataset"]}
    a, b = per["conversion_a"], per["nested/conversion_b"]
    assert a["annexed_files"] == 3 and a["annexed_bytes"] == 50_000 + 20_000 + 12_000
    assert a["present_bytes"] == a["annexed_bytes"] and a["absent_files"] == 0
    assert b["absent_files"] == 1 and b["absent_bytes"] == 30_000
    assert b["present_bytes"] == 2 * len(SHARED)
    assert a["git_bytes"] >= 800 + len("kept: tracked in git\n")  # notes.md and config.bak
    assert a["git_store_bytes"] > 0 and t["git_files"] == a["git_files"] + b["git_files"]
    # the first version of evolving.dat is kept by git-annex but no file uses it
    assert a["unreferenced_objects"] == 1 and a["unreferenced_bytes"] == 10_000
    assert b["unreferenced_objects"] == 0
    temp = {(x["dataset"], x["path"]) for x in r["temporary_files"]}
    assert temp == {("conversion_a", "outputs/scratch.tmp"), ("conversion_a", "new.tmp")}
    largest = r["largest_files"][0]
    assert largest["size"] == len(SHARED) and largest["where"] == "annex"
    absent = [f for f in r["largest_files"] if f["path"] == "outputs/dropped.nwb"]
    assert absent and absent[0]["present"] is False
    assert t["annexed_bytes_by_backend"] == {annex.preferred_backend(): t["annexed_bytes"]}


def test_cleanup_dry_run_removes_nothing_and_apply_only_untracked_temporary_files(
    work: Path,
    run_cli: Callable[..., tuple[int, str, str]],
    snapshot: Callable[[Path], tuple[str, ...]],
) -> None:
    a, b = work / "conversion_a", work / "nested" / "conversion_b"
    before = (snapshot(a), snapshot(b), snapshot(work.parent))
    code, out, err = run_cli("storage", "cleanup", str(work))
    assert code == 0, err
    assert "would remove: conversion_a/outputs/scratch.tmp" in out
    assert "new.tmp" not in out  # changed less than --min-age ago
    assert (snapshot(a), snapshot(b), snapshot(work.parent)) == before

    code, out, err = run_cli("storage", "cleanup", str(work), "--apply", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [(f["path"], f["removed"]) for f in result["temporary_files"]] == [
        ("outputs/scratch.tmp", True)
    ]
    assert result["freed_bytes"] == 777 and result["unused_objects"] is None
    assert not (a / "outputs" / "scratch.tmp").exists()
    for kept in (
        a / "new.tmp",
        a / "config.bak",
        work / "loose.tmp",
        work.parent / "outside" / "victim.txt",
        a / "vendor" / "cache.tmp",
    ):
        assert kept.is_file(), kept
    assert (a / "link.tmp").is_symlink()
    # tracked content untouched: the datasets are as clean as before and fsck passes
    assert dsops.git(a, "status", "--porcelain", "--untracked-files=no").decode() == ""
    assert dsops.git(a, "annex", "fsck", "--fast", "--quiet").decode() == ""
    assert snapshot(b) == before[1]


def test_cleanup_drops_unused_annex_objects_only_when_asked(
    work: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, _ = run_cli("storage", "cleanup", str(work), "--unused", "--min-age", "0")
    assert code == 0 and "would remove: conversion_a unused object" in out
    assert storage.analyze(work)["totals"]["unreferenced_objects"] == 1
    code, out, err = run_cli("storage", "cleanup", str(work), "--unused", "--apply", "--json")
    assert code == 0, err
    objects = json.loads(out)["unused_objects"]
    assert [(o["dataset"], o["kind"], o["size"], o["removed"]) for o in objects] == [
        ("conversion_a", "unused", 10_000, True)
    ]
    after = storage.analyze(work)
    assert after["totals"]["unreferenced_objects"] == 0
    a = work / "conversion_a"
    assert len((a / "outputs" / "evolving.dat").read_bytes()) == 12_000  # current version kept


def test_cli_analyze_as_a_subprocess_and_bad_folders(
    base: Path, tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    anc = Path(sys.executable).parent / "anc"
    proc = subprocess.run(
        [str(anc), "storage", "analyze", str(base), "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["duplicate_saving_bytes"] == 2 * len(SHARED)
    code, out, _ = run_cli("storage", "analyze", str(base))
    assert code == 0 and "duplicate content: 1 group(s), 100.0 kB" in out
    code, _, err = run_cli("storage", "analyze", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli("storage", "cleanup", str(write(tmp_path / "f.txt", "x")))
    assert code == 2 and "is not a folder" in err
