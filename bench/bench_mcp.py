"""Issue 5: what recording every MCP tool call costs, and how fast the server answers first.

Two `anc mcp serve` processes over stdio, one recording every call (the default) and one
with ANC_MCP_RECORD=0, each with a started conversion. CALLS `record_decision` calls go to
each through a real SDK client session, interleaved in blocks of BLOCK, timed at the client.
Target: median with recording - median without <= 2 ms.
Start-up: from spawning the process to the answer of the first tool call, RUNS times
(target <= 1 s), with the server's CPU time until then (wall time grows with the machine's
load), interleaved with a bare `python -c "import mcp.server"` for scale: the server imports
the SDK with deferred model builds (mcp_server/sdk.py), so it can beat that floor.

Usage: python bench/bench_mcp.py [CALLS] [BLOCK]
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TextIO

import anyio
import psutil
from _common import report
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import Implementation

from agentic_neurodata_conversion.conversion.synthetic import write_recording

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BLOCK = int(sys.argv[2]) if len(sys.argv) > 2 else 100
RUNS = 5
ANC = str(Path(sys.executable).parent / "anc")
CLIENT = Implementation(name="bench", version="1")


def params(root: Path, record: bool) -> StdioServerParameters:
    return StdioServerParameters(
        command=ANC,
        args=["mcp", "serve", "--root", str(root)],
        env={"ANC_MCP_RECORD": "1" if record else "0"},
        cwd=str(root),
    )


async def decide(client: Client, n: int) -> float:
    """Seconds one record_decision call takes, as the client sees it."""
    start = time.perf_counter()
    result = await client.call_tool(
        "record_decision",
        {
            "conversion_id": "bench",
            "field": "Subject.description",
            "value": f"decision {n}",
            "confidence": 0.8,
            "reasoning": ["benchmark"],
            "evidence": ["bench/bench_mcp.py"],
        },
    )
    elapsed = time.perf_counter() - start
    assert not result.is_error, result.content
    return elapsed


async def overhead(base: Path, log: TextIO) -> None:
    clients: dict[bool, Client] = {}
    async with AsyncExitStack() as stack:
        for record in (True, False):
            root = base / ("on" if record else "off")
            write_recording("spikeglx", root / "rec", channels=4, seconds=0.1)
            transport = stdio_client(params(root, record), errlog=log)
            client = await stack.enter_async_context(Client(transport, client_info=CLIENT))
            start = await client.call_tool(
                "start_conversion", {"source": "rec", "conversion_id": "bench"}
            )
            assert not start.is_error, start.content
            for n in range(50):  # warm-up
                await decide(client, n)
            clients[record] = client
        times: dict[bool, list[float]] = {True: [], False: []}
        for block in range(CALLS // BLOCK):
            for record in (True, False) if block % 2 == 0 else (False, True):
                for n in range(BLOCK):
                    times[record].append(await decide(clients[record], n))
    on, off = (statistics.median(times[r]) * 1000 for r in (True, False))
    report(f"record_decision median, recording on ({len(times[True])} calls)", on, "ms")
    report(f"record_decision median, recording off ({len(times[False])} calls)", off, "ms")
    report("recording overhead (median on - off)", on - off, "ms", "target <= 2 ms")
    p95 = [statistics.quantiles(times[r], n=20)[-1] * 1000 for r in (True, False)]
    report("record_decision p95, on / off", p95[0], "ms", f"off: {p95[1]:.3f} ms")


def server_cpu_seconds() -> float:
    """CPU time (user + system) the running `anc mcp serve` child has used so far."""
    for child in psutil.Process().children(recursive=True):
        if "serve" in child.cmdline():
            times = child.cpu_times()
            return times.user + times.system
    raise RuntimeError("no server process found")


async def first_answer(root: Path, log: TextIO) -> tuple[float, float]:
    """Wall seconds from spawning the server to its first tool answer, and its CPU seconds."""
    start = time.perf_counter()
    async with Client(stdio_client(params(root, True), errlog=log), client_info=CLIENT) as c:
        result = await c.call_tool("list_conversions", {})
        elapsed = time.perf_counter() - start
        cpu = server_cpu_seconds()
    assert not result.is_error, result.content
    return elapsed, cpu


def bare_sdk_import() -> tuple[float, float]:
    """Wall and CPU seconds of `python -c "import mcp.server"`: the SDK's own floor."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server"], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


async def startup(base: Path, log: TextIO) -> None:
    root = base / "start"
    root.mkdir()
    runs, bare = [], []
    for _ in range(RUNS):  # interleaved, so both sides see the same machine load
        runs.append(await first_answer(root, log))
        bare.append(bare_sdk_import())
    first = statistics.median(wall for wall, _ in runs)
    floor = statistics.median(wall for wall, _ in bare)
    report(f"process start to first tool answer (median of {RUNS})", first, "s", "target <= 1 s")
    report("  fastest of those", min(wall for wall, _ in runs), "s")
    report(
        "  server CPU time until then (median; load-independent)",
        statistics.median(cpu for _, cpu in runs),
        "s",
    )
    report(
        f"bare `python -c 'import mcp.server'` (median of {RUNS})", floor, "s", "the SDK's floor"
    )
    report("  its CPU time (median)", statistics.median(cpu for _, cpu in bare), "s")
    report("first answer / bare SDK import", first / floor, "x")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "servers.log", "w") as log:
        await overhead(Path(tmp), log)
        await startup(Path(tmp), log)


if __name__ == "__main__":
    anyio.run(main)
