"""Git locks judged by who holds them: `anc check` names them, `--repair` and reopen remove
the stale ones, a held one is waited for and never removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import locks
from agentic_neurodata_conversion.datalad_layer.integrity import check_dataset_integrity
from agentic_neurodata_conversion.errors import LockHeld
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

Run = Callable[..., tuple[int, str, str]]
BRANCH = "<branch>"  # refs/heads/<the branch HEAD points to>.lock
KINDS = {
    "index.lock": "index",
    "HEAD.lock": "HEAD",
    BRANCH: "ref",
    "refs/heads/git-annex.lock": "ref",
    "packed-refs.lock": "packed-refs",
    "config.lock": "config",
    "annex/index.lock": "annex-index",
    "ORIG_HEAD.lock": "ORIG_HEAD",
}


@pytest.fixture
def conversion(tmp_path: Path) -> Path:
    tracker = ConversionProvenanceTracker("x", tmp_path)
    tracker.close()
    return tracker.path


def place(root: Path, rel: str) -> tuple[str, Path]:
    """Leave the lock REL as a killed git would (an empty file made with O_EXCL)."""
    if rel == BRANCH:
        ref = subprocess.run(
            ["git", "symbolic-ref", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        rel = f"{ref}.lock"
    lock = (root / ".git" / rel).resolve()
    os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    return f".git/{rel}", lock


@pytest.fixture
def holder() -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Start a process that keeps a file open until killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(path: Path) -> subprocess.Popen[bytes]:
        code = "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(120)"
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"open\n"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("rel", list(KINDS), ids=[k.replace("/", "-") for k in KINDS])
def test_stale_lock_is_an_issue_repaired_and_removed_on_reopen(
    conversion: Path, run_cli: Run, rel: str
) -> None:
    root = conversion
    shown, lock = place(root, rel)  # made a moment ago: no age rule, nobody holds it
    code, out, _ = run_cli("check", str(root))
    assert code == 4 and f"issue: stale git lock {shown} ({KINDS[rel]};" in out, out
    code, out, _ = run_cli("check", str(root), "--json")
    assert code == 4 and json.loads(out)["stale_locks"] == [str(lock)]

    code, out, _ = run_cli("check", str(root), "--repair")
    assert code == 0 and f"repaired: removed stale git lock {shown}" in out, out
    assert not lock.exists()

    place(root, rel)
    tracker = ConversionProvenanceTracker.open(root)
    try:
        assert not lock.exists()
        recovery = [r for r in tracker.iter_records() if r.operation == "crash_recovery"]
        assert recovery[-1].output_data["removed_locks"] == [shown]
        assert recovery[-1].evidence[0]["removed"] == shown
        assert recovery[-1].evidence[0]["kind"] == KINDS[rel]
        assert "no live process" in recovery[-1].evidence[0]["reason"]
        tracker.record_field("NWBFile.session_description", "after the lock", "user_provided")
        assert tracker.checkpoint("works again")
    finally:
        tracker.close()
    report = check_dataset_integrity(root)
    assert report.issues == [] and report.warnings == []


def test_head_lock_broke_every_checkpoint(conversion: Path) -> None:
    """The reported failure: a killed `git commit` leaves HEAD.lock and nothing commits."""
    tracker = ConversionProvenanceTracker.open(conversion)
    _, lock = place(conversion, "HEAD.lock")
    try:
        with pytest.raises(Exception, match="cannot lock ref 'HEAD'"):
            tracker.checkpoint("blocked")
    finally:
        tracker.close()
    again = ConversionProvenanceTracker.open(conversion)
    assert not lock.exists() and again.checkpoint("unblocked")
    again.close()


def test_lock_a_live_process_has_open_is_waited_for_and_never_removed(
    conversion: Path, run_cli: Run, holder: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    root = conversion
    shown, lock = place(root, "HEAD.lock")
    proc = holder(lock)
    code, out, _ = run_cli("check", str(root))
    assert code == 0 and f"warning: git lock {shown} is held by pid {proc.pid} (" in out, out
    code, out, _ = run_cli("check", str(root), "--repair")
    assert code == 4 and f"not repaired: left git lock {shown} alone (held by pid" in out
    assert lock.exists()

    started = time.monotonic()
    with pytest.raises(LockHeld) as caught:
        ConversionProvenanceTracker.open(root, lock_wait_s=0.5)
    assert time.monotonic() - started >= 0.5
    error = caught.value
    assert f"{shown} in {root} is held by pid {proc.pid} ({sys.executable} -c" in error.message
    assert "after waiting 0.5 s" in error.message
    assert "wait for that process" in error.hint and f"kill {proc.pid}" in error.hint
    assert [held.path for held in error.locks] == [str(lock)] and lock.exists()

    proc.kill()
    proc.wait()
    tracker = ConversionProvenanceTracker.open(root, lock_wait_s=0.5)  # now stale: removed
    assert not lock.exists() and tracker.checkpoint("after the holder")
    tracker.close()


def test_reopen_waits_for_a_git_working_in_the_repository(conversion: Path) -> None:
    """git closes a ref lock before renaming it: a git running here holds every lock."""
    root = conversion
    _, lock = place(root, "refs/heads/git-annex.lock")
    git = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert [held.holders for held in locks.find_locks(root)] == [[git.pid]]
    with pytest.raises(LockHeld, match=rf"held by pid {git.pid} \(git cat-file --batch\)"):
        ConversionProvenanceTracker.open(root, lock_wait_s=0.2)

    assert git.stdin is not None
    threading.Timer(0.7, git.stdin.close).start()  # the git finishes while open() waits
    started = time.monotonic()
    tracker = ConversionProvenanceTracker.open(root, lock_wait_s=20)
    assert 0.6 < time.monotonic() - started < 20
    git.wait()
    assert not lock.exists() and tracker.checkpoint("after the git")
    tracker.close()


def test_a_running_commit_keeps_its_locks(conversion: Path) -> None:
    """A `git commit -- path` waiting for its editor holds index.lock and next-index-*.lock."""
    root = conversion
    (root / "README.md").write_text("changed\n")
    env = {**os.environ, "GIT_EDITOR": "sleep 1.5; echo msg >"}
    commit = subprocess.Popen(["git", "commit", "-q", "--", "README.md"], cwd=root, env=env)
    deadline = time.monotonic() + 10
    while not list((root / ".git").glob("next-index-*.lock")):
        assert time.monotonic() < deadline and commit.poll() is None
        time.sleep(0.005)
    found = locks.find_locks(root)
    assert {lock.kind for lock in found} >= {"index", "next-index"}
    assert all(commit.pid in lock.holders and not lock.stale for lock in found)
    with pytest.raises(LockHeld, match=r"git commit -q -- README\.md"):
        locks.clear_stale_locks(root, wait_s=0)
    assert locks.clear_stale_locks(root, wait_s=20) == []  # waited until the commit was done
    assert commit.wait() == 0 and locks.find_locks(root) == []


def test_only_locks_that_block_are_reported(conversion: Path) -> None:
    """git-annex's .lck files (fcntl locks) and our anc-*.lock flock files block nothing."""
    gitdir = conversion / ".git"
    assert list((gitdir / "annex").glob("*.lck")) and (gitdir / "anc-tracker.lock").exists()
    assert locks.find_locks(conversion) == []
    assert locks.clear_stale_locks(conversion, wait_s=0) == []


def test_a_gitdir_file_and_a_replaced_lock(tmp_path: Path) -> None:
    work, store = tmp_path / "work", tmp_path / "store.git"
    subprocess.run(["git", "init", "-q", f"--separate-git-dir={store}", str(work)], check=True)
    assert (work / ".git").is_file()
    lock = store / "HEAD.lock"
    lock.write_text("")
    (found,) = locks.find_locks(work)
    assert found.path == str(lock.resolve()) and found.kind == "HEAD" and found.stale
    # the file judged is gone and another took its name: it is not removed
    lock.unlink()
    lock.write_text("new")
    assert not locks.remove_lock(found) and lock.exists()
    assert [gone.kind for gone in locks.clear_stale_locks(work, wait_s=0)] == ["HEAD"]
    assert not lock.exists()


def test_a_git_working_in_a_subdataset_holds_no_lock_of_the_superdataset(tmp_path: Path) -> None:
    """The conversions inside a lab superdataset run git all the time: in their own repositories.
    A git in a plain folder below the work tree still works in the superdataset's."""
    root = tmp_path / "lab"
    sub, plain = root / "conversion_x" / "deeper", root / "plain"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "init", "-q", str(root / "conversion_x")], check=True)
    sub.mkdir()
    plain.mkdir()
    _, lock = place(root, "index.lock")
    for cwd, holds in ((plain, True), (sub, False)):
        git = subprocess.Popen(["git", "cat-file", "--batch"], cwd=cwd, stdin=subprocess.PIPE)
        try:
            assert [held.holders for held in locks.find_locks(root)] == [[git.pid] if holds else []]
        finally:
            assert git.stdin is not None
            git.stdin.close()
            git.wait()
    git = subprocess.Popen(["git", "cat-file", "--batch"], cwd=sub, stdin=subprocess.PIPE)
    try:
        assert [removed.path for removed in locks.clear_stale_locks(root, wait_s=0)] == [str(lock)]
    finally:
        assert git.stdin is not None
        git.stdin.close()
        git.wait()
