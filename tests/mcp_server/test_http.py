"""Streamable HTTP: a bearer token is required to start and on every request."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from .conftest import ANC, CLIENT, call, serve_args, tool_calls

pytestmark = pytest.mark.slow
TOKEN = "test-token-0123456789abcdef"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ANC_MCP_TOKEN"}
    return env | extra


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(root: Path, log: Path, env: dict[str, str], *extra: str) -> Iterator[str]:
    """`anc mcp serve --http` on a free port; yields its URL. Its stdout must stay empty."""
    port = _free_port()
    with open(log, "ab") as errlog:
        proc = subprocess.Popen(
            [ANC, *serve_args(root, "--http", "--port", str(port), *extra)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errlog,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.05)
        assert TOKEN not in Path(f"/proc/{proc.pid}/cmdline").read_text()
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert out == b""  # logs went to stderr


def _post(url: str, token: str | None) -> int:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}'
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    return Client(transport, client_info=CLIENT)


def test_http_refuses_to_start_without_a_good_token(root: Path) -> None:
    for env, expected in [
        (_env(), "needs a bearer token"),
        (_env(ANC_MCP_TOKEN="short"), "shorter than 16"),
    ]:
        done = subprocess.run(
            [ANC, *serve_args(root, "--http", "--port", str(_free_port()))],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and expected in done.stderr
        assert done.stdout == ""


@pytest.mark.anyio
async def test_http_requires_the_bearer_token(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with http_server(root, log, _env(ANC_MCP_TOKEN=TOKEN)) as url:
        assert _post(url, None) == 401
        assert _post(url, "wrong-token-0123456789") == 401
        with pytest.raises(Exception):  # noqa: B017 (the SDK raises its transport's error)
            async with _client(url, None) as client:
                await client.list_tools()
        async with _client(url, TOKEN) as client:
            assert len((await client.list_tools()).tools) == 17
            await call(client, "start_conversion", source="rec", conversion_id="h1")
            await call(
                client,
                "record_decision",
                conversion_id="h1",
                field="Subject.species",
                value="Mus musculus",
                confidence=0.9,
            )
    calls = tool_calls(root / "out" / "conversion_h1")
    assert [(c["input_data"]["tool"], c["agent"]) for c in calls] == [
        ("start_conversion", CLIENT.name),
        ("record_decision", CLIENT.name),
    ]
    assert "401" in log.read_text()  # uvicorn's access log, on stderr


@pytest.mark.anyio
async def test_http_token_from_a_file(root: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    with http_server(root, tmp_path / "server.log", _env(), "--token-file", str(token_file)) as url:
        assert _post(url, None) == 401
        async with _client(url, TOKEN) as client:
            assert (await call(client, "list_conversions"))["conversions"] == []
