"""The seed design's public names: one table, each name loaded on first use (PEP 562).

The seed put its names in modules of ``data_management`` (``conversion_provenance``,
``datalad_wrapper``, ``performance_monitoring``, ``datalad_performance``,
``repository_structure``). They are importable from ``data_management`` itself and from
those module paths; each seed module is a two-line file that asks this table. Importing the
package or a seed module imports nothing else: the name's module (with pydantic, psutil, ...)
is imported when the name is first used. docs/seed-compatibility.md shows the table.

``MCPProvenanceManager`` and ``provenance_manager`` are the seed's too, but they belong to the
MCP server, a front end above this layer: they stay where the seed put them (the MCP server's
``provenance_integration`` module) and only the documentation lists them here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

# name -> (the seed module under data_management that defined it, the module holding it now)
SEED_NAMES: dict[str, tuple[str, str]] = {
    "DataLadRepositoryManager": (
        "repository_structure",
        "agentic_neurodata_conversion.data_management.repository",
    ),
    "TestDatasetManager": (
        "repository_structure",
        "agentic_neurodata_conversion.data_management.test_datasets",
    ),
    "ProvenanceSource": ("conversion_provenance", "agentic_neurodata_conversion.journal.records"),
    "ProvenanceRecord": ("conversion_provenance", "agentic_neurodata_conversion.journal.records"),
    # not in the seed: the confidence levels of its records, exported beside them
    "ConfidenceLevel": ("conversion_provenance", "agentic_neurodata_conversion.journal.records"),
    "ConversionSession": (
        "conversion_provenance",
        "agentic_neurodata_conversion.provenance.session",
    ),
    "ConversionProvenanceTracker": (
        "conversion_provenance",
        "agentic_neurodata_conversion.provenance.tracker",
    ),
    "ProvenanceIntegration": (
        "conversion_provenance",
        "agentic_neurodata_conversion.provenance.integration",
    ),
    "DataLadWrapper": ("datalad_wrapper", "agentic_neurodata_conversion.datalad_layer.wrapper"),
    "setup_development_data_infrastructure": (
        "datalad_wrapper",
        "agentic_neurodata_conversion.data_management.infrastructure",
    ),
    "create_conversion_tracker": (
        "datalad_wrapper",
        "agentic_neurodata_conversion.provenance.tracker",
    ),
    "PerformanceMetric": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.metrics",
    ),
    "SystemResourceSnapshot": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.metrics",
    ),
    "PerformanceCollector": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.metrics",
    ),
    "StorageOptimizer": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.storage",
    ),
    "ResourceManager": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.resources",
    ),
    "PerformanceDashboard": (
        "performance_monitoring",
        "agentic_neurodata_conversion.monitoring.dashboard",
    ),
    "PerformanceAwareDataLadWrapper": (
        "datalad_performance",
        "agentic_neurodata_conversion.monitoring.datalad_timing",
    ),
}

# Seed names that live above this layer: a clear AttributeError instead of a bare one.
ABOVE = {
    "MCPProvenanceManager": "the MCP server",
    "provenance_manager": "the MCP server",
}


def names(seed_module: str | None = None) -> list[str]:
    """The names importable from SEED_MODULE (None: from the package), sorted."""
    return sorted(n for n, (m, _) in SEED_NAMES.items() if seed_module in (None, m))


def load(name: str) -> Any:
    """The object NAME stands for, importing its module now."""
    return getattr(importlib.import_module(SEED_NAMES[name][1]), name)


def lazy_module(
    module_name: str, seed_module: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for the module MODULE_NAME that serves
    the names of SEED_MODULE (None: all of them, for the package)."""
    served = names(seed_module)
    allowed = frozenset(served)

    def __getattr__(name: str) -> Any:
        if name not in allowed:
            where = ABOVE.get(name)
            hint = f": it belongs to {where} (docs/seed-compatibility.md)" if where else ""
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}{hint}")
        value = load(name)
        setattr(sys.modules[module_name], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(allowed.union(vars(sys.modules[module_name])))

    return __getattr__, __dir__, served
