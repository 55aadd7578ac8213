"""The MCP server: the tools and resources, with a record of every tool call.

``build_server`` returns an ``MCPServer`` whose ``call_tool`` records each call (tool,
redacted arguments, result or error, duration, the client's name) in the conversion it
concerns, after argument validation too, so refused, failed and retried calls are all on the
record. Calls that name no conversion, and calls on a finalized one, go to the audit log on
stderr. ``finalize_conversion`` is recorded when it starts: once finalized, a conversion
takes no more records.

The tools are in ``tools.py`` (their argument and result types in ``schemas.py``), the
resources in ``resources.py``, the HTTP bearer token in ``auth.py``. Heavy modules are
imported on first use, never at start.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from .. import __version__
from ..errors import AncError
from .auth import BearerToken
from .paths import PathRefused, Roots
from .provenance_integration import ConversionBusy, MCPProvenanceManager, client_identity
from .resources import add_resources
from .tools import ConversionTools, client_session

if TYPE_CHECKING:
    from mcp_types import CallToolResult


log = logging.getLogger("anc.mcp")

NAME = "agentic-neurodata-conversion"
RECORD_ENV = "ANC_MCP_RECORD"  # "0" switches the call record off: for bench/ only
# Tools after which the conversion takes no more records: their call is recorded at start.
TERMINAL_TOOLS = frozenset({"finalize_conversion"})
# Tools whose conversion_id argument names a conversion still to be made.
CREATING_TOOLS = frozenset({"start_conversion"})
CANCELLED_AFTER_WORK = (
    "the client cancelled the request while it ran; the work completed (result recorded here) "
    "but the answer was not sent"
)

INSTRUCTIONS = """\
Converts raw electrophysiology recordings (SpikeGLX, Open Ephys) to NWB, each conversion a
DataLad dataset with field-level provenance. Order: start_conversion(source) -> detect_format
-> extract_metadata -> record_decision / record_user_input / record_enrichment for the fields
that need review -> run_conversion -> validate_conversion -> finalize_conversion. Every tool
call is recorded in the conversion's journal. After finalize, revise_conversion corrects the
fields get_field_report flags for review (a new iteration and tag each call; a failed
conversion too). Paths must lie inside the server's roots.
get_status tells the next tool for a conversion; list_conversions lists them all;
list_interfaces lists NeuroConv's data interfaces and which are installed; query_index asks
across every conversion of a lab (placeholders, low confidence, failed calls, lineage, tool
versions, subjects whose sessions disagree) from the lab's index."""


class RecordingServer(MCPServer):
    """An MCPServer that records every tool call in the conversion it concerns."""

    def __init__(self, manager: MCPProvenanceManager, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manager = manager

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> Any:
        if not self.manager.record_calls:
            return await super().call_tool(name, arguments, context)
        agent, client = client_identity(client_session(context))
        cid = arguments.get("conversion_id")
        # A tool that creates a conversion does not concern one by that id yet.
        cid = cid if isinstance(cid, str) and name not in CREATING_TOOLS else None
        note = functools.partial(self._note, name, arguments, agent, client)
        if cid is not None and name in TERMINAL_TOOLS:
            await note(cid, None, status="started", duration_ms=None)
        start = time.perf_counter()
        try:
            result = await super().call_tool(name, arguments, context)
        except BaseException as exc:
            ms = round((time.perf_counter() - start) * 1000, 3)
            cause = exc.__cause__
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                status, error = "cancelled", "the client cancelled the request"
            else:
                status = "refused" if isinstance(cause, PathRefused) else "error"
                error = str(exc)
                if cause is not None and not isinstance(cause, ToolError | AncError):
                    error += f" ({type(cause).__name__}: {cause})"  # kept server-side only
            with anyio.CancelScope(shield=True):
                await note(cid, None, status=status, duration_ms=ms, error=error)
            raise
        ms = round((time.perf_counter() - start) * 1000, 3)
        output = _result_data(result)
        if (
            cid is None
            and isinstance(output, dict)
            and isinstance(output.get("conversion_id"), str)
        ):
            cid = output["conversion_id"]  # start_conversion names its conversion in the result
        # Work in a worker thread runs to its end even when the client cancels meanwhile
        # (DataLad and NeuroConv cannot stop halfway safely); the SDK then drops the answer.
        if anyio.current_effective_deadline() == -math.inf:  # this request was cancelled
            status, error = "cancelled", CANCELLED_AFTER_WORK
        else:
            status, error = "ok", None
        with anyio.CancelScope(shield=True):
            await note(cid, output, status=status, duration_ms=ms, error=error)
        return result

    async def _note(
        self,
        name: str,
        arguments: dict[str, Any],
        agent: str | None,
        client: dict[str, Any],
        cid: str | None,
        output: Any,
        *,
        status: str,
        duration_ms: float | None,
        error: str | None = None,
    ) -> None:
        """Record one call; in a worker thread only when the conversion is busy or not open."""
        if cid is None:
            outcome = {"status": status, "duration_ms": duration_ms, "error": error}
            self.manager.audit(
                name, arguments, outcome, agent, None, "the call names no conversion"
            )
            return
        record = functools.partial(
            self.manager.record_tool_execution,
            cid,
            name,
            arguments,
            output,
            agent,
            error=error,
            duration_ms=duration_ms,
            status=status,
            client=client,
        )
        try:
            if self.manager.is_open(cid):  # else opening it from disk: not on the event loop
                try:
                    record(blocking=False)
                    return
                except ConversionBusy:
                    pass
            await anyio.to_thread.run_sync(record)
        except Exception:  # the call itself happened: report, never undo it
            log.exception("could not record the %s call on conversion %s", name, cid)


def _result_data(result: CallToolResult | Any) -> Any:
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        return structured
    return [getattr(c, "text", repr(c)) for c in getattr(result, "content", [])]


def build_server(
    roots: Sequence[str | Path],
    output_dir: str | Path | None = None,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    record_calls: bool | None = None,
    settings_file: str | Path | None = None,
) -> RecordingServer:
    """The server for ROOTS, with conversions under OUTPUT_DIR (default: ROOT0/conversions).

    With TOKEN, HTTP requests must carry ``Authorization: Bearer TOKEN``. The settings
    (admission of conversion runs, the cache of readings) come from SETTINGS_FILE, else
    OUTPUT_DIR/anc.toml when it exists, else the defaults.
    """
    confined = Roots(roots)
    output = Path(output_dir).absolute() if output_dir else confined.paths[0] / "conversions"
    output.mkdir(parents=True, exist_ok=True)
    settings = None
    if settings_file is not None or (output / "anc.toml").is_file():
        from ..monitoring.settings import load_settings

        settings = load_settings(settings_file, output)  # a bad file stops the start
    if record_calls is None:
        record_calls = os.environ.get(RECORD_ENV, "1") != "0"
    if not record_calls:
        log.warning("%s=0: tool calls are NOT recorded (for benchmarks only)", RECORD_ENV)
    manager = MCPProvenanceManager(output, confined.paths, record_calls=record_calls)
    auth: dict[str, Any] = {}
    if token is not None:
        from mcp.server.auth.settings import AuthSettings

        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 in brackets
        auth = {
            "token_verifier": BearerToken(token),
            "auth": AuthSettings(issuer_url=f"http://{netloc}", resource_server_url=None),
        }
    server = RecordingServer(
        manager, name=NAME, version=__version__, instructions=INSTRUCTIONS, **auth
    )
    tools = ConversionTools(manager, confined, settings)
    for tool in ConversionTools.NAMES:
        server.add_tool(getattr(tools, tool))
    add_resources(server, manager)
    log.info("roots: %s; conversions in %s", confined.describe(), output)
    return server


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr only: on stdio, stdout carries the protocol."""
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    os.environ.setdefault("DATALAD_LOG_LEVEL", "WARNING")
    logging.getLogger("datalad").setLevel(logging.WARNING)


def serve_stdio(server: RecordingServer) -> None:
    try:
        anyio.run(server.run_stdio_async)
    finally:
        server.manager.close()


def serve_http(server: RecordingServer, host: str, port: int) -> None:
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines (bearer token required)", host)
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level="info")
    try:
        anyio.run(uvicorn.Server(config).serve)
    finally:
        server.manager.close()
