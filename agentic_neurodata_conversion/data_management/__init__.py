"""The seed design's public names, importable from one place.

Development data (repository layout, test datasets, suggested datasets), the DataLad
wrapper, conversion provenance and performance monitoring. Importing this package also
registers the report writers that finalize runs (see provenance/hooks.py).
"""

from ..datalad_layer.wrapper import DataLadWrapper
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource
from ..monitoring.dashboard import PerformanceDashboard
from ..monitoring.datalad_timing import PerformanceAwareDataLadWrapper
from ..monitoring.metrics import PerformanceCollector, PerformanceMetric, SystemResourceSnapshot
from ..monitoring.resources import ResourceManager
from ..monitoring.storage import StorageOptimizer
from ..provenance.integration import ProvenanceIntegration
from ..provenance.session import ConversionSession
from ..provenance.tracker import ConversionProvenanceTracker, create_conversion_tracker
from .infrastructure import setup_development_data_infrastructure
from .repository import DataLadRepositoryManager
from .test_datasets import TestDatasetManager

__all__ = [
    "ConfidenceLevel",
    "ConversionProvenanceTracker",
    "ConversionSession",
    "DataLadRepositoryManager",
    "DataLadWrapper",
    "PerformanceAwareDataLadWrapper",
    "PerformanceCollector",
    "PerformanceDashboard",
    "PerformanceMetric",
    "ProvenanceIntegration",
    "ProvenanceRecord",
    "ProvenanceSource",
    "ResourceManager",
    "StorageOptimizer",
    "SystemResourceSnapshot",
    "TestDatasetManager",
    "create_conversion_tracker",
    "setup_development_data_infrastructure",
]
