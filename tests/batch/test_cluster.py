"""Where a batch's Dask work runs: real local clusters, a real running scheduler, and the job
scripts dask-jobqueue builds offline (no sbatch, qsub or job queue needed)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from distributed import LocalCluster

from agentic_neurodata_conversion.batch.cluster import (
    CONNECT_TIMEOUT,
    ClusterRequest,
    check_request,
    job_script,
    open_client,
    parse_cluster_options,
)
from agentic_neurodata_conversion.errors import EnvironmentProblem, UsageError

VENV_BIN = str(Path(sys.executable).parent)


def tools() -> tuple[str | None, str]:
    """What a task finds: git-annex, and the PATH it searches."""
    return shutil.which("git-annex"), os.environ["PATH"]


def pool_result() -> int:
    """A process pool inside a task, as the conversion's forked helper starts one."""
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(abs, -7).result()


def refused(request: ClusterRequest) -> str:
    with pytest.raises(UsageError) as caught:
        check_request(request)
    assert caught.value.hint
    return caught.value.message


# --------------------------------------------------------------------------- options


def test_cluster_options_are_typed_and_lists_collect() -> None:
    options = parse_cluster_options(
        [
            "queue=short",
            "cores=2",
            "memory = 8GB",
            "nanny=false",
            "death_timeout=1.5",
            r"job-extra-directives=--exclusive,--nodelist=a\,b",
            "job_extra_directives=--gres=gpu:1",
            "worker_extra_args=--lifetime,55m",
            "job_script_prologue=module load hdf5, zlib",
            "job_script_prologue=source ~/.profile",
        ]
    )
    assert options == {
        "queue": "short",
        "cores": 2,
        "memory": "8GB",
        "nanny": False,
        "death_timeout": 1.5,
        "job_extra_directives": ["--exclusive", "--nodelist=a,b", "--gres=gpu:1"],
        "worker_extra_args": ["--lifetime", "55m"],
        "job_script_prologue": ["module load hdf5, zlib", "source ~/.profile"],
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["queue"], "--cluster-option 'queue': not KEY=VALUE"),
        (["=short"], "--cluster-option '=short': not KEY=VALUE"),
        (["queue="], "--cluster-option 'queue=': not KEY=VALUE"),
        (["the queue=short"], "--cluster-option 'the queue=short': not KEY=VALUE"),
        (["queue=short", "queue=long"], "--cluster-option queue given twice (short, long)"),
    ],
)
def test_malformed_cluster_options_are_named(items: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cluster_options(items)
    assert caught.value.message == message


def test_requests_that_cannot_run_are_refused() -> None:
    assert refused(ClusterRequest(workers=0)) == "--workers 0: a batch needs at least one worker"
    assert refused(ClusterRequest(scheduler="tcp://10.0.0.5:8786", cluster="slurm")) == (
        "--scheduler and --cluster together"
    )
    assert refused(ClusterRequest(cluster="lsf")) == "--cluster lsf: unknown job queue"
    assert refused(ClusterRequest(options={"queue": "short"})) == (
        "--cluster-option without --cluster"
    )
    with pytest.raises(UsageError) as caught:
        check_request(ClusterRequest(cluster="slurm", options={"queu": "short"}))
    assert caught.value.message == "--cluster-option queu: SLURMCluster has no such option"
    assert caught.value.hint == "did you mean queue?"
    check_request(ClusterRequest(cluster="pbs", options={"resource_spec": "select=1:ncpus=1"}))


# --------------------------------------------------------------------------- job scripts


@pytest.mark.parametrize(
    ("kind", "queue_line"),
    [("slurm", "#SBATCH -p short"), ("pbs", "#PBS -q short"), ("sge", "#$ -q short")],
)
def test_the_job_script_of_each_queue(kind: str, queue_line: str) -> None:
    options = parse_cluster_options(["queue=short", "job_script_prologue=module load hdf5"])
    script = job_script(ClusterRequest(workers=4, cluster=kind, options=options))
    lines = script.splitlines()
    assert queue_line in lines
    prologue = [line for line in lines if line and not line.startswith("#")]
    # the venv's bin/ first on PATH (git-annex, python), before the user's own lines
    assert prologue[:3] == [
        f'export PATH={VENV_BIN}:"$PATH"',
        "export DASK_DISTRIBUTED__WORKER__DAEMON=False",
        "module load hdf5",
    ]
    worker = prologue[-1]
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker ")
    assert "--nthreads 1 --memory-limit 3.73GiB" in worker
    assert "04:00:00" in script  # the walltime default


def test_options_override_the_defaults_in_the_script() -> None:
    options = parse_cluster_options(
        ["cores=2", "memory=16GB", "walltime=00:20:00", "job_extra_directives=--exclusive"]
    )
    lines = job_script(ClusterRequest(cluster="slurm", options=options)).splitlines()
    for line in ("#SBATCH --cpus-per-task=2", "#SBATCH --mem=15G", "#SBATCH -t 00:20:00"):
        assert line in lines
    assert "#SBATCH --exclusive" in lines


def test_bad_option_values_and_local_requests_have_no_job_script() -> None:
    with pytest.raises(UsageError) as caught:
        job_script(ClusterRequest(cluster="slurm", options={"memory": "lots"}))
    assert caught.value.message == (
        "--cluster slurm: dask-jobqueue refuses the options: "
        "Could not interpret 'lots' as a byte unit"
    )
    with pytest.raises(UsageError) as caught:
        job_script(ClusterRequest())
    assert caught.value.message == "a job script needs --cluster"


def test_a_job_queue_cluster_needs_its_submit_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(EnvironmentProblem) as caught, open_client(ClusterRequest(cluster="slurm")):
        pass
    assert caught.value.message == "sbatch is not on PATH: --cluster slurm submits jobs with it"


# --------------------------------------------------------------------------- clients


def test_local_workers_find_the_venv_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # A user calling .venv/bin/anc without activating the venv: its bin/ is not on PATH.
    rest = [p for p in os.environ["PATH"].split(os.pathsep) if p != VENV_BIN]
    monkeypatch.setenv("PATH", os.pathsep.join(rest))
    with open_client(ClusterRequest(workers=2)) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        found = client.run(tools)
        assert len(found) == 2
        for annex, path in found.values():
            assert annex == f"{VENV_BIN}/git-annex"
            assert path.split(os.pathsep) == [VENV_BIN, *rest]
        annex, path = client.submit(tools, pure=False).result()
        assert annex == f"{VENV_BIN}/git-annex"
        assert client.submit(pool_result).result() == 7  # workers are no daemons


@pytest.mark.slow
def test_closing_with_tasks_running_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """As after Ctrl-C: the nanny waits 4 s, then kills the busy worker, silently."""
    with open_client(ClusterRequest(workers=1)) as client:
        busy = client.submit(time.sleep, 30, pure=False)  # held: a dropped future is cancelled
        while not any(client.processing().values()):  # until a worker runs it
            time.sleep(0.05)
    assert busy.status == "cancelled"
    assert capfd.readouterr().err == ""


def test_a_running_scheduler_by_its_address() -> None:
    with LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
    ) as running:
        request = ClusterRequest(scheduler=running.scheduler_address)
        with open_client(request) as client:
            assert client.scheduler_info()["address"] == running.scheduler_address
            assert client.submit(pow, 2, 10).result() == 1024
        assert running.scheduler.status.name == "running"  # left running for its owner


def test_a_malformed_scheduler_address() -> None:
    with pytest.raises(UsageError) as caught, open_client(ClusterRequest(scheduler="nohost")):
        pass
    assert caught.value.message == "--scheduler nohost: missing port number in address 'nohost'"


@pytest.mark.slow
def test_no_scheduler_answering_is_refused_in_time(capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing answers there
    address = f"tcp://127.0.0.1:{port}"
    start = time.monotonic()
    with pytest.raises(UsageError) as caught, open_client(ClusterRequest(scheduler=address)):
        pass
    assert time.monotonic() - start < 10
    assert caught.value.message == (
        f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT} s"
    )
    assert caught.value.hint == "start one with `dask scheduler` or drop --scheduler"
    assert capfd.readouterr().err == ""
