"""The query suite, on SQLite and on a real PostgreSQL server: the same lab, the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.index import Query
from agentic_neurodata_conversion.index.synthetic import ConversionSpec, FieldSpec, make_conversion
from agentic_neurodata_conversion.journal.chain import JOURNAL_DIR, sealed_segments


def edit_line(conversion: Path, seq: int, old: str, new: str) -> None:
    """Change one journal line's text in place (its hash no longer matches)."""
    segment = sealed_segments(conversion / JOURNAL_DIR)[0]
    lines = segment.read_text().splitlines(keepends=True)
    assert old in lines[seq - 1]
    lines[seq - 1] = lines[seq - 1].replace(old, new)
    segment.write_text("".join(lines))


def build_lab(tmp_path: Path) -> Path:
    """Five conversions: two sessions of m1 that disagree on species and share an input,
    one of m2 with placeholders and an AI guess, one with a placeholder subject id, and
    one whose journal was edited after it was written (chain broken)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shared, other, third = raw / "shared.bin", raw / "other.bin", tmp_path / "third.bin"
    for path in (shared, other, third):
        path.write_bytes(path.name.encode() * 100)
    lab = tmp_path / "lab"
    lab.mkdir()
    age_placeholder = FieldSpec("Subject.age", "P0D/", "domain_knowledge", 0.2, "placeholder")
    make_conversion(
        lab,
        ConversionSpec(
            "m1-s1",
            subject="m1",
            inputs=[shared],
            neuroconv="0.10.1",
            tool_calls=[("detect_format", "ok"), ("run_conversion", "ok")],
        ),
    )
    make_conversion(
        lab,
        ConversionSpec(
            "m1-s2",
            subject="m1",
            species="Rattus norvegicus",
            inputs=[shared, other],
            tool_calls=[("run_conversion", "error"), ("run_conversion", "ok")],
        ),
    )
    make_conversion(
        lab,
        ConversionSpec(
            "m2-s1",
            subject="m2",
            inputs=[third],
            neuroconv="0.9.0",
            fields=[
                age_placeholder,
                FieldSpec("NWBFile.lab", "Placeholder lab", "domain_knowledge", 0.2, "placeholder"),
                FieldSpec("Subject.sex", "F", "ai_generated", 0.4, "low_evidence", agent="gpt"),
                FieldSpec("Subject.strain", "C57BL/6J", "ai_generated", 0.9, "high_evidence"),
            ],
            tool_calls=[("run_conversion", "error")],
            status="failed",
            error="NeuroConv could not read the file",
        ),
    )
    make_conversion(
        lab,
        ConversionSpec("anon", species="Danio rerio", fields=[age_placeholder], neuroconv="0.10.3"),
    )
    # A subject id given only as a placeholder is no subject: no false disagreement.
    edited = make_conversion(lab, ConversionSpec("edited", subject="m3", neuroconv="0.10.0"))
    edit_line(edited, 5, '"Mus musculus"', '"Homo sapiens"')
    return lab


@pytest.fixture
def lab(tmp_path: Path, index_url: str | None) -> tuple[Path, str | None]:
    lab = build_lab(tmp_path)
    report = index.rebuild(lab, index_url)
    assert report.conversions == 5 and report.untrusted == ["conversion_edited"]
    return lab, index_url


def ask(lab: tuple[Path, str | None], **filters: object) -> index.QueryResult:
    return index.query(lab[0], Query(**filters), None)  # the URL is remembered by rebuild


def ids(result: index.QueryResult) -> list[str]:
    return [r.conversion_id for r in result.rows]


def test_query_suite(lab: tuple[Path, str | None], tmp_path: Path) -> None:
    folder, url = lab
    if url is not None:  # rebuild remembered the shared index for the lab
        assert index.backends.configured_url(folder) == url

    placeholders = ask(lab, field="Subject.age", level="placeholder")
    assert placeholders.kind == "field" and ids(placeholders) == ["anon", "m2-s1"]
    assert placeholders.rows[0].value == "P0D/" and placeholders.rows[0].needs_review

    review = ask(lab, needs_review=True)
    assert {(r.conversion_id, r.field) for r in review.rows} == {
        ("anon", "Subject.age"),
        ("m2-s1", "Subject.age"),
        ("m2-s1", "NWBFile.lab"),
        ("m2-s1", "Subject.sex"),
    }

    guesses = ask(lab, source="ai_generated", max_confidence=0.5)
    assert [(r.conversion_id, r.field, r.value, r.confidence) for r in guesses.rows] == [
        ("m2-s1", "Subject.sex", "F", 0.4)
    ]

    failed_runs = ask(lab, tool="run_conversion", status="error")
    assert failed_runs.kind == "tool_call" and ids(failed_runs) == ["m1-s2", "m2-s1"]
    assert failed_runs.rows[0].error == "run_conversion failed"

    derived = ask(lab, derived_from=str(tmp_path / "raw" / "shared.bin"))
    assert derived.kind == "output"
    assert [(r.conversion_id, r.output) for r in derived.rows] == [
        ("m1-s1", "outputs/m1-s1.nwb"),
        ("m1-s2", "outputs/m1-s2.nwb"),
    ]
    assert all(r.annex_key.startswith("BLAKE3_256E-s1000--") for r in derived.rows)
    # a folder: every output made from a file in it; the other file is only in m1-s2
    assert ids(ask(lab, derived_from=str(tmp_path / "raw"))) == ["m1-s1", "m1-s2"]
    assert ids(ask(lab, derived_from=str(tmp_path / "raw" / "other.bin"))) == ["m1-s2"]
    assert ask(lab, derived_from=str(tmp_path / "raw" / "shared")).rows == []  # no prefix match

    old = ask(lab, tool_version="neuroconv<0.10.2")
    assert old.kind == "conversion" and ids(old) == ["edited", "m1-s1", "m2-s1"]
    assert ids(ask(lab, tool_version="neuroconv>=0.10.2,<0.11")) == ["anon", "m1-s2"]

    disagree = ask(lab, inconsistent="Subject")
    assert disagree.kind == "inconsistency"
    assert [(r.subject, r.field) for r in disagree.rows] == [("m1", "Subject.species")]
    assert disagree.rows[0].values == {
        "conversion_m1-s1": "Mus musculus",
        "conversion_m1-s2": "Rattus norvegicus",
    }

    # combined: every filter holds
    both = ask(lab, field="Subject.age", level="placeholder", tool_version="neuroconv<0.10.2")
    assert ids(both) == ["m2-s1"]
    assert ids(ask(lab, tool="run_conversion", status="error", tool_version="neuroconv>0.10")) == [
        "m1-s2"
    ]
    species_of_shared = ask(lab, field="Subject.species", derived_from=str(tmp_path / "raw"))
    assert [r.value for r in species_of_shared.rows] == ["Mus musculus", "Rattus norvegicus"]
    assert ids(ask(lab, status="failed")) == ["m2-s1"]

    # the broken journal: indexed, and marked untrusted wherever it is used
    humans = ask(lab, field="Subject.species", tool_version="neuroconv==0.10.0")
    assert [(r.conversion_id, r.value, r.trusted) for r in humans.rows] == [
        ("edited", "Homo sapiens", False)
    ]
    assert list(humans.untrusted) == ["conversion_edited"]
    assert "record was edited" in humans.untrusted["conversion_edited"][0]
    every = ask(lab)
    assert {r.conversion_id: r.trusted for r in every.rows} == {
        "anon": True,
        "edited": False,
        "m1-s1": True,
        "m1-s2": True,
        "m2-s1": True,
    }
    assert ask(lab, field="Subject.age").untrusted == {}

    # limits say how many there were
    limited = ask(lab, limit=2)
    assert len(limited.rows) == 2 and limited.total == 5


def test_unknown_names_are_refused_with_the_closest(lab: tuple[Path, str | None]) -> None:
    with pytest.raises(UsageError) as exc:
        ask(lab, field="Subject.specis")
    assert "unknown field 'Subject.specis'" in str(exc.value)
    assert "did you mean 'Subject.species'" in str(exc.value)
    for filters, expected in (
        ({"level": "placeholdr"}, "did you mean 'placeholder'"),
        ({"source": "ai"}, "unknown provenance source 'ai'"),
        ({"inconsistent": "Subjet"}, "did you mean 'Subject'"),
        ({"tool": "run_convert"}, "did you mean 'run_conversion'"),
        ({"tool_version": "neuroconv<<0.10"}, "malformed version constraint 'neuroconv<<0.10'"),
        ({"tool_version": "nueroconv<1"}, "did you mean 'neuroconv'"),
        ({"max_confidence": 1.5}, "outside 0-1"),
        (
            {"tool": "run_conversion", "status": "eror"},
            "no tool call has status 'eror' (did you mean 'error'",
        ),
        ({"status": "complete"}, "no conversion has status 'complete' (did you mean 'completed'"),
    ):
        with pytest.raises(Exception) as exc:
            ask(lab, **filters)
        assert expected in str(exc.value), (filters, str(exc.value))


def test_update_reads_only_changed_journals(lab: tuple[Path, str | None]) -> None:
    folder, _ = lab
    assert index.update(folder).read == 0
    make_conversion(folder, ConversionSpec("m1-s3", subject="m1", species="Mus musculus"))
    edited = folder / "conversion_m2-s1"
    # a record appended to one journal (a new chain head)
    from agentic_neurodata_conversion.journal.chain import Journal
    from agentic_neurodata_conversion.journal.records import ProvenanceRecord

    with Journal(edited / JOURNAL_DIR) as journal:
        journal.append(
            ProvenanceRecord(
                source="user_provided",
                operation="user_input",
                field="Subject.age",
                value="P90D",
                confidence_level="human_override",
            )
        )
    report = index.update(folder)
    assert (report.read, report.removed, report.conversions) == (2, 0, 6)
    assert ids(ask(lab, field="Subject.age", level="placeholder")) == ["anon"]
    import shutil

    shutil.rmtree(folder / "conversion_anon")
    assert index.update(folder).removed == 1
    assert index.check_index(folder).ok


def test_writers_add_conversions_concurrently(lab: tuple[Path, str | None]) -> None:
    """Several writers (machines of a lab, workers of a batch) into one index at once."""
    import threading

    from agentic_neurodata_conversion.index.build import add_conversions

    folder, url = lab
    paths = [
        make_conversion(folder, ConversionSpec(f"w{n}", subject=f"w{n}", neuroconv="0.10.2"))
        for n in range(8)
    ]
    failures: list[BaseException] = []

    def write(path: Path) -> None:
        try:
            add_conversions(folder, [path], url)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(ask(lab).rows) == 13
    assert index.check_index(folder).ok
