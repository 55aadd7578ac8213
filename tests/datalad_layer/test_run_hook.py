"""`datalad run` with a hook between the command and the save of its outputs, and the hard
link that lets the outputs be read while git-annex moves them into the annex."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.datalad_layer.run import run_command

OUTPUT = "outputs/out.nwb"
DATA = bytes(range(256)) * 4096


@pytest.mark.slow
def test_the_hook_runs_before_the_save_and_a_held_link_outlives_it(tmp_path: Path) -> None:
    root = Path(dsops.create_dataset(tmp_path / "ds", rules=annex.CONVERSION_RULES).path)
    (root / "outputs").mkdir()
    write = f"open({OUTPUT!r}, 'wb').write(bytes(range(256)) * 4096)"
    seen: dict[str, object] = {}

    def done() -> None:
        seen["tracked"] = dsops.git(root, "ls-files", "--", OUTPUT)
        seen["held"] = dsops.hold(root, OUTPUT)

    record = run_command(
        root,
        f'{sys.executable} -c "{write}"',
        inputs=[],
        outputs=[OUTPUT],
        message="write",
        on_command_done=done,
    )
    assert seen["tracked"] == b""  # called before DataLad saved the output
    held = seen["held"]
    assert isinstance(held, Path) and held.is_relative_to(root / ".git")
    output = root / OUTPUT
    assert output.is_symlink() and OUTPUT in record.outputs  # annexed by the run's save
    assert os.path.samefile(held, output) and held.read_bytes() == DATA
    dsops.release_held(root)
    assert not held.exists() and output.read_bytes() == DATA
    assert dsops.changed_paths(root) == []
