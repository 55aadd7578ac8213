"""Every report format, rebuilt from the journal of a real conversion."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker
from agentic_neurodata_conversion.reports import FORMATS, build_report, build_view, write_report
from agentic_neurodata_conversion.reports import prov_export as pe
from agentic_neurodata_conversion.reports.model import annex_key_info
from agentic_neurodata_conversion.reports.rocrate_export import describe_file

from .conftest import NEEDS_REVIEW, TRICKY_TEXT, tamper


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout


def test_finalize_writes_and_commits_reports(rich: Path) -> None:
    tracked = git(rich, "ls-files").split()
    for name in (
        "CONVERSION_SUMMARY.md",
        "ro-crate-metadata.json",
        "reports/provenance_report.html",
    ):
        assert name in tracked and not (rich / name).is_symlink(), name  # in git, not annexed
    assert git(rich, "status", "--porcelain") == ""
    # `anc report` rebuilds each committed file from the journal, byte for byte
    assert build_report(rich, "md") == (rich / "CONVERSION_SUMMARY.md").read_text()
    assert build_report(rich, "html") == (rich / "reports/provenance_report.html").read_text()
    assert build_report(rich, "rocrate") == (rich / "ro-crate-metadata.json").read_text()


def test_markdown(rich: Path) -> None:
    md = build_report(rich, "md")
    assert "- **Status**: completed" in md and "- **Tag**: `conversion-rich`" in md
    assert "WARNING" not in md
    for name in NEEDS_REVIEW:
        assert f"| `{name}` |" in md and f"- `{name}`:" in md
    assert "- `NWBFile.lab` (seq" in md and "→ Lab A (human_override, by user)" in md
    assert "| `run_conversion` | 2 | 1 | 1 |" in md  # one failed call, one retry
    assert "NeuroConv timed out; recovery: retry with a longer timeout" in md
    assert "- **BEST_PRACTICE_VIOLATION**: 2" in md
    assert "| detect |" in md and "| validate |" in md


def test_json(rich: Path) -> None:
    data = json.loads(build_report(rich, "json"))
    assert data["integrity"]["ok"] and data["overview"]["status"] == "completed"
    assert data["needs_review"] == NEEDS_REVIEW
    lab = data["fields"]["NWBFile.lab"]
    assert lab["final_value"] == "Lab A" and lab["confidence_level"] == "human_override"
    assert [h["value"] for h in lab["history"]] == ["Lab B", "Lab A"] and lab["conflicts"] == 1
    assert data["fields"]["NWBFile.notes"]["final_value"] == TRICKY_TEXT
    kinds = {e["kind"] for e in data["events"]}
    assert {"start", "stage", "tool_call", "error", "artifact", "input", "finalize"} <= kinds
    assert data["agents"]["user"]["kind"] == "person"
    assert data["agents"]["gpt-4o"]["kind"] == "ai_model"
    assert data["agents"]["claude-desktop"]["kind"] == "mcp_client"
    nwb = next(a for a in data["artifacts"] if a["path"] == "outputs/session.nwb")
    assert nwb["annex_key"].startswith("BLAKE3_256E-s4008--")
    assert data["validation"]["passes"] is True


@pytest.mark.parametrize(
    ("writer", "fmt", "options"),
    [
        (pe.to_prov_json, "json", {}),
        (pe.to_prov_n, "provn", {}),
        (pe.to_prov_o, "rdf", {"rdf_format": "turtle"}),
    ],
)
def test_prov_round_trip(rich: Path, writer: object, fmt: str, options: dict[str, str]) -> None:
    from prov.model import ProvDocument

    statements = pe.prov_statements(build_view(rich))
    document = pe.prov_document(statements)
    text = writer(statements)  # type: ignore[operator]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # rdflib's, inside prov
        back = ProvDocument.deserialize(content=text, format=fmt, **options)
    assert back == document
    assert len(document.get_records()) > 100


def test_prov_content(rich: Path) -> None:
    from prov.model import ProvDocument

    doc = ProvDocument.deserialize(content=build_report(rich, "prov-json"), format="json")
    by_id = {str(r.identifier): r for r in doc.get_records() if r.identifier}
    values = {
        r.get_attribute("anc:field").pop(): r
        for r in doc.get_records()
        if r.get_type().localpart == "Entity"
        and r.get_attribute("anc:field")
        and "cand" not in str(r.identifier)
    }
    species = values["Subject.species"]
    assert species.get_attribute("prov:value") == {"Mus musculus"}
    assert species.get_attribute("anc:confidence") == {0.4}
    assert values["NWBFile.notes"].get_attribute("prov:value") == {TRICKY_TEXT}
    relations = {
        (r.get_type().localpart, str(r.formal_attributes[0][1]), str(r.formal_attributes[1][1]))
        for r in doc.get_records()
        if r.is_relation()
    }
    gpt = next(k for k, r in by_id.items() if r.get_attribute("prov:label") == {"gpt-4o"})
    user = next(k for k, r in by_id.items() if r.get_attribute("prov:label") == {"user"})
    assert by_id[user].get_attribute("prov:type") == {doc.valid_qualified_name("prov:Person")}
    assert ("Attribution", str(species.identifier), gpt) in relations
    lab_values = sorted(
        (
            str(r.identifier)
            for r in doc.get_records()
            if r.get_attribute("anc:field") == {"NWBFile.lab"} and "cand" not in str(r.identifier)
        ),
        key=lambda name: int(name.rsplit("-", 1)[1]),
    )
    assert ("Derivation", lab_values[1], lab_values[0]) in relations
    assert ("Generation", lab_values[1], lab_values[1].replace("val-", "rec-")) in relations
    outputs = [
        k for k, r in by_id.items() if r.get_attribute("anc:path") == {"outputs/session.nwb"}
    ]
    inputs = [k for k, r in by_id.items() if r.get_attribute("anc:mode") == {"reference"}]
    assert ("Derivation", outputs[0], inputs[0]) in relations
    assert ("Usage", "c:run", inputs[0]) in relations


def test_rocrate_content(rich: Path) -> None:
    crate = json.loads((rich / "ro-crate-metadata.json").read_text())
    assert crate["@context"][0] == "https://w3id.org/ro/crate/1.1/context"
    graph = {e["@id"]: e for e in crate["@graph"]}
    assert graph["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    root = graph["./"]
    assert root["conformsTo"] == {"@id": "https://w3id.org/ro/wfrun/process/0.5"}
    action = graph[root["mentions"]["@id"]]
    assert action["@type"] == "CreateAction"
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert action["startTime"].endswith("+00:00") and action["endTime"].endswith("+00:00")
    instruments = [i["@id"] for i in action["instrument"]]
    assert graph[instruments[0]]["@type"] == "SoftwareApplication"
    assert "scripts/convert.py" in instruments
    assert action["object"] == {"@id": "inputs/recording.manifest.json"}
    results = {r["@id"] for r in action["result"]}
    assert results == {"outputs/session.nwb", "reports/validation.json"}
    assert graph[action["agent"]["@id"]] == {
        "@id": "#agent-user",
        "@type": "Person",
        "name": "user",
    }
    nwb = graph["outputs/session.nwb"]
    backend, size, digest = annex_key_info(nwb["identifier"])
    assert backend == "BLAKE3_256E" and nwb["contentSize"] == str(size) == "4008"
    assert len(digest) == 64 and "sha256" not in nwb  # a BLAKE3 hash is not a sha256
    script = graph["scripts/convert.py"]
    assert script["sha256"] == hashlib.sha256(b"print('convert')\n").hexdigest()
    for entity in crate["@graph"]:
        if "File" in entity["@type"]:
            assert "contentSize" in entity and ("sha256" in entity or "identifier" in entity)


def test_sha256_annex_keys_give_the_checksum(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    data = b"some annexed bytes\n" * 100
    (repo / "a.nwb").write_bytes(data)
    for args in (
        ["init", "-q"],
        ["annex", "init", "-q"],
        ["annex", "add", "--backend=SHA256E", "a.nwb"],
    ):
        git(repo, *args)
    props = describe_file(repo, "a.nwb")
    assert props["identifier"].startswith("SHA256E-s1900--")
    assert props["sha256"] == hashlib.sha256(data).hexdigest()
    assert props["contentSize"] == "1900"


def test_roc_validator_accepts_process_run_crate(rich: Path, validator_cache: Path) -> None:
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "rocrate-validator"),
            "validate",
            "-p",
            "process-run-crate",
            "-l",
            "REQUIRED",
            "--offline",
            "--no-paging",
            "--cache-path",
            str(validator_cache),
            "-f",
            "json",
            str(rich),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(proc.stdout)
    assert result["validation_settings"]["offline"] is True
    assert result["validation_settings"]["profile_identifier"] == "process-run-crate-0.5"
    required = [i for i in result["issues"] if i["severity"] == "REQUIRED"]
    assert result["passed"] and not required, json.dumps(result["issues"], indent=1)[:3000]
    assert proc.returncode == 0


def test_broken_chain_is_reported_everywhere(broken: tuple[Path, int]) -> None:
    path, seq = broken
    view = build_view(path)
    assert not view.integrity.ok and view.integrity.untrusted == [seq]
    species = view.fields["Subject.species"]
    assert not species.final.trusted and species.needs_review
    assert "its record failed the journal check" in species.review_reasons
    assert view.fields["NWBFile.lab"].final.trusted
    md = build_report(path, "md")
    assert md.split("\n")[2].startswith("> **WARNING: the journal failed its integrity check.**")
    assert f"Untrusted records (seq): {seq}" in md and "**untrusted**" in md
    html = build_report(path, "html")
    assert '<div class="banner" id="integrity-warning" role="alert">' in html
    assert "was edited, its hash does not match" in html
    assert json.loads(build_report(path, "json"))["integrity"]["untrusted"] == [seq]
    for fmt in FORMATS:  # every format still renders
        assert build_report(path, fmt)


def test_edited_records_of_any_shape_still_render(tmp_path: Path) -> None:
    t = ConversionProvenanceTracker("garbage", tmp_path / "out")
    try:
        t.record_field("A.x", 1, "auto_extracted", confidence=0.9)
        t.record_field("A.y", 2, "auto_extracted", confidence=0.9)
        t.checkpoint("two fields")
    finally:
        t.close()
    tamper(
        t.path,
        "A.x",
        {
            "confidence": "very",
            "confidence_level": "certain",
            "conflict": {"candidates": "none"},
            "output_data": [1],
            "reasoning": "why",
        },
    )
    tamper(t.path, "A.y", {"seq": "x", "field": ["A.y"], "evidence": {"a": 1}})
    view = build_view(t.path)
    # the record after one with an unreadable seq cannot be placed in the chain either
    assert not view.integrity.ok and view.integrity.untrusted == [3, 4, 5]
    x = view.fields["A.x"].final
    assert (x.level, x.confidence, x.trusted) == ("unknown", None, False)
    assert not view.fields["['A.y']"].final.trusted
    for fmt in FORMATS:
        assert build_report(t.path, fmt)


def test_library_errors(tmp_path: Path, rich: Path) -> None:
    with pytest.raises(UsageError, match="unknown report format 'pdf'.*md, html, json"):
        build_report(rich, "pdf")
    with pytest.raises(UsageError, match="is not a conversion"):
        build_report(tmp_path, "md")
    with pytest.raises(UsageError, match="does not exist"):
        build_report(tmp_path / "nope", "md")
    target = write_report(rich, "prov-o", tmp_path / "p.ttl")
    assert target.read_text().startswith("@prefix prov:")
