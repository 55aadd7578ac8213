"""Folders as acquisition systems name and nest them: record nodes with spaces, unicode,
several streams in one Open Ephys node (made by copying a stream of the real recording)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import formats
from agentic_neurodata_conversion.errors import UsageError

pytestmark = pytest.mark.slow  # converts real recordings

RunCli = Callable[..., tuple[int, str, str]]
OE = "oe_pytools_v067_binary"
STREAM = "File_Reader-100.example_data"
COPY = "File_Reader-101.copy_data"


def _conversion(out: str) -> Path:
    return Path(out.strip().splitlines()[-1])


def _input_record(root: Path) -> dict[str, object]:
    state = json.loads((root / "provenance" / "pipeline_state.json").read_text())
    return state["input"]


def test_a_record_node_folder_and_a_unicode_folder_convert_under_safe_names(
    real_recording: Callable[[str], Path], tmp_path: Path, run_cli: RunCli
) -> None:
    node = real_recording(OE) / "Record Node 105"
    code, out, err = run_cli("convert", str(node), "--output", str(tmp_path / "a"))
    assert code == 0, err
    root = _conversion(out)
    assert root.name.startswith("conversion_Record-Node-105-")
    ref = _input_record(root)
    assert ref["name"] == "Record-Node-105" and ref["source"] == str(node.absolute())

    code, out, err = run_cli("convert", str(node), "--output", str(tmp_path / "b"), "--id", "s1")
    assert code == 0, err
    assert _conversion(out).name == "conversion_s1"

    unicode = node.parent / "Maus Zürich – Sitzung 3"
    shutil.copytree(node, unicode)
    code, out, err = run_cli("convert", str(unicode), "--output", str(tmp_path / "c"))
    assert code == 0, err
    root = _conversion(out)
    assert root.name.startswith("conversion_Maus-Zurich-Sitzung-3-")
    assert _input_record(root)["source"] == str(unicode.absolute())
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err


def _two_streams(node: Path) -> None:
    """A second stream in the node: a copy of the real one, as a second processor."""
    recording = node / "experiment1" / "recording1"
    shutil.copytree(recording / "continuous" / STREAM, recording / "continuous" / COPY)
    oebin = recording / "structure.oebin"
    structure = json.loads(oebin.read_text())
    second = dict(structure["continuous"][0])
    second |= {"folder_name": f"{COPY}/", "source_processor_id": 101, "stream_name": "copy_data"}
    structure["continuous"].append(second)
    oebin.write_text(json.dumps(structure, indent=2))


def test_an_open_ephys_node_with_two_streams_converts_the_one_named(
    real_recording: Callable[[str], Path], tmp_path: Path, run_cli: RunCli
) -> None:
    session = real_recording(OE)
    _two_streams(session / "Record Node 105")
    with pytest.raises(UsageError) as refused:
        formats.detect_format(session, choose={"record_node": "Record Node 105"})
    assert refused.value.message.endswith(f"holds 2 streams: '{STREAM}', '{COPY}'")
    assert refused.value.hint == "choose the one to convert with --stream NAME"
    out = tmp_path / "out"
    code, _, err = run_cli(
        "convert", str(session), "--output", str(out), "--record-node", "Record Node 105"
    )
    assert code == 2 and "holds 2 streams" in err and not out.exists()  # nothing created

    code, stdout, err = run_cli(
        "convert",
        str(session),
        "--output",
        str(out),
        "--record-node",
        "Record Node 105",
        "--stream",
        COPY,
    )
    assert code == 0, err
    root = _conversion(stdout)
    detected = json.loads((root / "provenance" / "pipeline_state.json").read_text())
    assert detected["choose"] == {"record_node": "Record Node 105", "stream": COPY}
    evaluation = json.loads((root / "reports" / "evaluation.json").read_text())
    assert evaluation["passes"] and evaluation["series"][0]["samples_compared"] > 0

    code, stdout, err = run_cli(
        "convert",
        str(session),
        "--output",
        str(tmp_path / "all"),
        "--record-node",
        "Record Node 105",
        "--all-streams",
    )
    assert code == 0, err
    evaluation = json.loads((_conversion(stdout) / "reports" / "evaluation.json").read_text())
    assert evaluation["passes"], evaluation["summary"]
    assert len(evaluation["series"]) == 2  # both streams, each read back sample by sample
