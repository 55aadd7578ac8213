"""Building the index from the journals: all at once, or only what changed.

``rebuild`` reads every conversion under the lab; ``update`` compares each journal's chain
head (the last line of its last file) with the head the index recorded and reads only new
and changed journals (and drops removed ones); ``add_conversions`` replaces the rows of the
conversions named (what finalize and the batch collector call). Each conversion's rows are
replaced in one transaction, so a reader sees it before or after, never half.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..journal.chain import JOURNAL_DIR, chain_head
from ..provenance.catalog import find_conversions
from . import backends, schema
from .backends import Database
from .extract import ConversionRows, extract

# Deepest a conversion lies below the lab (LAB/conversion_x, LAB/sub/conversion_x).
MAX_DEPTH = 2


@dataclass
class BuildReport:
    """What a rebuild or an update did."""

    url: str
    conversions: int = 0  # in the index afterwards
    read: int = 0  # journals read
    removed: int = 0
    records: int = 0
    untrusted: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": backends.redact(self.url),
            "conversions": self.conversions,
            "read": self.read,
            "removed": self.removed,
            "records": self.records,
            "untrusted": self.untrusted,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def lab_folder(lab: str | Path) -> Path:
    path = Path(lab).absolute()
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder", "give the lab folder that holds conversions")
    return path


def conversions_of(lab: Path) -> dict[str, Path]:
    """Every conversion under LAB by its folder relative to LAB."""
    return {p.relative_to(lab).as_posix(): p for p in find_conversions(lab, MAX_DEPTH)}


def layout_of(db: Database) -> int | None:
    """The layout the index was written with (None: no index there yet)."""
    if "meta" not in db.table_names():
        return None
    row = db.fetchone("SELECT value FROM meta WHERE key = 'layout'")
    return int(row[0]) if row and str(row[0]).isdigit() else 0


def open_index(
    lab: str | Path, url: str | None = None, *, rebuild_other: bool = True
) -> tuple[Database, list[str]]:
    """The lab's index, ready to read: one of another layout is rebuilt first (the notes
    say so; without REBUILD_OTHER it is refused instead). Without URL: the lab's own."""
    lab = lab_folder(lab)
    url = url or backends.configured_url(lab)
    if url is None:
        raise UsageError(
            f"{lab} has no index", f"build it with `anc index rebuild {lab}` (SQLite in the lab)"
        )
    db = backends.connect(url)
    notes: list[str] = []
    layout = layout_of(db)
    if layout != schema.LAYOUT:
        was = "no tables" if layout is None else f"layout {layout}"
        if not rebuild_other:
            db.close()
            raise backends.IndexUnavailable(
                f"the index of {lab} has {was}", f"rebuild it with `anc index rebuild {lab}`"
            )
        report = _rebuild_into(db, lab)
        notes.append(
            f"the index had {was} (this anc writes layout {schema.LAYOUT}): rebuilt from "
            f"{report.conversions} journals in {report.seconds:.1f} s"
        )
    stale = backends.stale_file(lab)
    if stale.is_file():
        lines = stale.read_text().strip().splitlines()
        notes.append(
            f"the index may be stale: {len(lines)} conversion(s) not added ({lines[-1]}); "
            f"run `anc index update {lab}`"
        )
    return db, notes


def rebuild(lab: str | Path, url: str | None = None) -> BuildReport:
    """Build the index of LAB anew from its journals (at URL, else the lab's configured one,
    else SQLite in the lab). A URL given is remembered for the lab."""
    lab = lab_folder(lab)
    url = backends.check_url(url or backends.configured_url(lab) or backends.default_url(lab))
    db = backends.connect(url, create=True)
    try:
        report = _rebuild_into(db, lab)
    finally:
        db.close()
    remember(lab, url)
    return report


def remember(lab: Path, url: str) -> None:
    """Record URL as the lab's index (nothing to record for the default SQLite file)."""
    target = backends.url_file(lab)
    if url == backends.default_url(lab):
        target.unlink(missing_ok=True)
    else:  # it may hold a password: readable by its owner only
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(url + "\n")
    backends.stale_file(lab).unlink(missing_ok=True)


def _rebuild_into(db: Database, lab: Path) -> BuildReport:
    started = time.monotonic()
    report = BuildReport(db.url)
    found = conversions_of(lab)
    stamp = now()
    with db.transaction():
        for table in schema.TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in schema.create_statements():
            db.execute(statement)
        batch: list[ConversionRows] = []
        for key, path in found.items():
            batch.append(extract(path, key))
            if len(batch) >= 500:
                _insert(db, batch, stamp, report)
                batch = []
        _insert(db, batch, stamp, report)
        for statement in schema.INDEXES:
            db.execute(statement)
        _write_meta(db, lab, stamp)
    if db.kind == "sqlite":
        db.execute("ANALYZE")
    report.conversions = len(found)
    report.seconds = time.monotonic() - started
    backends.stale_file(lab).unlink(missing_ok=True)
    return report


def _write_meta(db: Database, lab: Path, stamp: str) -> None:
    db.execute("DELETE FROM meta")
    db.executemany(
        schema.insert_statement("meta"),
        [("layout", str(schema.LAYOUT)), ("lab", str(lab)), ("built", stamp)],
    )


def _insert(db: Database, batch: Sequence[ConversionRows], stamp: str, report: BuildReport) -> None:
    for table in schema.PER_CONVERSION:
        rows = [row for rows in batch for row in rows.table_rows(stamp)[table]]
        if rows:
            db.executemany(schema.insert_statement(table), rows)
    for rows in batch:
        report.read += 1
        report.records += rows.records
        if not rows.trusted:
            report.untrusted.append(rows.conversion)


def _replace(db: Database, batch: Sequence[ConversionRows], removed: Iterable[str]) -> None:
    keys = [*(r.conversion for r in batch), *removed]
    with db.transaction():
        for table in schema.PER_CONVERSION:
            db.executemany(f"DELETE FROM {table} WHERE conversion = ?", [(k,) for k in keys])
        _insert(db, batch, now(), BuildReport(db.url))


def update(lab: str | Path, url: str | None = None) -> BuildReport:
    """Bring the index up to date: read the journals whose chain head changed, the new
    ones, and drop the conversions that are gone."""
    lab = lab_folder(lab)
    started = time.monotonic()
    db, notes = open_index(lab, url)
    try:
        report = BuildReport(db.url, notes=notes)
        indexed = dict(
            (row[0], (row[1], row[2]))
            for row in db.fetchall("SELECT conversion, head_seq, head_hash FROM journals")
        )
        found = conversions_of(lab)
        changed = [
            extract(path, key)
            for key, path in found.items()
            if indexed.get(key) != chain_head(path / JOURNAL_DIR)
        ]
        removed = [key for key in indexed if key not in found]
        if changed or removed:
            _replace(db, changed, removed)
        report.read = len(changed)
        report.records = sum(r.records for r in changed)
        report.removed = len(removed)
        report.untrusted = [r.conversion for r in changed if not r.trusted]
        report.conversions = len(found)
    finally:
        db.close()
    backends.stale_file(lab).unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report


def lab_of(conversion: Path) -> tuple[Path, str] | None:
    """The lab above the conversion at CONVERSION that has an index, and its URL."""
    for folder in list(conversion.absolute().parents)[:MAX_DEPTH]:
        url = backends.configured_url(folder)
        if url is not None:
            return folder, url
    return None


def add_conversions(lab: Path, paths: Sequence[Path], url: str | None = None) -> int:
    """Replace the index rows of the conversions at PATHS (inside LAB); how many."""
    db, _ = open_index(lab, url)
    try:
        batch = [extract(p, p.absolute().relative_to(lab).as_posix()) for p in paths]
        _replace(db, batch, ())
    finally:
        db.close()
    return len(batch)
