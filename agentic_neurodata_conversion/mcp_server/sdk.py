"""Import the MCP SDK quickly: its pydantic models are built on first use, not at import.

``mcp_types`` defines several hundred pydantic models (one set per protocol version) and
builds every validator at import: most of the ~1 s that ``import mcp.server`` costs, though a
session touches a few dozen of them. Importing it under pydantic's ``defer_build`` makes
each model build its validator the first time it validates, so the server answers its first
call sooner (about 0.2 s here, see bench/bench_mcp.py). Models defined after the
import are unaffected.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def deferred_model_builds() -> Iterator[None]:
    """Models defined inside the block defer building their validators until first use."""
    # pydantic keeps the default config in a private dict; if it moves, import as usual.
    try:
        from pydantic._internal._config import config_defaults
    except ImportError:  # pragma: no cover - depends on the pydantic release
        yield
        return
    before = config_defaults.get("defer_build", False)
    config_defaults["defer_build"] = True
    try:
        yield
    finally:
        config_defaults["defer_build"] = before


def import_sdk() -> ModuleType:
    """``mcp.server``, imported with deferred model builds and without the SDK's logging set-up."""
    with deferred_model_builds():
        sdk = importlib.import_module("mcp.server")
    # MCPServer() calls this to put rich's handler on the root logger unless logging is set
    # up already. We log to stderr ourselves (server.configure_logging), so all it would do
    # is import rich (~60 ms of start-up).
    importlib.import_module("mcp.server.mcpserver.server").configure_logging = _keep_logging
    return sdk


def _keep_logging(level: str = "INFO") -> None:
    """Leaves logging as the caller set it up."""
