"""Shared helpers for benchmarks: timing, disk use, printing one figure per line."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from agentic_neurodata_conversion import runtime

runtime.prepare()


def disk_use(path: Path) -> int:
    """Bytes allocated under PATH (st_blocks), symlinks not followed, hardlinks counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    return total


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def report(name: str, value: float, unit: str, target: str = "") -> None:
    print(f"{name:<58} {value:>12.4g} {unit:<10} {target}")
