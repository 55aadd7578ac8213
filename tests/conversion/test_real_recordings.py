"""Every real recording of the test set (written by acquisition software, not by us) converts
end to end: tag, annexed NWB, run record, validation, read-back of every sample of every
series, and `anc verify` (a `datalad rerun` in a fresh clone, byte-identical)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from agentic_neurodata_conversion.journal.chain import iter_entries

pytestmark = pytest.mark.slow  # each test converts, validates and re-executes

RunCli = Callable[..., tuple[int, str, str]]
START_TIME = "session_start_time: '2023-11-17T05:25:00+00:00'\n"


@dataclass(frozen=True)
class Real:
    folder: str  # in the test set
    format: str
    series: int  # ElectricalSeries written (one per segment)
    options: tuple[str, ...] = ()
    needs_start_time: bool = False  # the files carry none: given with --metadata here


RECORDINGS = [
    Real("sglx_Noise4Sam_g0/Noise4Sam_g0", "spikeglx", 1),
    Real("oe_pytools_v067_binary", "openephys", 1, ("--record-node", "Record Node 105")),
    Real("oebin_v0.4.4.1_with_spikes", "openephys", 1),
    Real("intan_fps_test_231117_052500", "intan", 1, needs_start_time=True),
    Real("blackrock_2_1", "blackrock", 1, needs_start_time=True),
    Real("axona_raw", "axona", 1),
    Real("tdt_ECTest_B1/ECTest-220207-135355", "tdt", 1, needs_start_time=True),
    Real("plexon_3_plx", "plexon", 1),
    Real("biocam_hw3.0_fw1.6", "biocam", 1, needs_start_time=True),
    Real("alphaomega_mpx_map_version4/mpx_map_version4", "alphaomega", 3),
    Real("spikegadgets_W122", "spikegadgets", 1, needs_start_time=True),
    Real("neuroscope_test1", "neuroscope", 1, needs_start_time=True),
    Real("neuralynx_cheetah_v5.4.0/original_data", "neuralynx", 1),
    Real(
        "sglx_multi_trigger_multi_gate_CI0/5-19-2022-CI0",
        "spikeglx",
        2,
        ("--block", "g1", "--stream", "imec1.ap"),
    ),
]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("real", RECORDINGS, ids=[r.folder.split("/")[0] for r in RECORDINGS])
def test_a_real_recording_converts_end_to_end_and_verifies(
    real: Real,
    real_recording: Callable[[str], Path],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    source = real_recording(real.folder)
    args = ["convert", str(source), "--output", str(tmp_path / "out"), *real.options]
    if real.needs_start_time:
        metadata = tmp_path / "metadata.yaml"
        metadata.write_text("NWBFile:\n  " + START_TIME)
        args += ["--metadata", str(metadata)]
    code, out, err = run_cli(*args)
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])

    assert _git(root, "tag", "-l").split() == [
        f"conversion-{root.name.removeprefix('conversion_')}"
    ]
    (nwb,) = (root / "outputs").glob("*.nwb")
    assert nwb.is_symlink() and "annex/objects" in os.readlink(nwb)
    assert "[DATALAD RUNCMD]" in _git(root, "log", "--format=%B")

    detected = json.loads((root / "provenance" / "pipeline_state.json").read_text())
    assert detected["format"] == real.format
    validation = json.loads((root / "reports" / "validation.json").read_text())
    assert validation["passes"], validation
    evaluation = json.loads((root / "reports" / "evaluation.json").read_text())
    assert evaluation["passes"], evaluation["summary"]
    with h5py.File(nwb, "r") as f:
        written = [
            n
            for n, g in f["acquisition"].items()
            if g.attrs.get("neurodata_type") == "ElectricalSeries"
        ]
        samples = sum(int(f["acquisition"][n]["data"].shape[0]) for n in written)
    assert len(written) == real.series, written
    assert len(evaluation["series"]) == real.series
    assert evaluation["samples_compared"] == samples > 0  # every sample of every series

    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err
    assert "reproduces every output" in out


@pytest.mark.parametrize("toggled", [False, True], ids=["as-recorded", "a-line-toggles"])
def test_all_streams_of_the_real_spikeglx_recording_go_into_one_checked_nwb(
    toggled: bool, real_recording: Callable[[str], Path], tmp_path: Path, run_cli: RunCli
) -> None:
    source = real_recording("sglx_Noise4Sam_g0/Noise4Sam_g0")
    if toggled:  # line 2 of the NIDQ digital word (its last column) goes high 3 times
        nidq = source / "Noise4Sam_g0_t0.nidq.bin"
        data = np.fromfile(nidq, dtype="<i2").reshape(-1, 9)
        for start in (1000, 20000, 40000):
            data[start : start + 500, 8] |= 1 << 2
        data.tofile(nidq)
    code, out, err = run_cli(
        "convert", str(source), "--all-streams", "--output", str(tmp_path / "out")
    )
    assert code == 0, out + err
    root = Path(out.strip().splitlines()[-1])
    assert out.startswith("completed: ")
    validation = json.loads((root / "reports" / "validation.json").read_text())
    counts = validation["counts"]
    assert validation["passes"] and counts["ERROR"] == counts["CRITICAL"] == 0, counts
    assert counts["BEST_PRACTICE_VIOLATION"] == 0, counts
    evaluation = json.loads((root / "reports" / "evaluation.json").read_text())
    assert evaluation["passes"], evaluation["summary"]
    checked = {s["series"]: s["samples_compared"] for s in evaluation["series"]}
    assert checked == {
        "ElectricalSeriesAP": 1155,  # the probe's AP band
        "TimeSeriesNIDQ": 60864,  # the NI board's 8 analog channels
        "TimeSeriesImec0Sync": 1155,  # the probe's sync channel
    }
    (detected,) = [
        e
        for e in iter_entries(root / "provenance" / "journal")
        if e["operation"] == "detect_format"
    ]
    assert detected["output_data"]["converter"] == "SpikeGLXConverterPipe"
    assert "(--all-streams)" in detected["reasoning"][-1]
    (nwb,) = (root / "outputs").glob("*.nwb")
    tables: list[str] = []  # anywhere in the file (NeuroConv puts them under /events)
    with h5py.File(nwb, "r") as f:
        f.visititems(
            lambda name, obj: (
                tables.append(name) if obj.attrs.get("neurodata_type") == "EventsTable" else None
            )
        )
    if toggled:
        assert "NIDQ digital word XD0: events from lines 2" in detected["reasoning"]
        assert len(tables) == 1  # the one line that changes; none for the 7 that do not
    else:  # no line changes: no (empty) events tables, which the inspector cannot read
        assert "NIDQ digital word XD0: no line changes state, so no events" in detected["reasoning"]
        assert tables == []
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err
