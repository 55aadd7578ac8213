"""A call the client cancels mid-run is on the record as cancelled, with what the work did."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from agentic_neurodata_conversion.mcp_server.server import CANCELLED_AFTER_WORK

from .conftest import call, serve, tool_calls

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_cancelled_run_is_recorded_as_cancelled(root: Path, tmp_path: Path) -> None:
    async with serve(root, tmp_path / "server.log") as client:
        await call(client, "start_conversion", source="rec", conversion_id="c1")
        await call(client, "detect_format", conversion_id="c1")
        await call(client, "extract_metadata", conversion_id="c1")
        with anyio.move_on_after(0.5) as waited:  # the conversion takes seconds
            await client.call_tool("run_conversion", {"conversion_id": "c1"})
        assert waited.cancelled_caught
        # The next call on c1 waits for the cancelled one's work to end.
        status = await call(client, "get_status", conversion_id="c1")
    assert status["stage"] == "convert"  # the conversion ran to its end

    calls = tool_calls(root / "out" / "conversion_c1")
    assert [c["input_data"]["tool"] for c in calls][-2:] == ["run_conversion", "get_status"]
    cancelled = calls[-2]["output_data"]
    assert cancelled["status"] == "cancelled" and cancelled["error"] == CANCELLED_AFTER_WORK
    assert cancelled["duration_ms"] > 500 and cancelled["result"]["nwb"].endswith(".nwb")
