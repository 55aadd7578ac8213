"""The real server, spawned as `anc mcp serve`, talked to with the MCP SDK's own client."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import Implementation

from agentic_neurodata_conversion import runtime
from agentic_neurodata_conversion.conversion.synthetic import write_recording
from agentic_neurodata_conversion.journal.chain import JOURNAL_DIR, iter_entries

runtime.prepare()  # git-annex on PATH for the git commands tests run themselves

ANC = str(Path(sys.executable).parent / "anc")
CLIENT = Implementation(name="test-agent", version="1.0")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root folder holding a small synthetic SpikeGLX recording in rec/."""
    folder = tmp_path / "root"
    folder.mkdir()
    write_recording("spikeglx", folder / "rec", channels=8, seconds=1.0)
    return folder


def serve_args(root: Path, *extra: str) -> list[str]:
    return ["mcp", "serve", "--root", str(root), "--output", str(root / "out"), *extra]


@asynccontextmanager
async def serve(
    root: Path, log: Path, *, env: dict[str, str] | None = None, stdout_copy: Path | None = None
) -> AsyncIterator[Client]:
    """A session with a fresh server over stdio; its stderr is appended to LOG.

    With STDOUT_COPY, everything the server writes to stdout is also copied there (tee).
    """
    command, args = ANC, serve_args(root)
    # The SDK passes the server only a few variables (HOME, PATH, ...): keep PYTHONPATH, so
    # the server runs the code under test, not whatever the venv's install points at.
    if "PYTHONPATH" in os.environ:
        env = {"PYTHONPATH": os.environ["PYTHONPATH"], **(env or {})}
    if stdout_copy is not None:
        command, args = "sh", ["-c", 'exec "$0" "$@" | tee "$TEE_TO"', ANC, *args]
        env = {**(env or {}), "TEE_TO": str(stdout_copy)}
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(root))
    with open(log, "a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), client_info=CLIENT) as client:
            yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    """The error text of a call that must fail with a tool error."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} {arguments} did not fail: {result.structured_content}"
    return result.content[0].text


def tool_calls(conversion: Path) -> list[dict[str, Any]]:
    """The mcp_tool_call records of a conversion, in journal order."""
    return [e for e in iter_entries(conversion / JOURNAL_DIR) if e["operation"] == "mcp_tool_call"]
