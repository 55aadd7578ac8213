"""`anc perf`: the performance report (text, JSON, HTML) and the threshold check."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..units import decimal_size
from .output import print_json

perf_app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~90 ms at start-up
    help="Performance of the conversions under a folder: report and health check.",
    no_args_is_help=True,
)
DirArgument = Annotated[
    Path, typer.Argument(help="Folder holding the datasets (searched recursively).")
]
SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings", help="Settings file (TOML or YAML; default: DIRECTORY/anc.toml if present)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ALERT_EXIT = 1


class Fsck(StrEnum):
    fast = "fast"
    full = "full"
    off = "off"


def register(app: typer.Typer) -> None:
    app.add_typer(perf_app, name="perf")


@perf_app.command()
def report(
    directory: DirArgument = Path("."),
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Also write a self-contained HTML page with plots to this file."
        ),
    ] = None,
    settings: SettingsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bottlenecks by stage and operation, trends, storage, alerts and recommendations."""
    from ..monitoring.dashboard import PerformanceDashboard
    from ..monitoring.settings import load_settings

    dashboard = PerformanceDashboard(directory, load_settings(settings, directory))
    result = dashboard.generate_performance_report()
    if html is not None:
        from ..reports.perf_html import write_html

        write_html(result, html)
    if as_json:
        print_json(result)
        return
    _render_report(result)
    if html is not None:
        typer.echo(f"HTML report: {html}")


def _render_report(r: dict[str, Any]) -> None:
    echo = typer.echo
    thr = r["throughput"]
    echo(
        f"{r['base']}: {thr['conversions']} conversion(s), "
        f"{thr['conversions_per_hour']:.2f}/hour, {thr['mb_per_s']:.2f} MB/s"
        + (f", {thr['failed_conversions']} failed" if thr["failed_conversions"] else "")
    )
    q = thr["queries"]
    if q["count"]:
        echo(f"queries: {q['count']}, p50 {q['p50_s']:.3f} s, p95 {q['p95_s']:.3f} s")
    for title, rows in (
        ("stages", r["bottlenecks"]["stages"]),
        ("operations", r["bottlenecks"]["operations"][:10]),
    ):
        if rows:
            echo(f"slowest {title}:")
            for row in rows:
                echo(
                    f"  {row['total_s']:9.2f} s  {row['name']} ({row['count']}x, "
                    f"mean {row['mean_s']:.3f} s, {row['share']:.0%})"
                )
    t = r["storage"]["totals"]
    echo(
        f"storage: git {decimal_size(t['git_bytes'])}, annexed {decimal_size(t['annexed_bytes'])} "
        f"({decimal_size(t['present_bytes'])} present)"
    )
    for rec in r["recommendations"]:
        saving = (
            decimal_size(rec["saving"])
            if rec["unit"] == "bytes"
            else f"{rec['saving']:.2f} {rec['unit']}"
        )
        echo(f"recommendation: {rec['title']} - saves {saving} ({rec['action']})")
    for a in r["alerts"]:
        echo(f"alert: {a['kind']}: {a['message']} ({a['where']})")
    for p in r["problems"]:
        echo(f"problem: {p}", err=True)


@perf_app.command()
def check(
    directory: DirArgument = Path("."),
    settings: SettingsOption = None,
    fsck: Annotated[
        Fsck,
        typer.Option(
            "--fsck", help="git annex fsck of present content: fast (sizes), full (hashes), off."
        ),
    ] = Fsck.fast,
    unused: Annotated[
        bool,
        typer.Option(
            "--unused/--no-unused", help="Look for unused annex objects (git annex unused)."
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Check dataset health and thresholds; exits 1 when any alert is raised."""
    from ..monitoring.health import check_health
    from ..monitoring.settings import load_settings

    result = check_health(
        directory, load_settings(settings, directory), fsck=fsck.value, unused=unused
    )
    if as_json:
        print_json(result)
    else:
        for h in result["datasets"]:
            bits = [
                f"fsck {len(h['fsck_failures'])} failed of {h['fsck_checked']}"
                if h["fsck"] != "off"
                else "fsck off"
            ]
            if h["unused"] is not None:
                bits.append(f"{len(h['unused'])} unused objects")
            bits.append(f"{len(h['missing'])} files without content")
            if h["subdatasets"]:
                bad = [s for s in h["subdatasets"] if s["state"] != "ok"]
                bits.append(f"{len(h['subdatasets'])} subdatasets ({len(bad)} not ok)")
            if h["stale_locks"]:
                bits.append(f"{len(h['stale_locks'])} stale lock(s)")
            typer.echo(f"{h['path']}: {', '.join(bits)}")
        for a in result["alerts"]:
            typer.echo(f"alert: {a['kind']}: {a['message']} ({a['where']})")
        for p in result["problems"]:
            typer.echo(f"problem: {p}", err=True)
        typer.echo("ok: no alerts" if result["ok"] else f"{len(result['alerts'])} alert(s)")
    if not result["ok"]:
        raise typer.Exit(ALERT_EXIT)
