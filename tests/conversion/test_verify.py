"""`anc verify`: the journal, the outputs at HEAD and in the work tree, and a re-execution."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import pytest

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer

pytestmark = pytest.mark.slow  # a conversion per module, a re-execution per test

RunCli = Callable[..., tuple[int, str, str]]
ANC = Path(sys.executable).parent / "anc"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, recording_size: dict[str, float]) -> Path:
    """One completed conversion (reference input), copied by each test that changes it."""
    from agentic_neurodata_conversion.cli.main import main
    from agentic_neurodata_conversion.conversion import synthetic

    base = tmp_path_factory.mktemp("verify")
    synthetic.write_recording("spikeglx", base / "rec", **recording_size)
    out = base / "out"
    assert main(["convert", str(base / "rec"), "--output", str(out), "--id", "v"]) == 0
    return out / "conversion_v"


@pytest.fixture
def conversion(converted: Path, tmp_path: Path) -> Path:
    copy = tmp_path / converted.name
    shutil.copytree(converted, copy, symlinks=True)
    return copy


def nwb_of(root: Path) -> Path:
    return next((root / "outputs").glob("*.nwb"))


def edit(nwb: Path) -> None:
    with h5py.File(nwb, "a") as f:
        f["general"].attrs["edited"] = "by hand"


def test_an_untouched_conversion_verifies_with_every_check(
    conversion: Path, run_cli: RunCli
) -> None:
    code, out, err = run_cli("verify", str(conversion), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] and set(report["checks"]) == {"journal", "head", "worktree", "rerun"}
    assert all(check["ok"] for check in report["checks"].values())
    (state,) = report["outputs"]
    assert state["recorded"] == state["head"] == state["worktree"] == state["rerun"]


def test_an_nwb_written_through_its_annex_symlink_is_named(
    conversion: Path, run_cli: RunCli
) -> None:
    nwb = nwb_of(conversion)
    assert nwb.is_symlink()
    edit(nwb)  # as root, h5py writes through the symlink into the annex object
    code, out, err = run_cli("verify", str(conversion))
    assert code == 1
    assert f"outputs/{nwb.name}: its annexed content was modified in place" in out
    assert "worktree: FAILED" in out and "head: ok" in out and "journal: ok" in out
    assert "error: 1 difference:" in err


def test_an_unlocked_and_edited_nwb_is_named(conversion: Path, run_cli: RunCli) -> None:
    nwb = nwb_of(conversion)
    dlayer.open_dataset(conversion).unlock(path=str(nwb), result_renderer="disabled")
    edit(nwb)
    code, out, _ = run_cli("verify", str(conversion))
    assert code == 1
    assert f"outputs/{nwb.name}: unlocked and modified in the work tree" in out


def test_an_edit_saved_in_a_later_commit_names_that_commit(
    conversion: Path, run_cli: RunCli
) -> None:
    nwb = nwb_of(conversion)
    ds = dlayer.open_dataset(conversion)
    ds.unlock(path=str(nwb), result_renderer="disabled")
    edit(nwb)
    dlayer.save(ds, "hand edit of the NWB", paths=[nwb])
    commit = dlayer.git(conversion, "rev-parse", "--short", "HEAD").decode().strip()
    code, out, _ = run_cli("verify", str(conversion), "--json")
    assert code == 1
    report = json.loads(out)
    assert not report["checks"]["head"]["ok"] and report["checks"]["worktree"]["ok"]
    (problem,) = report["checks"]["head"]["problems"]
    assert problem == (
        f"outputs/{nwb.name}: changed after the run by commit {commit} ('hand edit of the NWB')"
    )


def test_an_edited_journal_line_is_named(conversion: Path, run_cli: RunCli) -> None:
    segment = sorted((conversion / "provenance" / "journal").glob("0*.jsonl"))[0]
    lines = segment.read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["agent"] = "someone else"
    lines[2] = json.dumps(record, separators=(",", ":")) + "\n"
    segment.write_text("".join(lines))
    code, out, _ = run_cli("verify", str(conversion))
    assert code == 1
    assert f"provenance/journal/{segment.name} line 3 (seq 3): record was edited" in out


def test_verify_dot_inside_the_conversion_without_a_git_identity(
    tmp_path: Path,
    write_recording: Callable[..., object],
    bare_env: Callable[[Path], dict[str, str]],
) -> None:
    """Made and verified by a user with no git identity, from inside the folder."""
    env = bare_env(tmp_path)
    write_recording("spikeglx", tmp_path / "rec")

    def anc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ANC), *args], capture_output=True, text=True, env=env, cwd=cwd)

    made = anc("convert", "rec", "--output", "out", "--id", "noid", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "out" / "conversion_noid"
    checked = anc("verify", ".", cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr == ""
    assert "verified: re-executing" in checked.stdout
    inside = anc("verify", "..", cwd=root / "outputs")  # a relative path from a subfolder
    assert inside.returncode == 0, inside.stderr


def test_verify_refuses_a_folder_that_is_no_conversion(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, err = run_cli("verify", str(tmp_path))
    assert code == 2
    assert err.strip() == (
        f"error: {tmp_path} is not in a conversion dataset (give a conversion_<id> folder)"
    )
