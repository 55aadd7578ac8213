"""The DataLad layer: the seed's wrapper names, the integrity check and the safe repair."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer import integrity
from agentic_neurodata_conversion.datalad_layer.wrapper import DataLadWrapper
from agentic_neurodata_conversion.errors import DataLadError, UsageError


def git(root: Path, *args: str) -> str:
    return dsops.git(root, *args).decode()


def write_through(link: Path, data: bytes, append: bool = False) -> None:
    """Change an annexed object behind git's back, as an in-place writer does as root."""
    target = link.resolve()
    target.parent.chmod(0o755)
    target.chmod(0o644)
    with open(target, "ab" if append else "r+b") as fh:
        fh.write(data)


def test_wrapper_create_is_idempotent_and_force_guards_a_full_folder(tmp_path: Path) -> None:
    wrapper = DataLadWrapper()
    ds = wrapper.safe_create_dataset(tmp_path / "ds", "demo")
    head = git(Path(ds.path), "rev-parse", "HEAD")
    again = wrapper.safe_create_dataset(tmp_path / "ds")
    assert again.path == ds.path and git(Path(ds.path), "rev-parse", "HEAD") == head

    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("user data\n")
    with pytest.raises(UsageError, match="not empty"):
        wrapper.safe_create_dataset(full)
    assert sorted(os.listdir(full)) == ["mine.txt"]
    wrapper.safe_create_dataset(full, force=True)
    assert dsops.is_dataset(full) and (full / "mine.txt").read_text() == "user data\n"


@pytest.mark.slow
def test_wrapper_install_get_save_and_typed_failures(
    tmp_path: Path, source_dataset: Callable[..., Path]
) -> None:
    source = source_dataset()
    wrapper = DataLadWrapper()
    sup = wrapper.safe_create_dataset(tmp_path / "super")
    sub = wrapper.safe_install_subdataset(sup, str(source), "inputs/source")
    rec = Path(sub.path) / "data" / "rec.dat"
    assert rec.is_symlink() and not rec.exists()  # installed without content
    assert wrapper.safe_get(sub, "data/rec.dat") is True
    assert rec.read_bytes() == (source / "data" / "rec.dat").read_bytes()

    (tmp_path / "super" / "notes.md").write_text("notes\n")
    assert wrapper.safe_save(sup, "Add notes", path=["notes.md"]) is True
    assert "notes.md" in git(tmp_path / "super", "ls-files")

    with pytest.raises(DataLadError, match="get failed"):
        wrapper.safe_get(sup, "no-such-file.dat")
    with pytest.raises(DataLadError, match="install of"):
        wrapper.safe_install_subdataset(sup, str(tmp_path / "missing"), "inputs/missing")
    assert not (tmp_path / "super" / "inputs" / "missing").exists()

    seed_report = wrapper.check_dataset_integrity(sup)
    assert seed_report["is_valid"] and {"issues", "warnings", "statistics"} <= seed_report.keys()


def test_check_counts_changes_and_repair_relocks_only_unmodified(
    source_dataset: Callable[..., Path],
) -> None:
    root = source_dataset(files={"data/b.dat": os.urandom(4096), "notes.md": b"notes\n"})
    (root / "untracked.md").write_text("new\n")
    (root / "notes.md").write_text("changed\n")
    (root / "staged.md").write_text("staged\n")
    git(root, "add", "staged.md")
    git(root, "annex", "unlock", "data/rec.dat", "data/b.dat")
    with open(root / "data" / "b.dat", "ab") as fh:
        fh.write(b"user edit")

    report = integrity.check_dataset_integrity(root)
    stats = report.statistics
    assert report.is_valid  # changes and unlocked files are warnings, not issues
    assert (stats["untracked_files"], stats["staged_files"]) == (1, 3)  # staged.md + 2 unlocks
    assert stats["modified_files"] == 2  # notes.md and the edited unlocked file
    assert sorted(report.unlocked_files) == ["data/b.dat", "data/rec.dat"]
    assert report.modified_unlocked_files == ["data/b.dat"]

    edited = (root / "data" / "b.dat").read_bytes()
    repaired = integrity.repair_dataset(root)
    assert any("re-locked 1" in a for a in repaired.actions)
    assert any("left 1 modified unlocked" in f for f in repaired.failures)
    assert (root / "data" / "rec.dat").is_symlink()
    assert (root / "data" / "b.dat").read_bytes() == edited  # the user's edit is untouched
    assert repaired.after is not None and repaired.after.unlocked_files == ["data/b.dat"]


def test_corrupt_content_found_by_size_fast_and_by_hash_full(
    source_dataset: Callable[..., Path],
) -> None:
    root = source_dataset(files={"data/other.dat": os.urandom(2048)})
    write_through(root / "data" / "rec.dat", b"\0\0\0\0")  # same size, other bytes
    fast = integrity.check_dataset_integrity(root)
    assert fast.is_valid and fast.corrupt_files == []
    full = integrity.check_dataset_integrity(root, full=True)
    assert not full.is_valid and full.corrupt_files == ["data/rec.dat"]
    assert "no longer match their key (hash)" in full.issues[0]

    write_through(root / "data" / "other.dat", b"more", append=True)
    fast = integrity.check_dataset_integrity(root)
    assert fast.corrupt_files == ["data/other.dat"]

    before = (root / "data" / "rec.dat").read_bytes()
    repaired = integrity.repair_dataset(root, full=True)
    assert not repaired.ok and "left as they are" in repaired.failures[0]
    assert (root / "data" / "rec.dat").read_bytes() == before  # never rewritten


def test_index_lock_judged_by_its_holder_not_its_age(tmp_path: Path) -> None:
    root = dsops.create_dataset(tmp_path / "ds").path
    root = Path(root)
    lock = root / ".git" / "index.lock"
    holder = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        lock.write_bytes(b"")  # made while a git process works in the repository
        held = integrity.check_dataset_integrity(root)
        assert held.is_valid and held.stale_locks == [] and held.held_locks == [str(lock)]
        assert f"pid {holder.pid} (git cat-file --batch)" in held.warnings[0]
        refused = integrity.repair_dataset(root)
        assert lock.exists() and "left git lock .git/index.lock alone" in refused.failures[0]
    finally:
        holder.stdin.close()
        holder.wait()

    stale = integrity.check_dataset_integrity(root)  # a second old: stale all the same
    assert not stale.is_valid and stale.stale_locks == [str(lock)]
    assert "stale git lock .git/index.lock" in stale.issues[0]
    repaired = integrity.repair_dataset(root)
    assert not lock.exists() and "removed stale git lock" in repaired.actions[0]
    assert repaired.ok


@pytest.mark.slow
def test_repair_reinstalls_what_it_can_and_reports_the_rest(
    tmp_path: Path, source_dataset: Callable[..., Path]
) -> None:
    reachable, lost = source_dataset("reachable"), source_dataset("lost")
    sup = dsops.create_dataset(tmp_path / "super")
    dsops.install_subdataset(sup, str(reachable), "subs/reachable")
    dsops.install_subdataset(sup, str(lost), "subs/lost")
    for sub in ("reachable", "lost"):
        shutil.rmtree(tmp_path / "super" / "subs" / sub)
    shutil.rmtree(lost)

    report = integrity.check_dataset_integrity(sup)
    assert report.is_valid and sorted(report.missing_subdatasets) == ["subs/lost", "subs/reachable"]
    assert "2 registered subdatasets are not installed" in report.warnings[0]

    repaired = integrity.repair_dataset(sup)
    assert any(a.startswith("reinstalled subdataset subs/reachable") for a in repaired.actions)
    assert any(f.startswith("could not reinstall subs/lost") for f in repaired.failures)
    assert (tmp_path / "super" / "subs" / "reachable" / "README.md").exists()
    assert repaired.after is not None and repaired.after.missing_subdatasets == ["subs/lost"]


def test_journal_problems_are_issues(tmp_path: Path) -> None:
    root = Path(dsops.create_dataset(tmp_path / "ds").path)
    journal = root / "provenance" / "journal"
    journal.mkdir(parents=True)
    (journal / "000000000001.jsonl").write_text("not a record\n")
    report = integrity.check_dataset_integrity(root)
    assert not report.is_valid and report.issues[0].startswith("journal: ")


def test_check_refuses_a_folder_that_is_no_dataset(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not in a DataLad dataset"):
        integrity.check_dataset_integrity(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        integrity.check_dataset_integrity(tmp_path / "nope")
