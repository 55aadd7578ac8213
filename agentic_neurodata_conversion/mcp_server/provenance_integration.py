"""The conversions an MCP server works on, and the record of every tool call made on them.

``MCPProvenanceManager`` (the seed's contract: ``start_conversion_tracking``, ``get_tracker``,
``record_tool_execution``, ``finalize_conversion``) keeps a registry of open conversions by
id. Nothing lives only in memory: a conversion unknown to this process (after a restart) is
reopened from its dataset, found under the output folder or the roots.

One lock per conversion serialises everything done to it: a tracker (and its journal) must
not be used from two threads at once, and long stages run in worker threads while calls on
other conversions keep being served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProvenanceError, UsageError
from ..journal.records import ConfidenceLevel, ProvenanceSource
from ..names import check_name
from .redact import sanitize

if TYPE_CHECKING:
    from ..conversion.pipeline import ConversionPipeline, ConversionResult, Progress
    from ..journal.records import ProvenanceRecord
    from ..provenance.catalog import ConversionInfo
    from ..provenance.tracker import ConversionProvenanceTracker

log = logging.getLogger("anc.mcp")
audit = logging.getLogger("anc.mcp.audit")

OPERATION = "mcp_tool_call"
STATUSES = ("ok", "error", "refused", "cancelled", "started")
UNKNOWN_CLIENT = "mcp-client"


class ConversionBusy(Exception):
    """The conversion's lock is held (only raised for non-blocking use)."""


@dataclass
class _Open:
    pipeline: ConversionPipeline
    lock: threading.Lock


class MCPProvenanceManager:
    """Registry of the conversions served, reopened lazily from disk."""

    def __init__(
        self,
        output_dir: str | Path,
        roots: Sequence[str | Path] = (),
        *,
        record_calls: bool = True,
    ) -> None:
        self.output_dir = Path(output_dir).absolute()
        self.roots = [Path(r).absolute() for r in roots]
        self.record_calls = record_calls
        self._open: dict[str, _Open] = {}
        self._registry_lock = threading.Lock()
        # (conversion id, tool) -> seq of its last failed call, to mark the retry.
        self._failed: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ registry

    def start_conversion_tracking(
        self,
        dataset_dir: str | Path,
        output_dir: str | Path | None = None,
        *,
        conversion_id: str | None = None,
        input_mode: str = "auto",
        agent: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Create the conversion dataset for DATASET_DIR and bring the recording in."""
        from ..conversion.pipeline import ConversionPipeline

        if conversion_id is not None:
            check_name(conversion_id, "conversion id")
        pipeline = ConversionPipeline.start(
            dataset_dir,
            output_dir or self.output_dir,
            conversion_id=conversion_id,
            input_mode=input_mode,
            progress=progress,
            agent=agent or UNKNOWN_CLIENT,
        )
        cid = pipeline.tracker.conversion_id
        pipeline.progress = _quiet  # PROGRESS served this call only
        with self._registry_lock:
            self._open[cid] = _Open(pipeline, threading.Lock())
        log.info("started conversion %s in %s", cid, pipeline.path)
        return cid

    def _locate(self, conversion_id: str) -> Path:
        from ..provenance.catalog import find_conversions
        from ..provenance.layout import conversion_folder, is_conversion

        folder = conversion_folder(self.output_dir, conversion_id)
        if is_conversion(folder):
            return folder
        for root in self.roots:
            for path in find_conversions(root):
                if path.name == folder.name:
                    return path
        places = ", ".join(str(p) for p in [self.output_dir, *self.roots])
        raise UsageError(
            f"unknown conversion id {conversion_id!r}: no {folder.name} under {places}",
            "call list_conversions for the ids, or start_conversion to start one",
        )

    def is_open(self, conversion_id: str) -> bool:
        """Whether the conversion is in memory (else using it first reads it from disk)."""
        return conversion_id in self._open

    def _entry(self, conversion_id: str) -> _Open:
        entry = self._open.get(conversion_id)
        if entry is not None:
            return entry
        check_name(conversion_id, "conversion id")
        with self._registry_lock:
            entry = self._open.get(conversion_id)
            if entry is None:
                from ..conversion.pipeline import ConversionPipeline

                path = self._locate(conversion_id)
                entry = _Open(ConversionPipeline.open(path), threading.Lock())
                self._open[conversion_id] = entry
                log.info("reopened conversion %s from %s", conversion_id, path)
        return entry

    @contextmanager
    def using(
        self, conversion_id: str, *, blocking: bool = True, progress: Progress | None = None
    ) -> Iterator[ConversionPipeline]:
        """The conversion's pipeline, with its lock held (ConversionBusy if not BLOCKING)."""
        entry = self._entry(conversion_id)
        if not entry.lock.acquire(blocking=blocking):
            raise ConversionBusy(conversion_id)
        pipeline = entry.pipeline
        try:
            if progress is not None:
                pipeline.progress = progress
            yield pipeline
        finally:
            pipeline.progress = _quiet
            entry.lock.release()

    def get_tracker(self, conversion_id: str) -> ConversionProvenanceTracker | None:
        """The conversion's tracker, or None if there is no such conversion (seed contract).

        The caller must not use it while a tool works on the same conversion; prefer
        ``using()``, which holds the conversion's lock.
        """
        try:
            return self._entry(conversion_id).pipeline.tracker
        except UsageError:
            return None

    def list_conversions(self) -> list[ConversionInfo]:
        """Conversions under the output folder and the roots, by id (first found wins)."""
        from ..provenance.catalog import conversion_info, find_conversions

        seen: dict[str, ConversionInfo] = {}
        for base in [self.output_dir, *self.roots]:
            if not base.is_dir():
                continue
            for path in find_conversions(base):
                info = conversion_info(path)
                seen.setdefault(info.conversion_id, info)
        return sorted(seen.values(), key=lambda i: (i.started, i.conversion_id))

    def close(self) -> None:
        with self._registry_lock:
            for entry in self._open.values():
                with entry.lock:
                    entry.pipeline.tracker.close()
            self._open.clear()

    # ------------------------------------------------------------------ recording

    def record_tool_execution(
        self,
        conversion_id: str,
        tool_name: str,
        input_data: Mapping[str, Any],
        output_data: Any,
        agent_name: str | None = None,
        *,
        error: str | None = None,
        duration_ms: float | None = None,
        status: str | None = None,
        client: Mapping[str, Any] | None = None,
        blocking: bool = True,
    ) -> ProvenanceRecord | None:
        """Append an ``mcp_tool_call`` record: tool, redacted arguments, result and/or error.

        INPUT_DATA are the call's arguments, OUTPUT_DATA its result. Returns None (and
        writes the server's audit log instead) when the conversion is finalized or unknown.
        A call of a tool whose previous call on this conversion failed is marked as its
        retry. Raises ConversionBusy when not BLOCKING and the conversion is in use.
        """
        status = status or ("error" if error is not None else "ok")
        if status not in STATUSES:
            raise UsageError(f"unknown call status {status!r}", f"use one of: {STATUSES}")
        outcome: dict[str, Any] = {"status": status, "duration_ms": duration_ms}
        if error is not None:
            outcome["error"] = sanitize(error)
        # A call cancelled after its work completed has both an error and a result.
        if status != "started" and (error is None or output_data is not None):
            outcome["result"] = sanitize(output_data)
        arguments = sanitize(dict(input_data))
        key = (conversion_id, tool_name)
        try:
            with self.using(conversion_id, blocking=blocking) as pipeline:
                retry_of = self._failed.get(key)
                if retry_of is not None:
                    outcome["retry_of"] = retry_of
                record = pipeline.tracker.record_provenance(
                    ProvenanceSource.AI_GENERATED,
                    agent_name or UNKNOWN_CLIENT,
                    OPERATION,
                    {"tool": tool_name, "arguments": arguments},
                    outcome,
                    confidence=1.0,
                    confidence_level=ConfidenceLevel.DEFINITIVE,
                    method="mcp",
                    metadata={"mcp_server_operation": True, "client": dict(client or {})},
                )
        except (UsageError, ProvenanceError) as exc:
            self.audit(tool_name, arguments, outcome, agent_name, conversion_id, str(exc))
            return None
        if status in ("error", "refused", "cancelled"):
            self._failed[key] = record.seq
        elif status == "ok":
            self._failed.pop(key, None)
        return record

    def audit(
        self,
        tool_name: str,
        arguments: Any,
        outcome: Mapping[str, Any],
        agent_name: str | None,
        conversion_id: str | None,
        why: str,
    ) -> None:
        """Log a call that no conversion can hold (server-level audit log on stderr)."""
        import json

        audit.info(
            "%s",
            json.dumps(
                {
                    "tool": tool_name,
                    "client": agent_name or UNKNOWN_CLIENT,
                    "conversion_id": conversion_id,
                    "arguments": sanitize(arguments),
                    **outcome,
                    "not_in_journal": why,
                },
                default=str,
            ),
        )

    # ------------------------------------------------------------------ finalize

    def finalize_conversion(
        self,
        conversion_id: str,
        status: str | None = None,
        final_metadata: Mapping[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> ConversionResult:
        """Finalize: by the validation outcome (STATUS None) or as failed/cancelled."""
        with self.using(conversion_id) as pipeline:
            if status is None:
                result = pipeline.finalize()
            else:
                from .. import reports  # noqa: F401  (registers the summary, HTML, RO-Crate)

                pipeline.tracker.finalize_conversion(status, final_metadata, error=reason)
                result = pipeline.result(None, reason)
        log.info("finalized conversion %s: %s", conversion_id, result.status)
        return result


def _quiet(stage: str, message: str) -> None:
    """The pipeline's progress callback between tool calls."""


def client_identity(session: Any) -> tuple[str | None, dict[str, Any]]:
    """The calling client's name and {name, version} from an MCP server session."""
    params = getattr(session, "client_params", None)
    info = getattr(params, "client_info", None)
    if info is None:
        return None, {}
    return info.name, {"name": info.name, "version": info.version}


_default: list[MCPProvenanceManager] = []


def __getattr__(name: str) -> Any:
    """``provenance_manager``: the seed's module-level instance, made on first use."""
    if name == "provenance_manager":
        if not _default:
            _default.append(MCPProvenanceManager(Path.cwd() / "conversions", [Path.cwd()]))
        return _default[0]
    raise AttributeError(name)
