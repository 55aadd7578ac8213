"""Issue 15: `anc batch` on 2 Dask workers against a sequential shell loop of `anc convert`.

Both whole processes over the same synthetic SpikeGLX sessions (default 40 x 64 ch x 5 s,
`raw/sub-<n>/ses-<n>`), one after the other in one run: the loop runs `anc convert SESSION
--output loop/` once per session from bash; the batch runs `anc batch 'raw/{subject_id}/
{session_id}' --output lab --workers 2`, which also registers every conversion in the lab
superdataset. Printed: wall times, sessions per minute, and the throughput ratio (goal
>= 1.7 on a 2-core machine); then `anc status LAB` on the result, and the sizes that grow
with the sessions: the lab superdataset's .git, a conversion's own git history (without
its annexed NWB), and what a conversion adds to a RIA store (`--ria-sessions` more, pushed).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import disk_use, report

from agentic_neurodata_conversion.conversion import synthetic

BIN = Path(sys.executable).parent


def make_sessions(raw: Path, sessions: int, channels: int, seconds: float) -> list[Path]:
    folders = []
    for n in range(sessions):
        folder = raw / f"sub-{n % 4}" / f"ses-{n:03d}"
        synthetic.write_spikeglx(folder, channels=channels, seconds=seconds, seed=n)
        folders.append(folder)
    return folders


def timed_process(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{shlex.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ria-sessions", action="store_true", help="measure a RIA store too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        folders = make_sessions(root / "raw", args.sessions, args.channels, args.seconds)
        anc = str(BIN / "anc")
        loop = " ; ".join(
            f"{shlex.quote(anc)} convert {shlex.quote(str(f))} --output loop --json >/dev/null"
            " || exit 1"
            for f in folders
        )
        print(
            f"{args.sessions} sessions of {args.channels} ch x {args.seconds:g} s; "
            f"{args.workers} workers"
        )
        sequential = timed_process(["bash", "-c", loop], root)
        batch = timed_process(
            [
                anc,
                "batch",
                str(root / "raw" / "{subject_id}" / "{session_id}"),
                "--output",
                "lab",
                "--workers",
                str(args.workers),
                "--json",
            ],
            root,
        )
        status = timed_process([anc, "status", "lab", "--json"], root)
        lab_git = disk_use(root / "lab" / ".git")
        conversions = sorted((root / "lab").glob("conversion_*"))
        history = [
            disk_use(c / ".git") - disk_use(c / ".git" / "annex" / "objects") for c in conversions
        ]
        nwb = [disk_use(c / ".git" / "annex" / "objects") for c in conversions]
        ria = None
        if args.ria_sessions:
            store = root / "store"
            timed_process(
                [
                    anc,
                    "batch",
                    str(root / "raw" / "sub-0" / "{session_id}"),
                    "--output",
                    "ria-lab",
                    "--to",
                    f"ria+file://{store}",
                    "--json",
                ],
                root,
            )
            ria = (disk_use(store), len(list((root / "ria-lab").glob("conversion_*"))))
    report("sequential loop of anc convert", sequential, "s")
    report("anc batch", batch, "s")
    report("sessions per minute, loop", 60 * args.sessions / sequential, "/min")
    report("sessions per minute, batch", 60 * args.sessions / batch, "/min")
    report("throughput ratio (batch / loop)", sequential / batch, "x", "goal >= 1.7")
    report(f"anc status LAB ({args.sessions} conversions)", status, "s")
    report("lab superdataset .git", lab_git / 2**20, "MiB")
    report("lab .git per registered conversion", lab_git / len(conversions) / 2**10, "KiB")
    report(
        "conversion git history (no annexed NWB), mean", sum(history) / len(history) / 2**10, "KiB"
    )
    report("conversion annexed NWB, mean", sum(nwb) / len(nwb) / 2**20, "MiB")
    if ria:
        report(
            f"RIA store per conversion ({ria[1]} pushed, lab too)", ria[0] / ria[1] / 2**20, "MiB"
        )


if __name__ == "__main__":
    main()
