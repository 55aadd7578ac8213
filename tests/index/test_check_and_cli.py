"""`anc index check` names an edited line; bad input is one line; hooks keep the index current."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.cli.main import main
from agentic_neurodata_conversion.index import Query, backends
from agentic_neurodata_conversion.index.synthetic import ConversionSpec, make_conversion

from .conftest import _free_port
from .test_query import build_lab, edit_line


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_names_an_edited_journal_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = build_lab(tmp_path)
    code, out, err = run(capsys, "index", "rebuild", str(lab))
    assert code == 0 and "index rebuilt: 5 conversions" in out, err
    assert "untrusted (hash chain broken): conversion_edited" in out
    assert run(capsys, "index", "check", str(lab))[0] == 0

    edit_line(lab / "conversion_m1-s2", 5, '"Rattus norvegicus"', '"Mus musculus"')
    code, out, err = run(capsys, "index", "check", str(lab))
    assert code == 4, out + err
    assert (
        "conversion_m1-s2: provenance/journal/000000000001.jsonl line 5 (seq 5): record was "
        "edited, its hash does not match its content (indexed as trusted)"
    ) in out
    assert (
        "conversion_m1-s2: fields seq 5: value '\"Rattus norvegicus\"' in the index, "
        "'\"Mus musculus\"' in the journal"
    ) in out
    assert "differences" in out.splitlines()[-1]

    # A rebuild takes the journal as it is now: the index agrees again, the journal is untrusted.
    run(capsys, "index", "rebuild", str(lab))
    assert run(capsys, "index", "check", str(lab))[0] == 0
    code, out, _ = run(capsys, "query", str(lab), "--inconsistent", "Subject", "--json")
    assert code == 0 and '"rows": []' in out  # m1's sessions agree now (one of them untrusted)


def test_query_outputs_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = build_lab(tmp_path)
    code, _, err = run(capsys, "query", str(lab))
    assert code == 2 and err.strip() == (
        f"error: {lab} has no index (build it with `anc index rebuild {lab}` (SQLite in the lab))"
    )
    run(capsys, "index", "rebuild", str(lab))
    assert (lab / ".anc-index.sqlite").is_file()  # not a git repository: beside the conversions

    code, out, _ = run(capsys, "query", str(lab), "--inconsistent", "Subject")
    assert code == 0 and "Subject.species" in out and "m1" in out
    code, out, _ = run(
        capsys, "query", str(lab), "--tool", "run_conversion", "--status", "error", "--csv"
    )
    assert (
        out.splitlines()[0]
        == "conversion,conversion_id,seq,tool,status,client,duration_ms,error,trusted"
    )
    assert [line.split(",")[1] for line in out.splitlines()[1:]] == ["m1-s2", "m2-s1"]
    code, out, _ = run(capsys, "query", str(lab), "--field", "Subject.species")
    assert "NO (untrusted)" in out and "untrusted: conversion_edited:" in out

    for args, message in (
        (["--field", "Subject.specis"], "error: unknown field 'Subject.specis' (did you mean"),
        (["--tool-version", "neuroconv<<1"], "error: malformed version constraint 'neuroconv<<1'"),
        (["--index", "mysql://x"], "error: unsupported index URL 'mysql://x'"),
    ):
        code, _, err = run(capsys, "query", str(lab), *args)
        assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_an_older_layout_is_rebuilt_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = build_lab(tmp_path)
    index.rebuild(lab)
    db = backends.connect(backends.default_url(lab))
    db.execute("UPDATE meta SET value = '0' WHERE key = 'layout'")
    db.execute("DROP TABLE tools")  # what layout 0 lacked
    db.close()
    code, out, err = run(capsys, "query", str(lab), "--tool-version", "neuroconv<0.10.2", "--json")
    assert code == 0
    assert err.startswith(
        "note: the index had layout 0 (this anc writes layout 1): rebuilt from 5 journals"
    )
    assert '"conversion_id": "m1-s1"' in out
    assert not run(capsys, "query", str(lab))[2]  # said once: it is current now


def test_a_postgresql_url_that_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = build_lab(tmp_path)
    url = f"postgresql://anc:secret@127.0.0.1:{_free_port()}/lab"
    started = time.monotonic()
    code, _, err = run(capsys, "index", "rebuild", str(lab), "--index", url)
    assert time.monotonic() - started < backends.CONNECT_TIMEOUT_S + 1
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert err.startswith(
        f"error: the PostgreSQL index postgresql://anc:***@127.0.0.1:{url.split(':')[3]}"
    )
    assert "does not answer" in err and "secret" not in err and "Traceback" not in err


def test_finalize_adds_to_the_index_and_a_failure_marks_it_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import agentic_neurodata_conversion.reports  # noqa: F401  (registers the finalize hooks)
    from agentic_neurodata_conversion import runtime
    from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

    runtime.prepare()
    lab = tmp_path / "lab"
    lab.mkdir()
    make_conversion(lab, ConversionSpec("first", subject="m1"))
    index.rebuild(lab)
    t = ConversionProvenanceTracker("second", lab, checkpoint=False, register=False)
    t.record_field("Subject.subject_id", "m1", "user_provided", confidence=1.0)
    t.record_field("Subject.species", "Rattus norvegicus", "user_provided", confidence=1.0)
    started = time.perf_counter()
    t.finalize_conversion("completed")
    t.close()
    assert time.perf_counter() - started < 30
    result = index.query(lab, Query(inconsistent="Subject"))
    assert [(r.subject, sorted(r.values.values())) for r in result.rows] == [
        ("m1", ["Mus musculus", "Rattus norvegicus"])
    ]
    assert index.check_index(lab).ok
    assert [r.tag for r in index.query(lab, Query()).rows] == [None, "conversion-second"]

    # the index cannot be reached: the conversion is finalized all the same, the index stale
    backends.url_file(lab).write_text(f"postgresql://postgres@127.0.0.1:{_free_port()}/x\n")
    t = ConversionProvenanceTracker("third", lab, checkpoint=False, register=False)
    assert t.finalize_conversion("completed") == "conversion-third"
    t.close()
    assert "third: IndexUnavailable" in backends.stale_file(lab).read_text()
    backends.url_file(lab).unlink()
    result = index.query(lab, Query())
    assert result.notes and result.notes[0].startswith("the index may be stale: 1 conversion(s)")
    assert index.update(lab).read == 1
    assert not index.query(lab, Query()).notes
