"""The performance report (``monitoring.dashboard.PerformanceDashboard``'s dict) as one
self-contained HTML page: ``anc perf report --html FILE``.

The page has no scripts and loads nothing: styles are inline, plots are inline SVG, and a
Content-Security-Policy forbids any fetch.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..units import decimal_size


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


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
    """Write the page of REPORT to PATH (its folder made if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
