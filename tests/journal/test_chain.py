"""The journal: chain, segments, tamper detection, torn lines, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import orjson
import pytest

from agentic_neurodata_conversion.journal import chain as jmod
from agentic_neurodata_conversion.journal.chain import Journal, iter_entries, verify_journal
from agentic_neurodata_conversion.journal.records import ProvenanceRecord


def rec(i: int) -> ProvenanceRecord:
    return ProvenanceRecord(source="auto_extracted", operation="step", agent="test", value=i)


def write(root: Path, n: int, seal_every: int = 0) -> Journal:
    j = Journal(root / jmod.JOURNAL_DIR)
    for i in range(n):
        j.append(rec(i))
        if seal_every and (i + 1) % seal_every == 0:
            j.seal()
    return j


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_chain_spans_segments_and_verifies(tmp_path: Path) -> None:
    j = write(tmp_path, 25, seal_every=10)
    segments = jmod.sealed_segments(j.dir)
    assert [p.name for p in segments] == ["000000000001.jsonl", "000000000011.jsonl"]
    check = verify_journal(tmp_path)
    assert check.ok and check.records == 25 and check.last_seq == 25
    assert [e["seq"] for e in iter_entries(j.dir)] == list(range(1, 26))


def test_sealing_never_rewrites_a_sealed_segment(tmp_path: Path) -> None:
    j = write(tmp_path, 5)
    first = j.seal()[0]
    before = first.read_bytes()
    for i in range(5):
        j.append(rec(i))
    j.seal()
    assert first.read_bytes() == before
    assert j.seal() == []  # nothing new: nothing to commit


def test_edited_line_is_named(tmp_path: Path) -> None:
    j = write(tmp_path, 6)
    j.seal()
    seg = jmod.sealed_segments(j.dir)[0]
    lines = lines_of(seg)
    entry = orjson.loads(lines[3])
    entry["value"] = 999
    lines[3] = orjson.dumps(entry) + b"\n"
    seg.write_bytes(b"".join(lines))
    check = verify_journal(tmp_path)
    assert not check.ok
    assert check.problems == [
        f"provenance/journal/{seg.name} line 4 (seq 4): record was edited, its hash does not match its content"
    ]


def test_removed_and_reordered_lines_are_named(tmp_path: Path) -> None:
    j = write(tmp_path, 6)
    j.seal()
    seg = jmod.sealed_segments(j.dir)[0]
    original = lines_of(seg)
    seg.write_bytes(b"".join(original[:2] + original[3:]))
    assert "records seq 3..3 are missing (removed)" in verify_journal(tmp_path).problems[0]
    seg.write_bytes(b"".join([original[0], original[2], original[1], *original[3:]]))
    problems = verify_journal(tmp_path).problems
    assert problems and "line 2 (seq 3)" in problems[0]


def test_removed_tail_is_caught_by_head(tmp_path: Path) -> None:
    j = write(tmp_path, 6)
    j.seal()
    seg = jmod.sealed_segments(j.dir)[0]
    seg.write_bytes(b"".join(lines_of(seg)[:4]))
    check = verify_journal(tmp_path)
    assert not check.ok
    assert "ends at seq 4 but the last checkpoint recorded seq 6" in check.problems[0]


def test_torn_last_line_is_cut_and_kept(tmp_path: Path) -> None:
    j = write(tmp_path, 3)
    j.close()
    current = tmp_path / jmod.JOURNAL_DIR / jmod.CURRENT
    with open(current, "ab") as fh:
        fh.write(b'{"seq":4,"time":"2026')
    assert verify_journal(tmp_path).ok  # a torn tail is a warning, not tampering
    assert "torn last line" in verify_journal(tmp_path).warnings[0]
    j2 = Journal(current.parent)
    assert [t.data for t in j2.torn] == [b'{"seq":4,"time":"2026']
    assert j2.append(rec(4)).seq == 4
    assert verify_journal(tmp_path).ok and verify_journal(tmp_path).records == 4


def _append_many(journal_dir: str, worker: int, n: int) -> None:
    j = Journal(journal_dir)
    for i in range(n):
        j.append(
            ProvenanceRecord(source="auto_extracted", operation="w", agent=f"w{worker}", value=i)
        )
        if worker == 0 and i % 150 == 0:
            j.seal()  # one writer seals while the other appends
    j.close()


def test_two_processes_never_interleave_or_lose(tmp_path: Path) -> None:
    journal_dir = tmp_path / jmod.JOURNAL_DIR
    Journal(journal_dir).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(journal_dir), w, 600)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    check = verify_journal(tmp_path)
    assert check.ok, check.problems
    assert check.records == 1200
    per_agent: dict[str, list[int]] = {}
    for entry in iter_entries(journal_dir):
        per_agent.setdefault(entry["agent"], []).append(entry["value"])
    assert per_agent == {"w0": list(range(600)), "w1": list(range(600))}


def test_sync_mode_appends(tmp_path: Path) -> None:
    j = Journal(tmp_path / jmod.JOURNAL_DIR, sync=True)
    for i in range(20):
        j.append(rec(i))
    assert verify_journal(tmp_path).records == 20


def test_not_json_line_is_reported(tmp_path: Path) -> None:
    j = write(tmp_path, 3)
    j.seal()
    seg = jmod.sealed_segments(j.dir)[0]
    lines = lines_of(seg)
    lines[1] = b"garbage\n"
    seg.write_bytes(b"".join(lines))
    check = verify_journal(tmp_path)
    assert "line 2: not a journal record" in check.problems[0]
    with pytest.raises(Exception, match="not valid JSON"):
        list(iter_entries(j.dir))


def test_threads_sharing_one_journal_keep_the_chain(tmp_path: Path) -> None:
    import threading

    j = Journal(tmp_path / jmod.JOURNAL_DIR)

    def work(worker: int) -> None:
        for i in range(2000):
            j.append(
                ProvenanceRecord(
                    source="auto_extracted", operation="t", agent=f"t{worker}", value=i
                )
            )
            if worker == 0 and i % 500 == 0:
                j.seal()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = verify_journal(tmp_path)
    assert check.ok, check.problems[:3]
    assert check.records == 8000
