"""The query_index tool through a real MCP client: answers from the lab's index, refusals,
and the record of each call (it names no conversion: the server's audit log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.index.synthetic import ConversionSpec, make_conversion

from .conftest import call, fails, serve

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_query_index_tool(root: Path, tmp_path: Path) -> None:
    lab = root / "lab"
    lab.mkdir()
    raw = root / "raw.bin"
    raw.write_bytes(b"x" * 64)
    make_conversion(lab, ConversionSpec("a", subject="m1", inputs=[raw], neuroconv="0.10.1"))
    make_conversion(
        lab, ConversionSpec("b", subject="m1", species="Rattus norvegicus", inputs=[raw])
    )
    index.rebuild(lab)
    log = tmp_path / "server.log"
    async with serve(root, log) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "query_index")
        assert tool.input_schema["required"] == ["lab"]
        assert {"field", "inconsistent", "derived_from", "tool_version"} <= set(
            tool.input_schema["properties"]
        )

        found = await call(client, "query_index", lab="lab", inconsistent="Subject")
        assert found["kind"] == "inconsistency" and found["total"] == 1
        assert found["rows"][0]["values"] == {
            "conversion_a": "Mus musculus",
            "conversion_b": "Rattus norvegicus",
        }
        made = await call(client, "query_index", lab="lab", derived_from="raw.bin")
        assert [r["output"] for r in made["rows"]] == ["outputs/a.nwb", "outputs/b.nwb"]
        old = await call(client, "query_index", lab="lab", tool_version="neuroconv<0.10.2")
        assert [r["conversion_id"] for r in old["rows"]] == ["a"]

        text = await fails(client, "query_index", lab="lab", field="Subject.specis")
        assert "unknown field 'Subject.specis'" in text and "Subject.species" in text
        text = await fails(client, "query_index", lab="/etc")
        assert "outside" in text or "refused" in text

    audited = [
        json.loads(line.split("anc.mcp.audit: ", 1)[1])
        for line in log.read_text().splitlines()
        if "anc.mcp.audit: " in line
    ]
    assert [(a["tool"], a["status"]) for a in audited][:4] == [
        ("query_index", "ok"),
        ("query_index", "ok"),
        ("query_index", "ok"),
        ("query_index", "error"),
    ]
    assert audited[0]["arguments"]["inconsistent"] == "Subject"
