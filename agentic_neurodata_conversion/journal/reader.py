"""The tolerant reader: every record of a journal that can be shown, even an edited one.

``chain.iter_entries`` is strict (a line that is not JSON raises); reports must render what
can be trusted next to what cannot, so this reader skips unparsable lines (``verify_journal``
names them) and gives every entry the types the writer gives it, whatever was edited in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from .chain import CURRENT, journal_files
from .records import ConfidenceLevel

_LEVELS = frozenset(level.value for level in ConfidenceLevel)


def read_entries(journal_dir: Path) -> Iterator[dict[str, Any]]:
    """Every parsable record of the journal in JOURNAL_DIR, in order, with clean types."""
    for path in journal_files(journal_dir):
        with open(path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n") and path.name == CURRENT:
                    return  # a torn last line: never acknowledged
                try:
                    entry = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and "operation" in entry:
                    yield clean(entry)


def as_int(value: Any) -> int:
    return value if type(value) is int else 0


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_NONE = type(None)


def _well_formed(e: dict[str, Any]) -> bool:
    """True when E has the types the journal writer gives every record (the usual case).

    One flat expression: this runs for every record, and generators cost more than the checks.
    """
    get = e.get
    seq, level, confidence, conflict = (
        get("seq"),
        get("confidence_level"),
        get("confidence"),
        get("conflict"),
    )
    ok = (
        type(seq) is int
        and seq > 0
        and type(get("time")) is str
        and type(get("operation")) is str
        and type(get("source")) is str
        and type(get("reasoning")) is list
        and type(get("evidence")) is list
        and type(get("input_data")) is dict
        and type(get("output_data")) is dict
        and type(get("metadata")) is dict
        and type(get("agent")) in (str, _NONE)
        and type(get("field")) in (str, _NONE)
        and type(get("method")) in (str, _NONE)
        and type(level) is str
        and level in _LEVELS
        and (confidence is None or (type(confidence) in (int, float) and 0 <= confidence <= 1))
    )
    if not ok or not all(type(r) is str for r in e["reasoning"]):
        return False
    if conflict is None:
        return True
    candidates = conflict.get("candidates") if type(conflict) is dict else None
    return type(candidates) is list and all(type(c) is dict for c in candidates)


def clean(e: dict[str, Any]) -> dict[str, Any]:
    """The fields of a journal entry with the types the view relies on.

    Records from the journal writer always have them; an edited record may not, and must
    still render.
    """
    if _well_formed(e):
        if e["field"] == "":
            e["field"] = None
        return e
    confidence = e.get("confidence")
    if type(confidence) not in (int, float) or not 0 <= confidence <= 1:
        confidence = None
    level = e.get("confidence_level")
    conflict = e.get("conflict")
    if isinstance(conflict, dict):
        candidates = conflict.get("candidates")
        conflict = {
            **conflict,
            "candidates": [c for c in candidates if isinstance(c, dict)]
            if isinstance(candidates, list)
            else [],
        }
    else:
        conflict = None
    field_name = e.get("field")
    agent = e.get("agent")
    return {
        **e,
        "seq": as_int(e.get("seq")) or -1,
        "time": e.get("time") if isinstance(e.get("time"), str) else "",
        "operation": str(e.get("operation") or "?"),
        "agent": None if agent is None else str(agent),
        "source": str(e.get("source") or "?"),
        "field": None if field_name in (None, "") else str(field_name),
        "confidence": confidence,
        "confidence_level": level if type(level) is str and level in _LEVELS else "unknown",
        "method": None if e.get("method") is None else str(e["method"]),
        "reasoning": [str(r) for r in e["reasoning"]]
        if isinstance(e.get("reasoning"), list)
        else [],
        "evidence": e["evidence"] if isinstance(e.get("evidence"), list) else [],
        "conflict": conflict,
        "input_data": as_dict(e.get("input_data")),
        "output_data": as_dict(e.get("output_data")),
        "metadata": as_dict(e.get("metadata")),
    }
