"""Where a lab's index lives, and the two databases that can hold it.

SQLite (default): ``LAB/.git/anc-index.sqlite`` when LAB is a git repository (never
committed, never in the work tree, so the lab stays clean), else ``LAB/.anc-index.sqlite``;
WAL journal, so queries never wait for a writer. PostgreSQL (a lab shared by several
machines): ``--index postgresql://...``; the URL is remembered in ``anc-index.url`` beside
where the SQLite file would be, so finalize hooks and the batch collector find it.

Both run the same SQL (``?`` placeholders; the PostgreSQL connection turns them into
``%s``). Errors become ``IndexUnavailable``: one line naming the database and the fix.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import AncError, UsageError

SQLITE_NAME = "anc-index.sqlite"
URL_NAME = "anc-index.url"
STALE_NAME = "anc-index.stale"
CONNECT_TIMEOUT_S = 3
BUSY_TIMEOUT_MS = 30_000


class IndexUnavailable(AncError):
    """The index's database cannot be reached or read."""

    exit_code = 3


def home(lab: Path) -> tuple[Path, str]:
    """The folder holding the lab's index files, and their name prefix."""
    git_dir = lab / ".git"
    return (git_dir, "") if git_dir.is_dir() else (lab, ".")


def sqlite_path(lab: Path) -> Path:
    folder, prefix = home(lab)
    return folder / f"{prefix}{SQLITE_NAME}"


def url_file(lab: Path) -> Path:
    folder, prefix = home(lab)
    return folder / f"{prefix}{URL_NAME}"


def stale_file(lab: Path) -> Path:
    folder, prefix = home(lab)
    return folder / f"{prefix}{STALE_NAME}"


def configured_url(lab: Path) -> str | None:
    """The index URL LAB uses: its remembered PostgreSQL URL, its SQLite file, or None."""
    try:
        url = url_file(lab).read_text().strip()
    except OSError:
        url = ""
    if url:
        return url
    path = sqlite_path(lab)
    return f"sqlite:///{path}" if path.is_file() else None


def default_url(lab: Path) -> str:
    return f"sqlite:///{sqlite_path(lab)}"


def check_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise UsageError(
            f"unsupported index URL {redact(url)!r}",
            "give sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE",
        )
    return url


def redact(url: str) -> str:
    """URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


@dataclass
class Database:
    """One open connection to an index; SQL with ``?`` placeholders on both backends."""

    url: str
    kind: str  # sqlite | postgresql
    conn: Any

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.kind == "sqlite":
            self.conn.executemany(sql, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), list(rows))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.execute(sql, params).fetchone()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; on SQLite an immediate write lock (writers queue, readers read)."""
        if self.kind == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.commit()
        else:
            with self.conn.transaction():
                yield

    def table_names(self) -> set[str]:
        if self.kind == "sqlite":
            rows = self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema()"
            )
        return {r[0] for r in rows}

    def close(self) -> None:
        self.conn.close()

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "sqlite" else sql.replace("?", "%s")


def connect(url: str, *, create: bool = False) -> Database:
    """Open the index at URL (CREATE: make the SQLite file if it is missing)."""
    check_url(url)
    if url.startswith("sqlite:"):
        return _sqlite(Path(url.removeprefix("sqlite:").removeprefix("///")), create)
    return _postgresql(url)


def _sqlite(path: Path, create: bool) -> Database:
    if not create and not path.is_file():
        raise IndexUnavailable(f"no index at {path}", "build it with `anc index rebuild LAB` first")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # No fsync: the index is rebuilt from the journals at any time, and an fsync per
        # commit (and at the checkpoint when the last connection closes) is most of the
        # cost of adding one conversion (~25 ms of ~30 here).
        conn.execute("PRAGMA synchronous = OFF")
    except sqlite3.Error as exc:
        raise IndexUnavailable(
            f"cannot open the index {path}: {exc}", "check the file, or rebuild it"
        ) from None
    return Database(f"sqlite:///{path}", "sqlite", conn)


def _postgresql(url: str) -> Database:
    import psycopg

    started = time.monotonic()
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        waited = time.monotonic() - started
        raise IndexUnavailable(
            f"the PostgreSQL index {redact(url)} does not answer ({first}; after {waited:.1f} s)",
            "start the server or correct --index; without --index the lab's SQLite index is used",
        ) from None
    return Database(url, "postgresql", conn)
