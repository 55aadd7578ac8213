"""`anc check` names an edited journal line of a conversion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from agentic_neurodata_conversion.journal import chain as jmod
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

RunCli = Callable[..., tuple[int, str, str]]


def test_anc_check_names_an_edited_journal_line(tmp_path: Path, run_cli: RunCli) -> None:
    t = ConversionProvenanceTracker("audit", tmp_path)
    for i in range(5):
        t.record_field(f"NWBFile.f{i}", i, "auto_extracted", confidence=0.9)
    t.checkpoint("five fields")
    t.close()
    code, out, _ = run_cli("check", str(t.path))
    assert code == 0, out
    segment = jmod.sealed_segments(t.path / jmod.JOURNAL_DIR)[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    entry = orjson.loads(lines[2])
    entry["value"] = 42  # a quiet change of one decision
    lines[2] = orjson.dumps(entry) + b"\n"
    segment.chmod(0o644)
    segment.write_bytes(b"".join(lines))
    code, out, err = run_cli("check", str(t.path))
    assert code == 4
    expected = f"provenance/journal/{segment.name} line 3 (seq {entry['seq']}): record was edited"
    assert expected in out + err
