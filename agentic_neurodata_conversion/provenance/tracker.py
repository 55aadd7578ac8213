"""One DataLad dataset per conversion, and the record of everything decided in it.

``ConversionProvenanceTracker`` is the façade: each of its operations records in the
journal (no commit per record) and takes its work from one module of this package, the way
DVC binds ``repo/<verb>.py`` onto ``Repo``:

    layout.py     folders, file names, README, .gitignore of a conversion dataset
    session.py    conversion.json (id, status, iteration, ...) and the pipeline state
    inputs.py     the recording brought in: subdataset, reference manifest, or copy
    artifacts.py  files placed where their type says, never stored twice
    lockfile.py   the environment: scripts/requirements.lock and its record
    recovery.py   what a reopen after a crash, an interruption or a resume records
    finalize.py   the last iteration: session file, summary, hooks, tag

``checkpoint()`` commits one iteration. Several processes may work on one conversion:
journal appends are serialised by the journal's lock; state updates, artifacts,
checkpoints and finalize by the tracker lock.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, timing
from ..datalad_layer import annex
from ..datalad_layer import dataset as dlayer
from ..datalad_layer import locks as git_locks
from ..environment import Environment
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
from . import artifacts, finalize, layout, lockfile, recovery, revision
from . import inputs as input_refs
from .hooks import FinalizeHook, after_finalize_hooks, finalize_hooks
from .layout import CONVERSION_FILE, TOOL, TRACKER_LOCK, conversion_folder, is_conversion
from .session import ConversionSession, read_session, read_state, write_session, write_state

if TYPE_CHECKING:
    from datalad.api import Dataset

# How long open() waits for a git lock a live process holds before it gives up (LockHeld).
LOCK_WAIT_S = 30.0


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
        register: bool = True,
        standalone: bool = False,
    ) -> None:
        """Create a new conversion dataset. Use ``open()`` to continue an existing one.

        With ``checkpoint=False`` the caller commits the first iteration (e.g. together
        with the input it adds next); with ``register=False`` it registers the conversion in
        its superdataset itself (``register_in_superdataset``), once it knows it is kept.
        ``standalone=True``: the superdataset is never touched; a batch collector registers
        the finished conversion (one writer per superdataset index).
        """
        self.standalone = standalone
        self.conversion_id = check_name(conversion_id, "conversion id")
        self.conversion_repo_path = conversion_folder(output_dir, conversion_id)
        _refuse_existing(self.conversion_repo_path)
        self.session = ConversionSession(
            session_id=conversion_id,
            start_time=utc_now(),
            dataset_path=str(source_path or ""),
            output_path=str(self.conversion_repo_path),
        )
        self._dataset: Dataset | None = dlayer.create_dataset(
            self.conversion_repo_path,
            description or f"Conversion {self.conversion_id} ({TOOL})",
            rules=annex.CONVERSION_RULES,
            commit_rules=False,  # committed with the first iteration: one commit fewer
        )
        dlayer.bypass_annex_filter(self._dataset, annex.CONVERSION_RULES)
        layout.lay_out(self.conversion_repo_path, self.conversion_id, self.session.start_time)
        write_session(self.conversion_repo_path, self.session)
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
        if register:
            self.register_in_superdataset()
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
        self = cls.__new__(cls)
        self.conversion_repo_path = path
        self.session = read_session(path)
        self.conversion_id = self.session.session_id
        self._dataset = None
        self.standalone = False
        removed = git_locks.clear_stale_locks(path, wait_s=lock_wait_s)
        self._attach(sync)
        torn = list(self.journal.torn)
        if torn or removed:
            with self._lock:
                self.journal.append(recovery.crash_recovery(path, torn, removed))
                self.journal.torn.clear()
                self._commit(recovery.recovery_message(torn, removed))
        return self

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

    @property
    def superdataset(self) -> Path | None:
        """The DataLad dataset the conversion folder lies in, if any (it is registered there)."""
        if self.standalone:
            return None
        return dlayer.enclosing_dataset(self.conversion_repo_path.parent)

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

    def append(self, record: ProvenanceRecord) -> ProvenanceRecord:
        """Append a record built elsewhere (a detection, a field decision); no commit."""
        self._refuse_if_finalized()
        return self.journal.append(record)

    def append_many(self, records: Iterable[ProvenanceRecord]) -> list[ProvenanceRecord]:
        """Append records under one lock and one write: all or none are recorded."""
        self._refuse_if_finalized()
        return self.journal.append_many(records)

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
        return self.append(
            ProvenanceRecord(
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
        )

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

    # ------------------------------------------------------------------ interruptions

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
        with self._lock:
            self.append(recovery.interrupted(self.path, stage, cause, removed, cleared))
            self.session.status = "interrupted"
            self._commit(f"[anc] interrupted during {stage} ({cause})", leave=leave)

    def mark_resumed(self, stage: str) -> None:
        """Record that an interrupted (or unfinished) conversion goes on from STAGE."""
        with self._lock:
            self.append(recovery.resumed(self.session.status, stage))
            self.session.status = "started"
            write_session(self.conversion_repo_path, self.session)

    # ------------------------------------------------------------------ revisions

    def begin_revision(
        self,
        fields: Sequence[str],
        reason: str | None,
        evidence: Sequence[str] = (),
        *,
        agent: str = "user",
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Reopen a finalized conversion for revision N+1 (`anc revise`): recorded, status
        ``started`` again, nothing committed yet; finalize tags ``conversion-<id>-vN+1``."""
        if not self.session.is_finalized:
            raise UsageError(
                f"conversion {self.conversion_id} is {self.session.status}, not finalized: "
                "only a completed or failed conversion is revised",
                f"finish it first (`anc resume {self.path}`)",
            )
        with self._lock:
            record = revision.begin_revision(self.session, fields, reason, evidence, agent, extra)
            self.journal.append(record)
            s = self.session
            s.revision += 1
            s.status, s.end_time, s.error = "started", None, None
            write_session(self.conversion_repo_path, s)
        return self.session.revision

    # ------------------------------------------------------------------ pipeline state

    def update_pipeline_state(self, state_updates: Mapping[str, Any]) -> dict[str, Any]:
        """Merge STATE_UPDATES into the pipeline state, record the change, keep the file current."""
        self._refuse_if_finalized()
        with self._lock:
            old = read_state(self.conversion_repo_path)
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
            write_state(self.conversion_repo_path, new)
            self.session.pipeline_state = new
        return new

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
        root = self.conversion_repo_path
        source = Path(artifact_path).absolute()
        target = artifacts.target_of(root, source, artifact_type, mode, name)
        in_place = source == target
        with self._lock:
            if not in_place:
                artifacts.place(root, source, target, mode=mode, replace=replace)
            self.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "artifact_manager",
                "save_artifact",
                {"source_path": str(source), "mode": "in_place" if in_place else mode},
                {
                    "path": target.relative_to(root).as_posix(),
                    "artifact_type": artifact_type,
                    "size": artifacts.tree_size(target),
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                metadata={"description": description, "custom_metadata": dict(metadata or {})},
            )
            if commit:
                self._checkpoint_locked(f"add {artifact_type} {target.name}")
        return target

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
        with self._lock:
            ref = input_refs.add_input(
                self.dataset, self.conversion_repo_path, Path(source), mode=mode, name=name
            )
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

    def record_environment(
        self, folder: str = "scripts", *, commit: bool = False, env: Environment | None = None
    ) -> Path:
        """Write FOLDER/requirements.lock (kept in git) pinning the installed distributions,
        and record the environment (Python, platform, every distribution) in the journal.

        ENV is this interpreter's unless given (captured elsewhere, e.g. in a helper
        process); with COMMIT the lock and record are committed as one iteration.
        """
        self._refuse_if_finalized()
        with self._lock:
            lock, env = lockfile.write(self.conversion_repo_path, folder, env)
            rel = lock.relative_to(self.conversion_repo_path).as_posix()
            self.append(lockfile.record(env, rel))
            if commit:
                self._checkpoint_locked(f"environment recorded ({rel})")
        return lock

    def verify_inputs(self) -> list[str]:
        """Differences between the recorded inputs and their sources now (empty: unchanged)."""
        return input_refs.verify_inputs(self.conversion_repo_path)

    # ------------------------------------------------------------------ commits

    @timing.timed("tracker.checkpoint")
    def checkpoint(self, message: str) -> str | None:
        """Commit the journal and everything changed as one iteration; returns the commit."""
        self._refuse_if_finalized()
        with self._lock:
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
        write_session(self.conversion_repo_path, self.session)
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
            # reports): then git commits them, without DataLad or git-annex (0.04 s, not 0.29).
            changed = dlayer.changed_paths(root)
            if dlayer.kept_in_git(root, changed):
                dlayer.commit_in_git(root, message, changed)
            else:
                dlayer.save(self.dataset, message)
        return dlayer.git(self.conversion_repo_path, "rev-parse", "HEAD").decode().strip()

    def register_in_superdataset(self) -> None:
        self._register("register the new conversion")

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
        finalize.check_status(status)
        self._refuse_if_finalized()
        root = self.conversion_repo_path
        tag = None
        with self._lock:
            if error:
                self.record_error(error, stage="finalize")
            s = self.session
            s.final_metadata = dict(final_metadata or {})
            s.pipeline_state = read_state(root)
            self.append(finalize.finalize_record(status, s))
            s.status, s.end_time = status, utc_now()
            s.iteration += 1
            self.journal.seal()
            finalize.write_final_files(root, s)
            for hook in [*finalize_hooks(), *self._finalize_hooks]:
                hook(self)  # reports' hook replaces the summary with the full one
            self._commit(
                f"[anc] iteration {s.iteration}: finalize conversion {self.conversion_id} - status {status}"
            )
            if status == "completed":
                tag = finalize.tag_name(self.conversion_id, s.revision)
                dlayer.tag(self.dataset.path, tag, f"Completed conversion {self.conversion_id}")
        sup = self.superdataset
        if sup is not None:  # the superdataset records the final commit
            try:
                dlayer.record_subdataset(
                    sup, root, f"[anc] conversion {self.conversion_id} {status}"
                )
            except AncError as exc:  # the conversion is final: said by the result, not recorded
                self.registration_problem = (
                    f"the final commit is not recorded in {sup}: {exc.message}; "
                    f"run `datalad save -d {sup} {root}`"
                )
        for hook in after_finalize_hooks():
            hook(self)
        return tag


def create_conversion_tracker(
    conversion_id: str, output_dir: str | Path, **kwargs: Any
) -> ConversionProvenanceTracker:
    """Seed name: create a new conversion and its tracker."""
    return ConversionProvenanceTracker(conversion_id, output_dir, **kwargs)


def _refuse_existing(path: Path) -> None:
    if is_conversion(path):
        other = read_session(path).session_id
        raise UsageError(
            f"{path} already holds conversion {other!r}",
            "reopen it with ConversionProvenanceTracker.open(), or choose another id",
        )
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(
            f"{path} exists and is not an empty folder",
            "choose another output folder or conversion id",
        )


__all__ = ["ConversionProvenanceTracker", "create_conversion_tracker"]
