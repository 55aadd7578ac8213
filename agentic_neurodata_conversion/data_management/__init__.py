"""Development data: the development dataset's layout, test datasets in it, the suggested
datasets (``repository``, ``test_datasets``, ``infrastructure``).

The seed design's public names (``ConversionProvenanceTracker``, ``ProvenanceSource``,
``DataLadWrapper``, ``PerformanceCollector``, ...) are importable from here and from the
seed's module paths (``data_management.conversion_provenance``, ...). They are listed once, in
``compat.py`` (docs/seed-compatibility.md), and each is imported on first use: importing this
package costs nothing.
"""

from .compat import lazy_module

__getattr__, __dir__, __all__ = lazy_module(__name__)
