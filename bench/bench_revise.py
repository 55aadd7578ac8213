"""Issue 17: `anc revise` of one field against a fresh `anc convert` of the same recording.

The demo recording (SpikeGLX, 64 ch x 2 s, as `anc demo` writes it) is converted with
`anc convert` (whole process, timed), then one field is revised with
`anc revise CONVERSION --set Subject.subject_id=...` (whole process, timed): a new iteration,
the NWB file re-made under `datalad run`, validated, evaluated, reports rebuilt and tagged.
One run each (as the issue asks); the ratio revise / convert is printed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.conversion import demo, synthetic

ANC = str(Path(sys.executable).parent / "anc")


def timed_run(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([ANC, *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=demo.DEFAULT_CHANNELS)
    parser.add_argument("--seconds", type=float, default=demo.DEFAULT_SECONDS)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="anc-bench-revise-"))
    try:
        rec = base / "rec"
        synthetic.write_recording("spikeglx", rec, channels=args.channels, seconds=args.seconds)
        convert = timed_run("convert", str(rec), "--output", str(base / "out"), "--id", "b")
        conversion = base / "out" / "conversion_b"
        revise = timed_run("revise", str(conversion), "--set", "Subject.subject_id=mouse-001")
        size = f"{args.channels} ch x {args.seconds:g} s"
        report(f"anc convert ({size})", convert, "s")
        report("anc revise, one field (NWB re-made, validated, tagged)", revise, "s")
        report("revise / convert", revise / convert, "x")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
