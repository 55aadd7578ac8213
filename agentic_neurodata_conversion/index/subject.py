"""The index's view of one conversion's subject: its other sessions in the lab, and the
fields on which the sessions disagree. What the HTML report of a conversion inside an
indexed lab shows (and links to); None when the conversion lies in no indexed lab."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import AncError
from .build import lab_of, open_index
from .extract import SUBJECT_ID
from .query import Inconsistency

log = logging.getLogger("anc.index")
REPORT = "reports/provenance_report.html"


@dataclass
class Session:
    conversion: str  # relative to the lab
    conversion_id: str
    status: str
    started: str | None
    trusted: bool
    report: str  # the session's HTML report, relative to this conversion's report


@dataclass
class SubjectView:
    lab: Path
    subject: str
    conversion: str  # this conversion, relative to the lab
    sessions: list[Session] = field(default_factory=list)  # every session, this one too
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    indexed: bool = True  # False: this conversion is not in the index yet
    built: str | None = None


def subject_view(
    conversion: Path, subject: str | None, own: Mapping[str, Any], here: Session | None = None
) -> SubjectView | None:
    """The lab's view of SUBJECT (this conversion's subject id), from the lab's index.

    OWN are this conversion's final Subject values that are not stand-ins, from its own
    journal (at finalize the index does not hold it yet; its journal is the fresher truth);
    HERE describes it among the sessions when the index does not hold it yet.
    """
    if not subject:
        return None
    found = lab_of(conversion)
    if found is None:
        return None
    lab, url = found
    key = conversion.absolute().relative_to(lab).as_posix()
    try:
        db, _ = open_index(lab, url, rebuild_other=False)  # never a rebuild inside a report
    except AncError as exc:  # a report renders without the lab's view
        log.warning("the lab's index was not read for the report: %s", exc)
        return None
    try:
        rows = db.fetchall(
            "SELECT conversion, conversion_id, status, started, trusted FROM conversions "
            "WHERE subject = ? ORDER BY started, conversion",
            (subject,),
        )
        built = db.fetchone("SELECT value FROM meta WHERE key = 'built'")
        view = SubjectView(lab, subject, key, built=built[0] if built else None)
        report_dir = (lab / key / REPORT).parent
        for conv, cid, status, started, trusted in rows:
            target = lab / conv / REPORT
            view.sessions.append(
                Session(
                    conv, cid, status, started, bool(trusted), os.path.relpath(target, report_dir)
                )
            )
        view.indexed = any(s.conversion == key for s in view.sessions)
        others = db.fetchall(
            "SELECT conversion, field, value, trusted FROM fields WHERE latest = 1 AND "
            "section = 'Subject' AND subject = ? AND conversion <> ? AND field <> ? "
            "AND level NOT IN ('placeholder', 'unknown')",
            (subject, key, SUBJECT_ID),
        )
    finally:
        db.close()
    values: dict[str, dict[str, Any]] = {}
    trusted: dict[str, bool] = {}
    for conv, name, value, ok in others:
        values.setdefault(name, {})[conv] = orjson.loads(value)
        trusted[name] = trusted.get(name, True) and bool(ok)
    for name, value in own.items():
        if name != SUBJECT_ID:
            values.setdefault(name, {})[key] = value
    for name in sorted(values):
        by_conversion = dict(sorted(values[name].items()))
        distinct = {orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in by_conversion.values()}
        if len(distinct) > 1:
            view.inconsistencies.append(
                Inconsistency(
                    subject, name, by_conversion, list(by_conversion), trusted.get(name, True)
                )
            )
    if not view.indexed:  # this conversion, from its journal
        name = conversion.name.removeprefix("conversion_")
        mine = here or Session(key, name, "", None, True, "")
        mine.conversion, mine.report = key, REPORT.rsplit("/", 1)[1]
        view.sessions.append(mine)
    return view
