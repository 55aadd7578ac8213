"""Issue 4: converting a SpikeGLX recording, ours vs a plain NeuroConv conversion.

Baseline: a plain NeuroConv conversion of the same recording with the same metadata, then
`nwbinspector --config dandi` on the result, each a whole process.
Ours: `anc convert` as one whole process (dataset, provenance, `datalad run` of the
generated script, validation with nwbinspector DANDI + pynwb schema, the full read-back
evaluation, finalize and tag).
Targets: wall time <= 1.5x on 64 ch x 10 s, <= 1.25x on >= 1 GB (--large); peak memory
<= 1.2x the baseline's; a 4 GB recording converts under 1 GB peak (--size-gb 4); and
(issue 15) the fixed cost of tracking, ours minus the baseline on 64 ch x 10 s, <= 1.0 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.conversion import formats, metadata, script, synthetic

PY = sys.executable
BIN = Path(sys.executable).parent
SAMPLING_RATE = 30000.0
NP1_SAVED_BYTES_PER_SECOND = (384 + 1) * 2 * SAMPLING_RATE
SMALL = "64ch-10s"  # the small recording, on which the fixed cost of tracking is measured

BASELINE = textwrap.dedent(
    """\
    import json, sys
    from neuroconv.datainterfaces import SpikeGLXRecordingInterface
    from neuroconv.utils import dict_deep_update

    settings = json.load(open(sys.argv[1]))
    interface = SpikeGLXRecordingInterface(folder_path=sys.argv[2], stream_id="imec0.ap")
    metadata = interface.get_metadata()
    given = settings["metadata"]
    given["NWBFile"] = {k: v for k, v in given["NWBFile"].items()
                        if k not in ("file_create_date", "was_generated_by")}
    metadata = dict_deep_update(metadata, given)
    interface.run_conversion(nwbfile_path=sys.argv[3], metadata=metadata, overwrite=True)
    """
)


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss: int  # bytes, the largest of the processes


def run_processes(*commands: list[str], cwd: Path) -> Measurement:
    """Run COMMANDS one after another; wall time of all, peak RSS of the largest."""
    started = time.perf_counter()
    peak = 0
    for command in commands:
        proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            sys.exit(f"{command} failed:\n{err.decode(errors='replace')[-3000:]}")
        peak = max(peak, usage.ru_maxrss * 1024)  # KiB on Linux
    return Measurement(time.perf_counter() - started, peak)


def prepare(work: Path, channels: int, seconds: float) -> Path:
    """Write the recording and render our script + metadata file (not timed)."""
    root = work / "conversion"
    synthetic.write_spikeglx(root / "inputs" / "rec", channels=channels, seconds=seconds)
    detection = formats.detect_format(root / "inputs" / "rec")
    extracted = metadata.extract_metadata(formats.make_interface(detection), detection)
    context = metadata.ConversionContext(
        "bench", "bench-dataset", dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    )
    decisions = metadata.decide_fields(extracted, detection.spec, context)
    rendered = script.render_script(
        detection, decisions, context, script.relative_source_data(detection, root)
    )
    rendered.write(root / "scripts")
    (work / "baseline.py").write_text(BASELINE)
    return root


def baseline(work: Path, root: Path) -> Measurement:
    nwb = work / "baseline.nwb"
    return run_processes(
        [
            PY,
            str(work / "baseline.py"),
            str(root / "scripts" / "metadata.json"),
            str(root / "inputs" / "rec"),
            str(nwb),
        ],
        [str(BIN / "nwbinspector"), str(nwb), "--config", "dandi"],
        cwd=work,
    )


_runs = iter(range(1, 10**6))


def ours(work: Path, root: Path) -> Measurement:
    """`anc convert` as one whole process: a new conversion dataset, metadata with
    provenance, the generated script under `datalad run`, validation, the full read-back
    evaluation, finalize (summary, reports, tag)."""
    out = work / "anc-conversions"
    return run_processes(
        [
            str(BIN / "anc"),
            "convert",
            str(root / "inputs" / "rec"),
            "--output",
            str(out),
            "--id",
            f"bench-{next(_runs)}",
            "--input-mode",
            "reference",
        ],
        cwd=work,
    )


def bench(
    label: str, channels: int, seconds: float, repeat: int, targets: tuple[float, float]
) -> None:
    work = Path(tempfile.mkdtemp(prefix="anc-bench-convert-"))
    try:
        root = prepare(work, channels, seconds)
        size = sum(p.stat().st_size for p in (root / "inputs" / "rec").iterdir())
        base_runs, our_runs = [], []
        for _ in range(repeat):  # alternate, so drift hits both sides alike
            base_runs.append(baseline(work, root))
            our_runs.append(ours(work, root))
        base_t = statistics.median(m.seconds for m in base_runs)
        our_t = statistics.median(m.seconds for m in our_runs)
        base_m = max(m.peak_rss for m in base_runs)
        our_m = max(m.peak_rss for m in our_runs)
        last = sorted((work / "anc-conversions").glob("conversion_bench-*"))[-1]
        checks = json.loads((last / "reports" / "evaluation.json").read_text())
        name = f"{label} ({channels} ch x {seconds:g} s, {size / 2**20:.0f} MiB)"
        print(f"{name}: evaluation {checks['summary']}")
        report(f"{label}: baseline wall time", base_t, "s")
        report(f"{label}: ours wall time", our_t, "s")
        report(
            f"{label}: wall-time ratio ours/baseline",
            our_t / base_t,
            "x",
            f"target <= {targets[0]}",
        )
        if label == SMALL:
            report(
                f"{label}: fixed cost, ours - baseline",
                our_t - base_t,
                "s",
                "goal <= 1.0 (issue 15)",
            )
        report(f"{label}: baseline peak RSS", base_m / 2**20, "MiB")
        report(f"{label}: ours peak RSS", our_m / 2**20, "MiB")
        report(
            f"{label}: peak-memory ratio ours/baseline",
            our_m / base_m,
            "x",
            f"target <= {targets[1]}",
        )
    finally:
        subprocess.run(
            ["chmod", "-R", "u+w", str(work)], check=False
        )  # annex objects are read-only
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also a >= 1 GB recording (384 ch)")
    parser.add_argument("--size-gb", type=float, default=1.1, help="size of the large recording")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (median)")
    args = parser.parse_args()
    bench(SMALL, 64, 10.0, args.repeat, (1.5, 1.2))
    if args.large:
        seconds = round(args.size_gb * 1e9 / NP1_SAVED_BYTES_PER_SECOND, 1)
        bench(f"{args.size_gb:g}GB", 384, seconds, max(1, args.repeat // 2), (1.25, 1.2))


if __name__ == "__main__":
    main()
