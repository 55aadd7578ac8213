"""The seed's names: importable where the seed put them, from one table, loaded on first use."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_neurodata_conversion.data_management import compat

DOC = Path(__file__).parents[2] / "docs" / "seed-compatibility.md"
# The seed design's public names (shared/seed/000_a8b5f2daeafdc511.txt), by its modules.
SEED = {
    "repository_structure": {"DataLadRepositoryManager", "TestDatasetManager"},
    "conversion_provenance": {
        "ProvenanceSource",
        "ProvenanceRecord",
        "ConversionSession",
        "ConversionProvenanceTracker",
        "ProvenanceIntegration",
    },
    "datalad_wrapper": {
        "DataLadWrapper",
        "setup_development_data_infrastructure",
        "create_conversion_tracker",
    },
    "performance_monitoring": {
        "PerformanceMetric",
        "SystemResourceSnapshot",
        "PerformanceCollector",
        "StorageOptimizer",
        "ResourceManager",
        "PerformanceDashboard",
    },
    "datalad_performance": {"PerformanceAwareDataLadWrapper"},
}
PACKAGE = "agentic_neurodata_conversion.data_management"


def test_every_seed_name_is_in_the_table_under_its_seed_module() -> None:
    for module, names in SEED.items():
        assert names <= set(compat.names(module)), module
    extra = set(compat.SEED_NAMES) - set().union(*SEED.values())
    assert extra == {"ConfidenceLevel"}  # exported beside ProvenanceRecord


@pytest.mark.parametrize("name", sorted(compat.SEED_NAMES))
def test_a_name_is_the_same_object_from_the_package_its_seed_module_and_its_home(
    name: str,
) -> None:
    seed_module, home = compat.SEED_NAMES[name]
    obj = getattr(importlib.import_module(home), name)
    assert getattr(importlib.import_module(PACKAGE), name) is obj
    assert getattr(importlib.import_module(f"{PACKAGE}.{seed_module}"), name) is obj


def test_seed_modules_serve_only_their_names() -> None:
    from agentic_neurodata_conversion.data_management import datalad_wrapper

    assert datalad_wrapper.__all__ == compat.names("datalad_wrapper")
    assert "DataLadWrapper" in dir(datalad_wrapper)
    with pytest.raises(AttributeError, match="no attribute 'ResourceManager'"):
        datalad_wrapper.ResourceManager  # noqa: B018
    with pytest.raises(AttributeError, match="belongs to the MCP server"):
        importlib.import_module(PACKAGE).MCPProvenanceManager  # noqa: B018


def test_importing_the_package_or_a_seed_module_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        f"import {PACKAGE}, {PACKAGE}.conversion_provenance, {PACKAGE}.performance_monitoring\n"
        "heavy = [m for m in ('pydantic', 'psutil', 'datalad') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        f"from {PACKAGE} import ConversionProvenanceTracker, ResourceManager\n"
        "assert 'psutil' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_documented_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `(\w+)`[^|]*\| `([\w.]+)` \| `([\w.]+)`", DOC.read_text(), re.M)
    documented = {name: (seed, now) for name, seed, now in rows}
    in_code = {
        name: (f"data_management.{seed}", home.removeprefix("agentic_neurodata_conversion."))
        for name, (seed, home) in compat.SEED_NAMES.items()
    }
    above = {name: documented.pop(name) for name in compat.ABOVE}
    assert documented == in_code
    # the MCP server's seed names stay where the seed put them
    for name, (seed, now) in above.items():
        assert seed == now == "mcp_server.provenance_integration"
        module = importlib.import_module(f"agentic_neurodata_conversion.{now}")
        assert getattr(module, name) is not None
