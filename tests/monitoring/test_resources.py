"""The settings file, the TTL + LRU cache and the resource manager (threads and processes)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.monitoring.resources import (
    ResourceManager,
    ResourceUnavailable,
    TTLCache,
)
from agentic_neurodata_conversion.monitoring.settings import Settings, load_settings


def test_settings_defaults_toml_yaml_and_default_location(tmp_path: Path) -> None:
    assert load_settings(None, tmp_path) == Settings()
    (tmp_path / "anc.toml").write_text(
        "[thresholds]\nslow_operation_s = 5\n[cache]\nmax_entries = 10\n"
        "[resources]\nmax_concurrent_conversions = 4\n[sampler]\ninterval_s = 0.5\n"
    )
    s = load_settings(None, tmp_path)
    assert s.thresholds.slow_operation_s == 5.0 and s.cache.max_entries == 10
    assert s.resources.max_concurrent_conversions == 4 and s.sampler.interval_s == 0.5
    assert s.thresholds.min_free_disk_gb == Settings().thresholds.min_free_disk_gb
    yml = tmp_path / "other.yml"
    yml.write_text("cache:\n  ttl_s: 60\n")
    assert load_settings(yml, tmp_path).cache.ttl_s == 60.0  # explicit file wins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[thresholds]\nslow_op = 1\n", "unknown key thresholds.slow_op"),
        ("[limits]\nx = 1\n", "unknown key limits"),
        (
            '[thresholds]\nslow_operation_s = "30"\n',
            "thresholds.slow_operation_s: Input should be a valid number",
        ),
        ("[cache]\nmax_entries = 1.5\n", "cache.max_entries: Input should be a valid integer"),
        ("[resources]\nmax_concurrent_conversions = 0\n", "resources.max_concurrent_conversions"),
        ("[thresholds]\nmax_memory_percent = 150\n", "thresholds.max_memory_percent"),
        ("thresholds = 3\n", "thresholds: Input should be a valid dictionary"),
        ("[thresholds\n", "is not valid TOML"),
    ],
)
def test_settings_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "anc.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        load_settings(path)
    assert str(path) in info.value.message


def test_settings_file_missing_or_of_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(tmp_path / "none.toml")
    (tmp_path / "s.ini").write_text("x")
    with pytest.raises(UsageError, match="unknown type"):
        load_settings(tmp_path / "s.ini")
    (tmp_path / "s.yaml").write_text("- a list\n")
    with pytest.raises(UsageError, match="expected a table"):
        load_settings(tmp_path / "s.yaml")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_expires_evicts_least_recently_used_and_counts() -> None:
    clock = Clock()
    cache = TTLCache(ttl_s=10, max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.set("c", 3)  # evicts b
    assert cache.get("b") is None and cache.get("c") == 3
    clock.now = 9.9
    assert cache.get("a") == 1
    cache.set("short", 0, ttl_s=1)  # evicts c, now the least recently used
    clock.now = 10.0
    assert cache.get("a") is None  # expired exactly at its TTL
    assert len(cache) == 1 and cache.cleanup_expired() == 0
    clock.now = 10.9
    assert cache.cleanup_expired() == 1  # short
    assert len(cache) == 0
    st = cache.stats()
    assert (st["hits"], st["misses"], st["evicted"], st["expired"]) == (3, 2, 2, 2)
    assert st["hit_rate"] == pytest.approx(3 / 5)


def test_cache_memoizes_lookups() -> None:
    cache = TTLCache(ttl_s=60, max_entries=8)
    calls: list[str] = []

    @cache.memoize
    def lookup(conversion: str, field: str = "subject") -> str:
        calls.append(conversion)
        return f"{conversion}:{field}"

    assert lookup("c1") == lookup("c1") == "c1:subject"
    assert lookup("c1", field="age") == "c1:age"
    assert calls == ["c1", "c1"] and cache.stats()["hits"] == 1
    cache.clear()
    lookup("c1")
    assert calls == ["c1", "c1", "c1"]


def test_memory_check_uses_available_memory() -> None:
    available = psutil.virtual_memory().available / 1e9
    rm = ResourceManager(max_concurrent_ops=4, memory_reserve_gb=0.5)
    assert rm.request_resources("small", memory_estimate_gb=0.01)
    assert not rm.request_resources("huge", memory_estimate_gb=available + 1)
    # fits in what is available, but would eat into the reserve
    strict = ResourceManager(memory_reserve_gb=available)
    assert not strict.request_resources("x", memory_estimate_gb=0.5)
    assert rm.active_operations == {"small"}
    with pytest.raises(ValueError, match="already holds"):
        rm.request_resources("small", 0.01)
    rm.release_resources("small")
    rm.release_resources("unknown")  # ignored
    assert rm.active_operations == set()


@pytest.mark.parametrize("with_files", [False, True])
def test_concurrency_limit_across_threads(tmp_path: Path, with_files: bool) -> None:
    rm = ResourceManager(2, 0.0, lock_dir=tmp_path / "locks" if with_files else None)
    running, peak = 0, 0
    lock = threading.Lock()

    def job(i: int) -> None:
        nonlocal running, peak
        with rm.acquire(f"conv-{i}", memory_estimate_gb=0.01, poll_s=0.01):
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = [threading.Thread(target=job, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2 and rm.active_operations == set()


def test_concurrency_limit_across_processes_and_timeout(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    holder = (
        "import sys, time\n"
        "from agentic_neurodata_conversion.monitoring.resources import ResourceManager\n"
        f"rm = ResourceManager(2, 0.0, lock_dir={str(locks)!r})\n"
        "assert rm.request_resources('other-process', 0.01)\n"
        "print('holding', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
        rm = ResourceManager(2, 0.0, lock_dir=locks)
        assert rm.request_resources("mine", 0.01)  # the second of two slots
        with (
            pytest.raises(ResourceUnavailable, match="2 conversions already running"),
            rm.acquire("third", 0.01, timeout_s=0.2, poll_s=0.05),
        ):
            pass
    finally:
        proc.kill()  # its slot is freed by the kernel, no clean-up needed
        proc.wait()
    assert rm.request_resources("third", 0.01)
    rm.release_resources("mine")
    rm.release_resources("third")


def test_manager_from_settings_and_seed_cache_names(tmp_path: Path) -> None:
    s = Settings.model_validate(
        {"resources": {"max_concurrent_conversions": 3}, "cache": {"ttl_s": 5, "max_entries": 7}}
    )
    rm = ResourceManager.from_settings(s, lock_dir=tmp_path)
    assert rm.max_concurrent_ops == 3 and rm.cache.max_entries == 7 and rm.cache.ttl_s == 5
    rm.set_cached_data("prov:c1", {"records": 3})
    assert rm.get_cached_data("prov:c1") == {"records": 3}
    rm.set_cached_data("gone", 1, ttl_s=1e-6)
    time.sleep(0.01)
    assert rm.cleanup_expired_cache() == 1
