"""A real recording cut mid-file, or missing its header or companion file, is refused before
anything is created: one line naming the file and what is wrong, a non-zero exit."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

RunCli = Callable[..., tuple[int, str, str]]

# (recording, file in it, "cut" (to two thirds, off any sample boundary) or "remove",
#  what the one line says)
DAMAGE = [
    (
        "sglx_Noise4Sam_g0/Noise4Sam_g0",
        "Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.bin",
        "cut",
        "is truncated",
    ),
    (
        "sglx_Noise4Sam_g0/Noise4Sam_g0",
        "Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.meta",
        "remove",
        "has no Noise4Sam_g0_t0.imec0.ap.meta beside it",
    ),
    (
        "oebin_v0.4.4.1_with_spikes",
        "experiment1/recording1/continuous/Rhythm_FPGA-100.0/continuous.dat",
        "cut",
        "is truncated",
    ),
    (
        "oebin_v0.4.4.1_with_spikes",
        "experiment1/recording1/structure.oebin",
        "remove",
        "(no structure.oebin)",
    ),
    (
        "oebin_v0.4.4.1_with_spikes",
        "settings.xml",
        "remove",
        "partly like openephys (no settings.xml)",
    ),
    ("intan_fps_test_231117_052500", "amplifier.dat", "cut", "is truncated"),
    (
        "intan_fps_test_231117_052500",
        "info.rhd",
        "remove",
        "partly like intan (no info.rhd or *.rhd or *.rhs)",
    ),
    ("blackrock_2_1", "l101210-001.ns2", "cut", "is truncated"),
    ("blackrock_2_1", "l101210-001.nev", "remove", "has no l101210-001.nev beside it"),
    ("axona_raw", "axona_raw.bin", "cut", "is truncated"),
    ("axona_raw", "axona_raw.set", "remove", "partly like axona (no *.set)"),
    (
        "tdt_ECTest_B1/ECTest-220207-135355",
        "ECTest_B1/ECTest-220207-135355_ECTest_B1.tsq",
        "cut",
        "is truncated",
    ),
    ("plexon_3_plx", "File_plexon_3.plx", "cut", "is truncated"),
    ("biocam_hw3.0_fw1.6", "biocam_hw3.0_fw1.6.brw", "cut", "truncated file"),
    ("alphaomega_mpx_map_version4/mpx_map_version4", "mapfile0053.mpx", "cut", "reader failed on"),
    (
        "spikegadgets_W122",
        "W122_06_09_2019_1_fromSD.rec",
        "cut",
        "no complete Trodes configuration header",
    ),
    ("neuroscope_test1", "test1.dat", "cut", "is truncated"),
    ("neuroscope_test1", "test1.xml", "remove", "partly like neuroscope (no *.xml)"),
    ("neuralynx_cheetah_v5.4.0/original_data", "CSC5_trunc.Ncs", "cut", "is truncated"),
]


@pytest.mark.parametrize(
    ("recording", "damaged", "how", "says"),
    DAMAGE,
    ids=[f"{r.split('/')[0]}-{how}-{Path(f).name}" for r, f, how, _ in DAMAGE],
)
def test_a_damaged_real_recording_is_refused_before_anything_is_created(
    recording: str,
    damaged: str,
    how: str,
    says: str,
    real_recording: Callable[[str], Path],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    source = real_recording(recording)
    target = source / damaged
    if how == "cut":
        size = target.stat().st_size
        os.truncate(target, size * 2 // 3 + 1)
    else:
        target.unlink()
    out = tmp_path / "out"
    code, stdout, err = run_cli("convert", str(source), "--output", str(out))
    assert code != 0 and stdout == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert says in err, err
    # the line names the damaged file (a reader that says only what failed: its source; a
    # missing companion: the kind of file missing)
    named = target.name in err or ("reader failed on" in err and str(source) in err)
    assert named or (how == "remove" and f"*{target.suffix}" in err), err
    assert not out.exists() or not any(out.iterdir())  # nothing was created
