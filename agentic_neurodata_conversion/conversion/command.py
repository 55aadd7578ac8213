"""`anc run`: any conversion command a user wrote, run under ``datalad run`` in a new
conversion dataset, with its inputs, outputs, output and environment on the record.

    check everything -> create the dataset, reference the inputs, record the environment
    -> run the command there (``datalad run``: the declared outputs are saved by the run)
    -> validate the NWB outputs -> finalize (completed and tagged, or failed)

The command runs with the dataset as its working directory, so ``--output outputs/x.nwb``
lies inside it; inputs stay where they are, recorded by reference (paths, sizes, sha256):
the command cannot be rewritten to read them anywhere else. ``python SCRIPT`` with the
script outside the dataset runs a copy kept in scripts/, so ``datalad rerun`` needs nothing
but the inputs. What the command prints is kept in reports/command-output.log.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import interrupts, timing
from ..datalad_layer import run as dlrun
from ..datalad_layer.dataset import remove_stranded_objects, untracked_files
from ..errors import (
    AncError,
    ConversionError,
    DiskFull,
    Interrupted,
    RunFailed,
    UsageError,
    is_disk_full,
)
from ..journal.records import ConfidenceLevel, ProvenanceSource
from ..names import check_name, slug
from ..provenance.inputs import MANIFEST_SUFFIX, sha256_file
from ..provenance.layout import conversion_folder, is_conversion, read_json
from ..provenance.tracker import ConversionProvenanceTracker
from .capture import captured_output
from .engine import command_environment
from .pipeline import (
    ConversionPipeline,
    ConversionResult,
    Progress,
    default_conversion_id,
    load_report_writers,
    remove_unfinished,
)

AGENT = "command_runner"
OUTPUT_LOG = "reports/command-output.log"
SCRIPTS = "scripts"
# Where outputs may not go: git's and DataLad's own folders, the journal's, the inputs'
# manifests, and the files the conversion writes itself.
KEPT_FOLDERS = (".git", ".datalad", "provenance", "inputs")
KEPT_FILES = frozenset(
    {
        ".gitignore",
        ".gitattributes",
        "README.md",
        "CONVERSION_SUMMARY.md",
        "ro-crate-metadata.json",
        OUTPUT_LOG,
        f"{SCRIPTS}/requirements.lock",
    }
)
# Input files whose checksums the run's record lists itself (all are in the manifests).
LISTED_FILES = 1000
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})


@dataclass
class CommandResult(ConversionResult):
    """A conversion's result, and what the command did."""

    command: list[str] = field(default_factory=list)  # as the user gave it
    executed: str = ""  # what `datalad run` ran and recorded
    exit_code: int | None = None
    run_commit: str | None = None
    outputs: list[str] = field(default_factory=list)
    log: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "command": list(self.command),
            "executed": self.executed,
            "exit_code": self.exit_code,
            "run_commit": self.run_commit,
            "outputs": list(self.outputs),
            "log": str(self.log) if self.log else None,
        }


@dataclass
class CommandInput:
    """A declared input: as given, where it is, and its name in inputs/."""

    given: str
    path: Path  # absolute
    name: str  # in inputs/


@dataclass
class CommandPlan:
    """Everything checked before anything is created."""

    argv: list[str]
    executed: str
    script: Path | None  # the user's script, run from its copy in scripts/
    script_copy: str | None
    inputs: list[CommandInput]
    outputs: list[str]  # relative to the dataset
    into: Path
    conversion_id: str
    target: Path
    cwd: Path


# ------------------------------------------------------------------ checks


def plan(
    command: Sequence[str],
    *,
    inputs: Sequence[str | Path] = (),
    outputs: Sequence[str | Path] = (),
    into: str | Path = "conversions",
    conversion_id: str | None = None,
) -> CommandPlan:
    """Check the command, its inputs and outputs and where the dataset goes; refuse in one
    line (``UsageError``) before anything exists."""
    argv = [str(a) for a in command]
    if not argv or not any(a.strip() for a in argv):
        raise UsageError(
            "no command given",
            "put the command after `--`: anc run -o outputs/x.nwb -- python make_nwb.py",
        )
    cwd = Path.cwd()
    tokens = _tokens(argv)
    if conversion_id is not None:
        check_name(conversion_id, "conversion id")
    else:
        conversion_id = default_conversion_id(Path(_command_name(tokens)))
    into = Path(into).expanduser().absolute()
    for probe in (into, *into.parents):
        if is_conversion(probe):
            raise UsageError(
                f"the folder {into} is inside the conversion dataset {probe}",
                "choose an --into folder outside every conversion",
            )
    target = conversion_folder(into, conversion_id)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            f"{target} exists and is not an empty folder", "choose another --id or --into"
        )
    checked_outputs = list(dict.fromkeys(_output_path(str(o), target) for o in outputs))
    checked_inputs = _check_inputs(inputs, target)
    _refuse_relative_inputs(tokens, checked_inputs)
    script, index = _script_of(tokens, cwd)
    executed = argv[0] if len(argv) == 1 else shlex.join(argv)
    copy = None
    if script is not None and index is not None:
        copy = f"{SCRIPTS}/{_copy_name(script)}"
        if copy in checked_outputs:
            raise UsageError(
                f"the output {copy} is where the copy of the script {script} goes",
                "declare outputs under outputs/, e.g. --output outputs/session.nwb",
            )
        with_copy = _run_copy(argv, tokens, index, copy)
        if with_copy is None:  # the script's path is not one word of the line: run as given
            copy, script = None, None
        else:
            executed = with_copy
    return CommandPlan(
        argv=argv,
        executed=executed,
        script=script,
        script_copy=copy,
        inputs=checked_inputs,
        outputs=checked_outputs,
        into=into,
        conversion_id=conversion_id,
        target=target,
        cwd=cwd,
    )


def _tokens(argv: list[str]) -> list[str]:
    """The words of the command: ARGV, or the words of a single shell line."""
    if len(argv) > 1:
        return argv
    try:
        return shlex.split(argv[0]) or argv
    except ValueError:  # unbalanced quotes: the shell will say
        return argv


def _command_name(tokens: list[str]) -> str:
    script = _script_index(tokens)
    name = Path(tokens[script]).stem if script is not None else Path(tokens[0]).name
    return slug(name, fallback="command")


def _output_path(given: str, target: Path) -> str:
    """GIVEN as a path relative to the dataset root (relative paths already are)."""
    path = Path(given).expanduser()
    outside = UsageError(
        f"the output {given} is outside the conversion dataset {target}",
        "declare outputs relative to the new dataset, where the command runs: "
        "e.g. --output outputs/session.nwb",
    )
    if path.is_absolute():
        try:
            rel = PurePosixPath(Path(os.path.normpath(path)).relative_to(target).as_posix())
        except ValueError:
            raise outside from None
    else:
        rel = PurePosixPath(os.path.normpath(path.as_posix()))
    if not rel.parts or rel.parts[0] in (".", "..") or rel.as_posix() == ".":
        raise outside
    if rel.parts[0] in KEPT_FOLDERS or rel.as_posix() in KEPT_FILES:
        where = f"in {rel.parts[0]}/" if rel.parts[0] in KEPT_FOLDERS else "a file"
        raise UsageError(
            f"the output {given} is {where} the conversion keeps for itself",
            "declare outputs under outputs/, e.g. --output outputs/session.nwb",
        )
    return rel.as_posix()


def _check_inputs(given: Sequence[str | Path], target: Path) -> list[CommandInput]:
    found: dict[Path, CommandInput] = {}
    names: set[str] = set()
    for spec in given:
        path = Path(spec).expanduser().absolute()
        if not path.exists():
            raise UsageError(
                f"input {spec} does not exist", "give an existing file or folder with --input"
            )
        if path in found:
            continue
        if path == target or path.is_relative_to(target):
            raise UsageError(
                f"input {spec} is inside the conversion folder {target}",
                "give inputs from outside the new conversion",
            )
        if target.is_relative_to(path):
            raise UsageError(
                f"the conversion folder {target} would be inside input {spec}",
                "choose an --into folder outside the inputs",
            )
        if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
            raise UsageError(f"input {spec} holds no files", "give a file or a folder of files")
        name = base = slug(path.name, fallback="input")
        n = 1
        while name in names:  # raw.bin from two folders: raw.bin, raw.bin-2
            n += 1
            name = f"{base}-{n}"
        names.add(name)
        found[path] = CommandInput(str(spec), path, name)
    return list(found.values())


def _refuse_relative_inputs(tokens: list[str], inputs: list[CommandInput]) -> None:
    """A declared input named in the command by a relative path would not be found: the
    command runs in the new dataset, not here."""
    relative = {i.given: i for i in inputs if not Path(i.given).expanduser().is_absolute()}
    for token in tokens[1:]:
        if token in relative:
            raise UsageError(
                f"the command names input {token} by a relative path, but it runs inside the "
                "new conversion dataset",
                f"give it by its absolute path: {relative[token].path}",
            )


def _script_index(tokens: list[str]) -> int | None:
    """Where the script is in ``python [options] SCRIPT ...`` (None: not such a command)."""
    if not _PYTHON.fullmatch(Path(tokens[0]).name):
        return None
    i = 1
    while i < len(tokens):
        token = tokens[i]
        if token in _PYTHON_VALUE_OPTIONS:
            i += 2
        elif token.startswith(("-W", "-X")):
            i += 1
        elif token == "-" or token.startswith(("-m", "-c")):
            return None  # a module, code or stdin: nothing to copy
        elif token.startswith("-"):
            i += 1
        else:
            return i
    return None


def _script_of(tokens: list[str], cwd: Path) -> tuple[Path | None, int | None]:
    """The user's script of a ``python SCRIPT`` command (found from here), if it is one."""
    index = _script_index(tokens)
    if index is None:
        return None, None
    given = tokens[index]
    path = Path(given).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise UsageError(
            f"the script {given} does not exist",
            "give the Python script's path from this folder (a copy of it runs in the dataset)",
        )
    return path.absolute(), index


def _copy_name(script: Path) -> str:
    try:
        return check_name(script.name, "script name")
    except UsageError:  # spaces, a leading dot: the copy gets a plain name
        return f"{slug(script.stem, fallback='script')}{script.suffix}"


def _run_copy(argv: list[str], tokens: list[str], index: int, copy: str) -> str | None:
    """The command with the script's copy in place of the script (None: cannot say where)."""
    if len(argv) > 1:
        return shlex.join([*argv[:index], copy, *argv[index + 1 :]])
    line, word = argv[0], tokens[index]
    if line.count(word) != 1:
        return None
    return line.replace(word, shlex.quote(copy))


# ------------------------------------------------------------------ running


def run_command(
    command: Sequence[str],
    *,
    inputs: Sequence[str | Path] = (),
    outputs: Sequence[str | Path] = (),
    into: str | Path = "conversions",
    conversion_id: str | None = None,
    progress: Progress | None = None,
    echo: bool = True,
) -> CommandResult:
    """Run COMMAND under ``datalad run`` in a new conversion dataset under INTO (the
    `anc run` job). INPUTS (files or folders, from here) are referenced with their checksums;
    OUTPUTS (paths in the dataset) are saved by the run, and NWB ones validated. Completed
    and tagged only when the command succeeds, writes every output and the NWB files pass.
    ECHO shows the command's output on stderr as it runs (it is kept in the log either way).
    """
    say = progress or (lambda stage, message: None)
    checked = plan(command, inputs=inputs, outputs=outputs, into=into, conversion_id=conversion_id)
    spare = interrupts.current_children()
    tracker = _start(checked, spare)
    say("start", f"conversion {checked.conversion_id} in {tracker.path}")
    try:
        return _Runner(tracker, checked, spare, say).run(echo)
    finally:
        tracker.close()


def _start(p: CommandPlan, spare: frozenset[int]) -> ConversionProvenanceTracker:
    """Create the dataset, reference the inputs, record the command and the environment,
    and commit that; cut short, nothing is kept."""
    existed = p.target.exists()
    made_into = not p.into.exists()
    tracker = None
    try:
        with timing.timed("stage.start"):
            tracker = ConversionProvenanceTracker(
                p.conversion_id,
                p.into,
                source_path=p.inputs[0].path if p.inputs else None,
                checkpoint=False,
                register=False,  # once the start is complete
            )
            _record_start(tracker, p)
            tracker.checkpoint(f"start: {_short(p.executed)}")
    except BaseException as exc:
        with interrupts.shielded():
            if isinstance(exc, KeyboardInterrupt):
                interrupts.end_children(spare)
            if tracker is not None:
                tracker.close()
            remove_unfinished(p.target, existed)
            if made_into and p.into.is_dir() and not any(p.into.iterdir()):
                p.into.rmdir()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(
                "interrupted during start, before the command ran; nothing was kept: run it again"
            ) from None
        raise
    tracker.register_in_superdataset()
    return tracker


def _record_start(tracker: ConversionProvenanceTracker, p: CommandPlan) -> None:
    root = tracker.path
    refs = [
        tracker.add_input(i.path, mode="reference", name=i.name, commit=False) for i in p.inputs
    ]
    if p.script is not None and p.script_copy is not None:
        tracker.save_conversion_artifact(
            p.script,
            "conversion_script",
            "the user's script, run from this copy so that `datalad rerun` finds it",
            name=PurePosixPath(p.script_copy).name,
            commit=False,
        )
    tracker.record_environment(SCRIPTS, commit=False)
    tracker.record_provenance(
        ProvenanceSource.USER_PROVIDED,
        "user",
        "user_command",
        {"argv": p.argv, "cwd": str(p.cwd), "inputs": [i.given for i in p.inputs]},
        {
            "executed": p.executed,
            "cwd": str(root),
            "outputs": p.outputs,
            "script": (
                {"source": str(p.script), "copy": p.script_copy} if p.script is not None else None
            ),
        },
        confidence=1.0,
        confidence_level=ConfidenceLevel.HUMAN_CONFIRMED,
        reasoning=[
            "the command runs under `datalad run` with the conversion dataset as its "
            "working directory; inputs are referenced where they are"
        ]
        + (
            [f"the script {p.script} runs from its copy {p.script_copy}, kept in the dataset"]
            if p.script is not None
            else []
        ),
    )
    for out in p.outputs:  # the command need not make the folders its outputs go to
        (root / out).parent.mkdir(parents=True, exist_ok=True)
    tracker.update_pipeline_state(
        {
            "stage": "start",
            "command": {
                "argv": p.argv,
                "executed": p.executed,
                "script": p.script_copy,
                "outputs": p.outputs,
            },
            "inputs": [r.to_dict() for r in refs],
        }
    )


class _Runner:
    """The run, the checks of its outputs and the finalize of one command conversion."""

    def __init__(
        self,
        tracker: ConversionProvenanceTracker,
        p: CommandPlan,
        spare: frozenset[int],
        say: Progress,
    ) -> None:
        self.tracker, self.plan, self.spare, self.say = tracker, p, spare, say
        self.exit_code: int | None = None
        self.run_commit: str | None = None
        self.reasons: list[str] = []
        self.counts: dict[str, int] | None = None
        self.log_kept = False

    @property
    def root(self) -> Path:
        return self.tracker.path

    def run(self, echo: bool) -> CommandResult:
        stage = "run"
        try:
            self.execute(echo)
            stage = "validate"
            self.check_outputs()
            stage = "finalize"
            return self.finalize()
        except KeyboardInterrupt:
            self.stop(stage, interrupts.last_signal())
            raise Interrupted(
                f"interrupted during {stage}; what the command printed is in "
                f"{self.root / OUTPUT_LOG}: run it again with `anc run` "
                f"(and discard this one with `anc discard {self.root}`)"
            ) from None
        except BaseException as exc:
            if is_disk_full(exc):
                with contextlib.suppress(AncError, OSError):
                    self.stop(stage, "disk full")
                raise DiskFull(
                    f"no space left on the device holding {self.root} during {stage}",
                    f"free space there, then run it again (discard this one with "
                    f"`anc discard {self.root}`)",
                ) from exc
            ConversionPipeline(self.tracker).fail(exc, stage)
            if isinstance(exc, AncError):
                raise
            raise ConversionError(
                f"{stage} failed: {type(exc).__name__}: {exc}",
                f"the conversion was finalized as failed; see {self.root / 'CONVERSION_SUMMARY.md'}",
            ) from exc

    # -------------------------------------------------------------- the run

    def execute(self, echo: bool) -> None:
        p = self.plan
        self.say("run", f"running {_short(p.executed)} (datalad run)")
        self.tracker.update_pipeline_state({"stage": "run"})
        log = _temporary_log()
        failure: RunFailed | None = None
        record: dlrun.RunRecord | None = None
        try:
            with (
                timing.timed("stage.run"),
                command_environment(),
                captured_output(log, echo=echo) as captured,
            ):
                try:
                    record = dlrun.run_command(
                        self.root,
                        p.executed,
                        inputs=[p.script_copy] if p.script_copy else [],
                        outputs=p.outputs,
                        message=f"[anc] run {p.conversion_id}: {_short(p.executed)}",
                        what=f"command {_short(p.executed)}",
                        save_failed=False,  # a failed command's outputs are not results
                    )
                except RunFailed as exc:
                    failure = exc
                except dlrun.NothingSaved:
                    pass  # no declared output written: named by check_outputs
                except KeyboardInterrupt:
                    # an interrupted `datalad run` keeps its command running, writing into
                    # the pipes: end it before they are closed
                    with interrupts.shielded():
                        interrupts.end_children(self.spare)
                    raise
        finally:
            self.keep_log(log)
        if failure is not None and failure.exit_code is None:
            raise failure  # DataLad failed, not the command
        self.exit_code = failure.exit_code if failure is not None else 0
        self.run_commit = record.commit if record is not None else None
        last = captured.last_error_line()
        if failure is not None:
            self.reasons.append(
                f"the command failed (exit {self.exit_code})" + (f": {last}" if last else "")
            )
        self.tracker.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            AGENT,
            "run_command",
            {
                "argv": p.argv,
                "executed": p.executed,
                "cwd": str(self.root),
                "inputs": self.input_checksums(),
                "outputs": p.outputs,
            },
            {
                "run_commit": self.run_commit,
                "exit_code": self.exit_code,
                "outputs": record.outputs if record is not None else {},
                "seconds": round(record.seconds, 3) if record is not None else None,
                "log": OUTPUT_LOG,
                "log_complete": captured.complete,
                "last_error_line": last or None,
                "run_record": record.record if record is not None else None,
            },
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
            method="datalad run",
        )
        self.tracker.update_pipeline_state(
            {"run_commit": self.run_commit, "exit_code": self.exit_code}
        )

    def keep_log(self, log: Path) -> None:
        """The command's output into reports/ (kept on success, failure and interruption)."""
        target = self.root / OUTPUT_LOG
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)  # never write through a link into the annex
            shutil.copyfile(log, target)
            self.log_kept = True
        log.unlink(missing_ok=True)

    def input_checksums(self) -> list[dict[str, Any]]:
        """Each input's source, its manifest's sha256 and (up to LISTED_FILES) its files'
        sizes and sha256; a bigger folder's are in the manifest only."""
        found = []
        for i in self.plan.inputs:
            rel = f"inputs/{i.name}{MANIFEST_SUFFIX}"
            manifest = read_json(self.root / rel, {})
            files = manifest.get("files", [])
            found.append(
                {
                    "source": str(i.path),
                    "manifest": rel,
                    "manifest_sha256": sha256_file(self.root / rel),
                    "file_count": len(files),
                    "files": files if len(files) <= LISTED_FILES else None,
                }
            )
        return found

    # -------------------------------------------------------------- after the run

    def check_outputs(self) -> None:
        """Name the declared outputs the command did not write; validate the NWB ones."""
        self.note_undeclared()
        if self.exit_code != 0:
            self.drop_unsaved_outputs()
            return
        missing = [o for o in self.plan.outputs if not self.written(o)]
        if missing:
            self.reasons.append(
                "the command did not write the declared output"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(missing)
            )
        nwbs = [nwb for o in self.plan.outputs if o not in missing for nwb in self.nwb_files(o)]
        if nwbs:
            self.validate(list(dict.fromkeys(nwbs)))

    def written(self, out: str) -> bool:
        """A declared file exists; a declared folder holds a file (its .gitkeep aside)."""
        path = self.root / out
        if path.is_dir() and not path.is_symlink():
            return any(p.name != ".gitkeep" for p in path.rglob("*") if not p.is_dir())
        return os.path.lexists(path)

    def nwb_files(self, out: str) -> list[str]:
        """The NWB files of a declared output: itself, or those in a declared folder."""
        path = self.root / out
        if path.is_dir() and not path.is_symlink():
            return sorted(p.relative_to(self.root).as_posix() for p in path.rglob("*.nwb"))
        return [out] if out.endswith(".nwb") else []

    def validate(self, nwbs: list[str]) -> None:
        from .validation import (
            JSON_NAME,
            MARKDOWN_NAME,
            validate_nwb,
            write_report_files,
        )

        self.say("validate", "validating (nwbinspector, DANDI; pynwb schema)")
        self.tracker.update_pipeline_state({"stage": "validate"})
        totals: dict[str, int] = {}
        passes = True
        with timing.timed("stage.validate"):
            for out in nwbs:
                nwb = self.root / out
                report = validate_nwb(nwb, root=self.root)
                names = (
                    (JSON_NAME, MARKDOWN_NAME)
                    if len(nwbs) == 1
                    else (f"validation-{slug(nwb.stem)}.json", f"validation-{slug(nwb.stem)}.md")
                )
                for path in write_report_files(
                    report.to_dict(), report.to_markdown(), self.root / "reports", *names
                ):
                    self.tracker.save_conversion_artifact(path, "validation_report", commit=False)
                self.record_nwb(out)
                self.tracker.record_provenance(
                    ProvenanceSource.AUTO_EXTRACTED,
                    "evaluation",
                    "validate",
                    {"nwb": out},
                    {
                        "validation": report.to_dict().get("counts"),
                        "validation_passes": report.passes,
                        "report": f"reports/{names[1]}",
                    },
                    confidence=1.0,
                    confidence_level=ConfidenceLevel.DEFINITIVE,
                    method="nwbinspector (dandi config) + pynwb.validate",
                )
                for key, value in report.counts.items():
                    totals[key] = totals.get(key, 0) + value
                if not report.passes:
                    passes = False
                    self.reasons.append(
                        f"validation of {out} found CRITICAL issues or schema errors "
                        f"(see reports/{names[1]})"
                    )
        self.counts = totals
        self.tracker.update_pipeline_state(
            {
                "nwb": nwbs[0],
                "nwb_files": nwbs,
                "validation_passes": passes,
                "validation_counts": totals,
            }
        )

    def record_nwb(self, out: str) -> None:
        """The NWB output as an artifact, with the command and run that made it."""
        made_by = {"run_commit": self.run_commit, "command": self.plan.executed}
        if PurePosixPath(out).parent == PurePosixPath("outputs"):
            self.tracker.save_conversion_artifact(
                self.root / out,
                "nwb_file",
                "written by the user's command under datalad run",
                made_by,
                commit=False,
            )
            return
        # Elsewhere in the dataset: save_conversion_artifact would copy it into outputs/.
        self.tracker.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            "artifact_manager",
            "save_artifact",
            {"source_path": str(self.root / out), "mode": "in_place"},
            {
                "path": out,
                "artifact_type": "nwb_file",
                "size": (self.root / out).stat().st_size,
            },
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
            metadata={
                "description": "written by the user's command under datalad run",
                "custom_metadata": made_by,
            },
        )

    def note_undeclared(self) -> None:
        """Files the command wrote without declaring them: committed at finalize, not by the
        run, so the journal says so."""
        declared = [PurePosixPath(o) for o in self.plan.outputs]
        ours = ("reports/", "provenance/")
        extra = [
            path
            for path in untracked_files(self.root, ".")
            if not path.startswith(ours)
            and not any(PurePosixPath(path).is_relative_to(d) for d in declared)
        ]
        if extra:
            self.tracker.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                AGENT,
                "undeclared_outputs",
                {"declared": self.plan.outputs},
                {"files": extra},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                reasoning=[
                    "written by the command but not declared with --output: committed at "
                    "finalize, not by the run (a rerun does not recreate them)"
                ],
            )

    def drop_unsaved_outputs(self) -> list[str]:
        """What a failed or interrupted command left in its declared outputs, uncommitted:
        removed, so that no half-written file is committed as if it were a result."""
        removed: list[str] = []
        for out in self.plan.outputs:
            if os.path.lexists(self.root / out):
                for rel in untracked_files(self.root, out):
                    (self.root / rel).unlink(missing_ok=True)
                    removed.append(rel)
        removed += remove_stranded_objects(self.root, "*.nwb")
        if removed:
            self.tracker.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                AGENT,
                "remove_partial_outputs",
                {"outputs": self.plan.outputs},
                {"removed": removed},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                reasoning=["the command did not complete: what it left is not a result"],
            )
        return removed

    def stop(self, stage: str, cause: str) -> None:
        """End the command's processes, drop half-written outputs, record the interruption."""
        with interrupts.shielded():
            interrupts.end_children(self.spare)
            if self.tracker.session.is_finalized:  # cut short after its last commit
                return
            removed = self.drop_unsaved_outputs()
            self.tracker.mark_interrupted(stage, cause, removed)

    def finalize(self) -> CommandResult:
        status = "failed" if self.reasons else "completed"
        reason = "; ".join(self.reasons) or None
        self.say("finalize", f"finalizing: {status}")
        with timing.timed("stage.finalize"):
            load_report_writers()
            tag = self.tracker.finalize_conversion(
                status,
                {"command": self.plan.executed, "outputs": self.plan.outputs},
                error=reason,
            )
        nwb = self.tracker.session.pipeline_state.get("nwb")
        return CommandResult(
            conversion_id=self.tracker.conversion_id,
            path=self.root,
            status=self.tracker.session.status,
            tag=tag,
            nwb=self.root / nwb if nwb else None,
            validation=self.counts,
            evaluation_passed=None,
            reason=reason,
            registration_problem=self.tracker.registration_problem,
            command=self.plan.argv,
            executed=self.plan.executed,
            exit_code=self.exit_code,
            run_commit=self.run_commit,
            outputs=self.plan.outputs,
            log=self.root / OUTPUT_LOG if self.log_kept else None,
        )


# ------------------------------------------------------------------ helpers


def _temporary_log() -> Path:
    """Outside the dataset: written even when its disk is full, never one of the outputs."""
    fd, name = tempfile.mkstemp(prefix="anc-command-", suffix=".log")
    os.close(fd)
    return Path(name)


def _short(command: str, limit: int = 60) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."
