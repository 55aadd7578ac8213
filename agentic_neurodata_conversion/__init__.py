"""Data management and provenance for agentic neurophysiology-to-NWB conversion."""

__version__ = "0.1.0"
