"""The MCP server: AI agents drive conversions through tools, and every call is recorded.

``server.build_server`` makes the server, ``tools.ConversionTools`` are its tools and
``resources`` its resources, ``provenance_integration.MCPProvenanceManager`` keeps the
conversions and records each tool call, ``paths.Roots`` confines file access,
``redact.sanitize`` keeps secrets out of the record and ``auth`` reads the HTTP bearer token.
Nothing here is imported by ``anc --help``.
"""

from .sdk import import_sdk

import_sdk()  # first, so every SDK model below is built on first use (see sdk.py)
