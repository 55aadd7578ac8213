"""`anc report`: output, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_neurodata_conversion.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_to_stdout(rich: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(rich))
    assert code == 0 and err == ""
    assert out == (rich / "CONVERSION_SUMMARY.md").read_text()
    code, out, _ = run(capsys, str(rich), "--format", "json")
    assert code == 0 and json.loads(out)["overview"]["conversion_id"] == "rich"


def test_writes_file(rich: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "crate.json"
    code, out, err = run(capsys, str(rich), "-f", "rocrate", "-o", str(target))
    assert code == 0 and out == "" and err == f"wrote {target}\n"
    assert target.read_text() == (rich / "ro-crate-metadata.json").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}"], "is not a conversion (no provenance/conversion.json)"),
        (["{tmp}/missing"], "does not exist or is not a folder"),
        (
            ["{rich}", "-f", "pdf"],
            "unknown report format 'pdf' (use one of: md, html, json, prov-json, prov-n, prov-o, rocrate)",
        ),
        (
            ["{rich}", "-o", "{tmp}/no/such/dir/r.md"],
            "does not exist (create it or choose another file)",
        ),
    ],
)
def test_bad_input(
    rich: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, out, err = run(capsys, *(a.format(tmp=tmp_path, rich=rich) for a in args))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_broken_chain_still_writes_and_exits_4(
    broken: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, seq = broken
    target = tmp_path / "broken.md"
    code, _, err = run(capsys, str(path), "-o", str(target))
    assert code == 4
    assert "WARNING: the journal failed its integrity check" in target.read_text()
    warning = err.splitlines()[-1]
    assert warning.startswith(f"WARNING: the journal of {path} failed its integrity check")
    assert "1 untrusted records" in warning
    code, out, _ = run(capsys, str(path), "-f", "prov-n")
    assert code == 4 and 'anc:journalCheck="failed"' in out and f"c:rec-{seq}," in out
