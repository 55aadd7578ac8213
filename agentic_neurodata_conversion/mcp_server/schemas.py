"""The tools' typed arguments and structured results (their JSON schemas reach the agent)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from ..provenance.catalog import ConversionInfo

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
    streams: list[str] = Field(
        default_factory=list, description="Every stream in the recording; one is converted."
    )
    converted_stream: str | None = None
    choices: dict[str, Any] = Field(
        default_factory=dict,
        description="Per axis (record_node, block, stream): the options and the one converted.",
    )
    cached: bool = Field(
        False,
        description="True when an earlier detection of the unchanged recording was reused.",
    )
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
    cached: bool = Field(
        False,
        description="True when the recording was not read again: an earlier reading of the "
        "unchanged files (and user file) was reused.",
    )
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


class Revised(BaseModel):
    conversion_id: str
    revision: int
    status: str
    tag: str | None
    path: str
    nwb_remade: bool
    changes: list[dict[str, Value]]
    validation: dict[str, int] | None
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


class InterfaceOut(BaseModel):
    name: str = Field(description="Class name in neuroconv.datainterfaces.")
    modality: str
    display_name: str | None
    associated_suffixes: list[str]
    extra: str | None = Field(description="The neuroconv[extra] it needs (None: neuroconv alone).")
    installed: bool
    missing: list[str] = Field(description="Its extra's requirements that are not installed.")
    pip: str = Field(description="The line that installs it.")
    module: str


class InterfaceList(BaseModel):
    interfaces: list[InterfaceOut]
    installed: int
    total: int


class SessionConverted(BaseModel):
    conversion_id: str
    path: str
    status: str
    tag: str | None
    nwb: str | None
    reason: str | None


class SpecConverted(BaseModel):
    spec: str
    conversions: list[SessionConverted]
    completed: int
    failed: int


class QueryOut(BaseModel):
    kind: str = Field(
        description="What a row is: conversion, field, tool_call, output or inconsistency."
    )
    columns: list[str]
    rows: list[dict[str, Value]] = Field(
        description="Each row's `trusted` is false when its journal's hash chain is broken."
    )
    total: int = Field(description="How many rows matched (rows holds at most `limit`).")
    untrusted: dict[str, list[str]] = Field(
        description="The untrusted conversions the rows use, with what is wrong with their journals."
    )
    notes: list[str] = Field(description="A rebuilt or stale index is said here.")
