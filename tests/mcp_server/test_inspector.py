"""The official MCP Inspector CLI against `anc mcp serve` (skipped when it cannot be installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ANC

pytestmark = pytest.mark.slow
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"  # works on Node 20 (shared/FACTS.md)


@pytest.fixture(scope="module")
def inspector() -> Path:
    """A folder with the Inspector installed (cached between runs)."""
    if shutil.which("npm") is None or shutil.which("npx") is None:
        pytest.skip("npm is not installed")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = cache / "anc-tests" / INSPECTOR.replace("/", "_")
    if not (folder / "node_modules" / ".bin" / "mcp-inspector").exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", INSPECTOR],
                cwd=folder,
                capture_output=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("installing the MCP Inspector took over 2 minutes")
        if done.returncode != 0:
            pytest.skip(f"the MCP Inspector did not install: {done.stderr[-300:]!r}")
    return folder


def _inspect(inspector: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # No --output: the Inspector would take it as its own option.
        [
            "npx",
            "--no-install",
            "mcp-inspector",
            "--cli",
            ANC,
            "mcp",
            "serve",
            "--root",
            str(root),
            *args,
        ],
        cwd=inspector,
        env=os.environ | {"MCP_CATALOG_PATH": str(root.parent / "inspector-catalog.json")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_inspector_lists_and_calls_tools(inspector: Path, root: Path) -> None:
    listed = _inspect(inspector, root, "--method", "tools/list", "--strict")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["tools"]) == 17
    assert "Warning" not in listed.stderr  # every schema is portable

    called = _inspect(inspector, root, "--method", "tools/call", "--tool-name", "list_conversions")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["structuredContent"] == {"conversions": []}

    failed = _inspect(
        inspector,
        root,
        "--method",
        "tools/call",
        "--tool-name",
        "get_status",
        "--tool-arg",
        "conversion_id=nope",
    )
    assert failed.returncode == 5  # the Inspector's exit code for a tool error
    assert "unknown conversion id 'nope'" in failed.stdout + failed.stderr
