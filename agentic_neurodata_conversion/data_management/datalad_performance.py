"""The seed's module path ``data_management.datalad_performance``: its names, from the one table in
compat.py, each imported on first use (docs/seed-compatibility.md)."""

from .compat import lazy_module

__getattr__, __dir__, __all__ = lazy_module(__name__, "datalad_performance")
