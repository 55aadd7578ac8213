"""Ctrl-C and SIGTERM during long commands: one line, exit 130, a conversion that resumes."""

from __future__ import annotations

import contextlib
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

from agentic_neurodata_conversion.datalad_layer.integrity import check_dataset_integrity
from agentic_neurodata_conversion.journal.chain import iter_entries, verify_journal

pytestmark = pytest.mark.slow  # every test converts, then signals it

RunCli = Callable[..., tuple[int, str, str]]
ANC = Path(sys.executable).parent / "anc"
RESUME = "resume with `anc resume "


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _end_what_the_test_started() -> Iterator[None]:
    """Kill the process group of any `anc` a failed test leaves running: a command that hangs
    after its signal would otherwise outlive pytest and take a core from every later run."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def start_anc(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`anc ARGS` in its own process group, as a terminal runs a foreground job."""
    proc = subprocess.Popen(
        [str(ANC), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _started.append(proc)
    return proc


def wait_for_stage(root: Path, stage: str, proc: subprocess.Popen[str], limit: float = 120) -> None:
    """Until the pipeline state says STAGE is done (the next stage is running)."""
    state = root / "provenance" / "pipeline_state.json"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.loads(state.read_text()).get("stage") == stage:
                return
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"stage {stage} not reached in {limit} s")


def assert_one_line_interruption(proc: subprocess.Popen[str], err: str, root: Path) -> str:
    """Exit 130, one line on stderr naming the stage and the commands; returns the stage."""
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "WARNING" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith("interrupted during "), line
    assert f"{RESUME}{root}` (or discard it with `anc discard {root}`)" in line
    # nothing of the conversion outlives the command: no worker, no conversion script
    left = [p for p in psutil.process_iter() if _in_group(p, proc.pid)]
    assert not left, [p.name() for p in left]
    return line.removeprefix("interrupted during ").split(";")[0]


def _in_group(process: psutil.Process, group: int) -> bool:
    """A live (not zombie: it has ended, only its reaping is pending) process of GROUP."""
    try:
        return os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def assert_reopens_interrupted(root: Path, stage: str) -> None:
    report = check_dataset_integrity(root)
    assert report.is_valid, report.issues
    assert not report.held_locks and not report.stale_locks
    if stage != "start":  # all is committed (at start a half-added input may stay as it was)
        assert not report.warnings, report.warnings
    info = json.loads((root / "provenance" / "conversion.json").read_text())
    assert info["status"] == "interrupted"
    assert verify_journal(root).ok
    last = [e for e in iter_entries(root / "provenance" / "journal")][-3:]
    stopped = [e for e in last if e["operation"] == "interrupted"]
    assert stopped and stopped[0]["input_data"]["stage"] == stage


def resume_and_verify(root: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli("resume", str(root))
    assert code == 0, out + err
    assert out.startswith("completed: ") and "tagged conversion-" in out
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err


def test_ctrl_c_during_a_64ch_60s_conversion_prints_one_line_and_resumes(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording("spikeglx", tmp_path / "rec", channels=64, seconds=60)
    root = tmp_path / "out" / "conversion_long"
    proc = start_anc("convert", "rec", "--output", "out", "--id", "long", cwd=tmp_path)
    wait_for_stage(root, "script", proc)  # the conversion script runs now
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
    _, err = proc.communicate(timeout=120)
    stage = assert_one_line_interruption(proc, err, root)
    assert stage == "convert"
    assert_reopens_interrupted(root, "convert")
    assert not list((root / "outputs").glob("*.nwb")), "a half-written NWB was left"
    resume_and_verify(root, run_cli)


@pytest.fixture(scope="module")
def whole_run_seconds(tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long the signalled conversion takes untouched on this machine, so that the signal
    delays are fractions of it (fixed delays end too late on a fast idle machine)."""
    from agentic_neurodata_conversion.conversion import synthetic

    base = tmp_path_factory.mktemp("whole_run")
    synthetic.write_recording("spikeglx", base / "rec", channels=32, seconds=30)
    began = time.monotonic()
    proc = start_anc("convert", "rec", "--output", "out", "--id", "t", cwd=base)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return time.monotonic() - began


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.55, 0.8])
def test_sigterm_at_any_moment_leaves_a_resumable_conversion_or_nothing(
    fraction: float,
    whole_run_seconds: float,
    tmp_path: Path,
    write_recording: Callable[..., object],
    run_cli: RunCli,
) -> None:
    write_recording("spikeglx", tmp_path / "rec", channels=32, seconds=30)
    root = tmp_path / "out" / "conversion_t"
    delay = fraction * whole_run_seconds
    for _ in range(4):  # the machine got faster than the measured run: signal earlier
        proc = start_anc("convert", "rec", "--output", "out", "--id", "t", cwd=tmp_path)
        time.sleep(delay)
        if proc.poll() is None:
            break
        assert proc.returncode == 0, proc.communicate()
        subprocess.run(["chmod", "-R", "u+w", str(tmp_path / "out")], check=True)
        subprocess.run(["rm", "-rf", str(tmp_path / "out")], check=True)
        delay /= 2
    else:
        raise AssertionError(f"every conversion ended before its signal (last delay {delay} s)")
    proc.send_signal(signal.SIGTERM)  # a scheduler ends the job: only the anc process
    out, err = proc.communicate(timeout=120)
    if not root.exists() and proc.returncode == -signal.SIGTERM:
        assert err == ""  # ended before anc set its handlers: nothing started, nothing made
        return
    assert proc.returncode == 130, out + err
    if not root.exists():  # before the dataset was complete: nothing made, one line
        assert err.strip() in (
            "error: interrupted",  # before the conversion began
            "interrupted while checking the metadata; nothing was created",
            "interrupted during start, before the conversion dataset was complete; nothing "
            f"was kept: run the conversion again ({root} was removed)",
        )
        return
    stage = assert_one_line_interruption(proc, err, root)
    assert_reopens_interrupted(root, stage)
    resume_and_verify(root, run_cli)


def test_discard_removes_an_unfinished_conversion_and_keeps_a_completed_one(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording("spikeglx", tmp_path / "rec")
    code, out, err = run_cli("convert", str(tmp_path / "rec"), "--output", str(tmp_path / "out"))
    assert code == 0, err
    done = Path(out.strip().splitlines()[-1])
    code, _, err = run_cli("discard", str(done))
    assert code == 2 and done.is_dir()
    assert "is completed and tagged: discard keeps it" in err
    code, _, err = run_cli("resume", str(done))
    assert code == 2 and "there is nothing to resume" in err

    from agentic_neurodata_conversion.conversion.pipeline import ConversionPipeline

    pipeline = ConversionPipeline.start(tmp_path / "rec", tmp_path / "out", conversion_id="half")
    pipeline.tracker.close()
    code, out, err = run_cli("discard", str(pipeline.path))
    assert code == 0, err
    assert out.strip() == f"discarded {pipeline.path}" and not pipeline.path.exists()
    assert (tmp_path / "rec").is_dir()  # the recording is never touched


def test_ctrl_c_during_verify_changes_nothing(
    tmp_path: Path,
    write_recording: Callable[..., object],
    run_cli: RunCli,
    snapshot: Callable[[Path], tuple[str, ...]],
) -> None:
    write_recording("spikeglx", tmp_path / "rec", channels=32, seconds=5)
    code, out, err = run_cli("convert", str(tmp_path / "rec"), "--output", str(tmp_path / "out"))
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])
    before = snapshot(root)
    # verify clones into the temporary folder: a private one, so that only this run's clone
    # is seen (other tests, or pytest-xdist workers, verify at the same time)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = start_anc("verify", str(root), cwd=tmp_path, env=os.environ | {"TMPDIR": str(tmp)})
    deadline = time.monotonic() + 60
    while not list(tmp.glob("anc-verify-*")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    time.sleep(0.5)  # inside the rerun
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert err.strip() == (
        f"interrupted during verify; nothing in the conversion was changed: "
        f"run `anc verify {root}` again"
    )
    assert snapshot(root) == before
    assert list(tmp.glob("anc-verify-*")) == []  # the clone is gone
    assert check_dataset_integrity(root).is_valid
