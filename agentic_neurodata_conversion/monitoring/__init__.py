"""Monitoring: timings and resource samples, storage analysis and cleanup, resource admission
and caching, dataset health and alerts, and the performance report.

The seed's names are importable from here; each loads its submodule on first use, so
importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "PerformanceMetric": "metrics",
    "SystemResourceSnapshot": "metrics",
    "PerformanceCollector": "metrics",
    "ResourceSampler": "metrics",
    "ConversionMonitor": "metrics",
    "timed": "metrics",
    "default_collector": "metrics",
    "StorageOptimizer": "storage",
    "ResourceManager": "resources",
    "TTLCache": "resources",
    "PerformanceDashboard": "dashboard",
    "PerformanceAwareDataLadWrapper": "datalad_timing",
    "Settings": "settings",
    "load_settings": "settings",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
