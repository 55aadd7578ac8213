"""The performance report over a folder of conversions: bottlenecks, trends, storage, alerts,
recommendations with projected savings; as a dict (JSON) or one self-contained HTML page.

The HTML has no scripts and loads nothing: styles are inline, plots are inline SVG, and a
Content-Security-Policy forbids any fetch.
"""

from __future__ import annotations

import html
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..units import decimal_size
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


# ---------------------------------------------------------------------------- HTML


def sec(v: float) -> str:
    return f"{v:.2f} s"


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, float]], fmt: Callable[[float], str]
) -> str:
    """Horizontal bars as inline SVG."""
    width, row, left = 720, 26, 230
    height = max(1, len(items)) * row + 40
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg id="{chart_id}" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{_e(title)}</title>"
        f'<text x="0" y="18" class="ct">{_e(title)}</text>'
    ]
    if not items:
        parts.append('<text x="0" y="50" class="muted">no data</text>')
    for i, (label, value) in enumerate(items):
        y = 30 + i * row
        w = max(1.0, (width - left - 110) * value / top)
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{_e(label[:34])}</text>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}">'
            f"<title>{_e(label)}: {_e(fmt(value))}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 16}">{_e(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    chart_id: str, title: str, points: Sequence[tuple[float, float]], y_label: str
) -> str:
    """Points joined by a line over wall-clock time, as inline SVG."""
    width, height, left, bottom, top_pad = 720, 270, 60, 40, 44
    parts = [
        f'<svg id="{chart_id}" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{_e(title)}</title>"
        f'<text x="0" y="18" class="ct">{_e(title)}</text>'
    ]
    if not points:
        parts.append('<text x="0" y="50" class="muted">no data</text></svg>')
        return "".join(parts)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y1 = max(ys) * 1.1 or 1.0
    span = (x1 - x0) or 1.0
    plot_w, plot_h = width - left - 20, height - bottom - top_pad

    def sx(x: float) -> float:
        return left + (plot_w * (x - x0) / span if x1 > x0 else plot_w / 2)

    def sy(y: float) -> float:
        return top_pad + plot_h * (1 - y / y1)

    parts.append(
        f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
        f'y2="{top_pad + plot_h}"/><line class="axis" x1="{left}" y1="{top_pad}" '
        f'x2="{left}" y2="{top_pad + plot_h}"/>'
    )
    for frac in (0, 0.5, 1):
        v = y1 * frac
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    parts.append(
        f'<text x="{left}" y="{height - 8}">{_e(_iso(x0)[:16])}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">'
        f"{_e(_iso(x1)[:16])}</text>"
        f'<text x="{left - 6}" y="{top_pad - 14}" text-anchor="end" class="muted">'
        f"{_e(y_label)}</text>"
    )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts.append(f'<polyline class="line" points="{path}"/>')
    for x, y in points:
        parts.append(
            f'<circle class="dot" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5">'
            f"<title>{_e(_iso(x))}: {y:.3g} {_e(y_label)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _rows(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;font-size:13px}th{background:#f4f4f4}.muted{color:#777}
.chart text{font:12px system-ui,sans-serif;fill:#333}.chart .ct{font-weight:600;font-size:13px}
.bar{fill:#4a7ab5}.line{fill:none;stroke:#4a7ab5;stroke-width:2}.dot{fill:#c0504d}
.axis{stroke:#999}.alert{color:#a00;font-weight:600}.ok{color:#070;font-weight:600}
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, nothing fetched)."""
    thr, store, t = report["throughput"], report["storage"], report["storage"]["totals"]
    stages, ops = report["bottlenecks"]["stages"], report["bottlenecks"]["operations"]
    convs = report["conversions"]
    storage_kinds = [
        ("git (files in HEAD)", t["git_bytes"]),
        ("git store on disk", t["git_store_bytes"]),
        ("annexed, present", t["present_bytes"]),
        ("annexed, absent", t["absent_bytes"]),
        ("unreferenced annex objects", t["unreferenced_bytes"]),
        ("temporary files", t["temporary_bytes"]),
        ("duplicate content (saving)", t["duplicate_saving_bytes"]),
    ]
    alerts = report["alerts"]
    status = (
        f'<p class="alert">{len(alerts)} alert(s)</p>' if alerts else '<p class="ok">no alerts</p>'
    )
    q = thr["queries"]
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        "<title>anc performance report</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>Performance report</h1><p class="muted">{_e(report["base"])} - '
        f"generated {_e(report['generated'])}</p>{status}",
        "<h2>Throughput</h2>",
        _rows(
            [
                "conversions",
                "failed",
                "conversions per hour",
                "MB/s",
                "queries",
                "query p50",
                "query p95",
            ],
            [
                [
                    thr["conversions"],
                    thr["failed_conversions"],
                    f"{thr['conversions_per_hour']:.2f}",
                    f"{thr['mb_per_s']:.2f}",
                    q["count"],
                    "-" if math.isnan(q["p50_s"]) else sec(q["p50_s"]),
                    "-" if math.isnan(q["p95_s"]) else sec(q["p95_s"]),
                ]
            ],
        ),
        line_chart(
            "chart-throughput",
            "Throughput per conversion over time",
            [(c["timestamp"], c["mb_per_s"]) for c in convs if c["ok"]],
            "MB/s",
        ),
        "<h2>Alerts</h2>",
        _rows(
            ["kind", "message", "value", "threshold", "where"],
            [
                [a["kind"], a["message"], f"{a['value']:.3g}", f"{a['threshold']:.3g}", a["where"]]
                for a in alerts
            ],
        ),
        "<h2>Recommendations</h2>",
        _rows(
            ["recommendation", "projected saving", "basis", "action"],
            [
                [
                    r["title"],
                    decimal_size(r["saving"])
                    if r["unit"] == "bytes"
                    else f"{r['saving']:.2f} {r['unit']}",
                    r["basis"],
                    r["action"],
                ]
                for r in report["recommendations"]
            ],
        ),
        "<h2>Bottlenecks by stage</h2>",
        bar_chart(
            "chart-stages",
            "Time by stage (all conversions)",
            [(s["name"], s["total_s"]) for s in stages],
            sec,
        ),
        _rows(
            ["stage", "runs", "errors", "total", "mean", "p95", "share"],
            [
                [
                    s["name"],
                    s["count"],
                    s["errors"],
                    sec(s["total_s"]),
                    sec(s["mean_s"]),
                    sec(s["p95_s"]),
                    f"{s['share']:.0%}",
                ]
                for s in stages
            ],
        ),
        "<h2>Bottlenecks by operation</h2>",
        _rows(
            ["operation", "calls", "errors", "total", "mean", "p95", "max"],
            [
                [
                    o["name"],
                    o["count"],
                    o["errors"],
                    sec(o["total_s"]),
                    sec(o["mean_s"]),
                    sec(o["p95_s"]),
                    sec(o["max_s"]),
                ]
                for o in ops[:30]
            ],
        ),
        "<h2>Trends</h2>",
        _rows(
            ["figure", "older half (mean)", "newer half (mean)", "change"],
            [
                [
                    name,
                    f"{tr['older_mean']:.3g}",
                    f"{tr['newer_mean']:.3g}",
                    f"{tr['change_pct']:+.0f}%",
                ]
                for name, tr in report["trends"].items()
                if tr
            ],
        ),
        "<h2>Conversions</h2>",
        _rows(
            ["dataset", "start", "duration", "ok", "MB/s", "peak memory"],
            [
                [
                    c["dataset"],
                    c["start"],
                    sec(c["seconds"]),
                    "yes" if c["ok"] else "no",
                    f"{c['mb_per_s']:.2f}",
                    "-" if c["peak_memory_mb"] is None else f"{c['peak_memory_mb']:.0f} MB",
                ]
                for c in convs[-50:]
            ],
        ),
        "<h2>Storage</h2>",
        f"<p>{store['datasets']} dataset(s): {store['conversion_datasets']} conversion, "
        f"{store['development_datasets']} development; scanned in {store['seconds']} s.</p>",
        bar_chart("chart-storage", "Storage by kind", storage_kinds, decimal_size),
        "<h3>Largest files</h3>",
        _rows(
            ["dataset", "path", "size", "where", "present"],
            [
                [
                    f["dataset"],
                    f["path"],
                    decimal_size(f["size"]),
                    f["where"],
                    "yes" if f["present"] else "no",
                ]
                for f in store["largest_files"]
            ],
        ),
        "<h3>Duplicate content across datasets</h3>",
        _rows(
            ["content", "size", "copies", "saving", "datasets"],
            [
                [
                    d["content"][:40] + "...",
                    decimal_size(d["size"]),
                    d["copies"],
                    decimal_size(d["saving_bytes"]),
                    ", ".join(d["datasets"][:5]),
                ]
                for d in store["duplicates"][:20]
            ],
        ),
        "<h2>Problems</h2>",
        _rows(["problem"], [[p] for p in report["problems"]]),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
