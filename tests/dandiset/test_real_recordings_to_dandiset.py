"""Every real recording of the test set, its metadata filled in, organised into one dandiset
that the real `dandi validate` (offline) and `anc dandi validate` find clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # fourteen conversions

RunCli = Callable[..., tuple[int, str, str]]
BIN = Path(sys.executable).parent
# (folder in the test set, conversion options, whether the files carry no start time)
RECORDINGS = [
    ("sglx_Noise4Sam_g0/Noise4Sam_g0", (), False),
    ("oe_pytools_v067_binary", ("--record-node", "Record Node 105"), False),
    ("oebin_v0.4.4.1_with_spikes", (), False),
    ("intan_fps_test_231117_052500", (), True),
    ("blackrock_2_1", (), True),
    ("axona_raw", (), False),
    ("tdt_ECTest_B1/ECTest-220207-135355", (), True),
    ("plexon_3_plx", (), False),
    ("biocam_hw3.0_fw1.6", (), True),
    ("alphaomega_mpx_map_version4/mpx_map_version4", (), False),
    ("spikegadgets_W122", (), True),
    ("neuroscope_test1", (), True),
    ("neuralynx_cheetah_v5.4.0/original_data", (), False),
    ("sglx_multi_trigger_multi_gate_CI0/5-19-2022-CI0", ("--block", "g1", "--stream", "imec1.ap"), False),
]  # fmt: skip


def metadata(n: int, start_time: bool) -> str:
    """The session's metadata file (with a start time where the files carry none)."""
    when = "  session_start_time: '2023-11-17T05:25:00+00:00'\n" if start_time else ""
    return (
        f"NWBFile:\n{when}"
        f"  session_id: session-{n:02d}\n"
        "  session_description: Recording of the test set\n"
        "  experiment_description: Recordings written by acquisition software\n"
        "  lab: Test Lab\n  institution: Test Institute\n  experimenter: ['Doe, Jane']\n"
        "Subject:\n"
        f"  subject_id: animal-{n:02d}\n  species: Mus musculus\n  sex: M\n  age: P60D\n"
        "  description: adult mouse\n"
    )


def test_real_recordings_organised_pass_dandi_validate(
    real_recording: Callable[[str], Path], tmp_path: Path, run_cli: RunCli
) -> None:
    out = tmp_path / "conversions"
    for n, (folder, options, start_time) in enumerate(RECORDINGS):
        given = tmp_path / f"metadata-{n}.yml"
        given.write_text(metadata(n, start_time))
        source = real_recording(folder)
        code, _, err = run_cli(
            "convert", str(source), "--output", str(out), "--id", f"real-{n:02d}",
            "--metadata", str(given), *options,
        )  # fmt: skip
        assert code == 0, f"{folder}: {err}"

    dandiset = tmp_path / "dandiset"
    code, text, err = run_cli("dandi", "organize", str(out), "--output", str(dandiset))
    assert code == 0, err
    index = json.loads((dandiset / "provenance" / "assets.json").read_text())
    assert len(index["assets"]) == len(RECORDINGS)
    code, text, err = run_cli("dandi", "validate", str(dandiset))
    assert code == 0, text + err
    env = {**os.environ, "DANDI_NO_ET": "1", "XDG_STATE_HOME": str(tmp_path / "state")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(BIN / "dandi"), "validate", str(dandiset)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
