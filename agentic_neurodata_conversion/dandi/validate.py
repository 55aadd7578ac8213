"""`anc dandi validate`: dandi's own validation of a dandiset, offline, then our checks.

dandi's (``dandi.validate.validate``, what `dandi validate` runs: layout, NWB schema,
nwbinspector's DANDI checks, dandiset.yaml) counts as failed on any result of severity
ERROR or above, as `dandi validate` exits. Ours: every asset is in ``provenance/assets.json``
and every entry is an asset; each is an annexed file under the key its conversion gave it,
with its content present; its path names its conversion's subject; its ``wasGeneratedBy``
validates with dandischema; its conversion, where it can be reached, still has the tag and
commit recorded; no DANDI-required field is still a placeholder or flagged for review.
Nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datalad_layer.dataset import git, is_dataset
from ..datalad_layer.keys import key_of_file
from ..errors import UsageError
from . import provenance
from .offline import offline


@dataclass
class Finding:
    source: str  # "dandi" or "anc"
    severity: str
    path: str
    message: str
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    dandiset: Path
    assets: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in ("ERROR", "CRITICAL")]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "dandiset": str(self.dandiset),
            "ok": self.ok,
            "assets": self.assets,
            "errors": len(self.errors),
            "findings": [f.to_dict() for f in self.findings],
        }


def validate(dandiset: str | Path) -> ValidationReport:
    root = Path(dandiset).absolute()
    if not (root / "dandiset.yaml").is_file():
        raise UsageError(f"{root} is not a dandiset (no dandiset.yaml)", "give a dandiset folder")
    report = ValidationReport(root)
    report.findings += run_dandi(root)
    report.findings += check_assets(root, report)
    return report


def run_dandi(root: Path) -> list[Finding]:
    """dandi's validation of ROOT, every result of severity WARNING or above."""
    offline()
    from dandi.pynwb_utils import ignore_benign_pynwb_warnings
    from dandi.validate import Severity
    from dandi.validate._core import validate as dandi_validate  # as dandi's docs say

    ignore_benign_pynwb_warnings()
    found = []
    for result in dandi_validate(str(root)):
        if result.severity is None or result.severity < Severity.WARNING:
            continue
        path = result.path or result.dandiset_path or root
        found.append(
            Finding(
                "dandi",
                result.severity.name,
                _rel(root, Path(path)),
                result.message or "",
                result.id,
            )
        )
    return found


def check_assets(root: Path, report: ValidationReport) -> list[Finding]:
    found: list[Finding] = []

    def bad(path: str, message: str, severity: str = "ERROR") -> None:
        found.append(Finding("anc", severity, path, message))

    index = provenance.read_index(root)
    entries: dict[str, Any] = index.get("assets") or {}
    report.assets = len(entries)
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*.nwb")
        if not p.relative_to(root).as_posix().startswith(".")
    }
    for path in sorted(on_disk - set(entries)):
        bad(path, "an asset with no provenance (not in provenance/assets.json)")
    activities = []
    for path, entry in sorted(entries.items()):
        if path not in on_disk:
            bad(path, "in provenance/assets.json but not in the dandiset")
            continue
        key = key_of_file(root / path)
        if key is None:
            bad(path, "not an annexed file")
        elif str(key) != entry.get("annex_key"):
            bad(path, f"its key {key} is not its conversion's {entry.get('annex_key')}")
        elif not (root / path).resolve().is_file():
            bad(path, "its content is not present (`datalad get` it)")
        record_file = root / entry.get("provenance", provenance.record_path(path))
        if not record_file.is_file():
            bad(path, f"its provenance record {record_file.name} is missing")
            continue
        record = json.loads(record_file.read_text())
        activities += record.get("wasGeneratedBy") or []
        fields = (record.get("field_report") or {}).get("fields") or {}
        _check_subject(path, fields, bad)
        _check_review(path, fields, bad)
        _check_conversion(path, entry, bad)
    try:
        provenance.check_activities(activities)
    except UsageError as exc:
        bad("provenance", exc.message)
    return found


def _check_subject(path: str, fields: dict[str, Any], bad: Any) -> None:
    from dandi.organize import _sanitize_value

    subject = (fields.get("Subject.subject_id") or {}).get("final_value")
    if subject is None:
        bad(path, "its conversion recorded no Subject.subject_id")
        return
    expected = f"sub-{_sanitize_value(str(subject), 'subject_id')}"
    if path.split("/", 1)[0] != expected:
        bad(path, f"its folder is not {expected}/ (its conversion's subject)")


def _check_review(path: str, fields: dict[str, Any], bad: Any) -> None:
    from .assets import DANDI_REQUIRED

    for group in DANDI_REQUIRED:
        present = [fields[f] for f in group if f in fields]
        if not present:
            bad(path, f"{' or '.join(group)} is missing (anc revise)", "WARNING")
        elif all(f["needs_review"] for f in present):
            level = present[0]["confidence_level"]
            bad(path, f"{' or '.join(group)} is still {level} (anc revise)", "WARNING")


def _check_conversion(path: str, entry: dict[str, Any], bad: Any) -> None:
    where = Path(entry.get("dataset_path") or "")
    if not where.is_dir() or not is_dataset(where):
        bad(path, f"its conversion {where} cannot be reached here", "HINT")
        return
    tagged = git(where, "rev-parse", "-q", "--verify", f"refs/tags/{entry['tag']}^{{commit}}",
                 check=False).decode().strip()  # fmt: skip
    if not tagged:
        bad(path, f"its conversion has no tag {entry['tag']}")


def _rel(root: Path, path: Path) -> str:
    try:
        return os.path.relpath(path, root) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)
