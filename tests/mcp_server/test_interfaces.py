"""The list_interfaces tool through a real MCP client: what it answers, and its record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion.interfaces import list_interfaces

from .conftest import call, fails, serve

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_list_interfaces_tool(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    async with serve(root, log) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "list_interfaces")
        assert set(tool.input_schema["properties"]) == {"modality", "installed_only"}
        assert not tool.input_schema.get("required")

        everything = (await call(client, "list_interfaces"))["interfaces"]
        assert everything == [i.to_dict() for i in list_interfaces()]
        by_name = {i["name"]: i for i in everything}
        glx = by_name["SpikeGLXRecordingInterface"]
        assert (glx["modality"], glx["extra"], glx["installed"]) == ("ecephys", "spikeglx", True)
        dlc = by_name["DeepLabCutInterface"]
        assert dlc["installed"] is False and dlc["pip"] == 'pip install "neuroconv[deeplabcut]"'
        assert any(m.startswith("ndx-pose") for m in dlc["missing"])

        ecephys = (await call(client, "list_interfaces", modality="ecephys", installed_only=True))[
            "interfaces"
        ]
        assert ecephys and all(i["modality"] == "ecephys" and i["installed"] for i in ecephys)
        text = await fails(client, "list_interfaces", modality="ephys")
        assert "unknown modality 'ephys'" in text and "ecephys" in text

    # It names no conversion: each call is in the server's audit log.
    audited = [
        json.loads(line.split("anc.mcp.audit: ", 1)[1])
        for line in log.read_text().splitlines()
        if "anc.mcp.audit: " in line
    ]
    assert [(a["tool"], a["status"]) for a in audited] == [
        ("list_interfaces", "ok"),
        ("list_interfaces", "ok"),
        ("list_interfaces", "error"),
    ]
    assert audited[1]["arguments"] == {"modality": "ecephys", "installed_only": True}
