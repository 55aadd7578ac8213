"""Batch registration of subdatasets with git's plumbing: what `datalad save` records, clean
status, clone + get, updates, the user's staged changes, refusals, crashes at any moment."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agentic_neurodata_conversion
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer.dataset import REGISTER_LOCK
from agentic_neurodata_conversion.datalad_layer.keys import key_of_file
from agentic_neurodata_conversion.datalad_layer.register import (
    PENDING,
    read_subdataset,
    register_subdatasets,
    repair_registration,
)
from agentic_neurodata_conversion.errors import UsageError

SUBS = ("conversion_a", "conversion_b", "conversion_c")
PACKAGE_ROOT = str(Path(agentic_neurodata_conversion.__file__).parent.parent)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def create(path: Path) -> None:
    dsops.check_results(dsops.dl().create(path=str(path), **dsops.API_OPTIONS), "create")


def save(ds: Path, paths: list[Path] | None = None) -> None:
    results = dsops.dl().save(
        dataset=str(ds), path=[str(p) for p in paths] if paths else None, **dsops.API_OPTIONS
    )
    dsops.check_results(results, "save")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A superdataset LAB holding three saved datasets, each with an annexed file, none
    registered (what `anc batch` workers leave)."""
    lab = tmp_path_factory.mktemp("register") / "LAB"
    create(lab)
    for name in SUBS:
        create(lab / name)
        (lab / name / "data.bin").write_bytes(os.urandom(4096))
        save(lab / name)
    return lab


@pytest.fixture
def lab(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "LAB"
    shutil.copytree(template, copy, symlinks=True)
    return copy


def subs_of(lab: Path, names: tuple[str, ...] = SUBS) -> list:
    return [read_subdataset(lab / name) for name in names]


def datalad_states(lab: Path) -> dict[str, str]:
    """`datalad status` of LAB with every subdataset's work tree evaluated: path -> state."""
    records = dsops.dl().status(dataset=str(lab), **dsops.API_OPTIONS)
    return {os.path.relpath(r["path"], lab): r["state"] for r in records}


def registered(lab: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Per subdataset name: its gitlink commit in HEAD and its HEAD .gitmodules keys."""
    links = {
        line.split("\t")[1]: line.split()[2]
        for line in git(lab, "ls-tree", "-r", "HEAD").splitlines()
        if line.startswith("160000 ")
    }
    keys: dict[str, dict[str, str]] = {}
    if (
        subprocess.run(
            ["git", "cat-file", "-e", "HEAD:.gitmodules"], cwd=lab, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    ):
        for line in git(lab, "config", "--blob", "HEAD:.gitmodules", "--list").splitlines():
            key, _, value = line.partition("=")
            name, prop = key.removeprefix("submodule.").rsplit(".", 1)
            keys.setdefault(name, {})[prop] = value
    return {n: (links.get(n), keys.get(n, {})) for n in set(links) | set(keys)}


def assert_clean(lab: Path, unregistered: tuple[str, ...] = ()) -> None:
    """git and datalad status of LAB show nothing but the UNREGISTERED datasets, untracked."""
    porcelain = git(lab, "status", "--porcelain", "--ignore-submodules=none")
    assert sorted(porcelain.splitlines()) == sorted(f"?? {n}/" for n in unregistered)
    states = datalad_states(lab)
    assert {p for p, s in states.items() if s != "clean"} == set(unregistered), states
    assert all(states[n] == "untracked" for n in unregistered)


# --- what DataLad records ---------------------------------------------------------------------


def test_the_same_commit_content_as_datalad_save(template: Path, tmp_path: Path) -> None:
    by_datalad, by_us = tmp_path / "datalad", tmp_path / "us"
    for copy in (by_datalad, by_us):
        shutil.copytree(template, copy, symlinks=True)
    for batch in (SUBS[:1], SUBS[1:]):  # a first registration, then two appended
        save(by_datalad, [by_datalad / name for name in batch])
        commit = register_subdatasets(by_us, subs_of(by_us, batch), "[DATALAD] Recorded changes")
        assert commit == git(by_us, "rev-parse", "HEAD").strip()
        assert git(by_us, "rev-parse", "HEAD^{tree}") == git(by_datalad, "rev-parse", "HEAD^{tree}")
        assert (by_us / ".gitmodules").read_bytes() == (by_datalad / ".gitmodules").read_bytes()
    text = (by_us / ".gitmodules").read_text()
    sub_id = read_subdataset(by_us / "conversion_a").datalad_id
    assert text.startswith(
        '[submodule "conversion_a"]\n\tpath = conversion_a\n\turl = ./conversion_a\n'
        f"\tdatalad-id = {sub_id}\n"
    )
    assert git(by_us, "ls-tree", "HEAD", "conversion_b").startswith("160000 commit ")
    assert git(by_us, "log", "-1", "--format=%s") == "[DATALAD] Recorded changes\n"
    # DataLad's local .git/config sections are left out on purpose (the module docstring)
    assert "[submodule " not in (by_us / ".git" / "config").read_text()
    assert (by_datalad / ".git" / "config").read_text().count("[submodule ") == len(SUBS)


def test_clean_listed_cloned_and_content_fetched(lab: Path, tmp_path: Path) -> None:
    assert_clean(lab, SUBS)
    assert register_subdatasets(lab, subs_of(lab), "Register three") is not None
    assert_clean(lab)
    listed = dsops.dl().subdatasets(dataset=str(lab), **dsops.API_OPTIONS)
    assert {(Path(r["path"]).name, r["gitmodule_datalad-id"]) for r in listed} == {
        (s.path.name, s.datalad_id) for s in subs_of(lab)
    }
    clone = tmp_path / "clone"
    dsops.check_results(
        dsops.dl().clone(source=str(lab), path=str(clone), **dsops.API_OPTIONS), "clone"
    )
    dsops.check_results(
        dsops.dl().get(dataset=str(clone), path=str(clone), recursive=True, **dsops.API_OPTIONS),
        "get",
    )
    for name in SUBS:
        fetched = clone / name / "data.bin"
        assert key_of_file(fetched) == key_of_file(lab / name / "data.bin") is not None
        assert fetched.read_bytes() == (lab / name / "data.bin").read_bytes()
        assert git(clone / name, "rev-parse", "HEAD") == git(lab / name, "rev-parse", "HEAD")


def test_a_later_commit_updates_the_registration(lab: Path) -> None:
    first = register_subdatasets(lab, subs_of(lab), "Register")
    gitmodules = (lab / ".gitmodules").read_bytes()
    assert register_subdatasets(lab, subs_of(lab), "Again") is None  # nothing to record
    (lab / "conversion_b" / "more.txt").write_text("a later stage\n")
    save(lab / "conversion_b")
    later = read_subdataset(lab / "conversion_b")
    second = register_subdatasets(lab, [later, *subs_of(lab, SUBS[:1])], "Update")
    assert git(lab, "rev-parse", "HEAD^").strip() == first
    assert git(lab, "diff", "--name-only", first, second).split() == ["conversion_b"]
    assert registered(lab)["conversion_b"][0] == later.commit
    assert (lab / ".gitmodules").read_bytes() == gitmodules
    assert_clean(lab)


def test_a_new_dataset_id_at_a_registered_path_is_recorded(lab: Path) -> None:
    register_subdatasets(lab, subs_of(lab), "Register")
    sub = dataclasses.replace(read_subdataset(lab / "conversion_a"), datalad_id="new-id-1")
    register_subdatasets(lab, [sub], "Another dataset at conversion_a")
    assert registered(lab)["conversion_a"][1] == {
        "path": "conversion_a",
        "url": "./conversion_a",
        "datalad-id": "new-id-1",
    }
    assert (lab / ".gitmodules").read_text().count("[submodule ") == len(SUBS)
    assert registered(lab)["conversion_b"][1]["datalad-id"] == subs_of(lab)[1].datalad_id


def test_what_the_user_staged_stays_staged_and_out_of_the_commit(lab: Path) -> None:
    (lab / "notes.txt").write_text("mine\n")
    (lab / ".gitattributes").write_text((lab / ".gitattributes").read_text() + "# edited\n")
    git(lab, "add", "notes.txt")
    staged_before = git(lab, "diff", "--cached", "--raw")
    commit = register_subdatasets(lab, subs_of(lab), "Register")
    assert sorted(git(lab, "show", "--name-only", "--format=", commit).split()) == sorted(
        [".gitmodules", *SUBS]
    )
    assert git(lab, "diff", "--cached", "--raw") == staged_before  # notes.txt, still staged
    assert git(lab, "status", "--porcelain").splitlines() == [" M .gitattributes", "A  notes.txt"]


def test_registering_into_a_superdataset_without_a_commit(tmp_path: Path, template: Path) -> None:
    lab = tmp_path / "LAB"
    lab.mkdir()
    git(lab, "init", "-q")
    (lab / ".datalad").mkdir()
    (lab / ".datalad" / "config").write_text('[datalad "dataset"]\n\tid = lab-id\n')
    for name in SUBS[:2]:
        shutil.copytree(template / name, lab / name, symlinks=True)
    commit = register_subdatasets(lab, subs_of(lab, SUBS[:2]), "First")
    assert git(lab, "rev-list", "--parents", "HEAD").split() == [commit]
    assert set(registered(lab)) == set(SUBS[:2])
    assert git(lab, "status", "--porcelain").splitlines() == ["?? .datalad/"]


# --- refusals -----------------------------------------------------------------------------


def test_what_cannot_be_registered_is_refused_with_its_fix(lab: Path, tmp_path: Path) -> None:
    head = git(lab, "rev-parse", "HEAD")
    outside = tmp_path / "elsewhere"
    shutil.copytree(lab / "conversion_a", outside, symlinks=True)
    plain = lab / "plain"
    plain.mkdir()
    unborn = lab / "unborn"
    git(lab, "init", "-q", str(unborn))
    nested = lab / "conversion_a" / "inner"
    git(lab, "init", "-q", str(nested))
    git(nested, "commit", "-q", "--allow-empty", "-m", "x")
    cases = [
        (lambda: register_subdatasets(lab, [read_subdataset(outside)], "m"), "is not inside"),
        (lambda: read_subdataset(plain), "is not a git repository"),
        (lambda: read_subdataset(unborn), "has no commit to record"),
        (lambda: register_subdatasets(lab, [read_subdataset(nested)], "m"), "a dataset of its own"),
        (lambda: register_subdatasets(plain, subs_of(lab), "m"), "is not a DataLad dataset"),
        (
            lambda: register_subdatasets(
                lab, [dataclasses.replace(subs_of(lab)[0], commit="HEAD")], "m"
            ),
            "is not a commit id",
        ),
    ]
    for call, said in cases:
        with pytest.raises(UsageError, match=said) as caught:
            call()
        assert caught.value.hint and "\n" not in caught.value.message
    (lab / ".gitmodules").write_text('[submodule "mine"]\n\tpath = mine\n')
    with pytest.raises(UsageError, match="has changes that are not committed"):
        register_subdatasets(lab, subs_of(lab), "m")
    (lab / ".gitmodules").unlink()
    git(lab, "checkout", "-q", "--detach")
    with pytest.raises(UsageError, match="is detached") as caught:
        register_subdatasets(lab, subs_of(lab), "m")
    assert "git -C" in (caught.value.hint or "")
    git(lab, "checkout", "-q", "-")
    (lab / "conversion_b" / "tracked.txt").write_text("x\n")
    shutil.move(lab / "conversion_b" / ".git", tmp_path / "moved.git")
    git(lab, "add", "conversion_b/tracked.txt")
    shutil.move(tmp_path / "moved.git", lab / "conversion_b" / ".git")
    with pytest.raises(UsageError, match="tracks conversion_b as a file, or files inside it"):
        register_subdatasets(lab, subs_of(lab), "m")
    assert git(lab, "rev-parse", "HEAD") == head and not (lab / ".git" / PENDING).exists()


def test_read_subdataset_reads_what_git_reads(tmp_path: Path) -> None:
    repo = tmp_path / "sub"
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    (repo / ".datalad").mkdir()
    config = repo / ".datalad" / "config"
    texts = [
        '[datalad "dataset"]\n\tid = 1a16673b-9d36-423f-8def-867d2a5c35c4\n',
        '# made by hand\n[datalad "dataset"] ; here\n\tversion = 2\n\tID = "x  y" # c\n',
        "[datalad.dataset]\n id=old-style\n",
        '[datalad "dataset"]\n\tid = first\n[core]\n[datalad "dataset"]\n\tid = second\n',
        '[datalad "other"]\n\tid = not-this\n',
    ]
    for text in texts:
        config.write_text(text)
        said = subprocess.run(
            ["git", "config", "-f", str(config), "--get", "datalad.dataset.id"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert read_subdataset(repo).datalad_id == (said or None), text
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "pack-refs", "--all")  # no loose ref left: packed-refs
    assert not (repo / ".git" / "refs" / "heads" / "master").exists()
    assert read_subdataset(repo).commit == head
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/master")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/alias")  # the files do not say: git does
    assert read_subdataset(repo).commit == git(repo, "rev-parse", "master").strip()
    git(repo, "checkout", "-q", "--detach", "HEAD^")
    assert read_subdataset(repo).commit == head


def test_an_adjusted_branch_records_its_corresponding_branch(tmp_path: Path) -> None:
    """git-annex on a crippled file system works in adjusted/<branch>(unlocked); DataLad
    records <branch>, whose commit the adjusted one was made from."""
    ds = tmp_path / "ds"
    create(ds)
    git(ds, "annex", "adjust", "--unlock")
    assert git(ds, "symbolic-ref", "HEAD").strip().endswith("(unlocked)")
    master = git(ds, "rev-parse", "refs/heads/master").strip()
    assert master != git(ds, "rev-parse", "HEAD").strip()
    assert read_subdataset(ds).commit == master


# --- crashes ------------------------------------------------------------------------------

CHILD = """
import json, os, sys
from pathlib import Path
from agentic_neurodata_conversion.datalad_layer import register
from agentic_neurodata_conversion.datalad_layer.git import verb_of
sup, stop, paths = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
subs = [register.read_subdataset(Path(p)) for p in paths]
steps = []
def counted(fn, name):
    def run(*args, **kwargs):
        result = fn(*args, **kwargs)
        steps.append(name(args))
        if len(steps) == stop:
            os._exit(9)
        return result
    return run
# every step that changes something, or reads what a later one relies on
register.call_git = counted(register.call_git, lambda a: verb_of(a[1:]))
os.replace = counted(os.replace, lambda a: "replace " + os.path.basename(a[1]))
os.unlink = counted(os.unlink, lambda a: "unlink " + os.path.basename(a[0]))
print("ready", flush=True)
register.register_subdatasets(sup, subs, "Register after a crash?")
print(json.dumps(steps), flush=True)
"""


def start_child(lab: Path, stop: int) -> subprocess.Popen[str]:
    """The registration of SUBS into LAB in a process of its own (a session: killpg ends its
    git too) that exits right after its STOPth step (0: runs to the end, prints the steps)."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    args = [sys.executable, "-c", CHILD, str(lab), str(stop), *(str(lab / n) for n in SUBS)]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def all_steps(lab: Path) -> list[str]:
    proc = start_child(lab, 0)
    out, _ = proc.communicate()
    assert proc.returncode == 0
    return json.loads(out)


def check_all_or_nothing(lab: Path) -> bool:
    """Each dataset is registered with its gitlink and its .gitmodules section, or has
    neither (one batch, one commit: all or none); True when registered."""
    want = {s.path.name: s for s in subs_of(lab)}
    found = registered(lab)
    states = set()
    for name, sub in want.items():
        link, keys = found.get(name, (None, {}))
        section = keys == {"path": name, "url": f"./{name}", "datalad-id": sub.datalad_id}
        assert (link == sub.commit) == section and (link is None) == (not keys), (name, found)
        states.add(section)
    assert len(states) == 1, found
    return states.pop()


def after_crash(lab: Path, repair_first: bool) -> None:
    done = check_all_or_nothing(lab)
    if repair_first:
        repair_registration(lab)
        assert_clean(lab, () if done else SUBS)
    register_subdatasets(lab, subs_of(lab), "Register again")
    assert check_all_or_nothing(lab)
    assert_clean(lab)
    assert [p.name for p in (lab / ".git").glob("anc-register.*")] == [REGISTER_LOCK]


@pytest.mark.slow
def test_killed_after_each_step_all_or_nothing_then_repaired(
    template: Path, tmp_path: Path
) -> None:
    def fresh(i: int) -> Path:
        lab = tmp_path / f"LAB{i}"
        shutil.copytree(template, lab, symlinks=True)
        return lab

    steps = all_steps(fresh(0))
    order = [
        "update-index",  # the commit is built in the temporary index,
        "write-tree",
        "commit-tree",
        "unlink anc-register.index",
        "replace anc-register.pending",  # the marker goes down before HEAD moves,
        "update-ref",
        "update-index",  # then the real index and the work tree follow
        "replace .gitmodules",
        "unlink anc-register.pending",
    ]
    assert [s for s in steps if s in order] == order and steps[-1] == order[-1], steps
    assert len(steps) <= 16  # a constant number of steps
    for stop in range(1, len(steps) + 1):
        lab = fresh(stop)
        proc = start_child(lab, stop)
        proc.communicate()
        assert proc.returncode == 9
        after_crash(lab, repair_first=stop % 2 == 0)  # odd: the next registration repairs


@pytest.mark.slow
def test_sigkill_at_random_moments_all_or_nothing_then_repaired(
    template: Path, tmp_path: Path
) -> None:
    rng = random.Random(os.environ.get("PYTEST_SEED", "register"))
    lab = tmp_path / "timing"
    shutil.copytree(template, lab, symlinks=True)
    proc = start_child(lab, 0)
    assert proc.stdout is not None
    started = time.monotonic()
    proc.stdout.readline()  # the steps: printed when the registration is done
    duration = time.monotonic() - started
    proc.communicate()
    killed = 0
    for i in range(20):
        lab = tmp_path / f"LAB{i}"
        shutil.copytree(template, lab, symlinks=True)
        proc = start_child(lab, 0)
        # every other kill in the last part, where HEAD moves and the index follows
        time.sleep(rng.uniform(0 if i % 2 else 0.6 * duration, duration))
        os.killpg(proc.pid, signal.SIGKILL)  # the registration and the git it runs
        proc.communicate()
        killed += proc.returncode == -signal.SIGKILL
        after_crash(lab, repair_first=True)
    assert killed >= 10


def test_repair_keeps_a_gitmodules_edited_after_the_crash(lab: Path, template: Path) -> None:
    """Killed right after update-ref: HEAD has the datasets, the index and work tree not."""
    probe = lab.parent / "probe"
    shutil.copytree(template, probe, symlinks=True)
    proc = start_child(lab, all_steps(probe).index("update-ref") + 1)
    proc.communicate()
    assert proc.returncode == 9 and check_all_or_nothing(lab)
    assert (lab / ".git" / PENDING).exists()
    deleted = ["D  .gitmodules", *(f"D  {n}" for n in SUBS), *(f"?? {n}/" for n in SUBS)]
    assert sorted(git(lab, "status", "--porcelain").splitlines()) == sorted(deleted)
    (lab / ".gitmodules").write_text("# my own\n")
    done = repair_registration(lab)
    assert done[0] == "index: conversion_a, conversion_b, conversion_c and 1 more set to HEAD"
    assert done[1].startswith("kept .gitmodules in the work tree: edited since")
    assert len(done) == 2 and (lab / ".gitmodules").read_text() == "# my own\n"
    assert git(lab, "status", "--porcelain").splitlines() == [" M .gitmodules"]
    assert repair_registration(lab) == []


@pytest.mark.slow
def test_serialised_with_datalad_save_registrations(lab: Path) -> None:
    """`anc convert` registers with `datalad save` under the same lock: no index.lock clash."""
    extra = lab / "conversion_d"
    shutil.copytree(lab / "conversion_a", extra, symlinks=True)
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    by_save = (
        "import sys; from pathlib import Path\n"
        "from agentic_neurodata_conversion.datalad_layer.dataset import record_subdataset\n"
        "record_subdataset(Path(sys.argv[1]), Path(sys.argv[2]), 'by save')\n"
    )
    batch = [sys.executable, "-c", CHILD, str(lab), "0", *(str(lab / n) for n in SUBS)]
    procs = [
        subprocess.Popen([sys.executable, "-c", by_save, str(lab), str(extra)], env=env),
        subprocess.Popen(batch, env=env, stdout=subprocess.DEVNULL),
    ]
    assert [p.wait() for p in procs] == [0, 0]
    assert set(registered(lab)) == {*SUBS, "conversion_d"}
    assert_clean(lab)
