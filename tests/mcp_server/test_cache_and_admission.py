"""The server's ResourceManager: its TTL cache serves repeated readings of an unchanged
recording (a changed file misses), its admission control guards run_conversion."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .conftest import call, fails, serve, tool_calls

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def touch(path: Path) -> None:
    """A new mtime, same bytes: the file counts as changed."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def settings(root: Path, text: str) -> None:
    (root / "out").mkdir(exist_ok=True)
    (root / "out" / "anc.toml").write_text(text)


async def test_repeated_readings_hit_the_cache_and_a_changed_file_misses(
    root: Path, tmp_path: Path
) -> None:
    # no memory is ever enough: run_conversion is refused at once, with the reason
    settings(root, "[resources]\nmemory_reserve_gb = 100000\nwait_s = 0\n")
    meta = next((root / "rec").rglob("*.ap.meta"))
    async with serve(root, tmp_path / "server.log") as client:
        await call(client, "start_conversion", source="rec", conversion_id="c1")
        await call(client, "start_conversion", source="rec", conversion_id="c2")

        async def detect(cid: str, **args: Any) -> bool:
            result = await call(client, "detect_format", conversion_id=cid, **args)
            assert result["format"] == "spikeglx"
            return result["cached"]

        assert await detect("c1") is False
        assert await detect("c1") is True
        assert await detect("c2") is True  # the same recording, unchanged
        assert await detect("c2", stream="imec0.ap") is False  # other arguments
        touch(meta)
        assert await detect("c1") is False
        assert await detect("c2") is True

        async def extract(cid: str, **args: Any) -> bool:
            result = await call(client, "extract_metadata", conversion_id=cid, **args)
            assert "Subject.species" in result["needs_review"]
            return result["cached"]

        assert await extract("c1") is False
        assert await extract("c1") is False  # fields already there: nothing read
        assert await extract("c1", refresh=True) is True
        user = root / "user.yaml"
        user.write_text("Subject:\n  sex: F\n")
        assert await extract("c1", metadata_file="user.yaml") is False
        assert await extract("c1", metadata_file="user.yaml") is True
        user.write_text("Subject:\n  sex: M\n")
        assert await extract("c1", metadata_file="user.yaml") is False
        assert await extract("c2") is False  # another conversion: its own identifier

        error = await fails(client, "run_conversion", conversion_id="c1")
    assert "cannot start run_conversion c1: " in error
    assert "0.5 GB needed + 100000.0 GB reserve" in error

    calls = tool_calls(root / "out" / "conversion_c1")
    cached = [
        (c["input_data"]["tool"], c["output_data"]["result"]["cached"])
        for c in calls
        if c["input_data"]["tool"] in ("detect_format", "extract_metadata")
    ]
    assert cached == [
        ("detect_format", False),
        ("detect_format", True),
        ("detect_format", False),
        ("extract_metadata", False),
        ("extract_metadata", False),
        ("extract_metadata", True),
        ("extract_metadata", False),
        ("extract_metadata", True),
        ("extract_metadata", False),
    ]


async def test_run_conversion_waits_for_a_slot(root: Path, tmp_path: Path) -> None:
    settings(root, "[resources]\nmax_concurrent_conversions = 1\nwait_s = 300\n")
    messages: dict[str, list[str]] = {"c1": [], "c2": []}
    async with serve(root, tmp_path / "server.log") as client:
        for cid in messages:
            await call(client, "start_conversion", source="rec", conversion_id=cid)
            await call(client, "detect_format", conversion_id=cid)
            await call(client, "extract_metadata", conversion_id=cid)

        async def run(client: Client, cid: str) -> None:
            async def note(done: float, total: float | None, message: str | None) -> None:
                messages[cid].append(message or "")

            result = await client.call_tool(
                "run_conversion", {"conversion_id": cid}, progress_callback=note
            )
            assert not result.is_error, result.content[0].text

        async with anyio.create_task_group() as group:
            for cid in messages:
                group.start_soon(run, client, cid)
    waited = [
        cid
        for cid, said in messages.items()
        if "convert: waiting to start: 1 conversions already running" in said
    ]
    assert len(waited) == 1, messages
