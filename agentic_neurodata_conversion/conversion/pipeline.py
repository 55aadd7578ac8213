"""The path of one conversion, each stage one call, each recorded through the tracker.

    start -> detect -> assemble_metadata -> write_script -> convert -> validate -> finalize

``ConversionPipeline.run()`` does them all; the MCP server and the CLI call the same
methods one by one. The pipeline's own state (stage, format, paths) lives in the tracker's
pipeline_state.json, so a pipeline reopens from its conversion folder at any stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from .. import environment, interrupts, timing
from ..errors import AncError, ConversionError, DiskFull, Interrupted, UsageError, is_disk_full
from ..journal.records import ConfidenceLevel, ProvenanceSource
from ..names import check_name, slug
from ..provenance.layout import conversion_folder, is_conversion
from ..provenance.tracker import ConversionProvenanceTracker
from ..units import binary_size
from . import formats, stages, workers
from .workers import HeavyWorker

if TYPE_CHECKING:
    from .engine import RunResult
    from .evaluation import EvaluationReport
    from .formats import Detection
    from .metadata import FieldDecision
    from .validation import ValidationReport

Progress = Callable[[str, str], None]  # (stage, message)
T = TypeVar("T")
AGENT = "conversion_pipeline"
SCRIPT = "scripts/convert.py"
USER_METADATA_COPY = "inputs/user-metadata"


class ReadingCache(Protocol):
    """Where readings of a recording are kept between calls (``monitoring.resources.TTLCache``)."""

    def get(self, key: Hashable, default: Any = None) -> Any: ...

    def set(self, key: Hashable, value: Any) -> None: ...


def default_conversion_id(source: Path) -> str:
    return f"{slug(source.name)}-{uuid.uuid4().hex[:8]}"


@dataclass
class ConversionResult:
    conversion_id: str
    path: Path
    status: str
    tag: str | None
    nwb: Path | None
    validation: dict[str, Any] | None
    evaluation_passed: bool | None
    reason: str | None
    registration_problem: str | None = None  # not (fully) registered in its superdataset

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversion_id": self.conversion_id,
            "path": str(self.path),
            "status": self.status,
            "tag": self.tag,
            "nwb": str(self.nwb) if self.nwb else None,
            "validation": self.validation,
            "evaluation_passed": self.evaluation_passed,
            "reason": self.reason,
            "registration_problem": self.registration_problem,
        }


class ConversionPipeline:
    """Drives one conversion; all state is in the conversion dataset."""

    def __init__(
        self,
        tracker: ConversionProvenanceTracker,
        progress: Progress | None = None,
        worker: HeavyWorker | None = None,
    ) -> None:
        self.tracker = tracker
        self.progress = progress or (lambda stage, message: None)
        # With a worker, NeuroConv/pynwb work runs there (see workers.py); else in-process.
        self.worker = worker
        # Processes that were running before this pipeline: an interruption spares them.
        self.spare_children: frozenset[int] = frozenset()
        self.monitor: Any = None  # a ConversionMonitor, stopped by finalize or a stop
        # Whether the last detect or assemble_metadata reused a reading from its cache.
        self.reused = False

    # ------------------------------------------------------------------ start / open

    @classmethod
    def start(
        cls,
        source: str | Path,
        output_dir: str | Path,
        *,
        conversion_id: str | None = None,
        input_mode: str = "auto",
        progress: Progress | None = None,
        agent: str = AGENT,
        worker: HeavyWorker | None = None,
        monitor: bool = False,
        monitor_interval_s: float = 1.0,
        checkpoint: bool = True,
        request: dict[str, Any] | None = None,
        spare_children: frozenset[int] = frozenset(),
        register: bool = True,
        standalone: bool = False,
    ) -> ConversionPipeline:
        """Check SOURCE, create the conversion dataset and bring the recording in.

        MONITOR times every step and samples resources until finalize; its timings are
        process-wide, so use it only where one conversion runs in the process (`convert()`),
        not in a server holding several conversions open. REQUEST (what the user asked:
        format, stream, metadata file, input mode) is kept in the state so that an
        interrupted conversion can be resumed. REGISTER=False leaves the registration in
        the enclosing superdataset to the caller (``tracker.register_in_superdataset``);
        STANDALONE=True leaves it to a batch collector (``ConversionProvenanceTracker``).
        """
        folder, files = formats.check_source_folder(source)
        folder = folder.absolute()
        output = Path(output_dir).absolute()
        check_locations(folder, output)
        if conversion_id is None:
            conversion_id = default_conversion_id(folder)
        target = conversion_folder(output, conversion_id)
        existed = target.exists()
        with timing.timed("stage.start"):
            try:
                tracker = ConversionProvenanceTracker(
                    conversion_id,
                    output,
                    source_path=folder,
                    checkpoint=False,
                    register=register,
                    standalone=standalone,
                )
            except BaseException as exc:
                if not isinstance(exc, KeyboardInterrupt) and not is_disk_full(exc):
                    raise
                with interrupts.shielded():
                    interrupts.end_children(spare_children)
                    remove_unfinished(target, existed)
                if isinstance(exc, KeyboardInterrupt):
                    raise Interrupted(
                        "interrupted during start, before the conversion dataset was complete; "
                        f"nothing was kept: run the conversion again ({target} was removed)"
                    ) from None
                raise _disk_full_error(output, "start", 0, None) from None
        self = cls(tracker, progress, worker)
        self.spare_children = spare_children
        try:
            if monitor:
                from ..monitoring.metrics import ConversionMonitor

                # Samples resources until finalize, which commits reports/metrics.jsonl.
                self.monitor = ConversionMonitor.for_tracker(tracker, interval_s=monitor_interval_s)
                self.monitor.annotate(input_bytes=sum((folder / f).stat().st_size for f in files))
            self.announce_start()
            self._state(request={"input_mode": input_mode, **(request or {})}, agent=agent)
            self.add_input(folder, input_mode, checkpoint=checkpoint)
        except KeyboardInterrupt:
            self.interrupted("start")
        except BaseException as exc:
            if is_disk_full(exc):
                self.stopped_by_full_disk("start", exc)
            self.fail(exc, "start")
            raise
        return self

    def add_input(self, folder: Path, input_mode: str, *, checkpoint: bool = True) -> None:
        """The start stage's work after the dataset exists: bring the recording in."""
        # The input's name in inputs/ is a slug; its record keeps the original path.
        ref = self.tracker.add_input(folder, mode=input_mode, name=slug(folder.name), commit=False)
        self._state(stage="start", input=ref.to_dict())
        if checkpoint:  # else the next stage's commit includes the start
            self.tracker.checkpoint(f"start conversion of {folder.name} (input: {ref.mode})")

    @classmethod
    def open(
        cls, path: str | Path, progress: Progress | None = None, worker: HeavyWorker | None = None
    ) -> ConversionPipeline:
        return cls(ConversionProvenanceTracker.open(path), progress, worker)

    @property
    def path(self) -> Path:
        return self.tracker.path

    @property
    def state(self) -> dict[str, Any]:
        return self.tracker.session.pipeline_state

    def _state(self, **updates: Any) -> None:
        self.tracker.update_pipeline_state(updates)

    def announce_start(self) -> None:
        self._say("start", f"conversion {self.tracker.conversion_id} in {self.path}")

    def _say(self, stage: str, message: str) -> None:
        self.progress(stage, message)

    def _require(self, stage: str) -> Any:
        """What STAGE needs from the state (the stage rules are in stages.py)."""
        return stages.require(self.state, stage, self.tracker.conversion_id)

    # ------------------------------------------------------------------ stages

    def source_folder(self) -> Path:
        return Path(self.tracker.session.dataset_path)

    def input_folder(self) -> Path:
        """Where the conversion reads the recording: inside the dataset unless by reference."""
        ref = self._require("detect")
        if ref["mode"] == "reference":
            return Path(ref["source"])
        return self.path / ref["path"]

    def _reading(
        self, cache: ReadingCache | None, key: Callable[[], Hashable], read: Callable[[], T]
    ) -> T:
        """READ's result, or the one CACHE holds under KEY() (which names the files' state)."""
        self.reused = False
        if cache is None:
            return read()
        k = key()
        value = cache.get(k)
        if value is not None:
            self.reused = True
            return value
        value = read()
        cache.set(k, value)
        return value

    def detect(
        self,
        format: str | None = None,
        choose: Mapping[str, str] | None = None,
        *,
        cache: ReadingCache | None = None,
    ) -> Detection:
        """Detect the recording's format (or take FORMAT) and what of it to convert (CHOOSE:
        record node, block, stream by axis; see ``formats.detect_format``), and record how
        they were decided. With CACHE, a detection of the unchanged recording with the same
        arguments is reused (recorded all the same)."""
        with timing.timed("stage.detect"):
            self._say("detect", "detecting the recording format")
            folder = self.source_folder()
            wanted = formats.wishes(choose)
            detection = self._reading(
                cache,
                lambda: (
                    "detect_format",
                    str(folder),
                    format,
                    tuple(sorted(wanted.items())),
                    formats.folder_state(folder),
                ),
                lambda: formats.detect_format(folder, format, choose=wanted),
            )
            self.tracker.append(detection.to_record(agent=AGENT))
            self._state(stage="detect", format=detection.format, choose=wanted)
        return detection

    def _detection(self) -> Detection:
        fmt = self._require("metadata")
        # Re-detect on the copy inside the dataset: source paths then point into inputs/.
        return formats.detect_format(self.input_folder(), fmt, choose=self.choices)

    @property
    def choices(self) -> dict[str, str]:
        """What the user chose to convert (record node, block, stream), as detect recorded."""
        return dict(self.state.get("choose") or {})

    # Set by convert(): the metadata check it ran on the source before creating the dataset;
    # the metadata stage then reuses that extraction rather than reading the recording again.
    prechecked: workers.CheckedMetadata | None = None

    def assemble_metadata(
        self,
        metadata_file: str | Path | None = None,
        *,
        checkpoint: bool = True,
        cache: ReadingCache | None = None,
    ) -> list[FieldDecision]:
        """Read the file metadata, merge the user's, fill placeholders, check the result with
        the conversion's rules (a refusal records nothing); one record per field. With CACHE,
        the reading and check of the unchanged recording (and user file) are reused."""
        from . import metadata as md

        with timing.timed("stage.metadata"):
            self._say("metadata", "reading metadata from the recording")
            user = md.load_user_metadata(metadata_file) if metadata_file else None
            folder, fmt = self.input_folder(), self._require("metadata")
            choose = self.choices
            given = str(metadata_file) if metadata_file else None
            checked, self.prechecked = self.prechecked, None
            before = checked is not None and checked.user_file == given
            self.reused = False
            if checked is None or not before:
                conversion = self._context()
                args = (folder, fmt, choose, conversion, user, metadata_file)

                def read() -> workers.CheckedMetadata:
                    if self.worker is not None:
                        return self.worker.submit(workers.extract_and_check, *args).result()
                    return workers.extract_and_check(*args)

                def key() -> Hashable:
                    # the check depends on the conversion (identifier, dates) and the user file
                    user_file = None
                    if metadata_file is not None:
                        st = Path(metadata_file).stat()
                        user_file = (given, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                    files = formats.folder_state(folder)
                    return (
                        "extract_and_check",
                        str(folder),
                        fmt,
                        tuple(sorted(choose.items())),
                        conversion,
                        user_file,
                        files,
                    )

                checked = self._reading(cache, key, read)
            if self.worker is not None:
                self.worker.submit(workers.import_validation_libraries)  # during the run
            where = None
            if metadata_file:
                where = self.keep_user_file(Path(metadata_file))
            context = dataclasses.replace(
                self._context(), was_generated_by_supported=checked.generated_by
            )
            decisions = md.decide_fields(
                checked.extracted, checked.detection.spec, context, user, where
            )
            self.tracker.append_many(d.to_record(agent=AGENT) for d in decisions)
            self.tracker.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                AGENT,
                "metadata_check",
                {"fields": len(decisions), "checked_before_start": before},
                {**checked.check.to_dict(), "blocking": 0},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                method="metadata_check: neuroconv schema, pynwb, nwbinspector (dandi)",
                reasoning=[
                    "checked on the source recording before the conversion dataset was created"
                    if before
                    else "checked before the conversion script is written"
                ],
            )
            review = [d.field for d in decisions if d.needs_review]
            self._state(
                stage="metadata",
                fields=len(decisions),
                needs_review=review,
                metadata_warnings=list(checked.check.warnings),
            )
            if checkpoint:
                self.tracker.checkpoint(
                    f"metadata assembled: {len(decisions)} fields, {len(review)} need review"
                )
        return decisions

    def keep_user_file(self, path: Path, revision: int | None = None) -> str:
        """Keep a copy of the user's metadata file with the conversion (small text, in git);
        a REVISION's beside the first (``<copy>-v<N>``)."""
        suffix = f"-v{revision}" if revision is not None else ""
        target = self.path / f"{USER_METADATA_COPY}{suffix}{path.suffix.lower()}"
        target.unlink(missing_ok=True)
        shutil.copyfile(path, target)
        given: dict[str, Any] = {"path": str(path.absolute())}
        if revision is not None:
            given["revision"] = revision
        self.tracker.record_provenance(
            ProvenanceSource.USER_PROVIDED,
            "user",
            "user_metadata_file",
            given,
            {"copy": target.relative_to(self.path).as_posix()},
            confidence=1.0,
            confidence_level=ConfidenceLevel.HUMAN_CONFIRMED,
        )
        return target.relative_to(self.path).as_posix()

    def _context(self) -> Any:
        from . import metadata as md

        created = dt.datetime.fromisoformat(self.tracker.session.start_time.replace("Z", "+00:00"))
        return md.ConversionContext(
            conversion_id=self.tracker.conversion_id,
            dataset_id=self.tracker.dataset.id,
            created=created,
            output=f"outputs/{self.tracker.conversion_id}.nwb",
            script=SCRIPT,
        )

    def decisions(self) -> list[FieldDecision]:
        """The latest decision per field, rebuilt from the journal."""
        from . import metadata as md

        latest: dict[str, Any] = {}
        for record in self.tracker.iter_records():
            if record.field and record.operation in (
                "set_metadata_field",
                "set_field",
                "user_input",
                "external_enrichment",
            ):
                latest[record.field] = record
        if not latest:
            raise UsageError(
                f"conversion {self.tracker.conversion_id} has no metadata yet",
                "run the metadata stage first",
            )
        return [
            md.FieldDecision(
                field=r.field,
                value=r.value,
                source=r.source,
                confidence=r.confidence if r.confidence is not None else 0.0,
                level=r.confidence_level,
                method=r.method or r.operation,
                evidence=[str(e) for e in r.evidence],
                reasoning=list(r.reasoning),
                conflict=r.conflict,
            )
            for r in latest.values()
        ]

    def write_script(self) -> Path:
        """Render scripts/convert.py and its metadata file from the recorded decisions, and
        commit them (with anything recorded since the last checkpoint)."""
        from . import script as sc

        with timing.timed("stage.script"):
            self._say("script", "writing the conversion script")
            detection = self._detection()
            rendered = sc.render_script(
                detection,
                self.decisions(),
                self._context(),
                sc.relative_source_data(detection, self.path),
            )
            script, meta = rendered.write(self.path / "scripts")
            for path in (script, meta):
                self.tracker.save_conversion_artifact(path, "conversion_script", commit=False)
            # The script runs in this interpreter: its lock is committed with the script.
            self.tracker.record_environment()
            self._state(stage="script", script=SCRIPT)
            fields = self.state.get("fields")
            self.tracker.checkpoint(
                f"conversion script written ({fields} metadata fields, "
                f"{len(self.state.get('needs_review', []))} need review)"
            )
        return script

    def convert(self) -> RunResult:
        """Execute the script through `datalad run`; the NWB file lands in outputs/."""
        from . import engine

        with timing.timed("stage.convert"):
            self._say("convert", "converting to NWB (datalad run)")
            script = self._require("convert")
            ref = self.state["input"]
            inputs = [] if ref["mode"] == "reference" else [ref["path"]]
            output = self._context().output
            # Interrupted after `datalad run` committed, before it was noted: keep that run.
            executed = (script, (Path(script).parent / engine.METADATA_NAME).as_posix())
            result = engine.recorded_run(self.path, output, *executed) or engine.run_conversion(
                self.path,
                script,
                inputs=inputs,
                outputs=[output],
                message=f"[anc] convert {self.tracker.conversion_id}: {self.state['format']} to NWB",
                on_command_done=lambda: self._validate_early(output),
            )
            self.tracker.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                AGENT,
                "run_conversion",
                {"script": script, "inputs": inputs},
                {**result.to_dict(), "software": engine.software_versions()},
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                method="datalad run",
            )
            self.tracker.save_conversion_artifact(self.path / output, "nwb_file", commit=False)
            self._state(stage="convert", nwb=output, run_commit=result.commit)
        return result

    # The validation the helper began when the script had written the NWB file (its path).
    _validating: tuple[Path, Future] | None = None

    def _validate_early(self, output: str) -> None:
        """With a helper: begin validating OUTPUT once the script has written it, while DataLad
        saves it, reading it through a hard link that its move into the annex leaves intact."""
        from ..datalad_layer.dataset import hold

        held = hold(self.path, output) if self.worker is not None else None
        if self.worker is None or held is None:
            return  # validated by the validate stage alone
        nwb = self.path / output
        args = (nwb, self._detection(), self.path, held)
        self._validating = (nwb, self.worker.submit(workers.validate_and_evaluate, *args))

    def validate(self, *, checkpoint: bool = True) -> tuple[ValidationReport, EvaluationReport]:
        """nwbinspector (DANDI) + schema validation, and a read-back against the source."""
        from ..datalad_layer.dataset import release_held

        nwb = self.path / self._require("validate")
        with timing.timed("stage.validate"):
            self._say("validate", "validating (nwbinspector, DANDI) and reading the NWB back")
            early, self._validating = self._validating, None
            job = early[1] if early is not None and early[0] == nwb else None
            if job is None and self.worker is not None:
                args = (nwb, self._detection(), self.path)
                job = self.worker.submit(workers.validate_and_evaluate, *args)
            # Loaded while the helper validates (numpy, the report writers finalize runs).
            from .evaluation import write_evaluation_reports
            from .validation import write_validation_reports

            if job is not None:
                load_report_writers(renderers=True)
                try:
                    validation, evaluation = job.result()
                finally:
                    release_held(self.path)
            else:
                validation, evaluation = workers.validate_and_evaluate(
                    nwb, self._detection(), self.path
                )
            for path in write_validation_reports(validation, self.path / "reports"):
                self.tracker.save_conversion_artifact(path, "validation_report", commit=False)
            for path in write_evaluation_reports(evaluation, self.path / "reports"):
                self.tracker.save_conversion_artifact(path, "evaluation_report", commit=False)
            self.tracker.record_provenance(
                ProvenanceSource.AUTO_EXTRACTED,
                "evaluation",
                "validate",
                {"nwb": nwb.relative_to(self.path).as_posix()},
                {
                    "validation": validation.to_dict().get("counts"),
                    "validation_passes": validation.passes,
                    "evaluation_passes": evaluation.passes,
                },
                confidence=1.0,
                confidence_level=ConfidenceLevel.DEFINITIVE,
                method="nwbinspector (dandi config) + pynwb.validate + read-back comparison",
            )
            self._state(
                stage="validate",
                validation_passes=validation.passes,
                evaluation_passes=evaluation.passes,
                validation_counts=validation.to_dict().get("counts"),
            )
            if checkpoint:
                verdict = "passes" if validation.passes and evaluation.passes else "FAILS"
                self.tracker.checkpoint(f"validated: {verdict}")
        return validation, evaluation

    def finalize(self) -> ConversionResult:
        """Completed only when validation and evaluation pass; otherwise failed, untagged."""
        with timing.timed("stage.finalize"):
            state = self.state
            reason = None
            if not state.get("validation_passes"):
                reason = (
                    "validation found CRITICAL issues or schema errors (see reports/validation.md)"
                )
            elif not state.get("evaluation_passes"):
                reason = "the NWB data differ from the source recording (see reports/evaluation.md)"
            status = "completed" if reason is None else "failed"
            final = {d.field: d.value for d in self.decisions()}
            self._say("finalize", f"finalizing: {status}")
            load_report_writers()
            tag = self.tracker.finalize_conversion(status, final, error=reason)
        return self.result(tag, reason)

    def result(self, tag: str | None = None, reason: str | None = None) -> ConversionResult:
        state = self.state
        nwb = self.path / state["nwb"] if state.get("nwb") else None
        return ConversionResult(
            conversion_id=self.tracker.conversion_id,
            path=self.path,
            status=self.tracker.session.status,
            tag=tag,
            nwb=nwb,
            validation=state.get("validation_counts"),
            evaluation_passed=state.get("evaluation_passes"),
            reason=reason or self.tracker.session.error,
            registration_problem=self.tracker.registration_problem,
        )

    def fail(self, error: BaseException, stage: str) -> None:
        """Record ERROR and finalize as failed (no tag); never hides the original error."""
        from ..datalad_layer.dataset import release_held

        if self.tracker.session.is_finalized:
            return
        message = (
            error.message if isinstance(error, AncError) else f"{type(error).__name__}: {error}"
        )
        release_held(self.path)  # a validation begun early (its result is not wanted)
        self.tracker.record_error(error, stage=stage, outcome="conversion failed")
        load_report_writers()
        self.tracker.finalize_conversion("failed", {}, error=f"{stage} failed: {message}")

    def next_stage(self) -> str:
        """The first stage not yet completed."""
        return stages.next_stage(self.state)

    def run(
        self,
        *,
        format: str | None = None,
        choose: Mapping[str, str] | None = None,
        metadata_file: str | Path | None = None,
        from_stage: str = "detect",
    ) -> ConversionResult:
        """Every stage from FROM_STAGE on; a failure is recorded, finalized as failed, and
        raised; an interruption (SIGINT, SIGTERM) leaves the conversion resumable."""
        steps: dict[str, Callable[[], object]] = {
            "detect": lambda: self.detect(format, choose),
            # the script stage commits the metadata; finalize commits the reports
            "metadata": lambda: self.assemble_metadata(metadata_file, checkpoint=False),
            "script": self.write_script,
            "convert": self.convert,
            "validate": lambda: self.validate(checkpoint=False),
        }
        stage = from_stage
        try:
            with timing.timed("conversion"):
                for stage in stages.STAGES[stages.STAGES.index(from_stage) : -1]:
                    steps[stage]()
                stage = "finalize"
                return self.finalize()
        except KeyboardInterrupt:
            self.interrupted(stage)
        except BaseException as exc:
            if is_disk_full(exc):
                self.stopped_by_full_disk(stage, exc)
            self.fail(exc, stage)
            if isinstance(exc, AncError):
                raise
            raise ConversionError(
                f"{stage} failed: {type(exc).__name__}: {exc}",
                f"the conversion was finalized as failed; see {self.path / 'CONVERSION_SUMMARY.md'}",
            ) from exc

    def interrupted(self, stage: str) -> NoReturn:
        """End the workers, clear what killed git processes left, drop partial outputs, and
        record the interruption with its stage; raise ``Interrupted`` saying how to go on."""
        self._stop(stage, interrupts.last_signal())
        where = self.path
        raise Interrupted(
            f"interrupted during {stage}; resume with `anc resume {where}` "
            f"(or discard it with `anc discard {where}`)"
        )

    def stopped_by_full_disk(self, stage: str, error: BaseException) -> NoReturn:
        """Like an interruption (resumable once there is space), raised as ``DiskFull``."""
        # No room even for the record: the journal keeps what it had, and reopen recovers.
        with contextlib.suppress(AncError, OSError):
            self._stop(stage, "disk full")
        needed = self._space_needed(stage)
        raise _disk_full_error(self.path, stage, needed, self.path) from error

    def _stop(self, stage: str, cause: str) -> None:
        with interrupts.shielded():
            interrupts.end_children(self.spare_children)
            removed = self.remove_partial_outputs()  # first: it frees the space a full disk needs
            if self.monitor is not None and self.monitor.running:  # its metrics are committed
                # derived numbers, not records: on a disk still full they may be lost
                with contextlib.suppress(OSError, AncError):
                    self.monitor.stop(f"{cause} during {stage}")
            # outputs/ is only ever committed by the run; inputs/ by a complete start
            leave = ("outputs",) if "input" in self.state else ("inputs", "outputs")
            self.tracker.mark_interrupted(stage, cause, removed, leave)

    def _space_needed(self, stage: str) -> int:
        """What STAGE writes at most: a copy of the recording when it is copied in, about
        the recording's size for the NWB file; 0 when not known."""
        ref = self.state.get("input") or {}
        source_bytes = ref.get("bytes") or _tree_bytes(self.source_folder())
        if stage == "start":
            mode = ref.get("mode") or (self.state.get("request") or {}).get("input_mode")
            return source_bytes if mode == "copy" else 0
        return source_bytes if stage == "convert" else 0

    def remove_partial_outputs(self) -> list[str]:
        """What an interrupted run left half done: files under outputs/ that no commit
        holds, and NWB content a failed save moved into the annex with nothing naming it."""
        from ..datalad_layer.dataset import release_held, remove_stranded_objects, untracked_files

        release_held(self.path)  # first: a link to a stranded object would keep its bytes
        removed = untracked_files(self.path, "outputs")
        for rel in removed:
            (self.path / rel).unlink(missing_ok=True)
        return removed + remove_stranded_objects(self.path, "*.nwb")


def load_report_writers(*, renderers: bool = False) -> None:
    """Importing reports registers its finalize hook (summary, HTML report, RO-Crate); with
    RENDERERS what the hook renders with is loaded too (for a caller with time to spare)."""
    from .. import reports

    if renderers:
        reports.load_renderers()


def check_locations(source: Path, output: Path) -> None:
    """Refuse an output folder that would nest the conversion in the recording, the
    recording in the conversions, or a conversion inside another conversion's dataset."""
    source, output = source.resolve(), output.resolve()
    if output == source or output.is_relative_to(source):
        raise UsageError(
            f"the output folder {output} is inside the source recording {source}",
            "choose an output folder outside the recording (the source is never written to)",
        )
    if source.is_relative_to(output):
        raise UsageError(
            f"the source recording {source} is inside the output folder {output}",
            "keep recordings and conversions apart: choose another --output",
        )
    for probe in (output, *output.parents):
        if is_conversion(probe):
            raise UsageError(
                f"the output folder {output} is inside the conversion dataset {probe}",
                "choose an output folder outside every conversion (not in its inputs/)",
            )


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _disk_full_error(folder: Path, stage: str, needed: int, resumable: Path | None) -> DiskFull:
    free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    need = f"about {binary_size(needed)} needed, " if needed else ""
    then = f", then `anc resume {resumable}`" if resumable else ", then run the conversion again"
    return DiskFull(
        f"no space left on the device holding {folder} during {stage} ({need}"
        f"{binary_size(free)} free)",
        f"free space there or choose an --output on another disk{then}",
    )


def _unmake(pipeline: ConversionPipeline, output: Path, made_output: bool, existed: bool) -> None:
    """Remove a conversion refused after its dataset was made (see ``convert``), and the
    output folder when this command made it and nothing else is in it (an empty conversion
    folder that was there before is kept, emptied)."""
    if pipeline.monitor is not None and pipeline.monitor.running:
        pipeline.monitor.stop("refused")
    pipeline.tracker.close()
    remove_unfinished(pipeline.path, existed)
    if made_output and output.is_dir() and not any(output.iterdir()):
        output.rmdir()


def remove_unfinished(target: Path, existed: bool) -> None:
    """Remove a conversion folder whose creation was cut short (an empty folder that was
    there before is kept, emptied)."""
    from ..datalad_layer.dataset import remove_tree

    if not target.exists():
        return
    if not existed:
        remove_tree(target)
        return
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)
        else:
            child.unlink()


def convert(
    source: str | Path,
    output_dir: str | Path,
    *,
    format: str | None = None,
    choose: Mapping[str, str] | None = None,
    metadata_file: str | Path | None = None,
    conversion_id: str | None = None,
    input_mode: str = "auto",
    progress: Progress | None = None,
    monitor: bool = True,
    on_warning: Callable[[str], None] | None = None,
    from_path: Sequence[FieldDecision] = (),
    standalone: bool = False,
) -> ConversionResult:
    """Convert SOURCE into a new tracked conversion under OUTPUT_DIR (the `anc convert` job).

    MONITOR samples resources and times every step into reports/metrics.jsonl. The metadata
    is checked with the conversion's rules before anything is created; ON_WARNING gets each
    best-practice warning of that check once. FROM_PATH: fields the folder path names
    (``metadata.path_decisions``); STANDALONE: a batch collector registers the conversion."""
    if conversion_id is not None:
        check_name(conversion_id, "conversion id")  # "" or " " too: refused, never replaced
    user = None
    if metadata_file is not None:
        from .metadata import load_user_metadata

        user = load_user_metadata(metadata_file)  # an unreadable file: refused at once
    # Unrecognisable, ambiguous or corrupt recordings are refused before anything is created.
    wanted = formats.wishes(choose)
    detection = formats.detect_format(source, format, choose=wanted)
    check_locations(Path(source).absolute(), Path(output_dir).absolute())
    worker = HeavyWorker.take()  # forked before DataLad loads: it imports meanwhile
    spare = interrupts.current_children() - worker.pids
    with worker:
        from . import metadata as md  # (pydantic) while the helper imports NeuroConv

        folder = Path(source).absolute()
        name = conversion_id or folder.name
        provisional = md.ConversionContext(
            conversion_id=name,
            dataset_id="(not created yet)",
            created=dt.datetime.now(dt.UTC),
            output=f"outputs/{name}.nwb",
            script=SCRIPT,
        )
        job = worker.submit(
            workers.extract_and_check,
            folder,
            detection.format,
            wanted,
            provisional,
            user,
            metadata_file,
            from_path,
        )
        output = Path(output_dir).absolute()
        made_output = not output.exists()
        existed = conversion_id is not None and conversion_folder(output, conversion_id).exists()
        # The dataset is made while the check runs (it costs as long as the check); a refusal
        # or Ctrl-C then removes it before the command ends, and only a kept conversion is
        # registered in a superdataset or announced.
        pipeline = ConversionPipeline.start(
            source,
            output_dir,
            conversion_id=conversion_id,
            input_mode=input_mode,
            worker=worker,
            monitor=monitor,
            checkpoint=False,  # run() commits at the script, the run and finalize
            request={
                "format": format,
                "choose": wanted,
                "metadata_file": str(Path(metadata_file).absolute()) if metadata_file else None,
            },
            spare_children=spare,
            register=False,
            standalone=standalone,
        )
        environment.capture()  # read once per process: the script stage's lock, while it waits
        try:
            checked = job.result()  # bad metadata: refused, and nothing is left
        except BaseException as exc:
            with interrupts.shielded():
                _unmake(pipeline, output, made_output, existed)
            if isinstance(exc, KeyboardInterrupt):
                interrupts.end_children(spare)
                raise Interrupted(
                    "interrupted while checking the metadata; nothing was created"
                ) from None
            raise
        pipeline.tracker.register_in_superdataset()
        if progress is not None:
            pipeline.progress = progress
            pipeline.announce_start()
        if on_warning is not None:
            for warning in checked.check.warnings:
                on_warning(warning)
        pipeline.prechecked = checked
        try:
            return pipeline.run(format=format, choose=wanted, metadata_file=metadata_file)
        finally:
            pipeline.tracker.close()
