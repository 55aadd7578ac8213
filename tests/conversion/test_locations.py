"""Ids, metadata files and where things go: refused in one line before anything is made;
a conversion inside a DataLad dataset becomes its subdataset, never a clone of itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.datalad_layer.integrity import list_subdatasets

from .test_pipeline import run_fails

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def rec(tmp_path: Path, write_recording: Callable[..., object]) -> Path:
    write_recording("spikeglx", tmp_path / "rec")
    return tmp_path / "rec"


@pytest.mark.parametrize("bad_id", ["", " ", "\t"])
def test_an_empty_or_blank_id_is_refused(
    bad_id: str, rec: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    err = run_fails(run_cli, "convert", str(rec), "--output", str(tmp_path / "out"), "--id", bad_id)
    assert "conversion id" in err
    assert not (tmp_path / "out").exists()


def test_a_binary_metadata_file_is_refused_in_one_line(
    rec: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    blob = tmp_path / "meta.yaml"
    blob.write_bytes(bytes(range(256)) * 4)
    err = run_fails(
        run_cli, "convert", str(rec), "--output", str(tmp_path / "out"), "--metadata", str(blob)
    )
    assert err == (
        f"error: metadata file {blob} is not a text file (not UTF-8) "
        "(give a YAML or JSON text file with NWBFile, Subject, ... sections)\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_source_inside_the_output_folder_is_refused(
    tmp_path: Path, run_cli: RunCli, write_recording: Callable[..., object]
) -> None:
    out = tmp_path / "out"
    write_recording("spikeglx", out / "raw" / "rec")
    before = sorted(p.name for p in out.iterdir())
    err = run_fails(run_cli, "convert", str(out / "raw" / "rec"), "--output", str(out))
    assert f"the source recording {out / 'raw' / 'rec'} is inside the output folder {out}" in err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.slow
def test_an_output_inside_a_conversion_is_refused(
    rec: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    code, out, err = run_cli("convert", str(rec), "--output", str(tmp_path / "out"), "--id", "a")
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])
    head = dlayer.git(root, "rev-parse", "HEAD")
    for inside in (root / "inputs", root / "inputs" / "more", root / "outputs"):
        err = run_fails(run_cli, "convert", str(rec), "--output", str(inside), "--id", "b")
        assert f"is inside the conversion dataset {root}" in err
    assert dlayer.git(root, "rev-parse", "HEAD") == head
    assert dlayer.git(root, "status", "--porcelain") == b""


@pytest.mark.slow
def test_a_conversion_in_a_dataset_is_registered_and_its_input_is_no_clone_of_it(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    """The lab's dataset holds the recording and the conversions folder: the conversion is
    registered as its subdataset, and the recording is referenced (cloning the lab's
    dataset into the conversion would put the conversion inside itself)."""
    lab = dlayer.create_dataset(tmp_path / "lab")
    write_recording("spikeglx", tmp_path / "lab" / "raw" / "rec1")
    dlayer.save(lab, "add rec1")
    code, out, err = run_cli(
        "convert",
        str(tmp_path / "lab" / "raw" / "rec1"),
        "--output",
        str(tmp_path / "lab" / "conversions"),
        "--id",
        "c1",
    )
    assert code == 0, err
    assert "warning" not in err
    root = Path(out.strip().splitlines()[-1])
    assert not (root / ".gitmodules").exists(), "the input was cloned as a subdataset"
    state = json.loads((root / "provenance" / "pipeline_state.json").read_text())
    assert state["input"]["mode"] == "reference"
    assert "also holds the conversion" in state["input"]["reason"]
    (sub,) = list_subdatasets(tmp_path / "lab")
    assert sub.path == "conversions/conversion_c1" and sub.installed
    # the lab's dataset records the conversion's final, tagged commit and is otherwise clean
    recorded = dlayer.git(tmp_path / "lab", "ls-tree", "HEAD", "conversions/conversion_c1").split()[
        2
    ]
    assert (
        recorded.decode()
        == dlayer.git(root, "rev-parse", "conversion-c1^{commit}").decode().strip()
    )
    assert dlayer.git(tmp_path / "lab", "status", "--porcelain") == b""
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err
    # asking for a subdataset input anyway is refused before anything is made
    err = run_fails(
        run_cli,
        "convert",
        str(tmp_path / "lab" / "raw" / "rec1"),
        "--output",
        str(tmp_path / "lab" / "conversions"),
        "--id",
        "c2",
        "--input-mode",
        "subdataset",
    )
    assert "it would be cloned into itself" in err


@pytest.mark.slow
def test_discard_unregisters_a_conversion_from_its_dataset(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    from agentic_neurodata_conversion.conversion.pipeline import ConversionPipeline

    lab = dlayer.create_dataset(tmp_path / "lab")
    write_recording("spikeglx", tmp_path / "rec")
    pipeline = ConversionPipeline.start(tmp_path / "rec", tmp_path / "lab", conversion_id="x")
    pipeline.tracker.close()
    assert [s.path for s in list_subdatasets(lab.pathobj)] == ["conversion_x"]
    code, _, err = run_cli("discard", str(pipeline.path))
    assert code == 0, err
    assert not pipeline.path.exists() and list_subdatasets(lab.pathobj) == []
    assert dlayer.git(lab.pathobj, "status", "--porcelain") == b""
