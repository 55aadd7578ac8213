"""The DataLad layer: safe dataset operations through DataLad's Python API."""
