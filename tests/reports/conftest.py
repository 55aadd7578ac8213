"""Conversions for report tests: built with the real tracker, every kind of record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentic_neurodata_conversion.reports  # noqa: F401  (registers the finalize hooks)
from agentic_neurodata_conversion import runtime
from agentic_neurodata_conversion.journal.records import (
    Candidate,
    ConfidenceLevel,
    Conflict,
    ProvenanceSource,
)
from agentic_neurodata_conversion.provenance.integration import ProvenanceIntegration
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

runtime.prepare()

# What the rich conversion must show under "needs review", in table order.
NEEDS_REVIEW = ["Subject.age", "Subject.species"]
# A value every serializer must carry unchanged (quotes, escapes, control chars, markup).
TRICKY_TEXT = 'He said "hi" \\ back\nline\ttab \x01 ünï </script><b>bold</b>'


def record_tool_call(
    tracker: ConversionProvenanceTracker,
    client: str,
    tool: str,
    arguments: dict[str, object],
    *,
    result: object = None,
    error: str | None = None,
    retry_of: int | None = None,
    duration_ms: float = 5.0,
) -> int:
    """An MCP tool-call record as the MCP server writes it; returns its seq."""
    output: dict[str, object] = {"status": "error" if error else "ok", "duration_ms": duration_ms}
    output["error" if error else "result"] = error or result
    if retry_of is not None:
        output["retry_of"] = retry_of
    return tracker.record_provenance(
        ProvenanceSource.AI_GENERATED,
        client,
        "mcp_tool_call",
        {"tool": tool, "arguments": arguments},
        output,
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        method="mcp",
    ).seq


def build_rich(out: Path, conversion_id: str = "rich", *, finalize: bool = True) -> Path:
    """A small conversion with records of every kind; returns its folder."""
    source = out / "recording"
    source.mkdir(parents=True)
    (source / "session.ap.meta").write_text("imSampRate=30000\n")
    (source / "session.ap.bin").write_bytes(bytes(range(256)) * 16)
    t = ConversionProvenanceTracker(conversion_id, out / "out", source_path=source)
    try:
        pi = ProvenanceIntegration(t)
        t.add_input(source, mode="reference", name="recording")
        t.update_pipeline_state({"stage": "detect"})
        record_tool_call(
            t, "claude-desktop", "detect_format", {"path": str(source)}, result="spikeglx"
        )
        t.update_pipeline_state({"stage": "metadata"})
        t.record_field(
            "NWBFile.session_start_time",
            "2024-03-01T10:00:00+00:00",
            "auto_extracted",
            agent="metadata_extractor",
            confidence=1.0,
            confidence_level=ConfidenceLevel.DEFINITIVE,
            method="read fileCreateTime",
            evidence=[{"file": "session.ap.meta", "key": "fileCreateTime"}],
        )
        t.record_field(
            "NWBFile.lab", "Lab B", "auto_extracted", agent="metadata_extractor", confidence=0.7
        )
        pi.record_user_input("NWBFile.lab", "Lab A", override_of="Lab B")
        t.record_field(
            "Subject.species",
            "Mus musculus",
            "ai_generated",
            agent="gpt-4o",
            confidence=0.4,
            reasoning="the lab works with mice",
        )
        t.record_field(
            "Subject.age", "P90D", "domain_knowledge", confidence_level=ConfidenceLevel.PLACEHOLDER
        )
        t.record_field(
            "NWBFile.experimenter", ["Doe, Jane"], "user_provided", agent="user", confidence=1.0
        )
        t.record_field("NWBFile.notes", TRICKY_TEXT, "user_provided", agent="user", confidence=1.0)
        t.record_field(
            "Device.properties",
            {"gain": 1e-7, "channels": 2**40, "ok": True, "list": [1, 2.5, None]},
            "auto_extracted",
            agent="metadata_extractor",
            confidence=0.95,
        )
        t.record_field(
            "Ecephys.rate", 30000, "auto_extracted", agent="metadata_extractor", confidence=0.99
        )
        t.record_field(
            "Ecephys.samples", 2**40, "auto_extracted", agent="metadata_extractor", confidence=0.99
        )
        t.record_field(
            "Ecephys.gain", 0.195, "auto_extracted", agent="metadata_extractor", confidence=0.99
        )
        pi.record_external_enrichment("ontology", "Subject.strain", "C57", "C57BL/6J", 0.85)
        t.record_field(
            "NWBFile.session_description",
            "Acute recording in CA1",
            "ai_generated",
            agent="gpt-4o",
            confidence=0.9,
            conflict=Conflict(
                candidates=[
                    Candidate("Acute recording in CA1", "ai_generated", 0.9, agent="gpt-4o"),
                    Candidate("recording", "auto_extracted", 0.6, agent="metadata_extractor"),
                ],
                resolution="highest_confidence",
                chosen_value="Acute recording in CA1",
                resolved_by="pipeline",
            ),
        )
        t.update_pipeline_state({"stage": "convert"})
        failed = record_tool_call(
            t, "claude-desktop", "run_conversion", {"id": conversion_id}, error="timeout"
        )
        t.record_error(
            TimeoutError("NeuroConv timed out"),
            stage="convert",
            recovery="retry with a longer timeout",
            outcome="recovered",
        )
        record_tool_call(
            t,
            "claude-desktop",
            "run_conversion",
            {"id": conversion_id},
            result="ok",
            retry_of=failed,
        )
        work = out / "work"
        work.mkdir()
        (work / "session.nwb").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(4000))
        (work / "convert.py").write_text("print('convert')\n")
        (work / "validation.json").write_text(
            json.dumps(
                {
                    "nwb_file": "outputs/session.nwb",
                    "passes": True,
                    "config": "dandi",
                    "counts": {"CRITICAL": 0, "BEST_PRACTICE_VIOLATION": 2},
                    "schema_errors": [],
                    "issues": [],
                }
            )
        )
        t.save_conversion_artifact(work / "session.nwb", "nwb_file", "the NWB file", mode="move")
        t.save_conversion_artifact(
            work / "convert.py", "conversion_script", "the script", commit=False
        )
        t.save_conversion_artifact(work / "validation.json", "validation_report", "nwbinspector")
        t.update_pipeline_state({"stage": "validate"})
        if finalize:
            t.finalize_conversion("completed", {"identifier": "rich-1"})
        else:
            t.checkpoint("converted")
    finally:
        t.close()
    return t.path


@pytest.fixture(scope="session")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A finalized rich conversion, shared (tests must not modify it)."""
    yield build_rich(tmp_path_factory.mktemp("rich"))


def tamper(conversion: Path, field: str, changes: dict[str, object]) -> int:
    """Edit FIELD's first record in a sealed segment (set CHANGES); returns its seq."""
    for segment in sorted((conversion / "provenance" / "journal").glob("0*.jsonl")):
        lines = segment.read_bytes().splitlines(keepends=True)
        for i, line in enumerate(lines):
            entry = json.loads(line)
            if entry.get("field") == field:
                seq = int(entry["seq"])
                entry.update(changes)
                lines[i] = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
                segment.write_bytes(b"".join(lines))
                return seq
    raise AssertionError(f"no record of {field} in {conversion}")


@pytest.fixture(scope="session")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A conversion whose journal was edited after the fact: (folder, tampered seq)."""
    out = tmp_path_factory.mktemp("broken")
    t = ConversionProvenanceTracker("broken", out / "out")
    try:
        t.record_field("Subject.species", "Mus musculus", "auto_extracted", confidence=0.9)
        t.record_field("NWBFile.lab", "Lab A", "user_provided", confidence=1.0)
        t.checkpoint("metadata")
    finally:
        t.close()
    return t.path, tamper(t.path, "Subject.species", {"value": "Homo sapiens"})


# --------------------------------------------------------------------------- roc-validator

CONTEXT_URLS = ("https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/crate/1.3/context")


def seed_validator_cache(cache: Path) -> None:
    """Put the RO-Crate JSON-LD context the `rocrate` package ships into roc-validator's
    HTTP cache (a requests-cache SQLite file), so it validates offline as CI does."""
    import io

    import requests
    import rocrate
    import urllib3
    from requests_cache import CachedSession

    context = (Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()
    session = CachedSession(cache_name=str(cache), backend="sqlite")
    for url in CONTEXT_URLS:
        headers = {"Content-Type": "application/ld+json"}
        response = requests.Response()
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(context), headers=headers, status=200, preload_content=False
        )
        response.status_code, response.url, response.encoding = 200, url, "utf-8"
        response.headers.update(headers)
        response.request = requests.Request("GET", url).prepare()
        response._content = context
        session.cache.save_response(response)
    session.close()


@pytest.fixture(scope="session")
def validator_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("roc-cache") / "http"
    seed_validator_cache(cache)
    return cache
