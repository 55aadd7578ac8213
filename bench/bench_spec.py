"""Issue 14: a two-session NeuroConv YAML spec, `anc convert --spec` against `neuroconv`.

Both whole processes on the same spec (shared/ephy_testing_data, ANC_TEST_DATA): session 1
a real NeuroScope LFP + its spike sorting, session 2 a real Phy sorting + a trials CSV.
`neuroconv SPEC` writes the two NWB files; `anc convert --spec SPEC` makes two tracked
conversion datasets (metadata decided field by field and checked, inputs referenced, the
spec copied, `datalad run`, nwbinspector + schema validation, read-back per interface,
reports, tag). Runs alternate; the medians and their ratios are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import report
from bench_convert import BIN, Measurement, run_processes

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ANC_TEST_DATA", REPO.parent / "shared" / "ephy_testing_data"))
SPEC = """\
metadata:
  NWBFile: {{lab: Buzsaki lab, institution: NYU, experimenter: ["Doe, Jane"],
            session_description: Y maze, experiment_description: Spatial memory}}
  Subject: {{species: Mus musculus, sex: M, age: P90D}}
data_interfaces:
  lfp: NeuroScopeLFPInterface
  sorting: NeuroScopeSortingInterface
  phy: PhySortingInterface
  trials: CsvTimeIntervalsInterface
experiments:
  ymaze:
    sessions:
      - nwbfile_name: yuta42-151117
        source_data:
          lfp: {{file_path: {yuta}/YutaMouse42-151117.lfp, xml_file_path: {yuta}/YutaMouse42-151117.xml}}
          sorting: {{folder_path: {yuta}, xml_file_path: {yuta}/YutaMouse42-151117.xml}}
        metadata:
          NWBFile: {{session_start_time: "2015-11-17T10:00:00+09:00", session_id: "151117"}}
          Subject: {{subject_id: YutaMouse42}}
      - nwbfile_name: phy-example
        source_data:
          phy: {{folder_path: {phy}}}
          trials: {{file_path: trials.csv}}
        metadata:
          NWBFile: {{session_start_time: "2021-03-01T12:00:00+00:00", session_id: phy0}}
          Subject: {{subject_id: rat-7}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    yuta, phy = DATA / "neuroscope_YutaMouse42_dataset_1", DATA / "phy_example_0"
    if not (yuta.is_dir() and phy.is_dir()):
        sys.exit(f"the real recordings are missing under {DATA} (set ANC_TEST_DATA)")
    work = Path(tempfile.mkdtemp(prefix="anc-bench-spec-"))
    try:
        (work / "trials.csv").write_text("start_time,stop_time\n0.0,0.1\n0.2,0.3\n")
        spec = work / "conversion.yml"
        spec.write_text(SPEC.format(yuta=yuta, phy=phy))
        ours: list[Measurement] = []
        theirs: list[Measurement] = []
        for i in range(args.repeat):
            out = work / f"anc-{i}"
            ours.append(
                run_processes(
                    [str(BIN / "anc"), "convert", "--spec", str(spec), "--output", str(out)],
                    cwd=work,
                )
            )
            nwb = work / f"neuroconv-{i}"
            nwb.mkdir()
            theirs.append(
                run_processes(
                    [
                        str(BIN / "neuroconv"),
                        str(spec),
                        "--output-folder-path",
                        str(nwb),
                        "--overwrite",
                    ],
                    cwd=work,
                )
            )
            assert len(list(nwb.glob("*.nwb"))) == 2 and len(list(out.glob("conversion_*"))) == 2
            shutil.rmtree(out)
        t_ours = statistics.median(m.seconds for m in ours)
        t_base = statistics.median(m.seconds for m in theirs)
        m_ours = statistics.median(m.peak_rss for m in ours) / 2**20
        m_base = statistics.median(m.peak_rss for m in theirs) / 2**20
        print(f"two-session spec, {args.repeat} alternating runs (medians):")
        report("neuroconv wall time", t_base, "s")
        report("anc convert --spec wall time", t_ours, "s")
        report("wall-time ratio anc/neuroconv", t_ours / t_base, "x")
        report("neuroconv peak RSS (largest process)", m_base, "MiB")
        report("anc convert --spec peak RSS (largest process)", m_ours, "MiB")
        report("peak-memory ratio anc/neuroconv", m_ours / m_base, "x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
