"""Issue 2: `anc --help` and `anc <group> --help` start within 0.3 s.

Each command runs as a fresh process (the installed `anc` script), 7 times; the median is
the figure, the best run shows what an unloaded machine gives (other jobs only add time).
For scale: `python -c pass`, and `import datalad.api`, which start-up must not pay.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import report

from agentic_neurodata_conversion.cli.main import COMMAND_MODULES

TARGET = 0.3
RUNS = 7
BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(label: str, cmd: list[str], target: float | None = None) -> float:
    runs = [wall(cmd) for _ in range(RUNS)]
    median = statistics.median(runs)
    verdict = f"best {min(runs):.3f} s"
    if target:
        verdict += f", target {target} s, ratio {median / target:.2f}"
    report(label, median, "s", verdict)
    return median


def main() -> int:
    measure("python -c pass", [sys.executable, "-c", "pass"])
    measure(
        "python -c 'import datalad.api' (not paid at start-up)",
        [sys.executable, "-c", "import datalad.api"],
    )
    worst = max(
        measure(" ".join(["anc", *args, "--help"]), [str(BIN / "anc"), *args, "--help"], TARGET)
        for args in ([], *([name] for name in COMMAND_MODULES))
    )
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
