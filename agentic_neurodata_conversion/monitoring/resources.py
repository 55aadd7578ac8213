"""Admission of conversions (a concurrency limit and a memory check) and a TTL + LRU cache.

The concurrency limit works across threads, and across processes when a lock folder is
given: each running operation holds an exclusive ``flock`` on one of N slot files, and
the kernel releases it when the holder exits, even after a crash (POSIX only).
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psutil

from ..errors import AncError
from .settings import Settings

GB = 1e9
F = TypeVar("F", bound=Callable[..., Any])


class ResourceUnavailable(AncError):
    """No conversion slot or not enough available memory within the waiting time."""

    exit_code = 3


# ---------------------------------------------------------------------------- cache


class TTLCache:
    """A thread-safe mapping whose entries expire after TTL_S and whose least recently used
    entry goes first beyond MAX_ENTRIES; it counts hits, misses, expiries and evictions."""

    def __init__(
        self,
        ttl_s: float = 3600.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError("ttl_s must be > 0 and max_entries >= 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.expired = self.evicted = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] <= self._clock():
                del self._data[key]
                self.expired += 1
                entry = None
            if entry is None:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return entry[1]

    def set(self, key: Hashable, value: Any, ttl_s: float | None = None) -> None:
        with self._lock:
            self._data[key] = (self._clock() + (self.ttl_s if ttl_s is None else ttl_s), value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
                self.evicted += 1

    def delete(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def cleanup_expired(self) -> int:
        """Drop expired entries now; returns how many."""
        with self._lock:
            now = self._clock()
            dead = [k for k, (expiry, _) in self._data.items() if expiry <= now]
            for key in dead:
                del self._data[key]
            self.expired += len(dead)
            return len(dead)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            looked = self.hits + self.misses
            return {
                "entries": len(self._data),
                "max_entries": self.max_entries,
                "ttl_s": self.ttl_s,
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / looked if looked else 0.0,
                "expired": self.expired,
                "evicted": self.evicted,
            }

    def memoize(self, func: F) -> F:
        """Cache FUNC's results by its (hashable) arguments, e.g. provenance look-ups."""
        missing = object()

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (func.__qualname__, args, tuple(sorted(kwargs.items())))
            value = self.get(key, missing)
            if value is missing:
                value = func(*args, **kwargs)
                self.set(key, value)
            return value

        return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------- slots


class _ThreadSlots:
    def __init__(self, n: int) -> None:
        self.n = n
        self._used = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> object | None:
        with self._lock:
            if self._used >= self.n:
                return None
            self._used += 1
            return self

    def release(self, token: object) -> None:
        with self._lock:
            self._used -= 1


class _FileSlots:
    """N lock files; each flock is bound to its own open file, so threads compete too."""

    def __init__(self, n: int, folder: Path) -> None:
        self.n = n
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = [folder / f"conversion-slot-{i}.lock" for i in range(n)]

    def try_acquire(self) -> object | None:
        for path in self.paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def release(self, token: object) -> None:
        assert isinstance(token, int)
        fcntl.flock(token, fcntl.LOCK_UN)
        os.close(token)


class ResourceManager:
    """Admits operations while a slot is free and enough memory stays available.

    The memory check uses ``psutil.virtual_memory().available`` (what can be allocated
    without swapping): an operation needing ESTIMATE GB is admitted when
    ``available - estimate >= memory_reserve_gb``. Memory already taken by running
    operations is part of ``available``; an operation admitted a moment ago that has not
    allocated yet is not, so estimates of concurrent starts should be generous.
    """

    def __init__(
        self,
        max_concurrent_ops: int = 2,
        memory_reserve_gb: float = 1.0,
        *,
        lock_dir: str | Path | None = None,
        cache: TTLCache | None = None,
    ) -> None:
        if max_concurrent_ops < 1:
            raise ValueError("max_concurrent_ops must be >= 1")
        self.max_concurrent_ops = max_concurrent_ops
        self.memory_reserve_gb = memory_reserve_gb
        self._slots: _ThreadSlots | _FileSlots = (
            _FileSlots(max_concurrent_ops, Path(lock_dir))
            if lock_dir is not None
            else _ThreadSlots(max_concurrent_ops)
        )
        self._held: dict[str, object] = {}
        self._lock = threading.Lock()
        self.cache = cache if cache is not None else TTLCache()  # an empty cache is falsy

    @classmethod
    def from_settings(
        cls, settings: Settings, lock_dir: str | Path | None = None
    ) -> ResourceManager:
        res, cache = settings.resources, settings.cache
        return cls(
            res.max_concurrent_conversions,
            res.memory_reserve_gb,
            lock_dir=lock_dir,
            cache=TTLCache(cache.ttl_s, cache.max_entries),
        )

    @property
    def active_operations(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def memory_check(self, memory_estimate_gb: float) -> tuple[bool, float]:
        """(fits, available GB): whether ESTIMATE fits and keeps the reserve free."""
        available = psutil.virtual_memory().available / GB
        return available - memory_estimate_gb >= self.memory_reserve_gb, available

    def request_resources(self, operation_id: str, memory_estimate_gb: float = 1.0) -> bool:
        """Admit OPERATION_ID now if memory and a slot allow; False otherwise (no waiting)."""
        with self._lock:
            if operation_id in self._held:
                raise ValueError(f"operation {operation_id!r} already holds resources")
        fits, _ = self.memory_check(memory_estimate_gb)
        if not fits:
            return False
        token = self._slots.try_acquire()
        if token is None:
            return False
        with self._lock:
            self._held[operation_id] = token
        return True

    def release_resources(self, operation_id: str) -> None:
        """Give back OPERATION_ID's slot; unknown ids are ignored."""
        with self._lock:
            token = self._held.pop(operation_id, None)
        if token is not None:
            self._slots.release(token)

    def refusal(self, memory_estimate_gb: float) -> str:
        """Why an operation needing ESTIMATE GB is not admitted now."""
        fits, available = self.memory_check(memory_estimate_gb)
        if fits:
            return f"{self.max_concurrent_ops} conversions already running"
        return (
            f"{available:.1f} GB available, {memory_estimate_gb:.1f} GB needed "
            f"+ {self.memory_reserve_gb:.1f} GB reserve"
        )

    @contextmanager
    def acquire(
        self,
        operation_id: str,
        memory_estimate_gb: float = 1.0,
        timeout_s: float | None = None,
        poll_s: float = 0.2,
        waiting: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold resources for the block, waiting up to TIMEOUT_S (None: forever); WAITING
        is told why once, when the operation has to wait."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        told = False
        while not self.request_resources(operation_id, memory_estimate_gb):
            if deadline is not None and time.monotonic() >= deadline:
                raise ResourceUnavailable(
                    f"cannot start {operation_id}: {self.refusal(memory_estimate_gb)}",
                    "wait for running conversions or change [resources] in the settings file",
                )
            if waiting is not None and not told:
                waiting(self.refusal(memory_estimate_gb))
                told = True
            time.sleep(poll_s)
        try:
            yield
        finally:
            self.release_resources(operation_id)

    # the seed's cache names
    def get_cached_data(self, cache_key: Hashable) -> Any:
        return self.cache.get(cache_key)

    def set_cached_data(self, cache_key: Hashable, data: Any, ttl_s: float | None = None) -> None:
        self.cache.set(cache_key, data, ttl_s)

    def cleanup_expired_cache(self) -> int:
        return self.cache.cleanup_expired()
