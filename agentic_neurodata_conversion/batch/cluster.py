"""Where `anc batch` runs its Dask work: local worker processes (the default), a running
scheduler (``--scheduler ADDRESS``), or a job-queue cluster (``--cluster slurm|pbs|sge``,
dask-jobqueue).

The tasks start ``git``, ``git-annex`` and ``python``, which are found in this venv's
``bin/``: it goes first on PATH in every worker started here (local workers through the
nanny's environment, job-queue workers by an ``export PATH=...`` line of the job script).
Workers of an existing scheduler keep their own environment: start them from this venv with
its ``bin/`` first on PATH (``PATH=<venv>/bin:$PATH dask worker ADDRESS``). Workers started
here are not daemonic processes, so a task may start process pools (the conversion's forked
helper) as well as subprocesses.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import logging
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EnvironmentProblem, UsageError

if TYPE_CHECKING:
    import distributed

# --cluster kind -> dask-jobqueue's cluster class.
KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster"}
CONNECT_TIMEOUT = 5  # seconds to wait for an existing scheduler's answer
# Per job: one worker process with one thread (a conversion is one task at a time).
# --cluster-option overrides them; dask-jobqueue's config still supplies every other key.
JOB_DEFAULTS: Mapping[str, Any] = {
    "cores": 1,
    "processes": 1,
    "memory": "4GB",
    "walltime": "04:00:00",
}
# Job keywords that --cluster-option does not set: ours, renamed ones, objects.
_NOT_OPTIONS = {"self", "scheduler", "name", "config_name", "base_class_kwargs", "security"}
_RENAMED = {"project", "extra", "job_extra", "env_extra", "header_skip"}
# List options: each --cluster-option adds to the list; these also split at commas.
_COMMA_LISTS = ("_directives", "_directives_skip", "worker_extra_args")
_LINE_LISTS = ("job_script_prologue",)  # shell lines hold commas of their own
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$")


@dataclass(frozen=True)
class ClusterRequest:
    """What the command line asked for: how many workers, and where."""

    workers: int = 2  # local workers, or jobs to scale to on a job-queue cluster
    scheduler: str | None = None  # an existing scheduler's address, e.g. tcp://10.0.0.5:8786
    cluster: str | None = None  # "slurm" | "pbs" | "sge" (dask-jobqueue)
    options: Mapping[str, Any] = field(default_factory=dict)  # parse_cluster_options' result


def _is_list(key: str) -> bool:
    return key.endswith(_COMMA_LISTS) or key in _LINE_LISTS


def _typed(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


def parse_cluster_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as dask-jobqueue keywords.

    A key may spell ``-`` for ``_`` (``job-extra-directives``). Values ``true``/``false``
    become bools, integers ints, decimals floats, the rest stays text. List keywords
    (``*_directives``, ``*_directives_skip``, ``worker_extra_args``, ``job_script_prologue``)
    collect every item given for them in order; all but ``job_script_prologue`` (shell lines)
    also split one value at commas, ``\\,`` keeping a comma (``--nodelist=a\\,b``). Another key
    given twice, a missing ``=``, an empty key or value: UsageError naming the item.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if not sep or not _KEY.match(key) or not value:
            raise UsageError(
                f"--cluster-option {item!r}: not KEY=VALUE",
                "write e.g. --cluster-option queue=short",
            )
        if _is_list(key):
            values = [value]
            if key not in _LINE_LISTS:
                values = [v.replace("\\,", ",") for v in re.split(r"(?<!\\),", value)]
            options.setdefault(key, []).extend(v for v in values if v)
        elif key in options:
            raise UsageError(
                f"--cluster-option {key} given twice ({options[key]}, {value})", "give it once"
            )
        else:
            options[key] = _typed(value)
    return options


def _cluster_class(kind: str) -> type:
    import dask_jobqueue

    return getattr(dask_jobqueue, KINDS[kind])


def _option_names(kind: str) -> list[str]:
    """The keywords of KIND's job that --cluster-option may set."""
    from dask_jobqueue.core import Job

    job = _cluster_class(kind).job_cls
    names = [*inspect.signature(job.__init__).parameters, *inspect.signature(Job).parameters]
    return sorted(set(names) - _NOT_OPTIONS - _RENAMED)


def check_request(request: ClusterRequest) -> None:
    """Refuse a request that cannot run, before anything starts or is written."""
    if request.workers < 1:
        raise UsageError(
            f"--workers {request.workers}: a batch needs at least one worker",
            "give --workers 1 or more",
        )
    if request.scheduler and request.cluster:
        raise UsageError(
            "--scheduler and --cluster together",
            "give --scheduler to use a running scheduler, or --cluster to start one on a job queue",
        )
    if request.cluster is None:
        if request.options:
            raise UsageError(
                "--cluster-option without --cluster",
                "add --cluster slurm, pbs or sge, or drop the options",
            )
        return
    if request.cluster not in KINDS:
        raise UsageError(f"--cluster {request.cluster}: unknown job queue", "use slurm, pbs or sge")
    known = _option_names(request.cluster)
    for key in request.options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            raise UsageError(
                f"--cluster-option {key}: {KINDS[request.cluster]} has no such option",
                f"did you mean {', '.join(close)}?" if close else f"options: {', '.join(known)}",
            )


def _venv_bin() -> str:
    return str(Path(sys.executable).parent)


def _job_kwargs(request: ClusterRequest) -> dict[str, Any]:
    """The cluster's keywords: our defaults < the request's options; the PATH export first
    in the prologue (before the lines of dask-jobqueue's config and the options)."""
    import dask

    assert request.cluster is not None
    options = dict(request.options)
    configured = dask.config.get(f"jobqueue.{request.cluster}.job-script-prologue", None) or []
    prologue = [
        f'export PATH={shlex.quote(_venv_bin())}:"$PATH"',
        "export DASK_DISTRIBUTED__WORKER__DAEMON=False",
        *configured,
        *options.pop("job_script_prologue", []),
    ]
    return {**JOB_DEFAULTS, "python": sys.executable, **options, "job_script_prologue": prologue}


def job_script(request: ClusterRequest) -> str:
    """The script each job of REQUEST's job-queue cluster would run (for ``--dry-run``):
    built offline, with no scheduler started and no ``sbatch``/``qsub`` needed."""
    check_request(request)
    if request.cluster is None:
        raise UsageError("a job script needs --cluster", "add --cluster slurm, pbs or sge")
    job = _cluster_class(request.cluster).job_cls
    # As dask-jobqueue's own `cluster.job_script()` builds it, without starting a scheduler.
    with _bad_values(request):
        built = job("tcp://<scheduler-address>:8786", name="dummy-name", **_job_kwargs(request))
    return built.job_script()


@contextlib.contextmanager
def _bad_values(request: ClusterRequest) -> Iterator[None]:
    """dask-jobqueue's refusal of an option value (``cores=many``) as a UsageError."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(
            f"--cluster {request.cluster}: dask-jobqueue refuses the options: {detail}",
            "fix the --cluster-option values (e.g. cores=2, memory=8GB, walltime=02:00:00)",
        ) from None


def _connect(address: str) -> distributed.Client:
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except ValueError as exc:  # distributed's word on a malformed address
        raise UsageError(
            f"--scheduler {address}: {exc}", "give an address like tcp://10.0.0.5:8786"
        ) from None
    except Exception:  # refused, timed out, or a server that does not speak Dask
        raise UsageError(
            f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT} s",
            "start one with `dask scheduler` or drop --scheduler",
        ) from None


@contextlib.contextmanager
def open_client(request: ClusterRequest) -> Iterator[distributed.Client]:
    """A client of the cluster REQUEST names, closed on exit (with the cluster if started
    here). Dask's logging is silenced meanwhile, so that closing (with tasks still running,
    after Ctrl-C) prints no warnings; task errors still come back through their futures."""
    check_request(request)
    import dask
    from distributed.utils import silence_logging_cmgr

    # A nanny reads these each time it starts a worker process (restarts too), so they hold
    # for the cluster's whole life. The statistical profiler samples the worker's threads
    # every 10 ms, for tasks that only wait on their session's process.
    settings = {"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False}
    with silence_logging_cmgr(logging.CRITICAL), dask.config.set(settings):
        if request.scheduler:
            with _connect(request.scheduler) as client:
                yield client
            return
        from distributed import Client

        with _start_cluster(request) as cluster, Client(cluster) as client:
            yield client


def _start_cluster(request: ClusterRequest) -> distributed.deploy.Cluster:
    from distributed import LocalCluster

    if request.cluster is None:
        return LocalCluster(
            n_workers=request.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # The scheduler's HTTP endpoint on a free localhost port (no fixed 8787 to
            # collide with another batch), without the dashboard.
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.CRITICAL,  # the worker processes' own logging
            # The conversions' memory is in the tasks' subprocesses, out of the nanny's sight;
            # a nanny restarting a worker for memory mid-save would only break a dataset.
            memory_limit=0,
            env={"PATH": _venv_bin() + os.pathsep + os.environ.get("PATH", "")},
        )
    cls = _cluster_class(request.cluster)
    submit = cls.job_cls.submit_command
    if shutil.which(submit) is None:
        raise EnvironmentProblem(
            f"{submit} is not on PATH: --cluster {request.cluster} submits jobs with it",
            "run anc batch where jobs can be submitted, or drop --cluster",
        )
    with _bad_values(request):
        cluster = cls(silence_logs=logging.CRITICAL, **_job_kwargs(request))
    cluster.scale(jobs=request.workers)
    return cluster
