"""The batch collector adds the conversions it registers to the lab's index (inside .git/:
the lab stays clean), so `anc query LAB` sees them without a rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.conversion import synthetic
from agentic_neurodata_conversion.datalad_layer.git import call_git
from agentic_neurodata_conversion.index import Query, backends

from .test_batch_run import SIZE, batch, make_sessions

pytestmark = pytest.mark.slow


def test_the_collector_indexes_what_it_registers(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=2)
    lab = tmp_path / "lab"
    pattern = f"{raw}/{{subject_id}}/{{session_id}}"
    assert batch(pattern, lab).counts["completed"] == 2
    assert index.rebuild(lab).conversions == 2
    assert backends.sqlite_path(lab) == lab / ".git" / "anc-index.sqlite"

    late = raw / "m1" / "s09"
    late.mkdir()
    synthetic.write_spikeglx(late, seed=9, **SIZE)
    assert batch(pattern, lab).counts["completed"] == 1
    found = index.query(lab, Query(tool_version="neuroconv>=0.10"))
    assert len(found.rows) == 3 and all(r.status == "completed" and r.tag for r in found.rows)
    assert not found.notes
    made = index.query(lab, Query(derived_from=str(late)))
    assert [r.output.endswith(".nwb") for r in made.rows] == [True]
    assert index.check_index(lab).ok
    assert call_git(lab, "status", "--porcelain").decode() == ""
