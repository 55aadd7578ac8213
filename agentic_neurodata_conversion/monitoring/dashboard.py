"""The performance report over a folder of conversions: bottlenecks, trends, storage, alerts,
recommendations with projected savings, as one dict (what ``--json`` prints).

Monitoring analyses; the reports layer renders: ``reports/perf_html.py`` makes the HTML page.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from . import health, storage
from .metrics import (
    MB,
    LoadedMetrics,
    PerformanceMetric,
    conversion_bytes,
    percentile,
    query_times,
    throughput,
)
from .settings import Settings

# `ds.save()` hashing speed by annex backend, MiB/s, measured on this project's machines
# (shared/FACTS.md); used to project the time a faster backend saves.
BACKEND_MIB_S = {"MD5E": 534.0, "SHA256E": 332.0, "BLAKE3_256E": 1177.0}
FAST_BACKEND = "BLAKE3_256E"
LARGE_IN_GIT = 1_000_000  # bytes: a file this big belongs in the annex


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def conversion_rows(loaded: Sequence[LoadedMetrics], base: Path) -> list[dict[str, Any]]:
    """One row per recorded conversion run, oldest first, with its stage times."""
    rows = []
    for lm in loaded:
        runs = [m for m in lm.metrics if m.metric_type == "conversion_time"]
        for run in runs:
            end = run.timestamp + run.value
            stages: dict[str, float] = defaultdict(float)
            for m in lm.metrics:
                if m.metric_type == "stage_time" and run.timestamp <= m.timestamp <= end:
                    stages[m.operation.removeprefix("stage.")] += m.value
            size = conversion_bytes(run)
            res = run.context.get("resources") or {}
            rows.append(
                {
                    "dataset": str(lm.path.parent.parent.relative_to(base)),
                    "conversion_id": run.context.get("conversion_id", ""),
                    "start": _iso(run.timestamp),
                    "timestamp": run.timestamp,
                    "seconds": run.value,
                    "ok": run.ok,
                    "error": run.error,
                    "bytes": size,
                    "mb_per_s": size / MB / run.value if run.value > 0 else 0.0,
                    "stages": dict(stages),
                    "peak_memory_mb": res.get("peak_memory_usage_mb"),
                    "peak_memory_percent": res.get("peak_memory_percent"),
                }
            )
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def _table(metrics: list[PerformanceMetric], strip: str = "") -> list[dict[str, Any]]:
    groups: dict[str, list[PerformanceMetric]] = defaultdict(list)
    for m in metrics:
        groups[m.operation.removeprefix(strip)].append(m)
    grand = sum(m.value for m in metrics) or 1.0
    rows = []
    for name, ms in groups.items():
        values = [m.value for m in ms]
        rows.append(
            {
                "name": name,
                "count": len(values),
                "errors": sum(not m.ok for m in ms),
                "total_s": sum(values),
                "mean_s": sum(values) / len(values),
                "p95_s": percentile(values, 95),
                "max_s": max(values),
                "share": sum(values) / grand,
            }
        )
    rows.sort(key=lambda r: -r["total_s"])
    return rows


def trend(values: Sequence[float]) -> dict[str, float] | None:
    """Mean of the older half against the newer half; None with fewer than 2 values."""
    if len(values) < 2:
        return None
    half = len(values) // 2
    old = sum(values[:half]) / half
    new = sum(values[half:]) / (len(values) - half)
    return {
        "older_mean": old,
        "newer_mean": new,
        "change_pct": (new - old) / old * 100 if old else math.nan,
    }


def recommendations(
    store: dict[str, Any],
    ops: list[dict[str, Any]],
    conversions: int,
    slow_s: float,
    stage_runs: float,
) -> list[dict[str, Any]]:
    """What to do, each with the saving it projects (bytes or seconds) and how it is derived."""
    t = store["totals"]
    recs: list[dict[str, Any]] = []

    def add(title: str, saving: float, unit: str, basis: str, action: str) -> None:
        if saving > 0:
            recs.append(
                {"title": title, "saving": saving, "unit": unit, "basis": basis, "action": action}
            )

    add(
        f"Remove {t['temporary_files']} temporary file(s)",
        t["temporary_bytes"],
        "bytes",
        "their sizes",
        "anc storage cleanup DIR --apply",
    )
    add(
        f"Drop {t['unreferenced_objects']} annex object(s) no file uses (old versions)",
        t["unreferenced_bytes"],
        "bytes",
        "sizes of present objects not referenced by HEAD",
        "anc storage cleanup DIR --unused (review), then --unused --apply",
    )
    add(
        f"Share {t['duplicate_groups']} content(s) stored in several datasets",
        t["duplicate_saving_bytes"],
        "bytes",
        "size x (copies - 1) per annex key",
        "keep conversions in one shared annex store (DataLad RIA) or hardlink identical objects",
    )
    big = [f for f in store["largest_files"] if f["where"] == "git" and f["size"] >= LARGE_IN_GIT]
    add(
        f"Annex {len(big)} large file(s) committed to git",
        sum(f["size"] for f in big),
        "bytes",
        "bytes every clone downloads; annexed, a clone gets them only on demand",
        "add annex.largefiles rules for them (datalad_layer/annex.py)",
    )
    slow_bytes = {
        b: n
        for b, n in t.get("annexed_bytes_by_backend", {}).items()
        if b in BACKEND_MIB_S and b != FAST_BACKEND
    }
    secs = sum(
        n / 2**20 * (1 / BACKEND_MIB_S[b] - 1 / BACKEND_MIB_S[FAST_BACKEND])
        for b, n in slow_bytes.items()
    )
    add(
        f"Hash with {FAST_BACKEND} instead of {', '.join(sorted(slow_bytes))}",
        secs,
        "seconds",
        "annexed bytes x (1/old - 1/new hashing rate from FACTS.md), once per save of the data",
        "new datasets get it from datalad_layer.annex.preferred_backend()",
    )
    saves = next((o for o in ops if o["name"] == "datalad.save"), None)
    if saves and conversions:
        per_conv = saves["count"] / conversions
        extra = per_conv - max(stage_runs, 1.0)
        add(
            f"Batch saves: {per_conv:.1f} per conversion at {saves['mean_s']:.2f} s each",
            extra * saves["mean_s"],
            "seconds per conversion",
            "(saves - stages) x mean save time: one save per stage (checkpoint)",
            "record in the journal, commit at checkpoints",
        )
    for o in ops:
        if o["max_s"] > slow_s:
            add(
                f"Speed up {o['name']} (max {o['max_s']:.1f} s, threshold {slow_s:g} s)",
                o["count"] * max(0.0, o["mean_s"] - slow_s),
                "seconds",
                "count x (mean - threshold): each call brought down to the threshold",
                "profile it: see the stage and operation tables",
            )
    return recs


class PerformanceDashboard:
    """Builds the report for every dataset under BASE_PATH."""

    def __init__(self, base_path: str | Path, settings: Settings | None = None) -> None:
        self.base_path = Path(base_path)
        self.settings = settings or Settings()

    def generate_performance_report(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        root = storage.check_folder(self.base_path)
        thresholds = self.settings.thresholds
        store = storage.analyze(root)
        datasets = [root / p["path"] for p in store["by_dataset"]]
        loaded = health.load_all_metrics(datasets)
        metrics = [m for lm in loaded for m in lm.metrics]
        convs = conversion_rows(loaded, root)
        stages = _table([m for m in metrics if m.metric_type == "stage_time"], "stage.")
        ops = _table([m for m in metrics if m.metric_type in ("operation_time", "query_time")])
        stage_runs = sum(s["count"] for s in stages) / len(convs) if convs else 0.0
        alerts = health.metric_alerts(loaded, thresholds) + health.system_alerts(root, thresholds)
        for ds in datasets:  # stale locks are cheap to find; fsck is left to `anc perf check`
            alerts += health.lock_alerts(health.stale_locks(ds), str(ds.relative_to(root)))
        ok_convs = [c for c in convs if c["ok"]]
        return {
            "generated": _iso(time.time()),
            "base": str(root),
            "conversions": convs,
            "throughput": {
                **throughput([m for m in metrics if m.metric_type == "conversion_time"]),
                "failed_conversions": sum(not c["ok"] for c in convs),
                "queries": query_times(metrics),
            },
            "bottlenecks": {"stages": stages, "operations": ops},
            "trends": {
                "seconds_per_conversion": trend([c["seconds"] for c in ok_convs]),
                "mb_per_s": trend([c["mb_per_s"] for c in ok_convs]),
            },
            "storage": store,
            "alerts": [a.to_dict() for a in alerts],
            "recommendations": recommendations(
                store, ops, len(convs), thresholds.slow_operation_s, stage_runs
            ),
            "problems": [p for lm in loaded for p in lm.problems] + store["problems"],
            "seconds": round(time.perf_counter() - t0, 3),
        }
