"""`anc perf check` (health, thresholds, alerts) and `anc perf report` (JSON, HTML in Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.monitoring.dashboard import PerformanceDashboard
from agentic_neurodata_conversion.monitoring.datalad_timing import PerformanceAwareDataLadWrapper
from agentic_neurodata_conversion.monitoring.metrics import METRICS_FILE, ConversionMonitor
from agentic_neurodata_conversion.monitoring.settings import Settings

# thresholds no machine crosses, so only what a test provokes raises an alert
CALM = "[thresholds]\nmin_free_disk_gb = 0\nmax_memory_percent = 100\n"


def convert(root: Path, payload: int, wrapper: PerformanceAwareDataLadWrapper) -> None:
    """A stand-in conversion in a real dataset: stages, timed saves, a metrics file."""
    ds = dsops.create_dataset(root, root.name, rules=annex.CONVERSION_RULES)
    for sub in ("outputs", "reports", "provenance"):
        (root / sub).mkdir(exist_ok=True)
    with ConversionMonitor(root, interval_s=0.05) as mon:
        with mon.stage("convert"):
            (root / "outputs" / "session.nwb").write_bytes(os.urandom(payload))
            time.sleep(0.1)
        with mon.stage("save"):
            wrapper.safe_save(ds, "add output")
        with mon.stage("validate"):
            (root / "reports" / "validation.txt").write_text("No issues found\n")
            wrapper.safe_save(ds, "add validation")
        mon.annotate(input_bytes=2 * payload)
    dsops.save(ds, "add metrics")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("perf") / "base"
    # without a collector of its own the wrapper reports to the running monitor's
    wrapper = PerformanceAwareDataLadWrapper()
    convert(root / "conversion_one", 200_000, wrapper)
    convert(root / "conversion_two", 400_000, wrapper)
    (root / "conversion_two" / "outputs" / "session.nwb.tmp").write_bytes(b"t" * 4321)
    (root / "anc.toml").write_text(CALM)
    return root


@pytest.fixture
def work(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "base", symlinks=True)
    return tmp_path / "base"


def test_check_passes_then_a_low_threshold_raises_an_alert_and_a_non_zero_exit(
    work: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = run_cli("perf", "check", str(work))
    assert code == 0, out + err
    assert "ok: no alerts" in out and "conversion_one: fsck 0 failed of 1" in out

    (work / "strict.yaml").write_text(
        "thresholds:\n  slow_operation_s: 0.001\n  min_free_disk_gb: 0\n  max_memory_percent: 100\n"
    )
    code, out, _ = run_cli(
        "perf", "check", str(work), "--settings", str(work / "strict.yaml"), "--json"
    )
    assert code == 1
    result = json.loads(out)
    assert not result["ok"]
    slow = {a["where"] for a in result["alerts"] if a["kind"] == "slow_operation"}
    assert {"stage.convert", "wrapper.safe_save"} <= slow
    alert = next(a for a in result["alerts"] if a["where"] == "stage.convert")
    assert alert["value"] >= 0.1 and alert["threshold"] == 0.001


def test_failed_fsck_stale_lock_and_corrupt_metrics(
    work: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    one = work / "conversion_one"
    obj = (one / "outputs" / "session.nwb").resolve()
    obj.parent.chmod(0o755)
    obj.chmod(0o644)
    with open(obj, "r+b") as fh:  # same size, other bytes: only a full fsck sees it
        fh.write(b"corrupted")
    lock = work / "conversion_two" / ".git" / "index.lock"
    lock.touch()
    then = time.time() - 3600
    os.utime(lock, (then, then))
    with (one / METRICS_FILE).open("a") as fh:
        fh.write('{"kind": "metric", "torn li\n')

    code, out, _err = run_cli("perf", "check", str(work), "--fsck", "full", "--no-unused", "--json")
    assert code == 1
    r = json.loads(out)
    kinds = {(a["kind"], a["where"]) for a in r["alerts"]}
    assert kinds == {("fsck_failed", "conversion_one"), ("stale_lock", "conversion_two")}
    health = {h["path"]: h for h in r["datasets"]}
    assert health["conversion_one"]["fsck_failures"][0]["file"] == "outputs/session.nwb"
    assert health["conversion_one"]["unused"] is None
    assert health["conversion_two"]["stale_locks"][0]["path"] == ".git/index.lock"
    assert any(f"{METRICS_FILE}:" in p and "torn" not in p for p in r["problems"])

    # the report skips the corrupt line, keeps the rest and shows the problem
    report = PerformanceDashboard(
        work,
        Settings.model_validate({"thresholds": {"min_free_disk_gb": 0, "max_memory_percent": 100}}),
    ).generate_performance_report()
    assert report["throughput"]["conversions"] == 2
    assert len(report["problems"]) == 1 and "metrics.jsonl:" in report["problems"][0]
    assert [a["kind"] for a in report["alerts"]] == ["stale_lock"]


@pytest.mark.slow
def test_health_reports_subdatasets_and_missing_content(tmp_path: Path) -> None:
    from agentic_neurodata_conversion.monitoring.health import check_health

    parent = tmp_path / "base" / "superds"
    ds = dsops.create_dataset(parent, "parent")
    (parent / "rec.dat").write_bytes(os.urandom(5000))
    dsops.save(ds, "data")
    opts = {
        "result_renderer": "disabled",
        "on_failure": "ignore",
        "result_xfm": None,
        "return_type": "list",
    }
    for name in ("s1", "s2"):
        dsops.check_results(
            dsops.dl().create(path=str(parent / "raw" / name), dataset=str(parent), **opts),
            "create",
        )
    dsops.check_results(
        ds.drop(path="raw/s2", what="all", reckless="kill", recursive=True, **opts), "drop"
    )
    dsops.git(parent, "annex", "drop", "--force", "rec.dat")
    settings = Settings.model_validate(
        {"thresholds": {"min_free_disk_gb": 0, "max_memory_percent": 100}}
    )
    r = check_health(tmp_path / "base", settings)
    health = {h["path"]: h for h in r["datasets"]}
    assert set(health) == {"superds", "superds/raw/s1"}  # s2 is not installed
    sup = health["superds"]
    assert sup["subdatasets"] == [
        {"path": "raw/s1", "state": "ok"},
        {"path": "raw/s2", "state": "not installed"},
    ]
    assert sup["missing"] == ["rec.dat"] and sup["unused"] == []
    # dropped with --force and no copy left anywhere: fsck reports the loss
    assert [f["file"] for f in sup["fsck_failures"]] == ["rec.dat"]
    assert [(a["kind"], a["where"]) for a in r["alerts"]] == [("fsck_failed", "superds")]


def test_settings_errors_name_the_key(
    work: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    (work / "anc.toml").write_text("[thresholds]\nslow_operation_s = 1\nfsck_limit = 2\n")
    code, _, err = run_cli("perf", "check", str(work))
    assert code == 2 and "unknown key thresholds.fsck_limit" in err
    (work / "anc.toml").write_text('[sampler]\ninterval_s = "fast"\n')
    code, _, err = run_cli("perf", "report", str(work))
    assert code == 2 and "sampler.interval_s: Input should be a valid number" in err
    code, _, err = run_cli("perf", "report", str(work), "--settings", str(work / "none.toml"))
    assert code == 2 and "does not exist" in err


def test_report_has_bottlenecks_trends_storage_and_recommendations(
    base: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = run_cli("perf", "report", str(base), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["throughput"]["conversions"] == 2 and r["throughput"]["mb_per_s"] > 0
    assert r["throughput"]["conversions_per_hour"] > 0
    stages = [s["name"] for s in r["bottlenecks"]["stages"]]
    assert set(stages) == {"convert", "save", "validate"}
    ops = {o["name"]: o for o in r["bottlenecks"]["operations"]}
    assert ops["wrapper.safe_save"]["count"] == 4
    assert r["trends"]["seconds_per_conversion"]["older_mean"] > 0
    assert [c["dataset"] for c in r["conversions"]] == ["conversion_one", "conversion_two"]
    assert r["conversions"][1]["bytes"] == 800_000
    assert r["storage"]["datasets"] == 2 and r["alerts"] == []
    [rec] = r["recommendations"]
    assert rec["title"] == "Remove 1 temporary file(s)"
    assert (rec["saving"], rec["unit"]) == (4321, "bytes") and "cleanup" in rec["action"]
    code, out, _ = run_cli("perf", "report", str(base))
    assert code == 0 and "2 conversion(s)" in out and "slowest stages:" in out


def test_html_report_renders_in_headless_chromium(
    base: Path, tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]], browser: Any
) -> None:
    page_file = tmp_path / "report.html"
    code, _, err = run_cli("perf", "report", str(base), "--html", str(page_file))
    assert code == 0, err
    text = page_file.read_text()
    assert (
        "<script" not in text
        and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        and "https://" not in text
    )

    page = browser.new_page()
    try:
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda req: requests.append(req.url))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_file.as_uri())
        assert page.title() == "anc performance report"
        for chart in ("chart-stages", "chart-throughput", "chart-storage"):
            box = page.locator(f"#{chart}").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 60, chart
        assert page.locator("#chart-stages rect.bar").count() == 3
        assert page.locator("#chart-throughput circle.dot").count() == 2
        assert page.locator("#chart-storage rect.bar").count() == 7
        bar = page.locator("#chart-stages rect.bar").first.bounding_box()
        assert bar and bar["width"] > 10  # drawn, not collapsed
        assert "no alerts" in page.locator("body").inner_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()
    assert requests == [page_file.as_uri()]  # nothing fetched beyond the page itself
    assert errors == []


def test_recommendations_project_their_savings() -> None:
    from agentic_neurodata_conversion.monitoring.dashboard import recommendations

    totals = {
        "temporary_files": 0,
        "temporary_bytes": 0,
        "unreferenced_objects": 2,
        "unreferenced_bytes": 5_000,
        "duplicate_groups": 1,
        "duplicate_saving_bytes": 7_000,
        "annexed_bytes_by_backend": {"SHA256E": 2**30, "BLAKE3_256E": 2**30},
    }
    store = {
        "totals": totals,
        "largest_files": [
            {"where": "git", "size": 3_000_000},
            {"where": "annex", "size": 9_000_000},
        ],
    }
    ops = [
        {"name": "datalad.save", "count": 20, "mean_s": 0.2, "max_s": 0.3},
        {"name": "datalad.get", "count": 2, "mean_s": 40.0, "max_s": 50.0},
    ]
    recs = {r["title"].split()[0]: r for r in recommendations(store, ops, 2, 30.0, 4.0)}
    assert set(recs) == {"Drop", "Share", "Annex", "Hash", "Batch", "Speed"}
    assert recs["Drop"]["saving"] == 5_000 and recs["Share"]["saving"] == 7_000
    assert recs["Annex"]["saving"] == 3_000_000
    # 1 GiB hashed at 332 instead of 1177 MiB/s
    assert recs["Hash"]["saving"] == pytest.approx(1024 / 332 - 1024 / 1177)
    # 10 saves per conversion where 4 (one per stage) would do, 0.2 s each
    assert recs["Batch"]["saving"] == pytest.approx(6 * 0.2)
    assert recs["Speed"]["saving"] == pytest.approx(2 * 10.0)
