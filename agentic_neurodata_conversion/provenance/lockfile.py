"""The environment a conversion runs in, on its record: ``scripts/requirements.lock`` and one
``record_environment`` journal record holding every distribution.

The lock is small text that the conversion rules keep in git (``datalad_layer.annex``), so
the script checkpoint commits it beside ``convert.py`` and ``anc verify --fresh-env`` reads
it from the run commit with ``git show``.
"""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..environment import LOCK_NAME, Environment, capture, write_lock
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource
from .layout import TOOL


def write(root: Path, folder: str, env: Environment | None = None) -> tuple[Path, Environment]:
    """Write the lock of ENV (this interpreter's by default) into ROOT/FOLDER."""
    env = env or capture()
    return write_lock(root / folder, env, made_by=f"{TOOL} {__version__}"), env


def record(env: Environment, lock: str) -> ProvenanceRecord:
    """The journal record of ENV and its lock file LOCK (a path relative to the dataset)."""
    pinned = sum(1 for d in env.distributions if d.pinnable)
    return ProvenanceRecord(
        source=ProvenanceSource.AUTO_EXTRACTED,
        operation="record_environment",
        agent="tracker",
        input_data={"interpreter": "the Python running the conversion"},
        output_data={"environment": env.to_dict(), "lock": lock},
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        method="importlib.metadata over sys.path; platform",
        reasoning=[
            f"{len(env.distributions)} distributions installed, {pinned} pinned in {lock}; "
            f"rebuild with `python -m pip install --no-deps -r {LOCK_NAME}`"
        ],
    )
