"""`anc index check`: the index against the journals, every difference named.

The journals are the truth. Each conversion is read again (chain verified) and its rows
compared with the index's: a conversion missing from the index or no longer in the lab, a
journal whose chain broke since it was indexed (the edited line named), and each row that
differs (table, key, what the index holds, what the journal says).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schema
from .build import conversions_of, lab_folder, open_index
from .extract import extract

# Per table: the columns that identify a row within a conversion (None: the whole row).
KEYS: dict[str, tuple[str, ...] | None] = {
    "conversions": ("conversion",),
    "fields": ("seq",),
    "tool_calls": ("seq",),
    "errors": ("seq",),
    "lineage": None,
    "tools": ("name",),
}
SHOWN = 200  # longest value quoted in a difference


@dataclass
class CheckReport:
    url: str
    conversions: int = 0
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        from .backends import redact

        return {
            "url": redact(self.url),
            "ok": self.ok,
            "conversions": self.conversions,
            "differences": self.differences,
            "notes": self.notes,
        }


def check_index(lab: str | Path, url: str | None = None) -> CheckReport:
    lab = lab_folder(lab)
    db, notes = open_index(lab, url)
    try:
        report = CheckReport(db.url, notes=notes)
        found = conversions_of(lab)
        indexed = {
            r[0]: (r[1], bool(r[2]))
            for r in db.fetchall("SELECT conversion, head_hash, trusted FROM journals")
        }
        report.conversions = len(found)
        for key in sorted(set(indexed) - set(found)):
            report.differences.append(f"{key}: in the index, but no such conversion in the lab")
        for key, path in found.items():
            if key not in indexed:
                report.differences.append(f"{key}: a conversion not in the index")
                continue
            report.differences.extend(_compare(db, key, path, indexed[key]))
    finally:
        db.close()
    return report


def _compare(db: Any, key: str, path: Path, indexed: tuple[str, bool]) -> list[str]:
    fresh = extract(path, key)
    head_hash, was_trusted = indexed
    found: list[str] = []
    if was_trusted and not fresh.trusted:
        found += [f"{key}: {p} (indexed as trusted)" for p in fresh.problems]
    elif fresh.trusted and not was_trusted:
        found.append(f"{key}: its journal's chain holds now, the index marks it untrusted")
    if fresh.head_hash != head_hash:
        found.append(f"{key}: the journal's chain head changed since it was indexed")
    rows = fresh.table_rows("")
    for table, key_cols in KEYS.items():
        cols = schema.columns(table)
        have = db.fetchall(f"SELECT {', '.join(cols)} FROM {table} WHERE conversion = ?", (key,))
        found += _diff(key, table, cols, key_cols, have, rows[table])
    return found


def _diff(
    key: str,
    table: str,
    cols: tuple[str, ...],
    key_cols: tuple[str, ...] | None,
    have: list[tuple[Any, ...]],
    want: list[tuple[Any, ...]],
) -> list[str]:
    picks = (
        [cols.index(c) for c in key_cols]
        if key_cols
        else [i for i, c in enumerate(cols) if c != "trusted"]
    )

    def ident(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[i] for i in picks)

    old = {ident(r): _norm(r) for r in have}
    new = {ident(r): _norm(r) for r in want}
    out = []
    for k in sorted(set(old) | set(new), key=repr):
        where = f"{key}: {table} {_label(key_cols, k)}"
        if k not in new:
            out.append(f"{where} is in the index, not in the journal")
        elif k not in old:
            out.append(f"{where} is in the journal, not in the index")
        elif old[k] != new[k]:
            changed = [
                f"{c} {_show(a)} in the index, {_show(b)} in the journal"
                for c, a, b in zip(cols, old[k], new[k], strict=True)
                if a != b and c != "trusted"
            ]
            if changed:
                out.append(f"{where}: " + "; ".join(changed))
    return out


def _label(key_cols: tuple[str, ...] | None, k: tuple[Any, ...]) -> str:
    if key_cols is None:
        return "row " + json.dumps([v for v in k[1:] if v is not None], default=str)
    return ", ".join(f"{c} {v}" for c, v in zip(key_cols, k, strict=True))


def _norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # both backends give floats back for REAL, ints for INTEGER; JSON text compares as text
    return tuple(float(v) if isinstance(v, float) else v for v in row)


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "…")
