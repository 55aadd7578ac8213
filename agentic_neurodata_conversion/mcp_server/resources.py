"""Resources: a conversion's summary, its per-field report and its journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from ..errors import AncError
from .provenance_integration import MCPProvenanceManager
from .tools import field_report_of, next_tool

if TYPE_CHECKING:
    from ..conversion.pipeline import ConversionPipeline


def add_resources(server: MCPServer, manager: MCPProvenanceManager) -> None:
    async def read(conversion_id: str, work: Callable[[ConversionPipeline], str]) -> str:
        def job() -> str:
            with manager.using(conversion_id) as pipeline:
                return work(pipeline)

        try:
            return await anyio.to_thread.run_sync(job)
        except AncError as exc:
            raise ResourceNotFoundError(str(exc)) from exc

    @server.resource(
        "conversion://{conversion_id}/summary",
        name="conversion summary",
        mime_type="text/markdown",
        description="CONVERSION_SUMMARY.md once finalized; before that, status and next step.",
    )
    async def summary(conversion_id: str) -> str:
        return await read(conversion_id, _summary)

    @server.resource(
        "conversion://{conversion_id}/fields",
        name="per-field provenance",
        mime_type="application/json",
        description="Each NWB field's final value, source, confidence, review flag and history.",
    )
    async def fields(conversion_id: str) -> str:
        import json

        return await read(conversion_id, lambda p: json.dumps(field_report_of(p), indent=1))

    @server.resource(
        "conversion://{conversion_id}/journal",
        name="provenance journal",
        mime_type="application/x-ndjson",
        description="Every record of the conversion, one JSON object per line, hash-chained.",
    )
    async def journal(conversion_id: str) -> str:
        return await read(conversion_id, _journal_text)


def _summary(pipeline: ConversionPipeline) -> str:
    from ..provenance.layout import SUMMARY_FILE

    path = pipeline.path / SUMMARY_FILE
    if pipeline.tracker.session.is_finalized and path.is_file():
        return path.read_text()
    state, session = pipeline.state, pipeline.tracker.session
    stage = state.get("stage", "start")
    review = state.get("needs_review") or []
    return "\n".join(
        [
            f"# Conversion {pipeline.tracker.conversion_id}",
            "",
            f"- **Status**: {session.status}",
            f"- **Stage**: {stage}",
            f"- **Format**: {state.get('format', '-')}",
            f"- **Started**: {session.start_time}",
            f"- **Fields needing review**: {', '.join(review) or 'none'}",
            f"- **Next tool**: {'-' if session.is_finalized else next_tool(state)}",
            "",
        ]
    )


def _journal_text(pipeline: ConversionPipeline) -> str:
    import orjson

    from ..journal.chain import iter_entries

    return "".join(
        orjson.dumps(e).decode() + "\n" for e in iter_entries(pipeline.tracker.journal.dir)
    )
