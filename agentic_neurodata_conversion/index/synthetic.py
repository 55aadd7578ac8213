"""Conversions made with the journal API alone (no DataLad, no NeuroConv): what the index
tests and bench/bench_index.py index by the thousand. Each has the files a real one gives
the index: ``provenance/conversion.json``, its journal, an input manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..journal.chain import JOURNAL_DIR, Journal
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource
from ..provenance.layout import CONVERSION_FILE


@dataclass
class FieldSpec:
    name: str
    value: Any
    source: str = "auto_extracted"
    confidence: float | None = 1.0
    level: str = "definitive"
    agent: str = "conversion_pipeline"


@dataclass
class ConversionSpec:
    conversion_id: str
    subject: str | None = None
    species: str = "Mus musculus"
    status: str = "completed"
    format: str = "spikeglx"
    inputs: Sequence[Path] = ()  # files: their sha256 go into the manifest
    neuroconv: str = "0.10.2"
    fields: list[FieldSpec] = field(default_factory=list)
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (tool, status)
    error: str | None = None
    padding: int = 0  # extra state records, to reach a given journal length


def _record(operation: str, **kw: Any) -> ProvenanceRecord:
    kw.setdefault("source", ProvenanceSource.AUTO_EXTRACTED)
    kw.setdefault("confidence", 1.0)
    kw.setdefault("confidence_level", ConfidenceLevel.DEFINITIVE)
    return ProvenanceRecord(operation=operation, **kw)


def records_of(spec: ConversionSpec, root: Path) -> list[ProvenanceRecord]:
    source = str(spec.inputs[0].parent) if spec.inputs else f"/raw/{spec.conversion_id}"
    out = [
        _record(
            "start_conversion",
            agent="tracker",
            input_data={"source_path": source},
            output_data={"conversion_id": spec.conversion_id, "dataset": str(root)},
        ),
        _record(
            "add_input",
            agent="input_manager",
            output_data={
                "name": "recording",
                "mode": "reference",
                "path": "inputs/recording.manifest.json",
                "source": source,
            },
        ),
        _record("detect_format", agent="conversion_pipeline", output_data={"format": spec.format}),
    ]
    subject = [FieldSpec("Subject.subject_id", spec.subject)] if spec.subject else []
    species = [FieldSpec("Subject.species", spec.species)]
    for f in [*subject, *species, *spec.fields]:
        out.append(
            _record(
                "set_metadata_field",
                source=f.source,
                agent=f.agent,
                field=f.name,
                value=f.value,
                confidence=f.confidence,
                confidence_level=f.level,
                method="synthetic",
            )
        )
    for tool, status in spec.tool_calls:
        output: dict[str, Any] = {"status": status, "duration_ms": 3.5}
        if status != "ok":
            output["error"] = f"{tool} failed"
        out.append(
            _record(
                "mcp_tool_call",
                source=ProvenanceSource.AI_GENERATED,
                agent="test-agent",
                input_data={"tool": tool, "arguments": {}},
                output_data=output,
                method="mcp",
            )
        )
    for i in range(spec.padding):
        out.append(_record("state_update", agent="pipeline_manager", metadata={"step": i}))
    if spec.error:
        out.append(
            _record(
                "error",
                agent="pipeline",
                input_data={"stage": "convert"},
                output_data={"error": {"type": "ConversionError", "message": spec.error}},
            )
        )
    nwb = f"outputs/{spec.conversion_id}.nwb"
    digest = hashlib.sha256(spec.conversion_id.encode()).hexdigest()
    out.append(
        _record(
            "run_conversion",
            agent="conversion_pipeline",
            method="datalad run",
            output_data={
                "outputs": {nwb: f"BLAKE3_256E-s1000--{digest}.nwb"},
                "software": {"neuroconv": spec.neuroconv, "pynwb": "4.2.0"},
            },
        )
    )
    out.append(
        _record(
            "finalize",
            agent="tracker",
            output_data={"status": spec.status, "final_metadata": {}, "error": spec.error},
        )
    )
    return out


def make_conversion(lab: Path, spec: ConversionSpec) -> Path:
    """The conversion LAB/conversion_<id> holding SPEC's journal (sealed, as at finalize)."""
    root = lab / f"conversion_{spec.conversion_id}"
    (root / "provenance").mkdir(parents=True)
    (root / "inputs").mkdir()
    files = [{"path": p.name, "size": p.stat().st_size, "sha256": _sha256(p)} for p in spec.inputs]
    manifest = {"source": str(spec.inputs[0].parent) if spec.inputs else "", "files": files}
    (root / "inputs" / "recording.manifest.json").write_text(json.dumps(manifest))
    (root / CONVERSION_FILE).write_text(
        json.dumps({"conversion_id": spec.conversion_id, "status": spec.status})
    )
    with Journal(root / JOURNAL_DIR) as journal:
        journal.append_many(records_of(spec, root))
        journal.seal()
    return root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
