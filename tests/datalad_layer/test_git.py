"""The one git runner: streamed items, early stops that reap git, stdin, typed failures."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from agentic_neurodata_conversion import timing
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer.git import call_git, iter_git, verb_of
from agentic_neurodata_conversion.errors import DataLadError, DiskFull, GitError

MANY = 20_000  # index entries: ~0.5 MB of `ls-files -z`, far more than a pipe holds


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    call_git(root, "init", "-q")
    return root


@pytest.fixture
def big_index(repo: Path) -> list[str]:
    """MANY paths staged in REPO's index (one blob, written through stdin)."""
    blob = call_git(repo, "hash-object", "-w", "--stdin", input=b"same\n").decode().strip()
    names = [f"dir{i % 97}/file-{i:06d}.txt" for i in range(MANY)]
    info = "".join(f"100644 {blob}\t{name}\n" for name in names).encode()
    call_git(repo, "update-index", "--add", "--index-info", input=info)
    return sorted(names)


def git_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name().startswith("git")]


def test_streams_many_nul_separated_items_as_they_arrive(repo: Path, big_index: list[str]) -> None:
    items = iter_git(repo, ["ls-files", "-z"])
    first = next(items)
    assert git_children(), "the first item arrives while git is still writing"
    rest = list(items)
    assert [os.fsdecode(p) for p in [first, *rest]] == big_index
    assert not git_children()
    whole = call_git(repo, "ls-files", "-z")
    assert whole.split(b"\0")[:-1] == [first, *rest]


def test_lines_and_a_last_item_without_separator(repo: Path) -> None:
    (version,) = iter_git(repo, ["version"], b"\n")
    assert version.startswith(b"git version")
    assert list(iter_git(repo, ["rev-parse", "--git-dir"])) == [b".git\n"]  # no NUL at all


def test_stopping_early_closes_the_pipe_and_reaps_git(repo: Path, big_index: list[str]) -> None:
    seen: list[tuple[str, BaseException | None]] = []
    listener = lambda name, _s, error: seen.append((name, error))  # noqa: E731
    timing.add_listener(listener)
    try:
        for item in iter_git(repo, ["ls-files", "-z"]):
            (git,) = git_children()
            assert os.fsdecode(item) == big_index[0]
            break  # the generator is dropped here, git blocked on a full pipe
        assert not psutil.pid_exists(git.pid), "git was reaped, not left a zombie"

        items = iter_git(repo, ["ls-files", "-z"])
        next(items)
        (git,) = git_children()
        items.close()
        assert not psutil.pid_exists(git.pid)
    finally:
        timing.remove_listener(listener)
    assert seen == [("git.ls-files", None), ("git.ls-files", None)], "an early stop is no error"


def test_stdin_input(repo: Path, big_index: list[str]) -> None:
    blob = call_git(repo, "hash-object", "--stdin", input=b"hello\n").decode().strip()
    assert blob == "ce013625030ba8dba906f756967f9e9ca394464a"  # git's id of "hello\n"
    # input and output each far bigger than a pipe: neither side may block the other
    query = "".join(f":{name}\n" for name in big_index).encode()
    check = "--batch-check=%(objectname) %(objectsize)"
    out = list(iter_git(repo, ["cat-file", check], b"\n", input=query))
    assert len(out) == MANY and all(line.endswith(b" 5") for line in out)


def test_a_failing_command_raises_git_error_with_its_last_stderr_line(repo: Path) -> None:
    with pytest.raises(GitError) as caught:
        call_git(repo, "rev-parse", "--verify", "no-such-ref")
    err = caught.value
    assert isinstance(err, DataLadError)
    assert err.command == ("git", "rev-parse", "--verify", "no-such-ref")
    assert err.returncode == 128
    assert err.last_line == "fatal: Needed a single revision"
    assert str(err) == f"git rev-parse failed in {repo}: fatal: Needed a single revision"
    assert call_git(repo, "rev-parse", "--verify", "no-such-ref", check=False) == b""

    with pytest.raises(GitError) as caught:  # no commit yet
        list(iter_git(repo, ["ls-tree", "-z", "HEAD"]))
    assert str(caught.value) == f"git ls-tree failed in {repo}: fatal: Not a valid object name HEAD"
    assert list(iter_git(repo, ["ls-tree", "-z", "HEAD"], check=False)) == []


def test_git_annex_commands_are_named_and_timed_as_annex(repo: Path) -> None:
    assert verb_of(["--literal-pathspecs", "ls-files"]) == "ls-files"
    assert verb_of(["-C", "x", "-c", "a=b", "status"]) == "status"
    assert verb_of(["annex", "--debug", "find", "--json"]) == "annex.find"
    seen: list[str] = []
    listener = lambda name, _s, _e: seen.append(name)  # noqa: E731
    timing.add_listener(listener)
    try:
        with pytest.raises(GitError, match=r"^git annex find failed in "):
            call_git(repo, "annex", "find")  # not a git-annex repository
    finally:
        timing.remove_listener(listener)
    assert seen == ["annex.find"]


def test_dataset_git_is_the_same_runner() -> None:
    assert dsops.git is call_git


def test_disk_full_becomes_disk_full_naming_the_repo(tmp_path: Path, small_disk) -> None:
    disk = small_disk(1 << 20)
    root = disk.path / "repo"
    root.mkdir()
    call_git(root, "init", "-q")
    data = os.urandom(2 << 20)  # incompressible: the loose object cannot fit
    for check in (True, False):
        with pytest.raises(DiskFull) as caught:
            call_git(root, "hash-object", "-w", "--stdin", input=data, check=check)
        assert str(caught.value).splitlines() == [
            f"no space left on the device holding {root}: git hash-object failed "
            "(free space there and retry)"
        ]
        assert isinstance(caught.value.__cause__, GitError)
        assert "No space left on device" in caught.value.__cause__.stderr
    with pytest.raises(DiskFull, match=f"holding {root}: git hash-object failed"):
        list(iter_git(root, ["hash-object", "-w", "--stdin"], input=data))
