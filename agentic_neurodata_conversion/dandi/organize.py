"""`anc dandi organize`: completed conversions as a DataLad dataset laid out as a dandiset.

Every check comes before anything is written: the output folder (not in a conversion, not in
a source, new or empty), the conversions (completed, one NWB file each, no placeholder or
review flag in a field DANDI requires unless ALLOW_REVIEW), the asset paths (dandi's naming;
two conversions on one path are refused), the activities (dandischema). Then one dataset is
made: ``dandiset.yaml``, each NWB file as an annexed symlink under its conversion's key (the
object hard-linked: no second copy), and ``provenance/``; one commit.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datalad_layer.dataset import create_dataset, save
from ..datalad_layer.shared import SharedFile, share_annexed
from ..errors import UsageError
from ..provenance.layout import is_conversion
from . import provenance
from .assets import ConversionAsset, conversion_roots, read_assets
from .naming import dandi_paths

DANDISET_FILE = "dandiset.yaml"
_ID = re.compile(r"^(?:DANDI:)?(\d{6})$")
Progress = Callable[[str], None]


@dataclass
class OrganizeResult:
    dandiset: Path
    dandiset_id: str | None
    assets: dict[str, str]  # asset path -> conversion id
    skipped: list[str] = field(default_factory=list)  # not completed, left out
    allowed_review: dict[str, list[str]] = field(default_factory=dict)

    @property
    def upload_command(self) -> str:
        return f"cd {shlex.quote(str(self.dandiset))} && dandi upload -i dandi"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dandiset": str(self.dandiset),
            "dandiset_id": self.dandiset_id,
            "assets": self.assets,
            "skipped": self.skipped,
            "allowed_review": self.allowed_review,
            "upload_command": self.upload_command,
        }


def check_dandiset_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = _ID.match(value.strip())
    if not match:
        raise UsageError(
            f"--dandiset-id {value!r} is not a DANDI id", "give its six digits, e.g. 000123"
        )
    return match.group(1)


def check_output(output: Path, sources: Sequence[Path]) -> None:
    """Refuse an output inside a conversion or a source, or one that exists and is not empty."""
    for probe in (output, *output.parents):
        if is_conversion(probe):
            raise UsageError(
                f"the dandiset {output} would lie inside the conversion dataset {probe}",
                "choose an --output outside every conversion",
            )
    for source in sources:
        if output == source or output.is_relative_to(source):
            raise UsageError(
                f"the dandiset {output} would lie inside {source}, which it organises",
                "choose an --output outside the lab and the conversions",
            )
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"{output} exists and is not empty", "choose a new --output folder")


def review_refusal(problems: dict[str, list[str]]) -> UsageError:
    listed = "; ".join(f"{cid} ({', '.join(p)})" for cid, p in problems.items())
    count = len(problems)
    return UsageError(
        f"{count} conversion{'s' if count > 1 else ''} still carr{'y' if count > 1 else 'ies'} "
        f"placeholders or review flags in fields DANDI requires: {listed}",
        "give the real values with `anc revise CONVERSION --set FIELD=VALUE`, or pass "
        "--allow-review",
    )


def organize(
    sources: Sequence[str | Path],
    output: str | Path,
    *,
    dandiset_id: str | None = None,
    allow_review: bool = False,
    progress: Progress | None = None,
) -> OrganizeResult:
    """Organise the completed conversions SOURCES name (folders, or labs holding them)
    into the new dandiset OUTPUT."""
    say = progress or (lambda message: None)
    ident = check_dandiset_id(dandiset_id)
    out = Path(output).absolute()
    if not sources:
        raise UsageError("no conversions given", "name a lab or conversion folders")
    given = [Path(s).absolute().resolve() for s in sources]
    check_output(out.resolve() if out.exists() else out, given)
    roots, skipped = conversion_roots(given)
    say(f"reading {len(roots)} conversions")
    assets = list(read_assets(roots))
    problems = {a.conversion_id: p for a in assets if (p := a.review_problems())}
    if problems and not allow_review:
        raise review_refusal(problems)
    say("naming the assets (dandi organize)")
    paths = dandi_paths(assets)
    files = provenance.records(assets, paths, ident)
    say(f"writing the dandiset {out}")
    _write(out, ident, assets, paths, files)
    return OrganizeResult(
        out, ident, {p: a.conversion_id for a, p in zip(assets, paths, strict=True)}, skipped,
        problems,
    )  # fmt: skip


def dandiset_yaml(ident: str | None) -> str:
    if ident is None:
        return (
            "# The dandiset's id on DANDI: register one at https://dandiarchive.org, then\n"
            "# `anc dandi organize ... --dandiset-id ID` (or add `identifier: DANDI:ID`).\n"
            "name: (not registered yet)\n"
        )
    return f"identifier: DANDI:{ident}\n"


def _write(
    out: Path,
    ident: str | None,
    assets: Sequence[ConversionAsset],
    paths: Sequence[str],
    files: dict[str, str],
) -> None:
    ds = create_dataset(out, f"DANDI dandiset {ident or '(unregistered)'} (anc dandi organize)")
    try:
        (out / DANDISET_FILE).write_text(dandiset_yaml(ident))
        for rel, text in files.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        share_annexed(out, [SharedFile(p, a.nwb) for a, p in zip(assets, paths, strict=True)])
        save(ds, f"[anc] dandiset: {len(assets)} assets from {len(assets)} conversions")
    except BaseException:
        from ..datalad_layer.dataset import remove_tree

        remove_tree(out)  # made here, now: nothing half done is left
        raise
