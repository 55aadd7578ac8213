"""Keeping a lab's index current as conversions finish: cheap, and never in the way.

Finalize (``provenance.hooks``, after the commit and tag) and the batch collector (after each
registration commit) add their conversions to the index of the lab they lie in, when that
lab has one (a few ``stat`` calls otherwise). A failure to index never fails the conversion:
it is logged and the lab's index is marked stale (``anc-index.stale``), which every query
then says until `anc index update` or `rebuild` clears it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..provenance.hooks import register_after_finalize_hook
from . import backends
from .build import add_conversions, lab_of, now

log = logging.getLogger("anc.index")


def add_safely(lab: Path, paths: Sequence[Path], url: str | None = None) -> bool:
    """Add PATHS to LAB's index if it has one; False (logged, index marked stale) on failure."""
    url = url or backends.configured_url(lab)
    if url is None or not paths:
        return True
    try:
        add_conversions(lab, list(paths), url)
    except Exception as exc:  # the conversion is kept whatever happens to its index entry
        log.warning("the index of %s was not updated: %s", lab, exc)
        mark_stale(lab, paths, exc)
        return False
    return True


def mark_stale(lab: Path, paths: Sequence[Path], exc: BaseException) -> None:
    names = ", ".join(Path(p).name for p in paths)
    line = f"{now()} {names}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    try:
        with open(backends.stale_file(lab), "a") as fh:
            fh.write(line + "\n")
    except OSError as err:
        log.warning("could not mark the index of %s stale: %s", lab, err)


def index_finalized(tracker: Any) -> None:
    """After-finalize hook: a conversion made inside an indexed lab joins its index.

    A standalone conversion (a batch worker's) is added by the batch collector instead,
    once it is registered (a failed one is set aside, not indexed)."""
    if getattr(tracker, "standalone", False):
        return
    found = lab_of(tracker.path)
    if found is not None:
        add_safely(found[0], [tracker.path], found[1])


register_after_finalize_hook("index", index_finalized)
