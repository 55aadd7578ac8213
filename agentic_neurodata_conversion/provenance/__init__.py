"""Provenance: records, the hash-chained journal, and the per-conversion tracker."""
