"""Fixtures for provenance tests: conversions that are fsck-checked when a test ends."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic_neurodata_conversion import runtime
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

runtime.prepare()  # git-annex on PATH for the subprocesses tests run themselves


def annex_fsck(path: Path) -> None:
    """Every conversion a test creates must pass a full `git annex fsck`."""
    proc = subprocess.run(
        ["git", "annex", "fsck", "--quiet"], cwd=path, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"git annex fsck failed in {path}:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture
def new_conversion(tmp_path: Path) -> Iterator[Callable[..., ConversionProvenanceTracker]]:
    made: list[ConversionProvenanceTracker] = []

    def make(conversion_id: str = "c1", **kwargs: object) -> ConversionProvenanceTracker:
        tracker = ConversionProvenanceTracker(conversion_id, tmp_path / "out", **kwargs)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()
        annex_fsck(tracker.path)
