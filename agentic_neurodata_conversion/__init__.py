"""Data management and provenance for agentic neurophysiology-to-NWB conversion.

``track_conversion(MyConverter, source_data, ...)`` and ``convert_spec("conversion.yml")``
are served lazily (PEP 562): importing the package loads neither DataLad nor NeuroConv.
"""

from typing import Any

__version__ = "0.1.0"
_LAZY = {"track_conversion", "convert_spec"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .conversion import converter

        return getattr(converter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
