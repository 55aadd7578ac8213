"""Where things are in a conversion dataset, and the files that make a new one.

conversion_<id>/  inputs/ outputs/ scripts/ reports/ provenance/  README.md
                  CONVERSION_SUMMARY.md (at finalize)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import __version__
from ..journal.chain import JOURNAL_DIR
from ..journal.records import encode_value
from ..names import check_name

TOOL = "agentic-neurodata-conversion"
SUBDIRS = ("inputs", "outputs", "scripts", "reports", "provenance")
CONVERSION_FILE = Path("provenance") / "conversion.json"
STATE_FILE = Path("provenance") / "pipeline_state.json"
SESSION_FILE = Path("provenance") / "conversion_session.json"
SUMMARY_FILE = Path("CONVERSION_SUMMARY.md")
TRACKER_LOCK = "anc-tracker.lock"  # in .git/: never tracked

GITIGNORE = (
    "# the journal's active segment: sealed and committed at every checkpoint\n"
    f"/{JOURNAL_DIR.as_posix()}/current.jsonl\n"
    f"/{JOURNAL_DIR.as_posix()}/*.tmp\n"
    "# files being written (renamed into place when complete): never committed half\n"
    "/provenance/*.tmp\n"
    "*.anc-partial\n"
)


def conversion_folder(output_dir: str | Path, conversion_id: str) -> Path:
    return Path(output_dir).absolute() / f"conversion_{check_name(conversion_id, 'conversion id')}"


def is_conversion(path: str | Path) -> bool:
    return (Path(path) / CONVERSION_FILE).is_file()


def lay_out(root: Path, conversion_id: str, start_time: str) -> None:
    """The folders (kept in git by .gitkeep), .gitignore and README of a new conversion."""
    for sub in SUBDIRS:
        (root / sub).mkdir(exist_ok=True)
        if sub != "provenance":
            (root / sub / ".gitkeep").touch()
    (root / ".gitignore").write_text(GITIGNORE)
    (root / "README.md").write_text(readme(conversion_id, start_time))


def write_json(path: Path, data: Any) -> None:
    """Atomic replace, so a crash leaves the old or the new file, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(encode_value(data), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def readme(conversion_id: str, start_time: str) -> str:
    return f"""# Conversion {conversion_id}

A DataLad dataset holding one conversion to NWB, made by {TOOL} {__version__}.
Started {start_time}.

## Layout

- `inputs/` the source recording: a subdataset, a reference manifest or an annexed copy
- `outputs/` the NWB file(s), annexed
- `scripts/` the exact script and metadata file that produced the outputs
- `reports/` validation and evaluation reports
- `provenance/` the append-only journal of every decision (`journal/`, hash-chained JSON
  Lines), the pipeline state and the session record
- `CONVERSION_SUMMARY.md` written when the conversion is finalized

## Checking and reproducing

    anc check .          # dataset and journal integrity
    anc verify .         # re-execute the recorded run and compare the outputs
    git log --oneline    # one commit per iteration; `git tag` shows conversion-{conversion_id}
"""
