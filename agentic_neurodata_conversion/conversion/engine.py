"""Execute the generated conversion script through ``datalad run``, and re-execute it to verify.

What is conversion-specific lives here: the script (committed with its metadata file before
it runs), the environment it needs, and its error log, whose last line names a failure. The
run itself, its record and the re-execution in a clone are ``datalad_layer.run``'s;
``run_conversion`` records the run in the dataset's history (the NWB file, written straight
into ``outputs/``, is annexed by the run's save) and ``rerun_in_clone`` re-executes that
commit in a throw-away clone and compares the outputs' content ids with the recorded ones.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import environment
from ..datalad_layer import annex
from ..datalad_layer import run as dlrun
from ..datalad_layer.dataset import (
    FAILED,
    check_results,
    is_dataset,
    message_of,
    open_dataset,
    save,
)

# engine.<name> as before for the pipeline and the tests.
from ..datalad_layer.run import RerunResult, content_ids, recorded_run  # noqa: F401
from ..datalad_layer.run import RunRecord as RunResult
from ..errors import ConversionError, RunFailed, UsageError
from .script import METADATA_NAME

ERROR_LOG = "reports/conversion-error.log"
ERROR_LOG_ENV = "ANC_ERROR_LOG"
# What the run record names as the conversion's software (besides python and git-annex).
SOFTWARE = (
    "neuroconv",
    "spikeinterface",
    "neo",
    "pynwb",
    "hdmf",
    "h5py",
    "numpy",
    "nwbinspector",
    "datalad",
)


def software_versions() -> dict[str, str]:
    """The versions the script runs with (it runs in this interpreter): the conversion
    libraries, DataLad, the git-annex that annexes the outputs, and Python."""
    env = environment.capture()
    found = env.versions(SOFTWARE)
    git_annex = annex.version() or env.version_of("git-annex")
    if git_annex:
        found["git-annex"] = git_annex
    found["python"] = env.python
    return found


# What could bring packages from outside a fresh environment into its interpreter.
_ISOLATING = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE")


@contextmanager
def command_environment(
    error_log: Path | None = None, bin_dir: Path | None = None
) -> Iterator[None]:
    """BIN_DIR (this interpreter's by default) first on PATH, since the recorded command
    says plain ``python``; the error log location for the script, and the fixed hash seed
    the script would otherwise re-execute itself to get; restored afterwards. With BIN_DIR
    nothing else reaches its interpreter's imports: no PYTHONPATH, no user site."""
    names = ("PATH", ERROR_LOG_ENV, "PYTHONHASHSEED", *_ISOLATING)
    saved = {k: os.environ.get(k) for k in names}
    first = bin_dir or Path(sys.executable).parent
    os.environ["PATH"] = str(first) + os.pathsep + os.environ.get("PATH", "")
    if error_log is not None:
        os.environ[ERROR_LOG_ENV] = str(error_log)
    os.environ["PYTHONHASHSEED"] = "0"
    if bin_dir is not None:
        for key in ("PYTHONPATH", "PYTHONHOME"):
            os.environ.pop(key, None)
        os.environ["PYTHONNOUSERSITE"] = "1"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _raise_on_failure(
    results: list[dict[str, Any]], error_log: Path, what: str, keep: Path | None = None
) -> None:
    """A failed command becomes a ConversionError naming the script's last error line; its
    log is copied to KEEP (best effort: the disk may be full)."""
    for result in results:
        if result.get("action") == "run" and result.get("status") in FAILED:
            code = result.get("exit_code")
            last = ""
            if error_log.is_file():
                lines = [ln for ln in error_log.read_text().splitlines() if ln.strip()]
                last = lines[-1].strip() if lines else ""
            if code is None and not last:
                break  # not the command: a datalad failure, reported below
            where = error_log
            if keep is not None and last:
                with contextlib.suppress(OSError):
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(error_log, keep)
                    where = keep
            detail = last or message_of(result)
            raise ConversionError(
                f"{what} failed (exit {code}): {detail}",
                f"the traceback is in {where}" if last else "run the script by hand to see why",
            )
    check_results(results, what)


def run_conversion(
    dataset_path: str | Path,
    script_relpath: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    message: str,
    on_command_done: Callable[[], None] | None = None,
) -> RunResult:
    """Execute ``python SCRIPT`` in the dataset through ``datalad run`` and return the record.

    The script and the metadata file beside it are committed first when they are new or
    changed, so the run commit's parent holds exactly what was executed. INPUTS and OUTPUTS
    are paths relative to the dataset root; the script and its metadata file are added to
    the inputs. Raises ConversionError with the script's last error line when it fails.
    ON_COMMAND_DONE is called once the script succeeded, before its outputs are saved.
    """
    root = Path(dataset_path).absolute()
    if not is_dataset(root):
        raise UsageError(f"{root} is not a DataLad dataset", "create the conversion dataset first")
    script = Path(script_relpath)
    if script.is_absolute() or not (root / script).is_file():
        raise UsageError(
            f"no script {script_relpath} in {root}", "render and write the script first"
        )
    metadata_file = (script.parent / METADATA_NAME).as_posix()
    executed = [script.as_posix()] + ([metadata_file] if (root / metadata_file).is_file() else [])
    if dlrun.dirty(root, executed):
        save(open_dataset(root), f"Add conversion script {script.as_posix()}", paths=executed)

    (root / ERROR_LOG).unlink(missing_ok=True)
    # The script's stderr goes to a log outside the dataset: written even when the
    # dataset's disk is full, and never part of the run's outputs. Kept in reports/ on failure.
    error_log = _new_error_log("anc-run-")
    what = f"conversion script {script.as_posix()}"
    try:
        with command_environment(error_log):
            return dlrun.run_command(
                root,
                f"python {shlex.quote(script.as_posix())}",
                inputs=list(dict.fromkeys([*inputs, *executed])),
                outputs=list(outputs),
                message=message,
                what=what,
                on_command_done=on_command_done,
            )
    except RunFailed as exc:
        _raise_on_failure(exc.results, error_log, what, keep=root / ERROR_LOG)
        raise
    finally:
        error_log.unlink(missing_ok=True)


def rerun_in_clone(
    dataset_path: str | Path, commit: str, *, bin_dir: Path | None = None
) -> RerunResult:
    """Re-execute the run COMMIT in an ephemeral clone (``datalad_layer.run.rerun_in_clone``)
    with the script's environment, its ``python`` the one in BIN_DIR when given (a fresh
    virtual environment); a failing script raises ConversionError naming its last error line."""
    error_log = _new_error_log("anc-rerun-")
    try:
        with command_environment(error_log, bin_dir):
            return dlrun.rerun_in_clone(dataset_path, commit)
    except RunFailed as exc:
        _raise_on_failure(exc.results, error_log, exc.what)
        raise
    finally:
        error_log.unlink(missing_ok=True)


def _new_error_log(prefix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return Path(name)
