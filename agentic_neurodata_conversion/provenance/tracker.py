"""One DataLad dataset per conversion, and the record of everything decided in it.

``ConversionProvenanceTracker`` creates ``OUTPUT/conversion_<id>/`` (inputs/, outputs/,
scripts/, reports/, provenance/, README.md), appends records to the hash-chained journal
(no commit per record), commits at ``checkpoint()`` (one commit per iteration), places
artifacts where their type says without storing big files twice, and finalizes with a
session file, CONVERSION_SUMMARY.md and, when completed, the tag ``conversion-<id>``.

Several processes may work on one conversion: journal appends are serialised by the
journal's lock; state updates, artifacts, checkpoints and finalize by the tracker lock.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .. import __version__, timing
from ..datalad_layer import annex
from ..datalad_layer import dataset as dlayer
from ..datalad_layer import locks as git_locks
from ..errors import AncError, ProvenanceError, UsageError
from ..journal.chain import JOURNAL_DIR, Flock, Journal, iter_records
from ..journal.records import (
    _UNSET,
    ConfidenceLevel,
    Conflict,
    ProvenanceRecord,
    ProvenanceSource,
    utc_now,
)
from ..names import check_name
from . import inputs as input_refs
from .hooks import FinalizeHook, finalize_hooks

if TYPE_CHECKING:
    from datalad.api import Dataset

SUBDIRS = ("inputs", "outputs", "scripts", "reports", "provenance")
ARTIFACT_DIRS = {
    "nwb_file": "outputs",
    "knowledge_graph": "outputs",
    "conversion_script": "scripts",
    "validation_report": "reports",
    "evaluation_report": "reports",
    "input_data": "inputs",
}
ARTIFACT_MODES = ("copy", "move")
TERMINAL_STATUSES = ("completed", "failed", "cancelled")
CONVERSION_FILE = Path("provenance") / "conversion.json"
STATE_FILE = Path("provenance") / "pipeline_state.json"
SESSION_FILE = Path("provenance") / "conversion_session.json"
SUMMARY_FILE = Path("CONVERSION_SUMMARY.md")
TRACKER_LOCK = "anc-tracker.lock"
# How long open() waits for a git lock a live process holds before it gives up (LockHeld).
LOCK_WAIT_S = 30.0
TOOL = "agentic-neurodata-conversion"


def conversion_folder(output_dir: str | Path, conversion_id: str) -> Path:
    return Path(output_dir).absolute() / f"conversion_{check_name(conversion_id, 'conversion id')}"


def is_conversion(path: str | Path) -> bool:
    return (Path(path) / CONVERSION_FILE).is_file()


@dataclass
class ConversionSession:
    """What the session file records. Records themselves stay in the journal."""

    session_id: str
    start_time: str
    end_time: str | None = None
    dataset_path: str = ""  # the source recording
    output_path: str = ""  # the conversion dataset
    status: str = "started"
    iteration: int = 0
    final_metadata: dict[str, Any] = dc_field(default_factory=dict)
    pipeline_state: dict[str, Any] = dc_field(default_factory=dict)
    error: str | None = None
    _journal_dir: Path | None = dc_field(default=None, repr=False)

    @property
    def provenance_records(self) -> list[ProvenanceRecord]:
        """All records, read from the journal (seed compatibility; prefer iter_records)."""
        return list(iter_records(self._journal_dir)) if self._journal_dir else []

    @property
    def is_finalized(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("_journal_dir")
        return data


class ConversionProvenanceTracker:
    """Tracks provenance for one conversion in its own DataLad dataset."""

    def __init__(
        self,
        conversion_id: str,
        output_dir: str | Path,
        *,
        source_path: str | Path | None = None,
        sync: bool = False,
        description: str = "",
        checkpoint: bool = True,
    ) -> None:
        """Create a new conversion dataset. Use ``open()`` to continue an existing one.

        With ``checkpoint=False`` the caller commits the first iteration (e.g. together
        with the input it adds next).
        """
        self.conversion_id = check_name(conversion_id, "conversion id")
        self.conversion_repo_path = conversion_folder(output_dir, conversion_id)
        self._refuse_existing(self.conversion_repo_path)
        self._dataset: Dataset | None = None
        self.session = ConversionSession(
            session_id=conversion_id,
            start_time=utc_now(),
            dataset_path=str(source_path or ""),
            output_path=str(self.conversion_repo_path),
        )
        self._create_dataset(description)
        self._attach(sync)
        self.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            "tracker",
            "start_conversion",
            {"source_path": self.session.dataset_path},
            {"conversion_id": conversion_id, "dataset": str(self.conversion_repo_path)},
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
            metadata={"tool": TOOL, "version": __version__},
        )
        self._register("register the new conversion")
        if checkpoint:
            self.checkpoint("start conversion")

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls, path: str | Path, *, sync: bool = False, lock_wait_s: float = LOCK_WAIT_S
    ) -> ConversionProvenanceTracker:
        """Reopen an existing conversion folder and continue where it stopped.

        Recovers from a crash: git lock files left by killed processes (held by no live
        process) are removed, a torn last journal line is cut off, and both are recorded.
        A lock a live process holds is waited for up to LOCK_WAIT_S seconds, then
        ``errors.LockHeld`` names it and its process.
        """
        path = Path(path).absolute()
        if not is_conversion(path):
            raise UsageError(
                f"{path} is not a conversion dataset (no {CONVERSION_FILE})",
                "give the conversion_<id> folder made by `anc convert` or the tracker",
            )
        info = json.loads((path / CONVERSION_FILE).read_text())
        self = cls.__new__(cls)
        self.conversion_id = info["conversion_id"]
        self.conversion_repo_path = path
        self._dataset = None
        self.session = ConversionSession(
            session_id=info["conversion_id"],
            start_time=info["start_time"],
            end_time=info.get("end_time"),
            dataset_path=info.get("source_path", ""),
            output_path=str(path),
            status=info.get("status", "started"),
            iteration=int(info.get("iteration", 0)),
            error=info.get("error"),
            final_metadata=info.get("final_metadata", {}),
        )
        self.session.pipeline_state = self._read_state()
        removed = git_locks.clear_stale_locks(path, wait_s=lock_wait_s)
        self._attach(sync)
        if self.journal.torn or removed:
            what = []
            if self.journal.torn:
                what.append("torn journal line cut off")
            if removed:
                what.append(f"{len(removed)} stale git lock(s) removed")
            with self._tracker_lock():
                self._record_recovery(removed)
                self._commit("[anc] crash recovery: " + ", ".join(what) + " (recorded)")
        return self

    @property
    def superdataset(self) -> Path | None:
        """The DataLad dataset the conversion folder lies in, if any (it is registered there)."""
        return dlayer.enclosing_dataset(self.conversion_repo_path.parent)

    def _register(self, why: str) -> None:
        """Record the conversion's current commit in its superdataset, and the outcome.

        A registration that fails (the superdataset locked, unwritable, conflicted) leaves
        the conversion standalone, says so in the journal with the command that registers it.
        """
        sup = self.superdataset
        if sup is None:
            return
        path = self.conversion_repo_path
        command = f"datalad save -d {sup} {path}"
        try:
            dlayer.record_subdataset(sup, path, f"[anc] {why}: {self.conversion_id}")
            outcome: dict[str, Any] = {"registered": True}
        except AncError as exc:
            outcome = {"registered": False, "error": exc.message, "register_with": command}
            self.registration_problem = f"not registered in {sup}: {exc.message}; run `{command}`"
        self.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            "tracker",
            "register_subdataset",
            {"superdataset": str(sup), "reason": why},
            outcome,
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
        )

    def _refuse_existing(self, path: Path) -> None:
        if is_conversion(path):
            other = json.loads((path / CONVERSION_FILE).read_text()).get("conversion_id")
            raise UsageError(
                f"{path} already holds conversion {other!r}",
                "reopen it with ConversionProvenanceTracker.open(), or choose another id",
            )
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(
                f"{path} exists and is not an empty folder",
                "choose another output folder or conversion id",
            )

    def _create_dataset(self, description: str) -> None:
        path = self.conversion_repo_path
        self._dataset = dlayer.create_dataset(
            path,
            description or f"Conversion {self.conversion_id} (agentic-neurodata-conversion)",
            rules=annex.CONVERSION_RULES,
            commit_rules=False,  # committed with the first iteration: one commit fewer
        )
        dlayer.bypass_annex_filter(self._dataset, annex.CONVERSION_RULES)
        for sub in SUBDIRS:
            (path / sub).mkdir(exist_ok=True)
            if sub != "provenance":
                (path / sub / ".gitkeep").touch()
        (path / ".gitignore").write_text(
            "# the journal's active segment: sealed and committed at every checkpoint\n"
            f"/{JOURNAL_DIR.as_posix()}/current.jsonl\n"
            f"/{JOURNAL_DIR.as_posix()}/*.tmp\n"
            "# files being written (renamed into place when complete): never committed half\n"
            "/provenance/*.tmp\n"
            "*.anc-partial\n"
        )
        (path / "README.md").write_text(_readme(self.conversion_id, self.session.start_time))
        self._write_conversion_file()

    def _attach(self, sync: bool) -> None:
        git_dir = self.conversion_repo_path / ".git"
        self._lock_fd = os.open(git_dir / TRACKER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        self._lock = Flock(self._lock_fd)
        self.journal = Journal(self.conversion_repo_path / JOURNAL_DIR, sync=sync)
        self.session._journal_dir = self.journal.dir
        self._finalize_hooks: list[FinalizeHook] = []
        self.registration_problem: str | None = None

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = dlayer.open_dataset(self.conversion_repo_path)
        return self._dataset

    @property
    def path(self) -> Path:
        return self.conversion_repo_path

    def close(self) -> None:
        self.journal.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> ConversionProvenanceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recording

    def record_provenance(
        self,
        source: ProvenanceSource | str,
        agent: str | None,
        operation: str,
        input_data: Mapping[str, Any] | None = None,
        output_data: Mapping[str, Any] | None = None,
        confidence: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        confidence_level: ConfidenceLevel | str | None = None,
        method: str | None = None,
        reasoning: Sequence[str] | str | None = None,
        evidence: Sequence[Any] | None = None,
        conflict: Conflict | None = None,
        field: str | None = None,
        value: Any = _UNSET,
    ) -> ProvenanceRecord:
        """Append one record to the journal (no commit; see ``checkpoint``)."""
        self._refuse_if_finalized()
        record = ProvenanceRecord(
            source=source,  # type: ignore[arg-type]  # parsed in __post_init__
            operation=operation,
            agent=agent,
            input_data=dict(input_data or {}),
            output_data=dict(output_data or {}),
            confidence=confidence,
            confidence_level=confidence_level,  # type: ignore[arg-type]
            method=method,
            reasoning=[reasoning] if isinstance(reasoning, str) else list(reasoning or []),
            evidence=list(evidence or []),
            conflict=conflict,
            field=field,
            value=value,
            metadata=dict(metadata or {}),
        )
        return self.journal.append(record)

    def record_field(
        self,
        field: str,
        value: Any,
        source: ProvenanceSource | str,
        *,
        agent: str | None = None,
        confidence: float | None = None,
        confidence_level: ConfidenceLevel | str | None = None,
        method: str | None = None,
        reasoning: Sequence[str] | str | None = None,
        evidence: Sequence[Any] | None = None,
        conflict: Conflict | None = None,
    ) -> ProvenanceRecord:
        """Record the value chosen for one NWB metadata field and why."""
        return self.record_provenance(
            source,
            agent,
            "set_field",
            confidence=confidence,
            confidence_level=confidence_level,
            method=method,
            reasoning=reasoning,
            evidence=evidence,
            conflict=conflict,
            field=field,
            value=value,
        )

    def record_error(
        self,
        error: BaseException | str,
        *,
        stage: str | None = None,
        agent: str | None = None,
        recovery: str | None = None,
        outcome: str | None = None,
    ) -> ProvenanceRecord:
        """Record an error, the recovery attempted and its outcome."""
        if isinstance(error, BaseException):
            detail = {
                "type": type(error).__name__,
                "message": str(error),
                "traceback": "".join(traceback.format_exception(error)[-6:]),
            }
        else:
            detail = {"type": "error", "message": str(error)}
        self.session.error = detail["message"]
        return self.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            agent or "pipeline",
            "error",
            input_data={"stage": stage},
            output_data={"error": detail, "recovery": recovery, "outcome": outcome},
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
        )

    def iter_records(self) -> Iterator[ProvenanceRecord]:
        return iter_records(self.journal.dir)

    def _refuse_if_finalized(self) -> None:
        if self.session.is_finalized:
            raise ProvenanceError(
                f"conversion {self.conversion_id} is finalized ({self.session.status}); "
                "nothing more can be recorded",
                "start a new conversion to change it",
            )

    def _record_recovery(self, removed: Sequence[git_locks.GitLock]) -> None:
        """Put what crash recovery found and did on the record (even when finalized)."""
        root = self.conversion_repo_path
        evidence: list[Any] = [
            {"segment": t.segment, "offset": t.offset, "torn_bytes": t.data}
            for t in self.journal.torn
        ]
        evidence += [
            {
                "removed": lock.relative_to(root),
                "kind": lock.kind,
                "reason": "no live process had it open and no git or git-annex process was "
                "working in the dataset: left by a killed process",
            }
            for lock in removed
        ]
        reasoning = []
        if self.journal.torn:
            reasoning.append(
                "the previous writer stopped mid-write; its unacknowledged line was cut off"
            )
        if removed:
            reasoning.append(
                "git lock files left by a killed process were removed; the files they guard "
                "keep their last complete state, and the journal records that were not yet "
                "committed are in files this commit adds"
            )
        self.journal.append(
            ProvenanceRecord(
                source=ProvenanceSource.AUTO_EXTRACTED,
                operation="crash_recovery",
                agent="tracker",
                output_data={
                    "torn_lines": len(self.journal.torn),
                    "removed_locks": [lock.relative_to(root) for lock in removed],
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                reasoning=reasoning,
                evidence=evidence,
            )
        )
        self.journal.torn.clear()

    def mark_interrupted(
        self, stage: str, cause: str, removed: Sequence[str] = (), leave: Sequence[str] = ()
    ) -> None:
        """Record that CAUSE (a signal, a full disk) stopped the conversion during STAGE, and
        commit it with what else changed, except in the top folders LEAVE (left half done).

        Locks left by git processes the interruption killed are cleared first (judged by
        who holds them). The status becomes ``interrupted``: not final, the conversion can
        be resumed or discarded.
        """
        cleared = git_locks.clear_stale_locks(self.conversion_repo_path)
        with self._tracker_lock():
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "pipeline",
                "interrupted",
                {"stage": stage, "cause": cause},
                {
                    "removed_partial_outputs": list(removed),
                    "removed_stale_locks": [
                        Path(lock.path).relative_to(self.conversion_repo_path).as_posix()
                        for lock in cleared
                    ],
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                reasoning=[f"{cause} stopped the {stage} stage; resume or discard the conversion"],
            )
            self.session.status = "interrupted"
            self._commit(f"[anc] interrupted during {stage} ({cause})", leave=leave)

    def mark_resumed(self, stage: str) -> None:
        """Record that an interrupted (or unfinished) conversion goes on from STAGE."""
        self._refuse_if_finalized()
        with self._tracker_lock():
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "pipeline",
                "resume",
                {"previous_status": self.session.status},
                {"from_stage": stage},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
            )
            self.session.status = "started"
            self._write_conversion_file()

    # ------------------------------------------------------------------ pipeline state

    def update_pipeline_state(self, state_updates: Mapping[str, Any]) -> dict[str, Any]:
        """Merge STATE_UPDATES into the pipeline state, record the change, keep the file current."""
        self._refuse_if_finalized()
        with self._tracker_lock():
            old = self._read_state()
            new = {**old, **state_updates}
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "pipeline_manager",
                "state_update",
                {"previous_state": old},
                {"new_state": new},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                metadata={"state_changes": dict(state_updates)},
            )
            _write_json(self.conversion_repo_path / STATE_FILE, new)
            self.session.pipeline_state = new
        return new

    def _read_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.conversion_repo_path / STATE_FILE).read_text())
        except FileNotFoundError:
            return {}

    # ------------------------------------------------------------------ artifacts and inputs

    def save_conversion_artifact(
        self,
        artifact_path: str | Path,
        artifact_type: str,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
        *,
        mode: str = "copy",
        name: str | None = None,
        replace: bool = False,
        commit: bool = True,
    ) -> Path:
        """Place an artifact where its type says, record it, and (by default) commit it.

        ``mode='copy'`` leaves the original untouched; ``mode='move'`` hands the file over
        (no copy at all: use it for files the pipeline itself produced). A file already in
        its place inside the dataset is only recorded. Large files are annexed, once.
        """
        self._refuse_if_finalized()
        if artifact_type not in ARTIFACT_DIRS:
            raise UsageError(
                f"unknown artifact type {artifact_type!r}",
                f"use one of: {', '.join(ARTIFACT_DIRS)}",
            )
        if mode not in ARTIFACT_MODES:
            raise UsageError(
                f"unknown artifact mode {mode!r}", f"use one of: {', '.join(ARTIFACT_MODES)}"
            )
        source = Path(artifact_path).absolute()
        if not source.exists() and not source.is_symlink():
            raise UsageError(
                f"artifact {source} does not exist", "give the path of an existing file or folder"
            )
        target_dir = self.conversion_repo_path / ARTIFACT_DIRS[artifact_type]
        target = target_dir / check_name(name or source.name, "artifact name")
        in_place = source == target
        with self._tracker_lock():
            if not in_place:
                self._place(source, target, mode=mode, replace=replace)
            size = _tree_size(target)
            record = self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "artifact_manager",
                "save_artifact",
                {"source_path": str(source), "mode": "in_place" if in_place else mode},
                {
                    "path": target.relative_to(self.conversion_repo_path).as_posix(),
                    "artifact_type": artifact_type,
                    "size": size,
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                metadata={"description": description, "custom_metadata": dict(metadata or {})},
            )
            if commit:
                self._checkpoint_locked(f"add {artifact_type} {target.name}")
        _ = record
        return target

    def _place(self, source: Path, target: Path, *, mode: str, replace: bool) -> None:
        if source.is_relative_to(self.conversion_repo_path / ".git"):
            raise UsageError(
                f"{source} is inside the dataset's .git folder", "give a file outside .git"
            )
        if target.exists() or target.is_symlink():
            if not replace:
                raise UsageError(
                    f"artifact {target.relative_to(self.conversion_repo_path)} already exists",
                    "pass replace=True to add a new version (the old one stays in the history)",
                )
            # Unlink the annex symlink (or file); never write into the annexed object.
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.anc-partial")
        try:
            if mode == "move":
                shutil.move(str(source), str(tmp))  # a rename on the same filesystem
            elif source.is_dir():
                shutil.copytree(source, tmp, symlinks=False)
            else:
                shutil.copy2(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink()
            raise

    def add_input(
        self,
        source: str | Path,
        *,
        mode: str = "auto",
        name: str | None = None,
        commit: bool = True,
    ) -> input_refs.InputRef:
        """Bring the source recording in: as a subdataset, by reference, or as a copy."""
        self._refuse_if_finalized()
        with self._tracker_lock():
            ref = input_refs.add_input(self, Path(source), mode=mode, name=name)
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "input_manager",
                "add_input",
                {"source": str(Path(source).absolute()), "requested_mode": mode},
                ref.to_dict(),
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                reasoning=[ref.reason],
            )
            if commit:
                self._checkpoint_locked(f"add input {ref.name} ({ref.mode})")
        return ref

    def verify_inputs(self) -> list[str]:
        """Differences between the recorded inputs and their sources now (empty: unchanged)."""
        return input_refs.verify_inputs(self.conversion_repo_path)

    # ------------------------------------------------------------------ commits

    @timing.timed("tracker.checkpoint")
    def checkpoint(self, message: str) -> str | None:
        """Commit the journal and everything changed as one iteration; returns the commit."""
        self._refuse_if_finalized()
        with self._tracker_lock():
            return self._checkpoint_locked(message)

    def _checkpoint_locked(self, message: str) -> str | None:
        self.session.iteration += 1
        self.record_provenance(
            ProvenanceSource.AUTO_EXTRACTED,
            "tracker",
            "checkpoint",
            output_data={"iteration": self.session.iteration, "message": message},
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
        )
        return self._commit(f"[anc] iteration {self.session.iteration}: {message}")

    def _commit(self, message: str, *, leave: Sequence[str] = ()) -> str | None:
        """Seal the journal and commit; the top folders in LEAVE stay as they are (after an
        interruption: a half-cloned input or half-written output must not be committed)."""
        self.journal.seal()
        self._write_conversion_file()
        root = self.conversion_repo_path
        if leave:
            paths = [
                p
                for p in dlayer.changed_paths(root)
                if p.split("/", 1)[0] not in leave or p.endswith("/.gitkeep")
            ]
            dlayer.save(self.dataset, message, paths=paths)
        else:
            # Most checkpoints change only text the rules keep in git (journal, state,
            # reports): then `git add` does, without starting git-annex (0.29 s, not ~0.38 s).
            to_git = True if dlayer.kept_in_git(root, dlayer.changed_paths(root)) else None
            dlayer.save(self.dataset, message, to_git=to_git)
        return dlayer.git(self.conversion_repo_path, "rev-parse", "HEAD").decode().strip()

    def _write_conversion_file(self) -> None:
        s = self.session
        _write_json(
            self.conversion_repo_path / CONVERSION_FILE,
            {
                "conversion_id": self.conversion_id,
                "tool": TOOL,
                "tool_version": __version__,
                "start_time": s.start_time,
                "end_time": s.end_time,
                "source_path": s.dataset_path,
                "status": s.status,
                "iteration": s.iteration,
                "error": s.error,
                "final_metadata": s.final_metadata,
            },
        )

    def _tracker_lock(self) -> Flock:
        return self._lock

    # ------------------------------------------------------------------ finalize

    def add_finalize_hook(self, hook: FinalizeHook) -> None:
        """Run HOOK for this conversion too (after the registered ones; see hooks.py)."""
        self._finalize_hooks.append(hook)

    @timing.timed("tracker.finalize")
    def finalize_conversion(
        self,
        status: str,
        final_metadata: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> str | None:
        """Write the session file and summary, commit, and tag a completed conversion.

        Returns the tag name (``conversion-<id>``) or None when not completed.
        """
        if status not in TERMINAL_STATUSES:
            raise UsageError(
                f"unknown final status {status!r}", f"use one of: {', '.join(TERMINAL_STATUSES)}"
            )
        self._refuse_if_finalized()
        from .summary import stub_summary

        with self._tracker_lock():
            if error:
                self.record_error(error, stage="finalize")
            s = self.session
            s.final_metadata = dict(final_metadata or {})
            s.pipeline_state = self._read_state()
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "tracker",
                "finalize",
                output_data={
                    "status": status,
                    "final_metadata": s.final_metadata,
                    "error": s.error,
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
            )
            s.status, s.end_time = status, utc_now()
            s.iteration += 1
            self.journal.seal()
            _write_json(self.conversion_repo_path / SESSION_FILE, s.to_dict())
            (self.conversion_repo_path / SUMMARY_FILE).write_text(stub_summary(self))
            for hook in [*finalize_hooks(), *self._finalize_hooks]:
                hook(self)  # reports' hook replaces the summary with the full one
            self._commit(
                f"[anc] iteration {s.iteration}: finalize conversion {self.conversion_id} - status {status}"
            )
            tag = None
            if status == "completed":
                tag = f"conversion-{self.conversion_id}"
                dlayer.tag(self.dataset.path, tag, f"Completed conversion {self.conversion_id}")
        sup = self.superdataset
        if sup is not None:  # the superdataset records the final commit
            try:
                dlayer.record_subdataset(
                    sup,
                    self.conversion_repo_path,
                    f"[anc] conversion {self.conversion_id} {status}",
                )
            except AncError as exc:  # the conversion is final: said by the result, not recorded
                self.registration_problem = (
                    f"the final commit is not recorded in {sup}: {exc.message}; "
                    f"run `datalad save -d {sup} {self.conversion_repo_path}`"
                )
        return tag


class ProvenanceIntegration:
    """Seed-compatible helpers for agents, users and external enrichment."""

    AGENT_SOURCES: ClassVar[dict[str, ProvenanceSource]] = {
        "conversation": ProvenanceSource.AI_GENERATED,
        "conversion": ProvenanceSource.AUTO_EXTRACTED,
        "evaluation": ProvenanceSource.AUTO_EXTRACTED,
        "knowledge_graph": ProvenanceSource.EXTERNAL_ENRICHED,
    }

    def __init__(self, provenance_tracker: ConversionProvenanceTracker) -> None:
        self.tracker = provenance_tracker

    def record_agent_operation(
        self,
        agent_name: str,
        operation: str,
        input_data: Mapping[str, Any],
        output_data: Mapping[str, Any],
        confidence: float | None = None,
        **details: Any,
    ) -> ProvenanceRecord:
        source = details.pop("source", None) or self.AGENT_SOURCES.get(
            agent_name, ProvenanceSource.AI_GENERATED
        )
        return self.tracker.record_provenance(
            source,
            agent_name,
            operation,
            input_data,
            output_data,
            confidence,
            metadata={"mcp_server_operation": details.pop("mcp", False)},
            **details,
        )

    def record_user_input(
        self,
        field: str,
        value: Any,
        context: Mapping[str, Any] | None = None,
        *,
        override_of: Any = _UNSET,
    ) -> ProvenanceRecord:
        """A value a person gave. With ``override_of`` it replaces an evidence-based value."""
        conflict = None
        level = ConfidenceLevel.HUMAN_CONFIRMED
        if override_of is not _UNSET and override_of != value:
            from ..journal.records import Candidate

            level = ConfidenceLevel.HUMAN_OVERRIDE
            conflict = Conflict(
                candidates=[
                    Candidate(value=override_of, source=ProvenanceSource.AUTO_EXTRACTED),
                    Candidate(value=value, source=ProvenanceSource.USER_PROVIDED, confidence=1.0),
                ],
                resolution="human_override",
                chosen_value=value,
                resolved_by="user",
            )
        return self.tracker.record_provenance(
            ProvenanceSource.USER_PROVIDED,
            "user",
            "user_input",
            {"field": field, "context": dict(context or {})},
            {"field": field, "value": value},
            confidence=1.0,
            confidence_level=level,
            conflict=conflict,
            field=field,
            value=value,
            metadata={"user_provided": True},
        )

    def record_external_enrichment(
        self,
        source_system: str,
        field: str,
        original_value: Any,
        enriched_value: Any,
        confidence: float,
        *,
        evidence: Sequence[Any] | None = None,
    ) -> ProvenanceRecord:
        return self.tracker.record_provenance(
            ProvenanceSource.EXTERNAL_ENRICHED,
            source_system,
            "external_enrichment",
            {"field": field, "original_value": original_value},
            {"field": field, "enriched_value": enriched_value},
            confidence,
            metadata={"external_source": source_system},
            evidence=evidence,
            field=field,
            value=enriched_value,
        )

    def generate_metadata_provenance_report(self) -> dict[str, Any]:
        from .field_report import build_field_report

        return build_field_report(self.tracker.iter_records())


def create_conversion_tracker(
    conversion_id: str, output_dir: str | Path, **kwargs: Any
) -> ConversionProvenanceTracker:
    """Seed name: create a new conversion and its tracker."""
    return ConversionProvenanceTracker(conversion_id, output_dir, **kwargs)


# ---------------------------------------------------------------------- helpers


def _write_json(path: Path, data: Any) -> None:
    """Atomic replace, so a crash leaves the old or the new file, never half of one."""
    from ..journal.records import encode_value

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(encode_value(data), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def _tree_size(path: Path) -> int:
    """Bytes of a file or folder, following annex symlinks to their content when present."""
    if path.is_dir() and not path.is_symlink():
        return sum(_tree_size(p) for p in path.iterdir())
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _readme(conversion_id: str, start_time: str) -> str:
    return f"""# Conversion {conversion_id}

A DataLad dataset holding one conversion to NWB, made by {TOOL} {__version__}.
Started {start_time}.

## Layout

- `inputs/` the source recording: a subdataset, a reference manifest or an annexed copy
- `outputs/` the NWB file(s), annexed
- `scripts/` the exact script and metadata file that produced the outputs
- `reports/` validation and evaluation reports
- `provenance/` the append-only journal of every decision (`journal/`, hash-chained JSON
  Lines), the pipeline state and the session record
- `CONVERSION_SUMMARY.md` written when the conversion is finalized

## Checking and reproducing

    anc check .          # dataset and journal integrity
    anc verify .         # re-execute the recorded run and compare the outputs
    git log --oneline    # one commit per iteration; `git tag` shows conversion-{conversion_id}
"""


__all__ = [
    "ARTIFACT_DIRS",
    "ConversionProvenanceTracker",
    "ConversionSession",
    "ProvenanceIntegration",
    "create_conversion_tracker",
    "is_conversion",
]
