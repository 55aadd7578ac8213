"""The MCP server: AI agents drive conversions through tools, and every call is recorded.

``server.build_server`` makes the server, ``provenance_integration.MCPProvenanceManager``
keeps the conversions and records each tool call, ``paths.Roots`` confines file access and
``redact.sanitize`` keeps secrets out of the record. Nothing here is imported by ``anc --help``.
"""

from .sdk import import_sdk

import_sdk()  # first, so every SDK model below is built on first use (see sdk.py)
