"""The bearer token for streamable HTTP: read from a file or the environment, never argv."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import UsageError

log = logging.getLogger("anc.mcp")

TOKEN_ENV = "ANC_MCP_TOKEN"
MIN_TOKEN_LENGTH = 16


class BearerToken:
    """Accepts exactly one token (constant-time comparison)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> Any:
        import hmac

        from mcp.server.auth.provider import AccessToken

        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token="bearer", client_id="anc-mcp-bearer", scopes=[])
        return None


def read_token(token_file: str | Path | None) -> str:
    """The bearer token from TOKEN_FILE or $ANC_MCP_TOKEN; refuses a missing or short one."""
    if token_file is not None:
        path = Path(token_file)
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read the token file {path}: {exc.strerror}", "give a readable file"
            ) from None
        if path.stat().st_mode & 0o077:
            log.warning("token file %s is readable by others: chmod 600 it", path)
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(
            "serving over HTTP needs a bearer token",
            f"set {TOKEN_ENV} or pass --token-file FILE (never on the command line)",
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"the bearer token is shorter than {MIN_TOKEN_LENGTH} characters",
            "use a long random one: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return token
