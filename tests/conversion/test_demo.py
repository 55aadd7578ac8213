"""`anc demo`: the embedded default job, for both formats."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # converts both formats end to end

RunCli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize("fmt", ["spikeglx", "openephys"])
def test_demo_converts_cleanly_and_verifies(fmt: str, tmp_path: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli("demo", "--output", str(tmp_path), "--format", fmt, "--seconds", "0.5")
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])
    assert (tmp_path / f"{fmt}-recording").is_dir()  # kept for `anc convert` next
    tags = subprocess.run(["git", "tag", "-l"], cwd=root, capture_output=True, text=True).stdout
    assert tags.split() == [f"conversion-{root.name.removeprefix('conversion_')}"]
    nwb = next((root / "outputs").glob("*.nwb"))
    assert nwb.is_symlink() and "annex/objects" in os.readlink(nwb)
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=root, capture_output=True, text=True
    ).stdout
    assert "[DATALAD RUNCMD]" in log
    validation = json.loads((root / "reports" / "validation.json").read_text())
    assert sum(validation["counts"].values()) == 0, validation["counts"]  # no issues at all
    assert "No issues found" in (root / "reports" / "validation.md").read_text()
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err


def test_demo_refuses_unknown_format(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli("demo", "--output", str(tmp_path), "--format", "plexon")
    assert code == 2 and err.startswith("error: the demo has no 'plexon' writer")
    assert not any(tmp_path.iterdir())
