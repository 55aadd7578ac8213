"""The provenance index of a lab: every conversion's journal in a few tables, for questions
across conversions (``anc index``, ``anc query``, the MCP tool ``query_index``).

The journals stay the truth: the index is rebuilt from them at any time (``rebuild``),
brought up to date by chain heads (``update``) or as conversions finish (``hooks``), and
compared with them (``check_index``). SQLite in the lab by default, PostgreSQL when shared.
"""

from __future__ import annotations

from pathlib import Path

from .backends import IndexUnavailable
from .build import BuildReport, open_index, rebuild, update
from .check import CheckReport, check_index
from .query import Query, QueryResult, check_names, run_query


def query(lab: str | Path, q: Query, url: str | None = None) -> QueryResult:
    """Answer Q from LAB's index (an index of an older layout is rebuilt first: see notes)."""
    db, notes = open_index(lab, url)
    try:
        check_names(db, q)
        result = run_query(db, q)
    finally:
        db.close()
    result.notes = notes + result.notes
    return result


__all__ = [
    "BuildReport",
    "CheckReport",
    "IndexUnavailable",
    "Query",
    "QueryResult",
    "check_index",
    "query",
    "rebuild",
    "update",
]
