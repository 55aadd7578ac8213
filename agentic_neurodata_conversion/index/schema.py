"""The index's tables: one portable SQL for SQLite and PostgreSQL.

Every row carries ``conversion`` (the conversion's folder relative to the lab) and
``trusted`` (0 when its journal's hash chain is broken), so an answer marks what it used
from a broken journal without a join. Booleans are integers 0/1 on both backends.
``LAYOUT`` is bumped whenever a table changes; an index of another layout is rebuilt.
"""

from __future__ import annotations

LAYOUT = 1

# name -> columns (in insert order) and their SQL types
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "meta": (("key", "TEXT PRIMARY KEY"), ("value", "TEXT")),
    "conversions": (
        ("conversion", "TEXT PRIMARY KEY"),
        ("conversion_id", "TEXT"),
        ("status", "TEXT"),
        ("tag", "TEXT"),
        ("format", "TEXT"),
        ("source", "TEXT"),
        ("subject", "TEXT"),
        ("started", "TEXT"),
        ("ended", "TEXT"),
        ("error", "TEXT"),
        ("trusted", "INTEGER"),
    ),
    "journals": (
        ("conversion", "TEXT PRIMARY KEY"),
        ("head_seq", "INTEGER"),
        ("head_hash", "TEXT"),
        ("records", "INTEGER"),
        ("trusted", "INTEGER"),
        ("problems", "TEXT"),  # JSON list of what verify_journal found
        ("indexed_at", "TEXT"),
    ),
    "fields": (
        ("conversion", "TEXT"),
        ("seq", "INTEGER"),
        ("field", "TEXT"),
        ("section", "TEXT"),  # the field's first part: Subject, NWBFile, ...
        ("subject", "TEXT"),  # the conversion's subject id (None when a placeholder)
        ("value", "TEXT"),  # JSON
        ("source", "TEXT"),
        ("agent", "TEXT"),
        ("confidence", "DOUBLE PRECISION"),
        ("level", "TEXT"),
        ("needs_review", "INTEGER"),
        ("method", "TEXT"),
        ("evidence", "TEXT"),  # JSON
        ("conflict", "TEXT"),  # JSON or NULL
        ("latest", "INTEGER"),  # 1 on the record that decides the field's final value
        ("trusted", "INTEGER"),
    ),
    "tool_calls": (
        ("conversion", "TEXT"),
        ("seq", "INTEGER"),
        ("tool", "TEXT"),
        ("status", "TEXT"),
        ("client", "TEXT"),
        ("duration_ms", "DOUBLE PRECISION"),
        ("error", "TEXT"),
        ("trusted", "INTEGER"),
    ),
    "errors": (
        ("conversion", "TEXT"),
        ("seq", "INTEGER"),
        ("stage", "TEXT"),
        ("type", "TEXT"),
        ("message", "TEXT"),
        ("trusted", "INTEGER"),
    ),
    "lineage": (
        ("conversion", "TEXT"),
        ("seq", "INTEGER"),
        ("kind", "TEXT"),  # input | output
        ("path", "TEXT"),  # an input file's absolute path; an output's path in the conversion
        ("checksum", "TEXT"),  # sha256:HEX, datalad:<dataset id>@<commit>, or the annex key
        ("size", "BIGINT"),
        ("trusted", "INTEGER"),
    ),
    "tools": (
        ("conversion", "TEXT"),
        ("name", "TEXT"),
        ("version", "TEXT"),
        ("trusted", "INTEGER"),
    ),
}
# The tables filled per conversion (replaced whole when its journal changes).
PER_CONVERSION = ("conversions", "journals", "fields", "tool_calls", "errors", "lineage", "tools")

# Partial indexes on the final values, each ordered by conversion and field after its
# filter columns: a query reads matching entries in answer order and stops at its limit,
# and counts from the index alone (10,000 conversions: ~1 ms instead of ~30).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS fields_by_conversion ON fields (conversion, seq)",
    "CREATE INDEX IF NOT EXISTS fields_latest ON fields (field, level, conversion) "
    "WHERE latest = 1",
    "CREATE INDEX IF NOT EXISTS fields_level ON fields (level, conversion, field) WHERE latest = 1",
    "CREATE INDEX IF NOT EXISTS fields_review ON fields (conversion, field) "
    "WHERE latest = 1 AND needs_review = 1",
    "CREATE INDEX IF NOT EXISTS fields_source ON fields (source, conversion, field, confidence) "
    "WHERE latest = 1",
    "CREATE INDEX IF NOT EXISTS fields_subject ON fields (section, subject, field, value, level) "
    "WHERE latest = 1",
    "CREATE INDEX IF NOT EXISTS tool_calls_by_conversion ON tool_calls (conversion)",
    "CREATE INDEX IF NOT EXISTS tool_calls_tool ON tool_calls (tool, status, conversion, seq)",
    "CREATE INDEX IF NOT EXISTS errors_by_conversion ON errors (conversion)",
    "CREATE INDEX IF NOT EXISTS lineage_by_conversion ON lineage (conversion)",
    "CREATE INDEX IF NOT EXISTS lineage_path ON lineage (kind, path)",
    "CREATE INDEX IF NOT EXISTS tools_by_conversion ON tools (conversion)",
    "CREATE INDEX IF NOT EXISTS tools_name ON tools (name, version)",
    "CREATE INDEX IF NOT EXISTS conversions_status ON conversions (status)",
)


def create_statements() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(f'{c} {t}' for c, t in cols)})"
        for name, cols in TABLES.items()
    ]


def columns(table: str) -> tuple[str, ...]:
    return tuple(c for c, _ in TABLES[table])


def insert_statement(table: str) -> str:
    cols = columns(table)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
