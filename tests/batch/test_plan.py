"""What a re-run converts again: a changed source, or a changed --metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic_neurodata_conversion.batch.fingerprint import fingerprint, settings_digest
from agentic_neurodata_conversion.batch.records import (
    COMPLETED,
    FAILED,
    History,
    SessionRecord,
    source_key,
)
from agentic_neurodata_conversion.batch.run import plan
from agentic_neurodata_conversion.batch.sources import expand_sources

from .test_batch_run import batch, make_sessions


def _one_session(tmp_path: Path):
    folder = tmp_path / "raw" / "s1"
    folder.mkdir(parents=True)
    (folder / "data.bin").write_bytes(b"\0" * 64)
    (session,) = expand_sources(f"{tmp_path}/raw/{{session_id}}")
    return session


def _done(session, settings: str | None) -> dict[str, History]:
    key = source_key(session.inputs)
    record = SessionRecord(
        "s1",
        key,
        COMPLETED,
        str(session.source),
        fingerprint(session.inputs),
        settings,
        conversion_id="s1-00000000",
        path="conversion_s1-00000000",
    )
    return {key: History(completed=record)}


def test_a_changed_metadata_file_converts_again_a_moved_one_does_not(tmp_path: Path) -> None:
    session = _one_session(tmp_path)
    given = tmp_path / "metadata.yml"
    given.write_text("Subject:\n  species: Mus musculus\n")
    known = _done(session, settings_digest(given))
    lab = tmp_path / "lab"

    (same,) = plan([session], lab, known, 0, given)
    assert same.skip is not None and same.skip.previous == COMPLETED

    moved = tmp_path / "elsewhere.yml"
    moved.write_text(given.read_text())
    (item,) = plan([session], lab, known, 0, moved)
    assert item.skip is not None

    given.write_text("Subject:\n  species: Rattus norvegicus\n")
    (changed,) = plan([session], lab, known, 0, given)
    assert changed.skip is None
    (dropped,) = plan([session], lab, known, 0, None)
    assert dropped.skip is None


def test_a_record_older_than_the_settings_digest_counts_as_unchanged(tmp_path: Path) -> None:
    session = _one_session(tmp_path)
    (item,) = plan([session], tmp_path / "lab", _done(session, None), 0, None)
    assert item.skip is not None


def test_failures_count_per_source_and_settings(tmp_path: Path) -> None:
    session = _one_session(tmp_path)
    given = tmp_path / "metadata.yml"
    given.write_text("Subject:\n  species: Mus musculus\n")
    now = fingerprint(session.inputs)
    history = History(failures={(now, settings_digest(given)): 1})
    known = {source_key(session.inputs): history}
    (refused,) = plan([session], tmp_path / "lab", known, 0, given)
    assert refused.skip is not None and refused.skip.previous == FAILED
    given.write_text("Subject:\n  species: Rattus norvegicus\n")  # the fix
    (again,) = plan([session], tmp_path / "lab", known, 0, given)
    assert again.skip is None and again.attempts == 0


@pytest.mark.slow
def test_a_rerun_with_changed_metadata_converts_again(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_sessions(raw, good=1)
    lab = tmp_path / "lab"
    pattern = f"{raw}/{{subject_id}}/{{session_id}}"
    given = tmp_path / "metadata.yml"
    given.write_text("NWBFile:\n  lab: Doe lab\n")
    first = batch(pattern, lab, metadata_file=given)
    assert first.counts["completed"] == 1
    assert batch(pattern, lab, metadata_file=given).counts["skipped"] == 1
    given.write_text("NWBFile:\n  lab: Roe lab\n")
    third = batch(pattern, lab, metadata_file=given)
    assert third.counts == {"completed": 1, "failed": 0, "skipped": 0}
    (session,) = third.sessions
    assert session.conversion_id != first.sessions[0].conversion_id
