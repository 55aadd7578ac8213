"""The environment on the record (lock file, journal, run record) and `anc verify --fresh-env`."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import engine
from agentic_neurodata_conversion.conversion.pipeline import ConversionPipeline
from agentic_neurodata_conversion.environment import normalize, read_lock
from agentic_neurodata_conversion.journal.chain import iter_entries

RunCli = Callable[..., tuple[int, str, str]]
LOCK = "scripts/requirements.lock"
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s]+$")


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, recording_size: dict[str, float]) -> Path:
    """One completed conversion of a small synthetic recording."""
    from agentic_neurodata_conversion.cli.main import main
    from agentic_neurodata_conversion.conversion import synthetic

    base = tmp_path_factory.mktemp("fresh")
    synthetic.write_recording("spikeglx", base / "rec", **recording_size)
    out = base / "out"
    assert main(["convert", str(base / "rec"), "--output", str(out), "--id", "f"]) == 0
    return out / "conversion_f"


@pytest.fixture
def own_tempdir(tmp_path: Path) -> Iterator[Path]:
    """The test's own temporary folder for what verify makes (and must remove)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def entries(root: Path, operation: str) -> list[dict]:
    return [e for e in iter_entries(root / "provenance" / "journal") if e["operation"] == operation]


@pytest.mark.slow
def test_the_lock_is_committed_with_the_script_and_on_the_record(converted: Path) -> None:
    root = converted
    script_commit = git(root, "log", "-1", "--format=%H", "--", "scripts/convert.py").strip()
    # committed in git (a regular file, not an annex link), with the script
    listed = git(root, "ls-tree", script_commit, "--", LOCK, "scripts/convert.py")
    modes = {line.split("\t")[1]: line.split()[0] for line in listed.splitlines()}
    assert modes == {LOCK: "100644", "scripts/convert.py": "100755"}
    assert git(root, "show", f"{script_commit}:{LOCK}") == (root / LOCK).read_text()
    assert git(root, "log", "--format=%H", "--", LOCK).split() == [script_commit]
    lines = read_lock(root / LOCK)
    assert all(PIN.match(line) for line in lines)
    pinned = {normalize(line.split("==")[0]): line.split("==")[1] for line in lines}
    assert pinned["neuroconv"] == metadata.version("neuroconv")
    assert pinned["pynwb"] == metadata.version("pynwb")

    (record,) = entries(root, "record_environment")
    assert record["source"] == "auto_extracted" and record["confidence_level"] == "definitive"
    assert record["output_data"]["lock"] == LOCK
    env = record["output_data"]["environment"]
    assert env["python"] == platform.python_version()
    recorded = {normalize(d["name"]): d["version"] for d in env["distributions"]}
    assert {name: recorded[name] for name in pinned} == pinned  # every pinned line, and more
    assert len(recorded) > len(pinned)  # pip, our own editable install: not pinned
    checkpoint = next(
        e
        for e in entries(root, "checkpoint")
        if e["output_data"]["message"].startswith("conversion script written")
    )
    assert record["seq"] < checkpoint["seq"]  # committed by the script's checkpoint

    (run,) = entries(root, "run_conversion")
    software = run["output_data"]["software"]
    for name in ("neuroconv", "spikeinterface", "neo", "pynwb", "hdmf", "h5py", "numpy"):
        assert software[name] == metadata.version(name), name
    assert software["nwbinspector"] == metadata.version("nwbinspector")
    assert software["datalad"] == metadata.version("datalad")
    assert software["git-annex"].startswith(metadata.version("git-annex").split("-")[0])
    assert software["python"] == platform.python_version()


def test_a_fresh_environment_comes_first_on_path_and_alone(tmp_path: Path) -> None:
    before = dict(os.environ)
    os.environ["PYTHONPATH"] = str(tmp_path / "elsewhere")
    try:
        with engine.command_environment(tmp_path / "log", tmp_path / "venv" / "bin"):
            assert os.environ["PATH"].split(os.pathsep)[0] == str(tmp_path / "venv" / "bin")
            assert "PYTHONPATH" not in os.environ and os.environ["PYTHONNOUSERSITE"] == "1"
        assert os.environ["PYTHONPATH"] == str(tmp_path / "elsewhere")
        with engine.command_environment(tmp_path / "log"):  # plain verify: this interpreter
            assert os.environ["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
            assert os.environ["PYTHONPATH"] == str(tmp_path / "elsewhere")
    finally:
        os.environ.clear()
        os.environ.update(before)


@pytest.mark.slow
def test_verify_in_a_fresh_environment_matches_byte_for_byte(
    converted: Path, own_tempdir: Path, run_cli: RunCli
) -> None:
    code, out, err = run_cli("verify", str(converted), "--fresh-env", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] and all(check["ok"] for check in report["checks"].values())
    fresh = report["fresh_env"]
    assert fresh["used"] and fresh["python"] == platform.python_version()
    assert fresh["recorded_python"] == platform.python_version()
    assert fresh["distributions"] == len(read_lock(converted / LOCK))
    assert fresh["lock"] == f"{LOCK} at {report['run_commit'][:10]}"
    print(f"fresh environment built in {fresh['build_seconds']:.1f} s")  # -s shows it
    assert "in a fresh environment" in report["checks"]["rerun"]["detail"]
    (state,) = report["outputs"]
    assert state["recorded"] == state["rerun"] is not None
    assert list(own_tempdir.iterdir()) == []  # the environment and the clone are gone


def staged(tmp_path: Path, recording: Callable[..., object], edit: Callable[[Path], None]) -> Path:
    """A conversion whose run commit holds the lock as EDIT left it (run to its convert stage)."""
    recording("spikeglx", tmp_path / "rec")
    pipeline = ConversionPipeline.start(tmp_path / "rec", tmp_path / "out", conversion_id="e")
    try:
        pipeline.detect()
        pipeline.assemble_metadata(checkpoint=False)
        pipeline.write_script()
        edit(pipeline.path / LOCK)
        pipeline.tracker.checkpoint("the lock edited by hand")
        pipeline.convert()
    finally:
        pipeline.tracker.close()
    return pipeline.path


def pin_a_version_that_does_not_exist(lock: Path) -> None:
    lines = lock.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines[first] = lines[first].split("==")[0] + "==999.0.0\n"  # pip collects in order
    lock.write_text("".join(lines))


@pytest.mark.slow
def test_a_pinned_version_no_index_has_is_named_in_one_line(
    tmp_path: Path,
    write_recording: Callable[..., object],
    own_tempdir: Path,
    run_cli: RunCli,
) -> None:
    root = staged(tmp_path, write_recording, pin_a_version_that_does_not_exist)
    lines = (root / LOCK).read_text().splitlines()
    number, line = next((n, ln) for n, ln in enumerate(lines, 1) if ln.endswith("==999.0.0"))
    commit = git(root, "log", "-1", "--format=%h", "--abbrev=10", "--grep=DATALAD RUNCMD")
    code, out, err = run_cli("verify", str(root), "--fresh-env")
    assert code != 0 and "Traceback" not in out + err
    start, error = err.strip().splitlines()  # the build's start, and the error
    assert start == f"building a fresh environment from the lock at {commit.strip()}"
    assert error.startswith(
        f"error: pip cannot install {line} (line {number} of {LOCK} at {commit.strip()}): "
        "no package index reachable here has it (correct that line of the lock"
    ), err
    assert list(own_tempdir.iterdir()) == []


@pytest.mark.slow
def test_a_conversion_without_a_lock_is_refused_with_the_fix(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    root = staged(tmp_path, write_recording, Path.unlink)  # as made before locks were kept
    code, out, err = run_cli("verify", str(root), "--fresh-env")
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: conversion {root.name} has no {LOCK} at its run commit ")
    assert line.endswith(
        "(verify it without --fresh-env, or convert it again to record its environment)"
    )
    code, out, err = run_cli("verify", str(root))  # the plain verify still works
    assert code == 0, out + err
