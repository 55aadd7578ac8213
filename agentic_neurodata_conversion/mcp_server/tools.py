"""The conversion tools: one method per MCP tool, each a step of the pipeline.

Blocking work (DataLad, NeuroConv) runs in worker threads under the conversion's lock, so the
server keeps answering while a conversion runs; long stages report progress.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..conversion import formats, stages
from ..errors import AncError
from ..journal.records import ConfidenceLevel, ProvenanceSource
from .paths import Roots
from .provenance_integration import ConversionBusy, MCPProvenanceManager, client_identity
from .redact import redact
from .schemas import (
    ArtifactOut,
    ArtifactType,
    CheckpointOut,
    Confidence,
    ConversionId,
    ConversionList,
    Converted,
    Detected,
    FieldName,
    FieldReport,
    FieldValue,
    Finalized,
    InputMode,
    InterfaceList,
    InterfaceOut,
    Metadata,
    Outcome,
    QueryOut,
    Recorded,
    Revised,
    SessionConverted,
    SpecConverted,
    Started,
    StateOut,
    Status,
    Texts,
    Validated,
    Value,
)

if TYPE_CHECKING:
    from ..conversion.pipeline import ConversionPipeline, Progress
    from ..monitoring.resources import ResourceManager
    from ..monitoring.settings import Settings

log = logging.getLogger("anc.mcp")
T = TypeVar("T")

STAND_IN_LEVELS = frozenset({ConfidenceLevel.PLACEHOLDER, ConfidenceLevel.UNKNOWN})
# The tool that runs each stage: the MCP server's names for the pipeline's stages.
STAGE_TOOLS = {
    "start": "start_conversion",
    "detect": "detect_format",
    "metadata": "extract_metadata",
    "script": "run_conversion",
    "convert": "run_conversion",
    "validate": "validate_conversion",
    "finalize": "finalize_conversion",
}


def next_tool(state: dict[str, Any]) -> str:
    return STAGE_TOOLS[stages.next_stage(state)]


def client_session(context: Context | None) -> Any:
    """The MCP session of the request CONTEXT belongs to (None outside a request)."""
    try:
        return context.request_context.session if context is not None else None
    except ValueError:  # a Context made outside a request
        return None


def _reporter(ctx: Context, conversion_id: str, total: int) -> Progress:
    """A pipeline progress callback (called in a worker thread) sending MCP progress."""
    count = itertools.count(1)

    def report(stage: str, message: str) -> None:
        log.info("%s %s: %s", conversion_id, stage, message)
        try:
            anyio.from_thread.run(ctx.report_progress, next(count), total, f"{stage}: {message}")
        except Exception as exc:  # the client left: the work goes on
            log.debug("progress not sent: %s", exc)

    return report


def _writable(pipeline: ConversionPipeline) -> None:
    session = pipeline.tracker.session
    if session.is_finalized:
        raise ToolError(
            f"conversion {pipeline.tracker.conversion_id} is finalized ({session.status}); "
            "nothing more can be recorded or run in it. Start a new conversion with "
            "start_conversion; get_field_report and the resources still read it"
        )


def _need(pipeline: ConversionPipeline, stage: str, otherwise: str = "") -> None:
    """The stage rules, as a tool error naming the tool to call first."""
    try:
        stages.require(pipeline.state, stage, pipeline.tracker.conversion_id)
    except stages.StageOrderError as exc:
        raise ToolError(
            f"conversion {pipeline.tracker.conversion_id} is at stage {exc.current!r}: "
            f"call {STAGE_TOOLS[exc.needed]} first{otherwise}"
        ) from None


def _field_values(report: dict[str, Any]) -> list[FieldValue]:
    return [
        FieldValue(
            field=name,
            value=entry["final_value"],
            source=entry["source"],
            confidence=entry["confidence"],
            confidence_level=entry["confidence_level"],
            method=entry["method"],
            needs_review=entry["needs_review"],
            review_reasons=entry["review_reasons"],
            reasoning=entry["reasoning"],
            evidence=entry["evidence"],
            conflicts=len(entry["conflicts"]),
        )
        for name, entry in report["fields"].items()
    ]


def field_report_of(pipeline: ConversionPipeline) -> dict[str, Any]:
    """The per-field provenance report, built from the journal."""
    from ..provenance.field_report import build_field_report

    return build_field_report(pipeline.tracker.iter_records())


def _recorded(conversion_id: str, record: Any) -> Recorded:
    return Recorded(
        conversion_id=conversion_id,
        seq=record.seq,
        operation=record.operation,
        field=record.field,
        confidence_level=record.confidence_level.value,
        needs_review=record.needs_review,
    )


class ConversionTools:
    """The tools; each method becomes one MCP tool with its docstring as description."""

    NAMES = (
        "start_conversion",
        "detect_format",
        "extract_metadata",
        "record_decision",
        "record_user_input",
        "record_enrichment",
        "update_pipeline_state",
        "run_conversion",
        "validate_conversion",
        "save_artifact",
        "checkpoint",
        "finalize_conversion",
        "revise_conversion",
        "get_field_report",
        "get_status",
        "list_conversions",
        "list_interfaces",
        "convert_from_spec",
        "query_index",
    )

    def __init__(
        self, manager: MCPProvenanceManager, roots: Roots, settings: Settings | None = None
    ) -> None:
        self.manager = manager
        self.roots = roots
        self.settings = settings
        self._resources: ResourceManager | None = None
        self._resources_lock = threading.Lock()

    @property
    def resources(self) -> ResourceManager:
        """Admission of conversion runs and the cache of readings of recordings, by the
        settings' [resources] and [cache]; made on first use (it loads psutil)."""
        with self._resources_lock:
            if self._resources is None:
                from ..monitoring.resources import ResourceManager
                from ..monitoring.settings import Settings

                self.settings = self.settings or Settings()
                self._resources = ResourceManager.from_settings(self.settings)
            return self._resources

    async def _run(
        self,
        conversion_id: str,
        work: Callable[[ConversionPipeline], T],
        *,
        slow: bool = False,
        progress: Progress | None = None,
    ) -> T:
        """WORK on the conversion under its lock: inline if quick and free, else in a thread.

        Opening a conversion from disk may mean a crash-recovery commit: done in a thread.
        """
        try:
            if not slow and self.manager.is_open(conversion_id):
                try:
                    with self.manager.using(conversion_id, blocking=False) as pipeline:
                        return work(pipeline)
                except ConversionBusy:
                    pass

            def job() -> T:
                with self.manager.using(conversion_id, progress=progress) as pipeline:
                    return work(pipeline)

            return await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ToolError(str(exc)) from exc

    # ------------------------------------------------------------------ stages

    async def start_conversion(
        self,
        ctx: Context,
        source: Annotated[
            str,
            Field(
                description="Folder of the raw recording, inside a root (relative paths start at the first root)."
            ),
        ],
        conversion_id: Annotated[
            str | None, Field(description="Id to use (default: from the folder name).")
        ] = None,
        input_mode: Annotated[
            InputMode,
            Field(
                description="How the recording enters the dataset: subdataset, reference or copy (auto picks)."
            ),
        ] = "auto",
    ) -> Started:
        """Start a tracked conversion of a recording folder: a new DataLad dataset with the recording brought in."""
        folder = self.roots.resolve(source)
        self.roots.check_tree(source, folder)
        agent, _ = client_identity(client_session(ctx))

        def job() -> str:
            return self.manager.start_conversion_tracking(
                folder,
                conversion_id=conversion_id,
                input_mode=input_mode,
                agent=agent,
                progress=_reporter(ctx, conversion_id or folder.name, 1),
            )

        try:
            cid = await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ToolError(str(exc)) from exc
        path, mode = await self._run(
            cid, lambda p: (str(p.path), p.state.get("input", {}).get("mode", input_mode))
        )
        return Started(conversion_id=cid, path=path, source=str(folder), input_mode=mode)

    async def detect_format(
        self,
        conversion_id: ConversionId,
        format: Annotated[
            str | None,
            Field(description="Take this format instead of detecting it (e.g. 'spikeglx')."),
        ] = None,
        stream: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Convert this stream (e.g. 'imec0.lf'; SpikeGLX default: the first AP stream).",
            ),
        ] = None,
        record_node: Annotated[
            str | None,
            Field(max_length=128, description="Convert this record node (Open Ephys)."),
        ] = None,
        block: Annotated[
            str | None,
            Field(
                max_length=128,
                description="Convert this block: an experiment (Open Ephys), a gate (SpikeGLX g0).",
            ),
        ] = None,
        all_streams: Annotated[
            bool,
            Field(description="Every stream into one NWB (SpikeGLX AP+LF+NIDQ, Open Ephys)."),
        ] = False,
    ) -> Detected:
        """Detect the recording's format from its files (or take the one given), list its record nodes, blocks and streams, and record how. The result names what will be converted; when a choice is needed the error lists the options."""

        def work(p: ConversionPipeline) -> Detected:
            _writable(p)
            which = formats.stream_wish(stream, all_streams, ("stream", "all_streams"))
            wanted = {"stream": which, "record_node": record_node, "block": block}
            d = p.detect(format, wanted, cache=self.resources.cache)
            return Detected(
                conversion_id=conversion_id,
                format=d.format,
                confidence=d.confidence,
                method=d.method,
                matched_files=list(d.matched_files),
                alternatives=[{"format": n, "confidence": c} for n, c in d.alternatives],
                reasoning=list(d.reasoning),
                streams=list(d.streams),
                converted_stream=d.stream,
                choices=d.to_dict()["choices"],
                cached=p.reused,
            )

        return await self._run(conversion_id, work, slow=True)

    async def extract_metadata(
        self,
        ctx: Context,
        conversion_id: ConversionId,
        metadata_file: Annotated[
            str | None,
            Field(description="YAML or JSON file of user metadata, inside a root."),
        ] = None,
        refresh: Annotated[
            bool,
            Field(
                description="Read the files again even if done (replaces later decisions on the same fields)."
            ),
        ] = False,
    ) -> Metadata:
        """Read the metadata from the recording's files (and a user file) and return every NWB field with its source, confidence and whether it needs review. Without refresh, a second call returns the current fields."""
        user_file = self.roots.resolve(metadata_file) if metadata_file else None

        def work(p: ConversionPipeline) -> Metadata:
            _writable(p)
            _need(p, "metadata")
            cached = False
            if "fields" not in p.state or refresh or user_file is not None:
                p.assemble_metadata(user_file, cache=self.resources.cache)
                cached = p.reused
            report = field_report_of(p)
            return Metadata(
                conversion_id=conversion_id,
                fields=_field_values(report),
                needs_review=report["summary"]["needs_review"],
                cached=cached,
            )

        return await self._run(
            conversion_id, work, slow=True, progress=_reporter(ctx, conversion_id, 1)
        )

    async def run_conversion(self, ctx: Context, conversion_id: ConversionId) -> Converted:
        """Write the conversion script from the recorded field decisions and run it with `datalad run` (the NWB file lands in outputs/)."""

        def work(p: ConversionPipeline) -> Converted:
            _writable(p)
            _need(p, "script")
            script = p.write_script()
            resources = self.resources
            assert self.settings is not None  # resolved by self.resources
            policy = self.settings.resources
            with resources.acquire(
                f"run_conversion {conversion_id}",
                policy.conversion_memory_gb,
                timeout_s=policy.wait_s,
                waiting=lambda why: p.progress("convert", f"waiting to start: {why}"),
            ):
                run = p.convert()
            return Converted(
                conversion_id=conversion_id,
                nwb=str(p.path / p.state["nwb"]),
                script=str(script.relative_to(p.path)),
                commit=run.commit,
                seconds=round(run.seconds, 3),
            )

        return await self._run(
            conversion_id, work, slow=True, progress=_reporter(ctx, conversion_id, 2)
        )

    async def validate_conversion(self, ctx: Context, conversion_id: ConversionId) -> Validated:
        """Validate the NWB file (nwbinspector with the DANDI configuration, schema) and compare it with the source recording."""

        def work(p: ConversionPipeline) -> Validated:
            _writable(p)
            _need(p, "validate")
            validation, evaluation = p.validate()
            reports = sorted(
                f.relative_to(p.path).as_posix()
                for f in (p.path / "reports").iterdir()
                if not f.name.startswith(".")
            )
            return Validated(
                conversion_id=conversion_id,
                validation_passes=validation.passes,
                evaluation_passes=evaluation.passes,
                counts=validation.to_dict().get("counts") or {},
                reports=reports,
            )

        return await self._run(
            conversion_id, work, slow=True, progress=_reporter(ctx, conversion_id, 2)
        )

    async def finalize_conversion(
        self,
        ctx: Context,
        conversion_id: ConversionId,
        outcome: Annotated[
            Outcome,
            Field(
                description="auto: completed if validation passed, else failed. failed/cancelled: end it now."
            ),
        ] = "auto",
        reason: Annotated[
            str | None, Field(max_length=2000, description="Why, for failed or cancelled.")
        ] = None,
    ) -> Finalized:
        """Finalize the conversion: session record, summary, commit, and the tag conversion-<id> when completed. Nothing can be recorded in it afterwards."""

        def check(p: ConversionPipeline) -> None:
            _writable(p)
            if outcome == "auto":
                _need(
                    p,
                    "finalize",
                    " (or finalize with outcome 'failed' or 'cancelled' and a reason)",
                )

        await self._run(conversion_id, check)
        agent, _ = client_identity(client_session(ctx))
        why = reason or (None if outcome == "auto" else f"{outcome} by {agent or 'the agent'}")

        def job() -> Finalized:
            status = None if outcome == "auto" else outcome
            result = self.manager.finalize_conversion(conversion_id, status, reason=why)
            data = result.to_dict()
            data["path"] = str(result.path)
            return Finalized(**data)

        try:
            return await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ToolError(str(exc)) from exc

    async def revise_conversion(
        self,
        ctx: Context,
        conversion_id: ConversionId,
        values: Annotated[
            dict[str, Value],
            Field(
                min_length=1,
                description="Corrected values by dotted field, e.g. {'Subject.species': 'Mus musculus', 'Subject.age': 'P90D'}.",
            ),
        ],
        reason: Annotated[
            str | None, Field(max_length=2000, description="Why: recorded with each value.")
        ] = None,
    ) -> Revised:
        """Revise a completed or failed conversion with values a person gave (e.g. for the fields get_field_report flags for review): recorded as user_provided (human_override, with the previous value), the NWB file re-made under datalad run, validated again, and tagged conversion-<id>-v<N>. Each call is its own journalled iteration."""
        from ..conversion.revise import revise_pipeline

        agent, _ = client_identity(client_session(ctx))
        sets = [
            f"{name}={value if isinstance(value, str) else json.dumps(value)}"
            for name, value in values.items()
        ]

        def work(p: ConversionPipeline) -> Revised:
            result = revise_pipeline(p, sets, reason=reason, agent=agent or "agent")
            conv = result.conversion
            return Revised(
                conversion_id=conv.conversion_id,
                revision=result.revision,
                status=conv.status,
                tag=conv.tag,
                path=str(conv.path),
                nwb_remade=result.nwb_remade,
                changes=[c.to_dict() for c in result.changes],
                validation=conv.validation,
                reason=conv.reason,
            )

        return await self._run(conversion_id, work, slow=True)

    # ------------------------------------------------------------------ records

    async def record_decision(
        self,
        ctx: Context,
        conversion_id: ConversionId,
        field: FieldName,
        value: Annotated[Value, Field(description="The value chosen for the field.")],
        confidence: Confidence,
        confidence_level: Annotated[
            ConfidenceLevel | None,
            Field(description="How the value is justified (default: from source and confidence)."),
        ] = None,
        source: Annotated[
            ProvenanceSource, Field(description="Where the value came from.")
        ] = ProvenanceSource.AI_GENERATED,
        reasoning: Annotated[
            Texts | None, Field(description="Why this value, step by step.")
        ] = None,
        evidence: Annotated[
            Texts | None, Field(description="What supports it: files, fields, documents.")
        ] = None,
        method: Annotated[str | None, Field(max_length=200)] = None,
    ) -> Recorded:
        """Record an agent's decision for one NWB metadata field: value, source, confidence and level, reasoning, evidence. The latest decision on a field is the one the conversion uses."""
        agent, _ = client_identity(client_session(ctx))

        def work(p: ConversionPipeline) -> Recorded:
            _writable(p)
            record = p.tracker.record_field(
                field,
                value,
                source,
                agent=agent,
                confidence=confidence,
                confidence_level=confidence_level,
                method=method or "agent_decision",
                reasoning=reasoning,
                evidence=evidence,
            )
            return _recorded(conversion_id, record)

        return await self._run(conversion_id, work)

    async def record_user_input(
        self,
        conversion_id: ConversionId,
        field: FieldName,
        value: Annotated[Value, Field(description="The value the person gave.")],
        context: Annotated[
            dict[str, Value] | None,
            Field(description="Where it was given, e.g. the question asked."),
        ] = None,
    ) -> Recorded:
        """Record a value a person gave for a field (human_confirmed; human_override with a conflict when it replaces a different value)."""
        from ..provenance.integration import ProvenanceIntegration

        def work(p: ConversionPipeline) -> Recorded:
            _writable(p)
            # Replacing a value that has evidence (not a placeholder) is an override.
            current: dict[str, Any] = {}
            for record in p.tracker.iter_records():
                if record.field == field:
                    current = (
                        {}
                        if record.confidence_level in STAND_IN_LEVELS
                        else {"override_of": record.value}
                    )
            integration = ProvenanceIntegration(p.tracker)
            record = integration.record_user_input(field, value, redact(context), **current)
            return _recorded(conversion_id, record)

        return await self._run(conversion_id, work)

    async def record_enrichment(
        self,
        conversion_id: ConversionId,
        source_system: Annotated[
            str, Field(min_length=1, max_length=200, description="e.g. 'DANDI', 'NCBI Taxonomy'.")
        ],
        field: FieldName,
        original_value: Value,
        enriched_value: Value,
        confidence: Confidence,
        evidence: Annotated[Texts | None, Field(description="Identifiers, URLs, records.")] = None,
    ) -> Recorded:
        """Record a value enriched from an external source (a database, an ontology) for a field."""
        from ..provenance.integration import ProvenanceIntegration

        def work(p: ConversionPipeline) -> Recorded:
            _writable(p)
            record = ProvenanceIntegration(p.tracker).record_external_enrichment(
                source_system, field, original_value, enriched_value, confidence, evidence=evidence
            )
            return _recorded(conversion_id, record)

        return await self._run(conversion_id, work)

    async def update_pipeline_state(
        self,
        conversion_id: ConversionId,
        updates: Annotated[
            dict[str, Value],
            Field(
                description="Keys to set in the pipeline state (the agent's own progress notes)."
            ),
        ],
    ) -> StateOut:
        """Merge the agent's keys into the conversion's pipeline state; the change is recorded (values under secret-looking keys are redacted)."""
        reserved = sorted(stages.PIPELINE_KEYS.intersection(updates))
        if reserved:
            raise ToolError(
                f"state keys {', '.join(reserved)} belong to the pipeline; "
                "use other key names (the pipeline stages set these themselves)"
            )

        def work(p: ConversionPipeline) -> StateOut:
            _writable(p)
            state = p.tracker.update_pipeline_state(redact(updates))
            return StateOut(conversion_id=conversion_id, state=state)

        return await self._run(conversion_id, work)

    async def save_artifact(
        self,
        conversion_id: ConversionId,
        path: Annotated[str, Field(description="File or folder inside a root.")],
        artifact_type: ArtifactType,
        description: Annotated[str, Field(max_length=2000)] = "",
        name: Annotated[str | None, Field(description="Name in the dataset.")] = None,
        replace: Annotated[
            bool, Field(description="Add a new version of an existing artifact.")
        ] = False,
    ) -> ArtifactOut:
        """Copy a file or folder into the conversion dataset where its type says, record and commit it."""
        source = self.roots.resolve(path)
        self.roots.check_tree(path, source)

        def work(p: ConversionPipeline) -> ArtifactOut:
            _writable(p)
            target = p.tracker.save_conversion_artifact(
                source, artifact_type, description, name=name, replace=replace
            )
            return ArtifactOut(
                conversion_id=conversion_id,
                path=target.relative_to(p.path).as_posix(),
                artifact_type=artifact_type,
            )

        return await self._run(conversion_id, work, slow=True)

    async def checkpoint(
        self,
        conversion_id: ConversionId,
        message: Annotated[str, Field(min_length=1, max_length=500)],
    ) -> CheckpointOut:
        """Commit everything recorded so far as one iteration of the conversion dataset."""

        def work(p: ConversionPipeline) -> CheckpointOut:
            _writable(p)
            commit = p.tracker.checkpoint(message)
            return CheckpointOut(
                conversion_id=conversion_id,
                commit=commit,
                iteration=p.tracker.session.iteration,
            )

        return await self._run(conversion_id, work, slow=True)

    # ------------------------------------------------------------------ reading

    async def get_field_report(
        self,
        conversion_id: ConversionId,
        field: Annotated[str | None, Field(description="Only this field.")] = None,
    ) -> FieldReport:
        """The per-field provenance report: each field's final value, source, confidence, whether it needs review, conflicts and full history."""

        def work(p: ConversionPipeline) -> FieldReport:
            report = field_report_of(p)
            fields = report["fields"]
            if field is not None:
                if field not in fields:
                    known = ", ".join(sorted(fields)[:20])
                    raise ToolError(
                        f"conversion {conversion_id} has no field {field!r}; fields: {known}"
                    )
                fields = {field: fields[field]}
            return FieldReport(
                conversion_id=conversion_id, summary=report["summary"], fields=fields
            )

        return await self._run(conversion_id, work, slow=True)

    async def get_status(self, conversion_id: ConversionId) -> Status:
        """A conversion's status, stage, format, fields needing review, and the next tool to call."""

        def work(p: ConversionPipeline) -> Status:
            session, state = p.tracker.session, p.state
            stage = state.get("stage")
            return Status(
                conversion_id=conversion_id,
                status=session.status,
                stage=stage,
                format=state.get("format"),
                path=str(p.path),
                needs_review=state.get("needs_review", []),
                next_tool=None if session.is_finalized else next_tool(p.state),
                error=session.error,
            )

        return await self._run(conversion_id, work)

    async def list_conversions(self) -> ConversionList:
        """Every conversion under the output folder and the roots, with its status."""
        try:
            infos = await anyio.to_thread.run_sync(self.manager.list_conversions)
        except AncError as exc:
            raise ToolError(str(exc)) from exc
        return ConversionList(conversions=infos)

    async def list_interfaces(
        self,
        modality: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Only this modality: ecephys, icephys, ophys, fiber_photometry, "
                "behavior, events, text or image.",
            ),
        ] = None,
        installed_only: Annotated[
            bool, Field(description="Only the interfaces whose extra is installed.")
        ] = False,
    ) -> InterfaceList:
        """Every NeuroConv data interface: its modality, file suffixes, the neuroconv[extra] it needs, whether that is installed here (else what is missing and the pip line)."""
        from ..conversion.interfaces import list_interfaces

        def job() -> tuple[list[Any], list[Any]]:
            return list_interfaces(modality, installed_only=installed_only), list_interfaces()

        try:
            chosen, every = await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ToolError(str(exc)) from exc
        return InterfaceList(
            interfaces=[InterfaceOut(**i.to_dict()) for i in chosen],
            installed=sum(i.installed for i in every),
            total=len(every),
        )

    async def convert_from_spec(
        self,
        ctx: Context,
        spec: Annotated[
            str,
            Field(description="A NeuroConv YAML conversion specification, inside a root."),
        ],
        session: Annotated[
            str | None,
            Field(max_length=128, description="Only this session (default: every session)."),
        ] = None,
        data_folder: Annotated[
            str | None,
            Field(description="Where the spec's relative paths start (default: its folder)."),
        ] = None,
    ) -> SpecConverted:
        """Run each session of a NeuroConv YAML specification as its own tracked conversion (the spec copied into scripts/, values it sets recorded as user_provided with their key path, the interfaces' values as auto_extracted, conflicts resolved for the spec); every session is checked before the first dataset is created."""
        from ..conversion.converter import convert_spec
        from ..conversion.converter.spec import load_spec, plan_session, select

        path = self.roots.resolve(spec)
        folder = self.roots.resolve(data_folder) if data_folder else None
        agent, _ = client_identity(client_session(ctx))

        def job() -> list[Any]:
            loaded = load_spec(path, folder)
            for one in select(loaded, session):  # every source must lie inside the roots
                for source in plan_session(loaded, one).inputs():
                    self.roots.resolve(str(source))
            return convert_spec(
                path,
                self.manager.output_dir,
                session=session,
                data_folder=folder,
                progress=_reporter(ctx, path.name, 5),
                requested_by=agent,
            )

        try:
            results = await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ToolError(str(exc)) from exc
        out = [
            SessionConverted(
                conversion_id=r.conversion_id,
                path=str(r.path),
                status=r.status,
                tag=r.tag,
                nwb=str(r.nwb) if r.nwb else None,
                reason=r.reason,
            )
            for r in results
        ]
        done = sum(r.status == "completed" for r in results)
        return SpecConverted(
            spec=str(path), conversions=out, completed=done, failed=len(out) - done
        )

    async def query_index(
        self,
        lab: Annotated[
            str,
            Field(description="The lab folder (or superdataset) of conversions, inside a root."),
        ],
        field: Annotated[
            str | None, Field(max_length=256, description="A field, e.g. 'Subject.species'.")
        ] = None,
        level: Annotated[
            str | None,
            Field(max_length=64, description="Its confidence level, e.g. 'placeholder'."),
        ] = None,
        needs_review: Annotated[bool, Field(description="Only fields flagged for review.")] = False,
        source: Annotated[
            str | None, Field(max_length=64, description="Its source, e.g. 'ai_generated'.")
        ] = None,
        max_confidence: Annotated[
            float | None, Field(ge=0.0, le=1.0, description="Confidence at most this.")
        ] = None,
        tool: Annotated[
            str | None, Field(max_length=128, description="Calls of this MCP tool.")
        ] = None,
        status: Annotated[
            str | None,
            Field(
                max_length=64, description="With tool: the call's status; else the conversion's."
            ),
        ] = None,
        derived_from: Annotated[
            str | None,
            Field(description="Outputs made from this input file or folder (inside a root)."),
        ] = None,
        tool_version: Annotated[
            str | None,
            Field(max_length=256, description="A version constraint, e.g. 'neuroconv<0.10.2'."),
        ] = None,
        inconsistent: Annotated[
            str | None,
            Field(
                max_length=64,
                description="A section ('Subject'): subjects whose sessions disagree.",
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=10_000, description="At most this many rows.")] = 100,
    ) -> QueryOut:
        """Ask across every conversion of a lab, from its provenance index (`anc index rebuild LAB` builds it): fields with placeholders or low confidence, failed tool calls, the outputs made from an input, conversions made by a tool version, subjects whose sessions disagree. Filters combine; rows from a journal whose hash chain is broken are marked untrusted."""
        from .. import index

        folder = self.roots.resolve(lab)
        derived = str(self.roots.resolve(derived_from)) if derived_from else None
        q = index.Query(
            field=field,
            level=level,
            needs_review=needs_review,
            source=source,
            max_confidence=max_confidence,
            tool=tool,
            status=status,
            derived_from=derived,
            tool_version=tool_version,
            inconsistent=inconsistent,
            limit=limit,
        )
        try:
            result = await anyio.to_thread.run_sync(index.query, folder, q)
        except AncError as exc:
            raise ToolError(str(exc)) from exc
        return QueryOut(**result.to_dict())
