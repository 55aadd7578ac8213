"""A whole conversion driven only through MCP tools over stdio, then audited from the journal."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentic_neurodata_conversion.journal.chain import JOURNAL_DIR, verify_journal
from agentic_neurodata_conversion.mcp_server.redact import REDACTED
from agentic_neurodata_conversion.mcp_server.tools import ConversionTools
from agentic_neurodata_conversion.provenance.tracker import ARTIFACT_DIRS, STATE_FILE

from .conftest import CLIENT, call, serve, tool_calls

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SECRET = "s3cr3t-value-that-must-not-be-kept"


async def test_full_conversion_only_through_tools(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    (root / "notes").mkdir()
    (root / "notes" / "agent-notes.md").write_text("# What the agent checked\n")
    made: list[tuple[str, dict[str, Any], bool]] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    stdout = tmp_path / "server.stdout"
    async with serve(root, log, stdout_copy=stdout) as client:

        async def do(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, arguments, progress_callback=on_progress)
            made.append((tool, arguments, result.is_error))
            return result

        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == set(ConversionTools.NAMES)
        assert all(t.output_schema for t in listed.tools)  # structured outputs

        started = (
            await do("start_conversion", source="rec", conversion_id="c1")
        ).structured_content
        cid = started["conversion_id"]
        assert cid == "c1" and started["next_tool"] == "detect_format"
        detected = (await do("detect_format", conversion_id=cid)).structured_content
        assert detected["format"] == "spikeglx"
        assert detected["streams"] == ["imec0.ap"] and detected["converted_stream"] == "imec0.ap"
        metadata = (await do("extract_metadata", conversion_id=cid)).structured_content
        assert "Subject.species" in metadata["needs_review"]

        # A deliberate mistake, then its retry.
        bad = await do(
            "record_decision",
            conversion_id=cid,
            field="Subject.species",
            value="mouse",
            confidence=2.0,
        )
        assert bad.is_error and "less than or equal to 1" in bad.content[0].text
        decision = {
            "conversion_id": cid,
            "field": "Subject.species",
            "value": "Mus musculus",
            "confidence": 0.95,
            "confidence_level": "high_evidence",
            "reasoning": ["the protocol names C57BL/6J mice"],
            "evidence": ["notes/agent-notes.md"],
        }
        assert not (await do("record_decision", **decision)).is_error
        await do(
            "record_user_input",
            conversion_id=cid,
            field="Subject.subject_id",
            value="mouse-01",
            context={"question": "Which animal is this?"},
        )
        await do(
            "record_enrichment",
            conversion_id=cid,
            source_system="NCBI Taxonomy",
            field="Subject.species",
            original_value="Mus musculus",
            enriched_value="Mus musculus",
            confidence=0.99,
            evidence=["NCBITaxon:10090"],
        )
        await do(
            "update_pipeline_state",
            conversion_id=cid,
            updates={"agent_plan": "fill review fields", "api_token": SECRET},
        )
        converted = (await do("run_conversion", conversion_id=cid)).structured_content
        assert Path(converted["nwb"]).name == "c1.nwb"
        validated = (await do("validate_conversion", conversion_id=cid)).structured_content
        assert validated["validation_passes"] and validated["evaluation_passes"]
        await do(
            "save_artifact",
            conversion_id=cid,
            path="notes/agent-notes.md",
            artifact_type="evaluation_report",
            description="what the agent checked",
        )
        assert (
            await do("checkpoint", conversion_id=cid, message="agent notes")
        ).structured_content["commit"]
        final = (await do("finalize_conversion", conversion_id=cid)).structured_content
        assert final["status"] == "completed" and final["tag"] == "conversion-c1"

        # Reading after finalize works; recording does not (it goes to the audit log).
        report = await call(client, "get_field_report", conversion_id=cid, field="Subject.species")
        assert report["fields"]["Subject.species"]["final_value"] == "Mus musculus"
        status = await call(client, "get_status", conversion_id=cid)
        assert status["status"] == "completed" and status["next_tool"] is None
        listed_conversions = await call(client, "list_conversions")
        assert [c["conversion_id"] for c in listed_conversions["conversions"]] == ["c1"]
        summary = await client.read_resource("conversion://c1/summary")
        assert "completed" in summary.contents[0].text
        fields = json.loads((await client.read_resource("conversion://c1/fields")).contents[0].text)
        assert fields["fields"]["Subject.subject_id"]["final_value"] == "mouse-01"
        journal_text = (await client.read_resource("conversion://c1/journal")).contents[0].text

    # Progress came from the long stages.
    messages = [m for _, _, m in progress]
    assert any(m and m.startswith("convert:") for m in messages)
    assert any(m and m.startswith("validate:") for m in messages)

    conversion = root / "out" / "conversion_c1"
    calls = tool_calls(conversion)
    # Every call the client made, in order, with its arguments and the client's name.
    assert [(c["input_data"]["tool"]) for c in calls] == [tool for tool, _, _ in made]
    for record, (tool, arguments, is_error) in zip(calls, made, strict=True):
        assert record["agent"] == CLIENT.name
        assert record["metadata"]["client"] == {"name": CLIENT.name, "version": CLIENT.version}
        expected = dict(arguments)
        if tool == "update_pipeline_state":
            expected["updates"] = {"agent_plan": "fill review fields", "api_token": REDACTED}
        assert record["input_data"]["arguments"] == expected
        status = record["output_data"]["status"]
        if tool == "finalize_conversion":
            assert status == "started"  # recorded before the conversion closes
        else:
            assert status == ("error" if is_error else "ok")
            assert record["output_data"]["duration_ms"] >= 0
    failed, retry = calls[3], calls[4]
    assert failed["output_data"]["status"] == "error"
    assert "less than or equal to 1" in failed["output_data"]["error"]
    assert retry["output_data"]["retry_of"] == failed["seq"]
    assert retry["output_data"]["result"]["field"] == "Subject.species"
    assert calls[0]["output_data"]["result"]["conversion_id"] == "c1"

    # The secret never reached the dataset; the journal is intact and everything committed.
    assert SECRET not in journal_text
    assert SECRET not in (conversion / STATE_FILE).read_text()
    assert all(SECRET not in p.read_text() for p in (conversion / JOURNAL_DIR).iterdir())
    check = verify_journal(conversion)
    assert check.ok, check.problems
    assert journal_text.count("\n") == check.records
    git_status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=conversion, capture_output=True, text=True
    )
    assert git_status.stdout == ""
    assert (conversion / ARTIFACT_DIRS["evaluation_report"] / "agent-notes.md").is_file()

    # Stdout carried protocol messages only, through a whole conversion (NeuroConv included).
    # (The SDK moves the protocol to a private descriptor and points fd 1 at stderr, so even
    # a stray print lands in the log: tried by hand with a print() in detect_format.)
    lines = stdout.read_text().splitlines()
    assert len(lines) > len(made)
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)

    # Logs went to stderr; calls after finalize are in the audit log there.
    text = log.read_text()
    assert "anc.mcp: started conversion c1" in text
    audited = [
        json.loads(line.split("anc.mcp.audit: ", 1)[1])
        for line in text.splitlines()
        if "anc.mcp.audit: " in line
    ]
    assert [a["tool"] for a in audited] == [
        "finalize_conversion",
        "get_field_report",
        "get_status",
        "list_conversions",
    ]
    assert audited[0]["status"] == "ok" and audited[0]["result"]["status"] == "completed"
