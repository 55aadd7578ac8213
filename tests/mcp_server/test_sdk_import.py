"""The SDK is imported with its models built on first use, and they still validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import agentic_neurodata_conversion.mcp_server
import mcp_types
from pydantic import BaseModel
from pydantic._internal._config import config_defaults

before = mcp_types.Tool.__pydantic_complete__
tool = mcp_types.Tool.model_validate({"name": "t", "inputSchema": {"type": "object"}})

class Later(BaseModel):
    x: int

print(before, tool.name, mcp_types.Tool.__pydantic_complete__, Later.__pydantic_complete__,
      config_defaults["defer_build"])
"""


def test_sdk_models_build_on_first_use_and_later_models_do_not_defer() -> None:
    # A fresh interpreter: this test process has imported the SDK already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "t", "True", "True", "False"]


def test_the_sdk_leaves_our_logging_alone(tmp_path: Path) -> None:
    probe = (
        "import logging, sys\n"
        "from agentic_neurodata_conversion.mcp_server.server import build_server\n"
        "build_server(['.'])\n"
        "print(len(logging.getLogger().handlers), 'rich' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out == ["0", "False"]
