"""The seed's MCPProvenanceManager contract, used directly (no server)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_neurodata_conversion.mcp_server import provenance_integration
from agentic_neurodata_conversion.mcp_server.provenance_integration import (
    OPERATION,
    MCPProvenanceManager,
)
from agentic_neurodata_conversion.mcp_server.redact import REDACTED
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker


@pytest.mark.slow
def test_seed_contract(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    manager = MCPProvenanceManager(root / "out", [root])
    cid = manager.start_conversion_tracking(root / "rec", conversion_id="m1", agent="agent-x")
    assert isinstance(manager.get_tracker(cid), ConversionProvenanceTracker)
    assert manager.get_tracker("nope") is None

    failed = manager.record_tool_execution(
        cid,
        "detect_format",
        {"conversion_id": cid, "password": "pw"},
        None,
        "agent-x",
        error="boom",
        duration_ms=1.5,
    )
    retried = manager.record_tool_execution(
        cid,
        "detect_format",
        {"conversion_id": cid},
        {"format": "spikeglx", "token": "t"},
        "agent-x",
        duration_ms=2.0,
    )
    assert failed is not None and retried is not None
    assert (failed.operation, failed.agent) == (OPERATION, "agent-x")
    assert failed.input_data == {
        "tool": "detect_format",
        "arguments": {"conversion_id": cid, "password": REDACTED},
    }
    assert failed.output_data == {"status": "error", "duration_ms": 1.5, "error": "boom"}
    assert retried.output_data["retry_of"] == failed.seq
    assert retried.output_data["result"] == {"format": "spikeglx", "token": REDACTED}

    # A new manager (a restarted server) finds the conversion on disk.
    again = MCPProvenanceManager(root / "elsewhere", [root])
    assert again.list_conversions()[0].conversion_id == cid
    result = again.finalize_conversion(cid, "cancelled", reason="agent stopped")
    assert (result.status, result.tag) == ("cancelled", None)
    with caplog.at_level(logging.INFO, logger="anc.mcp.audit"):
        assert again.record_tool_execution(cid, "get_status", {}, {}) is None
    assert "is finalized" in caplog.text  # in the audit log instead
    manager.close()
    again.close()


def test_module_level_instance_is_lazy() -> None:
    """In a fresh interpreter: other tests in this one may have asked for it already."""
    probe = (
        "from agentic_neurodata_conversion.mcp_server import provenance_integration as p\n"
        "assert not p._default\n"
        "assert isinstance(p.provenance_manager, p.MCPProvenanceManager)\n"
        "assert p.provenance_manager is p._default[0]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
    assert isinstance(provenance_integration.provenance_manager, MCPProvenanceManager)
