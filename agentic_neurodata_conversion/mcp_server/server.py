"""The MCP server: conversion tools, conversion resources, and a record of every tool call.

``build_server`` returns an ``MCPServer`` whose ``call_tool`` records each call (tool,
redacted arguments, result or error, duration, the client's name) in the conversion it
concerns, after argument validation too, so refused, failed and retried calls are all on the
record. Calls that name no conversion, and calls on a finalized one, go to the audit log on
stderr. ``finalize_conversion`` is recorded when it starts: once finalized, a conversion
takes no more records.

Blocking work (DataLad, NeuroConv) runs in worker threads, so the server keeps answering
while a conversion runs; long stages report progress. Heavy modules are imported on first
use, never at start.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from .. import __version__
from ..errors import AncError, UsageError
from ..provenance.catalog import ConversionInfo
from ..provenance.records import ConfidenceLevel, ProvenanceSource
from .paths import PathRefused, Roots
from .provenance_integration import ConversionBusy, MCPProvenanceManager, client_identity
from .redact import redact

if TYPE_CHECKING:
    from mcp_types import CallToolResult

    from ..conversion.pipeline import ConversionPipeline, Progress

log = logging.getLogger("anc.mcp")
T = TypeVar("T")

NAME = "agentic-neurodata-conversion"
TOKEN_ENV = "ANC_MCP_TOKEN"
RECORD_ENV = "ANC_MCP_RECORD"  # "0" switches the call record off: for bench/ only
MIN_TOKEN_LENGTH = 16
# Tools after which the conversion takes no more records: their call is recorded at start.
TERMINAL_TOOLS = frozenset({"finalize_conversion"})
# Tools whose conversion_id argument names a conversion still to be made.
CREATING_TOOLS = frozenset({"start_conversion"})
CANCELLED_AFTER_WORK = (
    "the client cancelled the request while it ran; the work completed (result recorded here) "
    "but the answer was not sent"
)
STAND_IN_LEVELS = frozenset({ConfidenceLevel.PLACEHOLDER, ConfidenceLevel.UNKNOWN})
# Pipeline state keys the pipeline itself owns; agents may add others.
RESERVED_STATE = frozenset(
    {
        "stage",
        "input",
        "agent",
        "format",
        "fields",
        "needs_review",
        "script",
        "nwb",
        "run_commit",
        "validation_passes",
        "evaluation_passes",
        "validation_counts",
    }
)
NEXT_TOOL = {
    "start": "detect_format",
    "detect": "extract_metadata",
    "metadata": "run_conversion",
    "script": "run_conversion",
    "convert": "validate_conversion",
    "validate": "finalize_conversion",
}
INSTRUCTIONS = """\
Converts raw electrophysiology recordings (SpikeGLX, Open Ephys) to NWB, each conversion a
DataLad dataset with field-level provenance. Order: start_conversion(source) -> detect_format
-> extract_metadata -> record_decision / record_user_input / record_enrichment for the fields
that need review -> run_conversion -> validate_conversion -> finalize_conversion. Every tool
call is recorded in the conversion's journal. Paths must lie inside the server's roots.
get_status tells the next tool for a conversion; list_conversions lists them all."""

ConversionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="Id returned by start_conversion (see list_conversions).",
    ),
]
FieldName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="Dotted NWB metadata field, e.g. 'Subject.species' or 'NWBFile.session_description'.",
    ),
]
Confidence = Annotated[float, Field(ge=0.0, le=1.0, description="How sure, from 0 to 1.")]
# Any JSON value, spelled out: pydantic's JsonValue has an empty schema that validators flag.
Value = TypeAliasType("Value", "str | int | float | bool | list[Value] | dict[str, Value] | None")
Texts = Annotated[list[str], Field(max_length=100)]
InputMode = Literal["auto", "subdataset", "reference", "copy"]
ArtifactType = Literal[
    "nwb_file",
    "knowledge_graph",
    "conversion_script",
    "validation_report",
    "evaluation_report",
    "input_data",
]
Outcome = Literal["auto", "failed", "cancelled"]


# ---------------------------------------------------------------------- outputs


class Started(BaseModel):
    conversion_id: str
    path: str
    source: str
    input_mode: str
    next_tool: str = "detect_format"


class Detected(BaseModel):
    conversion_id: str
    format: str
    confidence: float
    method: str
    matched_files: list[str]
    alternatives: list[dict[str, Any]]
    reasoning: list[str]
    next_tool: str = "extract_metadata"


class FieldValue(BaseModel):
    field: str
    value: Value
    source: str
    confidence: float | None
    confidence_level: str
    method: str | None
    needs_review: bool
    review_reasons: list[str]
    reasoning: list[str]
    evidence: Value
    conflicts: int


class Metadata(BaseModel):
    conversion_id: str
    fields: list[FieldValue]
    needs_review: list[str]
    next_tool: str = "run_conversion"


class Recorded(BaseModel):
    conversion_id: str
    seq: int
    operation: str
    field: str | None
    confidence_level: str
    needs_review: bool


class StateOut(BaseModel):
    conversion_id: str
    state: dict[str, Value]


class Converted(BaseModel):
    conversion_id: str
    nwb: str
    script: str
    commit: str
    seconds: float
    next_tool: str = "validate_conversion"


class Validated(BaseModel):
    conversion_id: str
    validation_passes: bool
    evaluation_passes: bool
    counts: dict[str, int]
    reports: list[str]
    next_tool: str = "finalize_conversion"


class ArtifactOut(BaseModel):
    conversion_id: str
    path: str
    artifact_type: str


class CheckpointOut(BaseModel):
    conversion_id: str
    commit: str | None
    iteration: int


class Finalized(BaseModel):
    conversion_id: str
    status: str
    tag: str | None
    path: str
    nwb: str | None
    validation: dict[str, int] | None
    evaluation_passed: bool | None
    reason: str | None


class FieldReport(BaseModel):
    conversion_id: str
    summary: dict[str, Value]
    fields: dict[str, Value]


class Status(BaseModel):
    conversion_id: str
    status: str
    stage: str | None
    format: str | None
    path: str
    needs_review: list[str]
    next_tool: str | None
    error: str | None


class ConversionList(BaseModel):
    conversions: list[ConversionInfo]


# ---------------------------------------------------------------------- helpers


def _session(context: Context | None) -> Any:
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


def _need(pipeline: ConversionPipeline, key: str, tool: str, otherwise: str = "") -> None:
    if key not in pipeline.state:
        stage = pipeline.state.get("stage", "start")
        raise ToolError(
            f"conversion {pipeline.tracker.conversion_id} is at stage {stage!r}: "
            f"call {tool} first{otherwise}"
        )


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


def _field_report(pipeline: ConversionPipeline) -> dict[str, Any]:
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


# ---------------------------------------------------------------------- the server


class RecordingServer(MCPServer):
    """An MCPServer that records every tool call in the conversion it concerns."""

    def __init__(self, manager: MCPProvenanceManager, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manager = manager

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> Any:
        if not self.manager.record_calls:
            return await super().call_tool(name, arguments, context)
        agent, client = client_identity(_session(context))
        cid = arguments.get("conversion_id")
        # A tool that creates a conversion does not concern one by that id yet.
        cid = cid if isinstance(cid, str) and name not in CREATING_TOOLS else None
        note = functools.partial(self._note, name, arguments, agent, client)
        if cid is not None and name in TERMINAL_TOOLS:
            await note(cid, None, status="started", duration_ms=None)
        start = time.perf_counter()
        try:
            result = await super().call_tool(name, arguments, context)
        except BaseException as exc:
            ms = round((time.perf_counter() - start) * 1000, 3)
            cause = exc.__cause__
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                status, error = "cancelled", "the client cancelled the request"
            else:
                status = "refused" if isinstance(cause, PathRefused) else "error"
                error = str(exc)
                if cause is not None and not isinstance(cause, ToolError | AncError):
                    error += f" ({type(cause).__name__}: {cause})"  # kept server-side only
            with anyio.CancelScope(shield=True):
                await note(cid, None, status=status, duration_ms=ms, error=error)
            raise
        ms = round((time.perf_counter() - start) * 1000, 3)
        output = _result_data(result)
        if (
            cid is None
            and isinstance(output, dict)
            and isinstance(output.get("conversion_id"), str)
        ):
            cid = output["conversion_id"]  # start_conversion names its conversion in the result
        # Work in a worker thread runs to its end even when the client cancels meanwhile
        # (DataLad and NeuroConv cannot stop halfway safely); the SDK then drops the answer.
        if anyio.current_effective_deadline() == -math.inf:  # this request was cancelled
            status, error = "cancelled", CANCELLED_AFTER_WORK
        else:
            status, error = "ok", None
        with anyio.CancelScope(shield=True):
            await note(cid, output, status=status, duration_ms=ms, error=error)
        return result

    async def _note(
        self,
        name: str,
        arguments: dict[str, Any],
        agent: str | None,
        client: dict[str, Any],
        cid: str | None,
        output: Any,
        *,
        status: str,
        duration_ms: float | None,
        error: str | None = None,
    ) -> None:
        """Record one call; in a worker thread only when the conversion is busy or not open."""
        if cid is None:
            outcome = {"status": status, "duration_ms": duration_ms, "error": error}
            self.manager.audit(
                name, arguments, outcome, agent, None, "the call names no conversion"
            )
            return
        record = functools.partial(
            self.manager.record_tool_execution,
            cid,
            name,
            arguments,
            output,
            agent,
            error=error,
            duration_ms=duration_ms,
            status=status,
            client=client,
        )
        try:
            if self.manager.is_open(cid):  # else opening it from disk: not on the event loop
                try:
                    record(blocking=False)
                    return
                except ConversionBusy:
                    pass
            await anyio.to_thread.run_sync(record)
        except Exception:  # the call itself happened: report, never undo it
            log.exception("could not record the %s call on conversion %s", name, cid)


def _result_data(result: CallToolResult | Any) -> Any:
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        return structured
    return [getattr(c, "text", repr(c)) for c in getattr(result, "content", [])]


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
        "get_field_report",
        "get_status",
        "list_conversions",
    )

    def __init__(self, manager: MCPProvenanceManager, roots: Roots) -> None:
        self.manager = manager
        self.roots = roots

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
        agent, _ = client_identity(_session(ctx))

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
    ) -> Detected:
        """Detect the recording's format from its files (or take the one given) and record how."""

        def work(p: ConversionPipeline) -> Detected:
            _writable(p)
            d = p.detect(format)
            return Detected(
                conversion_id=conversion_id,
                format=d.format,
                confidence=d.confidence,
                method=d.method,
                matched_files=list(d.matched_files),
                alternatives=[{"format": n, "confidence": c} for n, c in d.alternatives],
                reasoning=list(d.reasoning),
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
            _need(p, "format", "detect_format")
            if "fields" not in p.state or refresh or user_file is not None:
                p.assemble_metadata(user_file)
            report = _field_report(p)
            return Metadata(
                conversion_id=conversion_id,
                fields=_field_values(report),
                needs_review=report["summary"]["needs_review"],
            )

        return await self._run(
            conversion_id, work, slow=True, progress=_reporter(ctx, conversion_id, 1)
        )

    async def run_conversion(self, ctx: Context, conversion_id: ConversionId) -> Converted:
        """Write the conversion script from the recorded field decisions and run it with `datalad run` (the NWB file lands in outputs/)."""

        def work(p: ConversionPipeline) -> Converted:
            _writable(p)
            _need(p, "fields", "extract_metadata")
            script = p.write_script()
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
            _need(p, "nwb", "run_conversion")
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
                    "validation_passes",
                    "validate_conversion",
                    " (or finalize with outcome 'failed' or 'cancelled' and a reason)",
                )

        await self._run(conversion_id, check)
        agent, _ = client_identity(_session(ctx))
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
        agent, _ = client_identity(_session(ctx))

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
        from ..provenance.tracker import ProvenanceIntegration

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
        from ..provenance.tracker import ProvenanceIntegration

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
        reserved = sorted(RESERVED_STATE.intersection(updates))
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
            report = _field_report(p)
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
                next_tool=None if session.is_finalized else NEXT_TOOL.get(stage or "start"),
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


# ---------------------------------------------------------------------- resources


def _add_resources(server: MCPServer, manager: MCPProvenanceManager) -> None:
    async def read(conversion_id: str, work: Callable[[ConversionPipeline], str]) -> str:
        def job() -> str:
            with manager.using(conversion_id) as pipeline:
                return work(pipeline)

        try:
            return await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ResourceNotFoundError(str(exc)) from exc

    @server.resource(
        "conversion://{conversion_id}/summary",
        name="conversion summary",
        mime_type="text/markdown",
        description="CONVERSION_SUMMARY.md once finalized; before that, status and next step.",
    )
    async def summary(conversion_id: str) -> str:
        return await read(conversion_id, _summary)

    @server.resource(
        "conversion://{conversion_id}/fields",
        name="per-field provenance",
        mime_type="application/json",
        description="Each NWB field's final value, source, confidence, review flag and history.",
    )
    async def fields(conversion_id: str) -> str:
        import json

        return await read(conversion_id, lambda p: json.dumps(_field_report(p), indent=1))

    @server.resource(
        "conversion://{conversion_id}/journal",
        name="provenance journal",
        mime_type="application/x-ndjson",
        description="Every record of the conversion, one JSON object per line, hash-chained.",
    )
    async def journal(conversion_id: str) -> str:
        return await read(conversion_id, _journal_text)


def _summary(pipeline: ConversionPipeline) -> str:
    from ..provenance.tracker import SUMMARY_FILE

    path = pipeline.path / SUMMARY_FILE
    if pipeline.tracker.session.is_finalized and path.is_file():
        return path.read_text()
    state, session = pipeline.state, pipeline.tracker.session
    stage = state.get("stage", "start")
    review = state.get("needs_review") or []
    return "\n".join(
        [
            f"# Conversion {pipeline.tracker.conversion_id}",
            "",
            f"- **Status**: {session.status}",
            f"- **Stage**: {stage}",
            f"- **Format**: {state.get('format', '-')}",
            f"- **Started**: {session.start_time}",
            f"- **Fields needing review**: {', '.join(review) or 'none'}",
            f"- **Next tool**: {NEXT_TOOL.get(stage, '-')}",
            "",
        ]
    )


def _journal_text(pipeline: ConversionPipeline) -> str:
    import orjson

    from ..provenance.journal import iter_entries

    return "".join(
        orjson.dumps(e).decode() + "\n" for e in iter_entries(pipeline.tracker.journal.dir)
    )


# ---------------------------------------------------------------------- building and serving


class _BearerToken:
    """Accepts exactly one token (constant-time comparison)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> Any:
        import hmac

        from mcp.server.auth.provider import AccessToken

        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token="bearer", client_id="anc-mcp-bearer", scopes=[])
        return None


def build_server(
    roots: Sequence[str | Path],
    output_dir: str | Path | None = None,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    record_calls: bool | None = None,
) -> RecordingServer:
    """The server for ROOTS, with conversions under OUTPUT_DIR (default: ROOT0/conversions).

    With TOKEN, HTTP requests must carry ``Authorization: Bearer TOKEN``.
    """
    confined = Roots(roots)
    output = Path(output_dir).absolute() if output_dir else confined.paths[0] / "conversions"
    output.mkdir(parents=True, exist_ok=True)
    if record_calls is None:
        record_calls = os.environ.get(RECORD_ENV, "1") != "0"
    if not record_calls:
        log.warning("%s=0: tool calls are NOT recorded (for benchmarks only)", RECORD_ENV)
    manager = MCPProvenanceManager(output, confined.paths, record_calls=record_calls)
    auth: dict[str, Any] = {}
    if token is not None:
        from mcp.server.auth.settings import AuthSettings

        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 in brackets
        auth = {
            "token_verifier": _BearerToken(token),
            "auth": AuthSettings(issuer_url=f"http://{netloc}", resource_server_url=None),
        }
    server = RecordingServer(
        manager, name=NAME, version=__version__, instructions=INSTRUCTIONS, **auth
    )
    tools = ConversionTools(manager, confined)
    for tool in ConversionTools.NAMES:
        server.add_tool(getattr(tools, tool))
    _add_resources(server, manager)
    log.info("roots: %s; conversions in %s", confined.describe(), output)
    return server


def read_token(token_file: str | Path | None) -> str:
    """The bearer token from TOKEN_FILE or $ANC_MCP_TOKEN; refuses a missing or short one."""
    if token_file is not None:
        path = Path(token_file)
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read the token file {path}: {exc.strerror}", "give a readable file"
            ) from None
        if path.stat().st_mode & 0o077:
            log.warning("token file %s is readable by others: chmod 600 it", path)
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(
            "serving over HTTP needs a bearer token",
            f"set {TOKEN_ENV} or pass --token-file FILE (never on the command line)",
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"the bearer token is shorter than {MIN_TOKEN_LENGTH} characters",
            "use a long random one: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return token


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr only: on stdio, stdout carries the protocol."""
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    os.environ.setdefault("DATALAD_LOG_LEVEL", "WARNING")
    logging.getLogger("datalad").setLevel(logging.WARNING)


def serve_stdio(server: RecordingServer) -> None:
    try:
        anyio.run(server.run_stdio_async)
    finally:
        server.manager.close()


def serve_http(server: RecordingServer, host: str, port: int) -> None:
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines (bearer token required)", host)
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level="info")
    try:
        anyio.run(uvicorn.Server(config).serve)
    finally:
        server.manager.close()
