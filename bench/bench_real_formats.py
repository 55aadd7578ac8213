"""Issue 13: every real recording of the test set, `anc convert` against plain NeuroConv.

For each recording of shared/ephy_testing_data (ANC_TEST_DATA): wall time and peak memory
of `anc convert` as one whole process (dataset, provenance, `datalad run`, validation,
read-back of every sample, finalize, tag), and of the baseline: a plain NeuroConv
conversion through the same interface with the same source arguments and start time, then
`nwbinspector --config dandi`, each a whole process. One table; the runs of each format
alternate so that drift hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import report
from bench_convert import BIN, PY, Measurement, run_processes

from agentic_neurodata_conversion.conversion import formats

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ANC_TEST_DATA", REPO.parent / "shared" / "ephy_testing_data"))
START_TIME = "2023-11-17T05:25:00+00:00"
# (folder in the set, anc options); the start time is given to every one of them, so both
# sides write the same metadata whatever the files hold.
RECORDINGS: list[tuple[str, tuple[str, ...]]] = [
    ("sglx_Noise4Sam_g0/Noise4Sam_g0", ()),
    ("oe_pytools_v067_binary", ("--record-node", "Record Node 105")),
    ("oebin_v0.4.4.1_with_spikes", ()),
    ("intan_fps_test_231117_052500", ()),
    ("blackrock_2_1", ()),
    ("axona_raw", ()),
    ("tdt_ECTest_B1/ECTest-220207-135355", ()),
    ("plexon_3_plx", ()),
    ("biocam_hw3.0_fw1.6", ()),
    ("alphaomega_mpx_map_version4/mpx_map_version4", ()),
    ("spikegadgets_W122", ()),
    ("neuroscope_test1", ()),
    ("neuralynx_cheetah_v5.4.0/original_data", ()),
    ("sglx_multi_trigger_multi_gate_CI0/5-19-2022-CI0", ("--block", "g1", "--stream", "imec1.ap")),
]
CHOICE_OPTIONS = {"--record-node": "record_node", "--block": "block", "--stream": "stream"}

BASELINE = textwrap.dedent(
    """\
    import json, sys
    from datetime import datetime
    from neuroconv import datainterfaces

    interface_name, source_data, start, nwb = json.loads(sys.argv[1])
    interface = getattr(datainterfaces, interface_name)(**source_data)
    metadata = interface.get_metadata()
    metadata["NWBFile"]["session_start_time"] = datetime.fromisoformat(start)
    interface.run_conversion(nwbfile_path=nwb, metadata=metadata, overwrite=True)
    """
)


def _choices(options: tuple[str, ...]) -> dict[str, str]:
    return {CHOICE_OPTIONS[k]: v for k, v in zip(options[::2], options[1::2], strict=True)}


def bench_one(work: Path, folder: str, options: tuple[str, ...], repeat: int) -> dict[str, float]:
    source = work / "src" / Path(folder).name  # the leaf keeps its name (TDT needs it)
    shutil.copytree(DATA / folder, source)
    subprocess.run(["chmod", "-R", "u+w", str(source)], check=True)
    detection = formats.detect_format(source, choose=_choices(options))
    metadata = work / "metadata.yaml"
    metadata.write_text(f"NWBFile:\n  session_start_time: '{START_TIME}'\n")
    nwb = work / "baseline.nwb"
    args = json.dumps([detection.spec.interface, detection.source_data, START_TIME, str(nwb)])
    base_runs: list[Measurement] = []
    our_runs: list[Measurement] = []
    for run in range(repeat):
        base_runs.append(
            run_processes(
                [PY, str(work / "baseline.py"), args],
                [str(BIN / "nwbinspector"), str(nwb), "--config", "dandi"],
                cwd=work,
            )
        )
        our_runs.append(
            run_processes(
                [
                    str(BIN / "anc"),
                    "convert",
                    str(source),
                    "--output",
                    str(work / "out"),
                    "--id",
                    f"{detection.format}-{run}",
                    "--metadata",
                    str(metadata),
                    "--input-mode",
                    "reference",
                    *options,
                ],
                cwd=work,
            )
        )
    return {
        "input MiB": sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 2**20,
        "baseline s": statistics.median(m.seconds for m in base_runs),
        "ours s": statistics.median(m.seconds for m in our_runs),
        "baseline MiB": max(m.peak_rss for m in base_runs) / 2**20,
        "ours MiB": max(m.peak_rss for m in our_runs) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per side (median)")
    parser.add_argument("--only", help="one folder of the set (e.g. sglx_Noise4Sam_g0)")
    args = parser.parse_args()
    if not (DATA / "README.md").is_file():
        sys.exit(f"no real recordings at {DATA}: set ANC_TEST_DATA")
    rows = []
    for folder, options in RECORDINGS:
        if args.only and not folder.startswith(args.only):
            continue
        work = Path(tempfile.mkdtemp(prefix="anc-bench-real-"))
        (work / "baseline.py").write_text(BASELINE)
        try:
            rows.append((folder.split("/")[0], bench_one(work, folder, options, args.repeat)))
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"{'recording':<38} {'MiB':>6} {'base s':>7} {'ours s':>7} {'ratio':>6} "
        f"{'base MiB':>9} {'ours MiB':>9} {'ratio':>6}"
    )
    for name, r in rows:
        print(
            f"{name:<38} {r['input MiB']:>6.1f} {r['baseline s']:>7.2f} {r['ours s']:>7.2f} "
            f"{r['ours s'] / r['baseline s']:>5.2f}x {r['baseline MiB']:>9.0f} "
            f"{r['ours MiB']:>9.0f} {r['ours MiB'] / r['baseline MiB']:>5.2f}x"
        )
    for name, r in rows:
        if name.startswith("sglx_Noise4Sam"):
            report(
                "real SpikeGLX: wall-time ratio ours/baseline", r["ours s"] / r["baseline s"], "x"
            )
            report("real SpikeGLX: peak-memory ratio", r["ours MiB"] / r["baseline MiB"], "x")


if __name__ == "__main__":
    main()
