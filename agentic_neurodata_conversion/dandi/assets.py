"""What a finished conversion contributes to a dandiset: its NWB file and what made it.

Everything is read from the conversion's own records (session file, pipeline state, the
journal) and the NWB file's annexed symlink (its key); the NWB content itself is read once,
for the neurodata types that dandi's naming turns into modalities.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datalad_layer.dataset import git
from ..datalad_layer.keys import AnnexKey
from ..datalad_layer.register import dataset_id
from ..datalad_layer.shared import annexed_key
from ..errors import UsageError
from ..journal.chain import JOURNAL_DIR, iter_records
from ..journal.records import decode_value
from ..provenance.field_report import build_field_report
from ..provenance.finalize import tag_name
from ..provenance.layout import CONVERSION_FILE, STATE_FILE, is_conversion, read_json

# What DANDI requires of every asset (one of the alternatives in a group).
DANDI_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("Subject.subject_id",),
    ("Subject.species",),
    ("Subject.sex",),
    ("Subject.age", "Subject.date_of_birth"),
    ("NWBFile.session_id",),
    ("NWBFile.session_start_time",),
)


@dataclass
class ConversionAsset:
    """One completed conversion as a dandiset asset (its path there is decided later)."""

    conversion_id: str
    root: Path
    dataset_id: str | None
    revision: int
    tag: str
    commit: str
    run_commit: str | None
    nwb: Path
    key: AnnexKey
    values: dict[str, Any]
    field_report: dict[str, Any]
    software: dict[str, str] = field(default_factory=dict)
    started: str | None = None
    ended: str | None = None
    recording_format: str | None = None

    def review_problems(self) -> list[str]:
        """The DANDI-required fields missing, or still placeholders or flagged for review."""
        fields = self.field_report["fields"]
        problems = []
        for group in DANDI_REQUIRED:
            present = [f for f in group if f in fields]
            if any(not fields[f]["needs_review"] for f in present):
                continue
            name = " or ".join(group)
            if not present:
                problems.append(f"{name}: missing")
            else:
                level = fields[present[0]]["confidence_level"]
                problems.append(f"{name}: {level}")
        return problems


def conversion_roots(sources: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The completed conversions SOURCES name (conversion folders, or a lab / folder
    holding them); and, for a folder, the ones it holds that are not completed."""
    from ..provenance.catalog import find_conversions

    roots: list[Path] = []
    skipped: list[str] = []
    for source in sources:
        path = Path(source).absolute()
        if not path.is_dir():
            raise UsageError(f"{path} is not a folder", "give conversion folders or a lab")
        if is_conversion(path):
            status = read_json(path / CONVERSION_FILE).get("status")
            if status != "completed":
                raise UsageError(
                    f"conversion {path.name} is {status}: only completed conversions go "
                    "into a dandiset",
                    f"revise it with `anc revise {path} --set FIELD=VALUE` or leave it out",
                )
            roots.append(path)
            continue
        found = list(find_conversions(path))
        if not found:
            raise UsageError(f"{path} holds no conversions", "give a lab or conversion folders")
        for root in found:
            if read_json(root / CONVERSION_FILE).get("status") == "completed":
                roots.append(root)
            else:
                skipped.append(root.name)
    unique = list(dict.fromkeys(r.resolve() for r in roots))
    if not unique:
        raise UsageError("no completed conversion to organise", "convert (or revise) first")
    return unique, skipped


def _journal_facts(records: Iterable[Any]) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """One pass: the field report, the software of the last run, the last revision start."""
    kept: list[Any] = []
    software: dict[str, str] = {}
    started = None
    for record in records:
        if record.field:
            kept.append(record)
        elif record.operation == "run_conversion":
            software = dict((record.output_data or {}).get("software") or {})
        elif record.operation == "begin_revision":
            started = record.time
    return build_field_report(kept), software, started


def read_asset(root: Path) -> ConversionAsset:
    """ROOT's NWB file, key and records; refuses a conversion without exactly one NWB file."""
    info = read_json(root / CONVERSION_FILE)
    state = read_json(root / STATE_FILE, {})
    cid = str(info["conversion_id"])
    nwb_rel = state.get("nwb")
    if not nwb_rel:
        raise UsageError(f"conversion {cid} has no NWB file", "only conversions to NWB go in")
    nwb = root / nwb_rel
    report, software, revised = _journal_facts(iter_records(root / JOURNAL_DIR))
    revision = int(info.get("revision", 1))
    values = {name: decode_value(f["final_value"]) for name, f in report["fields"].items()}
    return ConversionAsset(
        conversion_id=cid,
        root=root,
        dataset_id=dataset_id(root),
        revision=revision,
        tag=tag_name(cid, revision),
        commit=git(root, "rev-parse", "HEAD").decode().strip(),
        run_commit=state.get("run_commit"),
        nwb=nwb,
        key=annexed_key(nwb),
        values=values,
        field_report=report,
        software=software,
        started=revised or info.get("start_time"),
        ended=info.get("end_time"),
        recording_format=state.get("format"),
    )


def read_assets(roots: Iterable[Path]) -> Iterator[ConversionAsset]:
    for root in roots:
        yield read_asset(root)
