"""Several conversions at once; a server killed mid-conversion; a new one finishing it."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import time
from pathlib import Path

import anyio
import psutil
import pytest

from agentic_neurodata_conversion.conversion.synthetic import write_recording
from agentic_neurodata_conversion.journal.chain import verify_journal

from .conftest import call, serve, tool_calls

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _kill_servers() -> int:
    """SIGKILL the `anc mcp serve` processes this test started; returns how many."""
    killed = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "serve" in child.cmdline():
                os.kill(child.pid, signal.SIGKILL)
                killed += 1
    return killed


async def test_restart_mid_conversion_and_finish(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    write_recording("spikeglx", root / "rec2", channels=8, seconds=1.0, seed=1)

    session = contextlib.AsyncExitStack()
    client = await session.enter_async_context(serve(root, log))
    for cid, source in (("c1", "rec"), ("c2", "rec2")):
        await call(client, "start_conversion", source=source, conversion_id=cid)
        await call(client, "detect_format", conversion_id=cid)
    await call(client, "extract_metadata", conversion_id="c1")
    await call(
        client,
        "record_decision",
        conversion_id="c1",
        field="Subject.species",
        value="Mus musculus",
        confidence=0.9,
    )
    assert _kill_servers() == 1
    with contextlib.suppress(Exception):  # the killed server's session ends abruptly
        await session.aclose()
    assert "started conversion c2" in log.read_text()

    async with serve(root, log) as client:
        listed = await call(client, "list_conversions")
        assert {c["conversion_id"]: c["status"] for c in listed["conversions"]} == {
            "c1": "started",
            "c2": "started",
        }
        status = await call(client, "get_status", conversion_id="c1")
        assert (status["stage"], status["next_tool"]) == ("metadata", "run_conversion")

        # While c1 converts in a worker thread, calls on c2 are answered.
        answered: list[float] = []
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(functools.partial(call, client, "run_conversion", conversion_id="c1"))
            await anyio.sleep(0.5)
            start = time.perf_counter()
            await call(client, "get_status", conversion_id="c2")
            answered.append(time.perf_counter() - start)
        assert answered[0] < 1.0

        await call(client, "validate_conversion", conversion_id="c1")
        final = await call(client, "finalize_conversion", conversion_id="c1")
        assert final["status"] == "completed"

    conversion = root / "out" / "conversion_c1"
    tools = [c["input_data"]["tool"] for c in tool_calls(conversion)]
    assert tools == [
        "start_conversion",
        "detect_format",
        "extract_metadata",
        "record_decision",  # recorded by the first server before it was killed
        "get_status",
        "run_conversion",
        "validate_conversion",
        "finalize_conversion",
    ]
    assert verify_journal(conversion).ok
    assert "reopened conversion c1" in log.read_text()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=conversion, capture_output=True, text=True
    )
    assert status.stdout == ""
