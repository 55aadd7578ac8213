"""Conversion engine: format detection, metadata with provenance, generated script, validation."""
