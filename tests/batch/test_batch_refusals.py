"""What `anc batch` refuses: one line naming the problem and the fix, nothing written."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .test_batch_run import make_sessions


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--workers", "0"], "--workers 0"),
        pytest.param(
            ["--scheduler", "tcp://127.0.0.1:9"],
            "no Dask scheduler answers",
            marks=pytest.mark.slow,
        ),
        (["--cluster", "condor"], "condor"),
        (["--retries", "-1"], "--retries -1"),
        (["--to", "file:///tmp/store"], "not a RIA store URL"),
    ],
)
def test_bad_cluster_input_is_one_line_and_writes_nothing(
    tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]], args: list[str], says: str
) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=1)
    lab = tmp_path / "lab"
    started = time.monotonic()
    code, _, err = run_cli(
        "batch", f"{raw}/{{subject_id}}/{{session_id}}", "--output", str(lab), *args
    )
    assert code != 0 and says in err and err.startswith("error: ") and err.count("\n") == 1
    assert time.monotonic() - started < 15
    assert not lab.exists()


def test_lab_that_is_plain_git_is_refused(
    tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=1)
    lab = tmp_path / "lab"
    lab.mkdir()
    subprocess.run(["git", "init", "-q", str(lab)], check=True)
    before = sorted(p.name for p in lab.rglob("*"))
    code, _, err = run_cli("batch", f"{raw}/{{subject_id}}/{{session_id}}", "--output", str(lab))
    assert code == 2 and "plain git repository" in err and err.count("\n") == 1
    assert sorted(p.name for p in lab.rglob("*")) == before


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("{root}/nothing/{{subject_id}}", "no folder"),
        ("{root}/raw/{{subject_id}}/q{{session_id}}", "matches"),
        ("{root}/raw/{{subject_id}}/x/{{session_id}}", "x"),
    ],
)
def test_sources_matching_nothing_are_refused(
    tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]], pattern: str, says: str
) -> None:
    make_sessions(tmp_path / "raw", good=1)
    lab = tmp_path / "lab"
    code, _, err = run_cli("batch", pattern.format(root=tmp_path), "--output", str(lab))
    assert code == 2 and says in err and err.count("\n") == 1, err
    assert not lab.exists()


def test_dry_run_shows_the_plan_and_writes_nothing(
    tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    make_sessions(tmp_path / "raw", good=2)
    lab = tmp_path / "lab"
    code, out, _ = run_cli(
        "batch", f"{tmp_path}/raw/{{subject_id}}/{{session_id}}", "--output", str(lab), "--dry-run"
    )
    assert code == 0 and "m1_s00" in out and "2 to convert, 0 to skip" in out
    assert not lab.exists()
    code, out, _ = run_cli(
        "batch",
        f"{tmp_path}/raw/{{subject_id}}/{{session_id}}",
        "--output",
        str(lab),
        "--dry-run",
        "--cluster",
        "slurm",
        "--cluster-option",
        "queue=short",
    )
    assert code == 0 and "#SBATCH" in out and "short" in out
    assert not lab.exists()


@pytest.mark.slow
def test_a_second_batch_on_one_lab_is_refused_while_the_first_runs(
    tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """Two `anc batch` on one LAB would convert the same sources twice at once: the second
    is refused (the first holds LAB's lock) and leaves the first's work alone."""
    from filelock import FileLock

    from agentic_neurodata_conversion.batch import claims
    from agentic_neurodata_conversion.batch.run import LAB_LOCK

    raw = tmp_path / "raw"
    make_sessions(raw, good=1)
    lab = tmp_path / "lab"
    code, _, err = run_cli("batch", f"{raw}/{{subject_id}}/{{session_id}}", "--output", str(lab))
    assert code == 0, err
    before = subprocess.run(
        ["git", "-C", str(lab), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    with FileLock(claims.work_area(lab) / LAB_LOCK):  # what a running batch holds
        code, _, err = run_cli(
            "batch", f"{raw}/{{subject_id}}/{{session_id}}", "--output", str(lab)
        )
    assert code != 0 and "another anc batch is running" in err and err.count("\n") == 1
    after = subprocess.run(
        ["git", "-C", str(lab), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    assert after == before
