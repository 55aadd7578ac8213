"""The one writer of the lab superdataset: registers finished conversions in batches.

Each flush is one commit made without the work tree (``datalad_layer.register``): the
gitlinks of the completed conversions, their ``.gitmodules`` entries and the run's record
``batch/<run>.json``, so a crash leaves a conversion registered and recorded, or neither.
A failed conversion is set aside in ``.git/anc-batch/failed/`` (kept for inspection, out of
the superdataset's tree) and recorded with its error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..datalad_layer.register import read_subdataset, register_subdatasets
from ..index.hooks import add_safely
from . import claims
from .records import COMPLETED, FAILED, BatchRecord, SessionRecord, record_path
from .task import SessionOutcome

BATCH_SIZE = 50
INTERVAL_S = 5.0


def failed_area(lab: Path, run: str) -> Path:
    return claims.work_area(lab) / "failed" / run


class Collector:
    def __init__(
        self,
        lab: Path,
        record: BatchRecord,
        *,
        batch_size: int = BATCH_SIZE,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.lab = lab
        self.record = record
        self.batch_size = batch_size
        self.interval_s = interval_s
        self._waiting: list[tuple[SessionOutcome, SessionRecord]] = []
        self._index: dict[str, int] = {}  # session key -> its entry in the record
        self._last = time.monotonic()
        self.registered = 0
        self.seconds = 0.0  # spent registering, for the run's figures

    def add(self, outcome: SessionOutcome, session: SessionRecord) -> None:
        self._waiting.append((outcome, session))
        if (
            len(self._waiting) >= self.batch_size
            or time.monotonic() - self._last >= self.interval_s
        ):
            self.flush()

    def note(self, session: SessionRecord) -> None:
        """A session with no conversion this run (skipped): recorded at the next flush."""
        self._put(session)

    def _put(self, session: SessionRecord) -> None:
        """One entry per session: a retry's outcome replaces its earlier attempt's."""
        where = self._index.setdefault(session.key, len(self.record.sessions))
        if where == len(self.record.sessions):
            self.record.sessions.append(session)
        else:
            self.record.sessions[where] = session

    def flush(self, message: str | None = None) -> str | None:
        """Register what is waiting and commit the run's record with it; the new commit."""
        started = time.monotonic()
        waiting, self._waiting = self._waiting, []
        subs = []
        for outcome, session in waiting:
            if session.status == COMPLETED and outcome.path:
                subs.append(read_subdataset(Path(outcome.path)))
                session.path = Path(outcome.path).relative_to(self.lab).as_posix()
            elif session.status == FAILED and outcome.path and Path(outcome.path).exists():
                kept = failed_area(self.lab, self.record.run) / Path(outcome.path).name
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(outcome.path, kept)
                session.path = kept.relative_to(self.lab).as_posix()
            self._put(session)
        counts = self.record.counts
        commit = register_subdatasets(
            self.lab,
            subs,
            message
            or f"[anc] batch {self.record.run}: {len(subs)} conversions registered "
            f"({counts[COMPLETED]} completed, {counts[FAILED]} failed so far)",
            files={record_path(self.record.run): self.record.to_json()},
        )
        for outcome, _ in waiting:
            claims.release(self.lab, outcome.conversion_id)
        # registered: into the lab's index, if it has one (a failure marks it stale)
        add_safely(self.lab, [Path(s.path) for s in subs])
        self.registered += len(subs)
        self._last = time.monotonic()
        self.seconds += self._last - started
        return commit
