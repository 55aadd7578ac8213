"""`anc run -- COMMAND`: a user's own conversion command under `datalad run` in a new
conversion dataset; its inputs, outputs, output and environment on the record."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.datalad_layer.run import commit_message, parse_run_record
from agentic_neurodata_conversion.journal.chain import JOURNAL_DIR, iter_entries

from .test_pipeline import run_fails

RunCli = Callable[..., tuple[int, str, str]]
ANC = Path(sys.executable).parent / "anc"

# A user's conversion script: an NWB file from a raw int16 file, made byte-identical on a
# rerun (fixed identifier and dates, seeded object ids), complete enough for DANDI's checks.
MAKE_NWB = '''\
"""python make_nwb.py RAW OUT"""
import datetime as dt
import random
import sys
import uuid

import hdmf.container
import numpy as np
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.file import Subject

rng = random.Random(0)
hdmf.container.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
raw, out = sys.argv[1], sys.argv[2]
data = np.fromfile(raw, dtype="<i2").reshape(-1, 4)
start = dt.datetime(2024, 1, 2, 10, 0, tzinfo=dt.timezone.utc)
nwb = NWBFile(
    session_description="a synthetic session",
    identifier="anc-run-test",
    session_start_time=start,
    file_create_date=start,
    experimenter=["Doe, Jane"],
    lab="Lab A",
    institution="Institute A",
    experiment_description="a test of anc run",
    keywords=["test"],
    subject=Subject(
        subject_id="m1", species="Mus musculus", sex="F", age="P90D", description="a mouse"
    ),
)
nwb.add_acquisition(
    TimeSeries(
        name="raw", data=data, unit="V", rate=1000.0, description="raw", conversion=1e-6
    )
)
with NWBHDF5IO(out, "w") as io:
    io.write(nwb)
print(f"wrote {out}: {data.shape[0]} samples")
'''

FAILING = """\
import sys
print("reading the raw file", flush=True)
open(sys.argv[1], "w").write("half an NWB file")
print("Traceback (most recent call last):", file=sys.stderr)
print("ValueError: the raw file has an odd number of samples", file=sys.stderr)
sys.exit(3)
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's folder (the working directory): a raw file and the scripts."""
    user = tmp_path / "user"
    (user / "data").mkdir(parents=True)
    (user / "data" / "raw.bin").write_bytes(bytes(range(256)) * 32)  # 1024 x 4 int16
    (user / "make_nwb.py").write_text(MAKE_NWB)
    (user / "failing.py").write_text(FAILING)
    monkeypatch.chdir(user)
    return user


def dataset_of(out: str) -> Path:
    """The conversion folder: the last line `anc run` prints."""
    root = Path(out.strip().splitlines()[-1])
    assert root.is_dir(), out
    return root


def records(root: Path, operation: str) -> list[dict]:
    return [e for e in iter_entries(root / JOURNAL_DIR) if e["operation"] == operation]


def run_commits(root: Path) -> list[str]:
    out = dlayer.git(root, "log", "--format=%H", "--grep=^\\[DATALAD RUNCMD\\]")
    return out.decode().split()


def status_of(root: Path) -> dict:
    return json.loads((root / "provenance" / "conversion.json").read_text())


@pytest.mark.slow
def test_a_user_script_converts_with_its_inputs_environment_and_reruns(
    here: Path, run_cli: RunCli
) -> None:
    raw = here / "data" / "raw.bin"
    code, out, err = run_cli(
        "run", "-i", "data/raw.bin", "-o", "outputs/session.nwb", "--into", "conv", "--id", "s1",
        "--", "python", "make_nwb.py", str(raw), "outputs/session.nwb",
    )  # fmt: skip
    assert code == 0, out + err
    root = dataset_of(out)
    assert root == here / "conv" / "conversion_s1"
    assert out.splitlines()[0] == "completed: session.nwb, tagged conversion-s1"
    assert dlayer.git(root, "tag", "-l").decode().split() == ["conversion-s1"]
    assert dlayer.git(root, "status", "--porcelain") == b""

    # the NWB file is annexed by the run commit, which ran the script's copy
    nwb = root / "outputs" / "session.nwb"
    assert nwb.is_symlink() and ".git/annex/objects/" in os.readlink(nwb)
    (commit,) = run_commits(root)
    record = parse_run_record(commit_message(root, commit))
    assert record["cmd"] == f"python scripts/make_nwb.py {raw} outputs/session.nwb"
    assert record["outputs"] == ["outputs/session.nwb"] and record["exit"] == 0
    assert (root / "scripts" / "make_nwb.py").read_text() == MAKE_NWB
    tree = dlayer.git(root, "ls-tree", "-r", "--name-only", commit).decode().split()
    assert "outputs/session.nwb" in tree and "scripts/make_nwb.py" in tree

    validation = json.loads((root / "reports" / "validation.json").read_text())
    assert validation["passes"] and validation["nwb_file"] == "outputs/session.nwb"
    assert (root / "reports" / "validation.md").is_file()
    assert (
        "wrote outputs/session.nwb: 1024 samples"
        in (root / "reports" / "command-output.log").read_text()
    )

    # the journal: the command, its input's checksum, the run, the NWB artifact, the environment
    (asked,) = records(root, "user_command")
    assert asked["input_data"]["argv"] == [
        "python", "make_nwb.py", str(raw), "outputs/session.nwb"
    ]  # fmt: skip
    assert asked["output_data"]["script"] == {
        "source": str(here / "make_nwb.py"),
        "copy": "scripts/make_nwb.py",
    }
    (ran,) = records(root, "run_command")
    assert ran["output_data"]["run_commit"] == commit and ran["output_data"]["exit_code"] == 0
    assert ran["input_data"]["cwd"] == str(root)
    (checked_input,) = ran["input_data"]["inputs"]
    assert checked_input["source"] == str(raw) and checked_input["file_count"] == 1
    assert checked_input["files"] == [
        {"path": "raw.bin", "size": 8192, "sha256": hashlib.sha256(raw.read_bytes()).hexdigest()}
    ]
    manifest = root / checked_input["manifest"]
    assert checked_input["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    artifacts = {r["output_data"]["path"]: r for r in records(root, "save_artifact")}
    assert artifacts["outputs/session.nwb"]["metadata"]["custom_metadata"]["run_commit"] == commit
    (validated,) = records(root, "validate")
    assert validated["output_data"]["validation_passes"] is True
    (environment,) = records(root, "record_environment")
    assert environment["output_data"]["lock"] == "scripts/requirements.lock"
    assert "pynwb==" in (root / "scripts" / "requirements.lock").read_text()

    # a later change of the input is detected; re-executing the run reproduces the NWB file
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err
    assert "rerun: ok" in out


@pytest.mark.slow
def test_a_failing_command_is_failed_untagged_with_its_output_kept(
    here: Path, run_cli: RunCli
) -> None:
    code, out, _ = run_cli(
        "run", "-o", "outputs/x.nwb", "--into", "conv", "--id", "f",
        "--", "python", "failing.py", "outputs/x.nwb",
    )  # fmt: skip
    assert code == 1
    root = dataset_of(out)
    reason = "the command failed (exit 3): ValueError: the raw file has an odd number of samples"
    assert out.splitlines()[0] == f"failed: {reason}"
    info = status_of(root)
    assert info["status"] == "failed" and info["error"] == reason
    assert dlayer.git(root, "tag", "-l") == b""
    log = (root / "reports" / "command-output.log").read_text()
    assert log.splitlines() == [
        "reading the raw file",
        "Traceback (most recent call last):",
        "ValueError: the raw file has an odd number of samples",
    ]
    # the half-written output is no result: not committed, not left behind
    assert not (root / "outputs" / "x.nwb").exists() and run_commits(root) == []
    assert dlayer.git(root, "status", "--porcelain") == b""
    (ran,) = records(root, "run_command")
    assert ran["output_data"]["exit_code"] == 3 and ran["output_data"]["run_commit"] is None
    (removed,) = records(root, "remove_partial_outputs")
    assert removed["output_data"]["removed"] == ["outputs/x.nwb"]


@pytest.mark.slow
def test_a_declared_output_the_command_did_not_write_fails_naming_it(
    here: Path, run_cli: RunCli
) -> None:
    code, out, err = run_cli(
        "run", "-o", "outputs/made.txt", "-o", "outputs/missing.nwb", "--into", "conv",
        "--", "echo made > outputs/made.txt",
    )  # fmt: skip
    assert code == 1, out + err
    root = dataset_of(out)
    reason = "the command did not write the declared output outputs/missing.nwb"
    assert out.splitlines()[0] == f"failed: {reason}"
    assert status_of(root)["error"] == reason and dlayer.git(root, "tag", "-l") == b""
    (commit,) = run_commits(root)  # what it did write is saved by the run
    assert dlayer.git(root, "show", f"{commit}:outputs/made.txt") == b"made\n"
    assert root.name.startswith("conversion_echo-")  # the id: from the command's name


@pytest.mark.slow
def test_json_a_shell_line_and_no_double_dash(here: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli(
        "run", "--json", "--into", "conv", "--id", "j", "-o", "outputs/a.txt",
        "sh", "-c", "echo one > outputs/a.txt",
    )  # fmt: skip
    assert code == 0, out + err
    result = json.loads(out)
    assert result["status"] == "completed" and result["tag"] == "conversion-j"
    assert result["executed"] == "sh -c 'echo one > outputs/a.txt'"
    assert result["outputs"] == ["outputs/a.txt"] and result["exit_code"] == 0
    root = Path(result["path"])
    assert result["run_commit"] == run_commits(root)[0]
    assert result["log"] == str(root / "reports" / "command-output.log")
    assert records(root, "add_input") == []  # a command may read nothing


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--"], "error: no command given (put the command after `--`"),
        ([], "error: no command given"),
        (["-o", "/elsewhere/x.nwb", "--", "true"], "error: the output /elsewhere/x.nwb is outside"),
        (["-o", "../x.nwb", "--", "true"], "error: the output ../x.nwb is outside the conversion"),
        (["-o", "provenance/x.nwb", "--", "true"], "is in provenance/ the conversion keeps"),
        (["-i", "data/none.bin", "--", "true"], "error: input data/none.bin does not exist"),
        (
            ["-i", "data/raw.bin", "--", "python", "make_nwb.py", "data/raw.bin", "outputs/x.nwb"],
            "error: the command names input data/raw.bin by a relative path",
        ),
        (["--", "python", "gone.py"], "error: the script gone.py does not exist"),
        (["--id", "a/b", "--", "true"], "error: conversion id 'a/b' contains"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(
    args: list[str], problem: str, here: Path, run_cli: RunCli
) -> None:
    err = run_fails(run_cli, "run", "--into", "conv", *args)
    assert err.startswith(problem) or problem in err, err
    assert not (here / "conv").exists()


def test_bad_input_from_a_real_process_has_no_traceback(here: Path) -> None:
    proc = subprocess.run(
        [str(ANC), "run", "--into", "conv", "-i", "nothing", "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "error: input nothing does not exist (give an existing file or folder with --input)\n"
    )
    assert not (here / "conv").exists()


# ------------------------------------------------------------------ Ctrl-C

_started: list[subprocess.Popen[str]] = []


@pytest.fixture
def _end_what_the_test_started() -> Iterator[None]:
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.mark.slow
@pytest.mark.usefixtures("_end_what_the_test_started")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_ends_the_command_and_records_the_interruption(
    how: str, here: Path
) -> None:
    marker = here / "sleeper.pid"
    sleeper = (
        "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
        "open('outputs/x.bin', 'wb').write(b'half'); time.sleep(120)"
    )
    proc = subprocess.Popen(
        [str(ANC), "run", "--into", "conv", "--id", "c", "-o", "outputs/x.bin",
         "--", "python", "-c", sleeper, str(marker)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    _started.append(proc)
    deadline = time.monotonic() + 60
    while not (marker.is_file() and marker.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    command_pid = int(marker.read_text())
    if how == "ctrl-c":  # as a terminal's: to the whole foreground group
        os.killpg(proc.pid, signal.SIGINT)
    else:  # to anc alone, as a scheduler's: anc ends the command
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    root = here / "conv" / "conversion_c"
    assert proc.returncode == 130, err
    # stderr: what the command printed (on a Ctrl-C, Python's KeyboardInterrupt), then one
    # line of ours
    *printed, last = err.strip().splitlines()
    assert printed == (root / "reports" / "command-output.log").read_text().splitlines()
    assert last == (
        f"interrupted during run; what the command printed is in "
        f"{root / 'reports' / 'command-output.log'}: run it again with `anc run` "
        f"(and discard this one with `anc discard {root}`)"
    )
    assert not psutil.pid_exists(command_pid) or (
        psutil.Process(command_pid).status() == psutil.STATUS_ZOMBIE
    )
    assert status_of(root)["status"] == "interrupted"
    assert not (root / "outputs" / "x.bin").exists()  # half written: dropped
    assert dlayer.git(root, "status", "--porcelain") == b""
    (stopped,) = records(root, "interrupted")
    assert stopped["input_data"] == {
        "stage": "run",
        "cause": "SIGINT" if how == "ctrl-c" else "SIGTERM",
    }

    resumed = subprocess.run([str(ANC), "resume", str(root)], capture_output=True, text=True)
    assert resumed.returncode == 2 and resumed.stderr.count("\n") == 1
    assert "ran a command of its own (`anc run`): a command cut short cannot be resumed" in (
        resumed.stderr
    )
    discarded = subprocess.run([str(ANC), "discard", str(root)], capture_output=True, text=True)
    assert discarded.returncode == 0 and not root.exists()


@pytest.mark.parametrize(
    ("command", "executed", "copied"),
    [
        (["python", "-u", "make_nwb.py", "a"], "python -u scripts/make_nwb.py a", True),
        (["python3", "-W", "ignore", "make_nwb.py"], "python3 -W ignore scripts/make_nwb.py", True),
        (["python -X dev make_nwb.py > log"], "python -X dev scripts/make_nwb.py > log", True),
        (["python", "-m", "json.tool", "make_nwb.py"], "python -m json.tool make_nwb.py", False),
        (["python", "-c", "print(1)"], "python -c 'print(1)'", False),
        (["sh", "make_nwb.py"], "sh make_nwb.py", False),
    ],
)
def test_a_python_script_from_here_runs_from_its_copy(
    command: list[str], executed: str, copied: bool, here: Path
) -> None:
    from agentic_neurodata_conversion.conversion.command import plan

    checked = plan(command, into="conv")
    assert checked.executed == executed
    assert checked.script_copy == ("scripts/make_nwb.py" if copied else None)
    assert checked.script == (here / "make_nwb.py" if copied else None)
    assert not (here / "conv").exists()


@pytest.mark.slow
def test_nwb_files_in_a_declared_folder_are_validated(here: Path, run_cli: RunCli) -> None:
    raw = here / "data" / "raw.bin"
    code, out, err = run_cli(
        "run", "-i", str(raw), "-o", "outputs", "--into", "conv",
        "--", "python", "make_nwb.py", str(raw), "outputs/a.nwb",
    )  # fmt: skip
    assert code == 0, out + err
    root = dataset_of(out)
    assert json.loads((root / "reports" / "validation.json").read_text())["passes"]
    (validated,) = records(root, "validate")
    assert validated["input_data"] == {"nwb": "outputs/a.nwb"}
    (commit,) = run_commits(root)
    assert parse_run_record(commit_message(root, commit))["outputs"] == ["outputs"]
