"""Append-only, hash-chained journal of provenance records (JSON Lines, kept in git).

Layout inside a conversion dataset::

    provenance/journal/
        current.jsonl          the active segment: appended to, never committed (ignored)
        000000000001.jsonl     sealed segments, named by their first sequence number;
        000000010001.jsonl     each is written once and committed once, never changed
        HEAD.json              sequence number and hash of the last sealed record

Each line is one record's JSON with two fields appended: ``prev`` (the hash of the line
before, across segments) and ``hash`` = sha256(prev + the record's JSON). Editing, removing
or reordering a line breaks the chain; removing the tail is caught by HEAD.json.

Why segments: git stores a whole new copy of a changed file at each commit, so one growing
file makes every checkpoint slower and the repository quadratic. Sealing the active segment
at each checkpoint means a commit only adds the new records.

Concurrency: every append holds an exclusive ``flock`` on ``.git/anc-journal.lock`` and first
checks (one ``stat``) whether another process appended or sealed since; if so it re-reads the
tail. Appends are one ``os.write`` each, so records acknowledged before a SIGKILL survive it;
a torn last line (a write cut short) is detected, cut off and reported on the next open.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import DiskFull, IntegrityError, ProvenanceError
from .records import ProvenanceRecord, escape_surrogates, utc_now

JOURNAL_DIR = Path("provenance") / "journal"
CURRENT = "current.jsonl"
HEAD = "HEAD.json"
LOCK_NAME = "anc-journal.lock"
GENESIS = "0" * 64
# Seal the active segment once it holds this many records even without a checkpoint,
# so no single file grows without bound.
MAX_SEGMENT_RECORDS = 100_000


def chain_hash(prev: str, body: bytes) -> str:
    return hashlib.sha256(prev.encode("ascii") + body).hexdigest()


def segment_name(first_seq: int) -> str:
    return f"{first_seq:012d}.jsonl"


def sealed_segments(journal_dir: Path) -> list[Path]:
    """Sealed segment files in sequence order (names sort numerically: fixed width)."""
    if not journal_dir.is_dir():
        return []
    return sorted(p for p in journal_dir.iterdir() if p.name[:1].isdigit() and p.suffix == ".jsonl")


def _lock_path(journal_dir: Path) -> Path:
    """Lock file inside .git/ when there is one (never tracked), else beside the journal."""
    dataset_root = journal_dir.parent.parent
    git_dir = dataset_root / ".git"
    return (git_dir if git_dir.is_dir() else journal_dir) / LOCK_NAME


@dataclass(slots=True)
class TornLine:
    """The bytes of a line whose write was cut short, cut from the active segment."""

    segment: str
    offset: int
    data: bytes


@dataclass(slots=True)
class _Tail:
    last_seq: int
    last_hash: str
    first_seq_current: int | None  # first seq in current.jsonl, None when it is empty


class Journal:
    """Writer and reader of one conversion's journal. Safe across threads and processes
    (one lock serialises every append and seal; see ``Flock``)."""

    def __init__(self, journal_dir: str | Path, *, sync: bool = False) -> None:
        self.dir = Path(journal_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sync = sync
        self.current_path = self.dir / CURRENT
        self._lock_fd = os.open(_lock_path(self.dir), os.O_RDWR | os.O_CREAT, 0o644)
        self._lock = Flock(self._lock_fd)
        self._fd = -1
        self._generation = b""
        self._size = -1
        self._tail = _Tail(0, GENESIS, None)
        self._count_current = 0
        self.torn: list[TornLine] = []
        with self._locked():
            self._sync_state()

    # ------------------------------------------------------------------ locking and state

    def _locked(self) -> Flock:
        return self._lock

    def _open_current(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.current_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = -1

    def _sync_state(self) -> None:
        """Under the lock: catch up with appends or seals made by other writers.

        Two cheap syscalls per append: the seal generation kept in the lock file (bumped by
        every seal, so a renamed active segment is noticed) and the active segment's size.
        """
        generation = os.pread(self._lock_fd, 8, 0)
        if generation != self._generation or self._fd < 0:
            self._generation = generation
            self._open_current()
        size = os.lseek(self._fd, 0, os.SEEK_END)
        if size == self._size:
            return
        self._cut_torn_tail(size)
        self._tail = self._read_tail()
        self._size = os.lseek(self._fd, 0, os.SEEK_END)
        first = self._tail.first_seq_current
        self._count_current = 0 if first is None else self._tail.last_seq - first + 1

    def _cut_torn_tail(self, size: int) -> None:
        """A last line without its newline is a write cut short: keep its bytes, cut it."""
        if size == 0:
            return
        with open(self.current_path, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            start = _last_line_start(fh, size)
            fh.seek(start)
            data = fh.read(size - start)
        os.truncate(self.current_path, start)
        self.torn.append(TornLine(CURRENT, start, data))

    def _read_tail(self) -> _Tail:
        first = _first_line(self.current_path)
        last = _last_line(self.current_path)
        if last is not None and first is not None:
            return _Tail(int(last["seq"]), last["hash"], int(first["seq"]))
        for segment in reversed(sealed_segments(self.dir)):
            last = _last_line(segment)
            if last is not None:
                return _Tail(int(last["seq"]), last["hash"], None)
        return _Tail(0, GENESIS, None)

    # ------------------------------------------------------------------ writing

    def append(self, record: ProvenanceRecord) -> ProvenanceRecord:
        """Append one record, assigning its seq and time; durable when the call returns
        (against a killed process always; against power loss only with ``sync=True``)."""
        with self._lock:
            self._append_locked((record,))
        return record

    def append_many(self, records: Iterable[ProvenanceRecord]) -> list[ProvenanceRecord]:
        """Append records under one lock and one write; all or none are recorded."""
        records = list(records)
        if records:
            with self._lock:
                self._append_locked(records)
        return records

    def _append_locked(self, records: Sequence[ProvenanceRecord]) -> None:
        """Under the lock: chain, encode and write RECORDS in one write."""
        self._sync_state()
        tail = self._tail
        seq, prev = tail.last_seq, tail.last_hash
        lines = []
        for record in records:
            seq += 1
            record.seq = seq
            if not record.time:
                record.time = utc_now()
            body = _encode(record.to_dict())
            digest = hashlib.sha256(prev.encode() + body).hexdigest()
            lines.append(_line(body, prev, digest))
            prev = digest
        data = lines[0] if len(lines) == 1 else b"".join(lines)
        self._write(data)
        if tail.first_seq_current is None:
            tail.first_seq_current = records[0].seq
        tail.last_seq, tail.last_hash = seq, prev
        self._count_current += len(records)
        if self._count_current >= MAX_SEGMENT_RECORDS:
            self._seal_locked()

    def _write(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.ftruncate(self._fd, self._size)
            raise DiskFull(
                f"no space left on the device holding {self.dir}: the record was not written",
                "free space there and retry; the records before it are kept",
            ) from exc
        if written != len(data):  # disk full or similar: leave no partial line behind
            os.ftruncate(self._fd, self._size)
            raise ProvenanceError(
                f"journal write was cut short ({written} of {len(data)} bytes)",
                "free disk space and retry; nothing was recorded",
            )
        if self.sync:
            os.fsync(self._fd)
        self._size += written

    def seal(self) -> list[Path]:
        """Turn the active segment into a sealed one and update HEAD.json.

        Returns the files that changed (to be committed); empty when nothing was appended.
        """
        with self._locked():
            self._sync_state()
            return self._seal_locked()

    def _seal_locked(self) -> list[Path]:
        changed: list[Path] = []
        first = self._tail.first_seq_current
        if first is not None and self._size > 0:
            if self.sync:
                os.fsync(self._fd)
            target = self.dir / segment_name(first)
            os.rename(self.current_path, target)
            changed.append(target)
            self._generation = (int.from_bytes(self._generation or b"\0", "little") + 1).to_bytes(
                8, "little"
            )
            os.pwrite(self._lock_fd, self._generation, 0)
            self._open_current()
            self._size = 0
            self._tail.first_seq_current = None
            self._count_current = 0
        head = self.dir / HEAD
        head_data = {"seq": self._tail.last_seq, "hash": self._tail.last_hash}
        if _read_json(head) != head_data:
            tmp = head.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(head_data) + "\n")
            os.replace(tmp, head)
            changed.append(head)
        return changed

    # ------------------------------------------------------------------ reading

    @property
    def last_seq(self) -> int:
        with self._locked():
            self._sync_state()
            return self._tail.last_seq

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Flock:
    """Exclusive across processes (``flock`` on FD) and across this process's threads.

    ``flock`` alone does not exclude threads sharing one descriptor, hence the thread lock.
    Not re-entrant.
    """

    __slots__ = ("fd", "thread_lock")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.thread_lock = threading.Lock()

    def __enter__(self) -> None:
        self.thread_lock.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.thread_lock.release()


def _encode(data: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; the same bytes come back from re-encoding a parsed line."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        # Strings with lone surrogates (e.g. undecodable file names) are not valid UTF-8:
        # keep them, tagged, rather than failing the record.
        return orjson.dumps(escape_surrogates(data))


def _line(body: bytes, prev: str, digest: str) -> bytes:
    return b'%s,"prev":"%s","hash":"%s"}\n' % (body[:-1], prev.encode(), digest.encode())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _last_line_start(fh: Any, size: int) -> int:
    """Offset just after the last newline before SIZE (0 when there is none)."""
    pos, block = size, 65536
    while pos > 0:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        chunk = fh.read(step)
        idx = chunk.rfind(b"\n", 0, len(chunk) - (1 if pos + step == size else 0))
        if idx >= 0:
            return pos + idx + 1
    return 0


def _last_line(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return None
            start = _last_line_start(fh, size)
            fh.seek(start)
            return json.loads(fh.read(size - start))
    except FileNotFoundError:
        return None


def _first_line(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            line = fh.readline()
    except FileNotFoundError:
        return None
    return json.loads(line) if line.endswith(b"\n") else None


# ---------------------------------------------------------------------- reading and checking


def chain_head(journal_dir: str | Path) -> tuple[int, str]:
    """(seq, hash) of the journal's last record, from the last line of its last file only:
    what an index compares to tell whether a journal changed since it was read."""
    journal_dir = Path(journal_dir)
    for path in reversed(journal_files(journal_dir)):
        try:
            last = _last_line(path)
        except ValueError:  # a torn or edited last line: let a full read judge it
            return -1, ""
        if last is not None:
            return int(last.get("seq", -1)), str(last.get("hash", ""))
    return 0, GENESIS


def journal_files(journal_dir: Path) -> list[Path]:
    files = sealed_segments(journal_dir)
    current = journal_dir / CURRENT
    if current.exists():
        files.append(current)
    return files


def iter_entries(journal_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Stream the journal's records as dicts (with ``prev``/``hash``), in order, unchecked.

    A torn last line of the active segment is skipped; other bad lines raise IntegrityError.
    """
    for path in journal_files(Path(journal_dir)):
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n") and path.name == CURRENT:
                    return
                try:
                    yield orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise IntegrityError(
                        f"{path.name} line {lineno} is not valid JSON",
                        "run `anc check` on the conversion for details",
                    ) from None


def iter_records(journal_dir: str | Path) -> Iterator[ProvenanceRecord]:
    for entry in iter_entries(journal_dir):
        yield ProvenanceRecord.from_dict(entry)


@dataclass
class JournalCheck:
    """Result of verifying a journal's hash chain."""

    ok: bool = True
    records: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (segment file, line number) of every untrusted record, for reports that render
    # what can be trusted.
    bad_seqs: list[int] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.ok = False
        self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "last_seq": self.last_seq,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def verify_journal(
    dataset_path: str | Path,
    *,
    max_problems: int = 50,
    entries: list[dict[str, Any]] | None = None,
) -> JournalCheck:
    """Check every line of a conversion's journal: JSON, hash, chain, order, HEAD.

    ENTRIES, when given, receives every parsed record (without ``prev``/``hash``), trusted
    or not: a reader that also checks reads each line once (the lab index does).
    """
    root = Path(dataset_path)
    journal_dir = root / JOURNAL_DIR if (root / JOURNAL_DIR).is_dir() else root
    check = JournalCheck()
    prev_hash, expected_seq = GENESIS, 1
    for path in journal_files(journal_dir):
        rel = f"{JOURNAL_DIR.as_posix()}/{path.name}"
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if len(check.problems) >= max_problems:
                    check.problems.append("... further problems not listed")
                    return check
                where = f"{rel} line {lineno}"
                if not raw.endswith(b"\n"):
                    check.warnings.append(
                        f"{where}: torn last line (a write was interrupted); "
                        "it is cut off and recorded when the conversion is reopened"
                    )
                    break
                entry = None
                try:
                    entry = orjson.loads(raw)
                    digest, prev = entry.pop("hash"), entry.pop("prev")
                    seq = int(entry["seq"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                    check.problem(f"{where}: not a journal record (invalid JSON or fields)")
                    check.bad_seqs.append(expected_seq)
                    if entries is not None and isinstance(entry, dict) and "operation" in entry:
                        entry.pop("hash", None)
                        entry.pop("prev", None)
                        entries.append(entry)
                    expected_seq += 1
                    continue
                if entries is not None:
                    entries.append(entry)
                if chain_hash(prev, orjson.dumps(entry)) != digest:
                    check.problem(
                        f"{where} (seq {seq}): record was edited, its hash does not match its content"
                    )
                    check.bad_seqs.append(seq)
                elif prev != prev_hash:
                    if seq > expected_seq:
                        what = f"records seq {expected_seq}..{seq - 1} are missing (removed)"
                    elif seq < expected_seq:
                        what = f"out of order (expected seq {expected_seq})"
                    else:
                        what = "does not follow the record before it (reordered or replaced)"
                    check.problem(f"{where} (seq {seq}): {what}")
                    check.bad_seqs.append(seq)
                elif seq != expected_seq:
                    check.problem(f"{where}: seq {seq} where {expected_seq} was expected")
                    check.bad_seqs.append(seq)
                prev_hash, expected_seq = digest, seq + 1
                check.records += 1
                check.last_seq, check.last_hash = seq, digest
    head = _read_json(journal_dir / HEAD)
    if isinstance(head, dict) and int(head.get("seq", 0)) > check.last_seq:
        check.problem(
            f"journal ends at seq {check.last_seq} but the last checkpoint recorded seq "
            f"{head['seq']}: records were removed from the end"
        )
    return check
