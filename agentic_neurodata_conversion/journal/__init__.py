"""The bottom layer: the record schema (records.py), the append-only hash-chained journal
(chain.py) and the tolerant reader reports use (reader.py). Imports nothing above errors."""
