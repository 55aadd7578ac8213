"""The real recordings the tests read: the `real_recording` copy, and what happens when the
set is missing or damaged (skip locally, fail on CI, one line naming ANC_TEST_DATA)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.data_management.infrastructure import (
    TEST_DATA_ENTRY,
    default_spec,
    read_spec,
)

NOISE4SAM = "sglx_Noise4Sam_g0/Noise4Sam_g0"
TESTS = Path(__file__).parent


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_real_recording_is_a_writable_copy_in_tmp_path(
    real_recording: Callable[[str], Path], real_data: object, tmp_path: Path
) -> None:
    copy = real_recording(NOISE4SAM)
    assert copy.name == "Noise4Sam_g0" and tmp_path in copy.parents
    got = files_of(copy)
    assert "Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.meta" in got
    if real_data.layout == "shared":  # GIN's folder holds more files than the shared copy
        original = real_data.root / NOISE4SAM
        assert got == files_of(original)
        assert all(not p.stat().st_mode & 0o222 for p in original.rglob("*")), (
            "the originals are meant to be read-only"
        )
    for path in [copy, *copy.rglob("*")]:
        assert path.stat().st_mode & stat.S_IWUSR, path
    meta = copy / "Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.meta"
    meta.write_text(meta.read_text() + "extra=1\n")  # a test may change its copy


def test_every_recording_of_the_set_is_mapped_and_fetched_by_setup(real_data: object) -> None:
    """GIN_PARTS names each folder of the shared set, and `anc dev setup --test-data`
    fetches every GIN part it maps (the spec's `get`)."""
    parts = type(real_data).GIN_PARTS
    entry = next(e for e in read_spec(default_spec()) if e.name == TEST_DATA_ENTRY)
    mapped = {part for pairs in parts.values() if pairs for part, _sub in pairs}
    assert mapped == set(entry.get)
    if real_data.layout != "shared":
        pytest.skip(f"the set at {real_data.root} is GIN's, not the shared copy")
    tops = {p.name for p in real_data.root.iterdir() if p.is_dir()}
    assert tops == {name.split("/")[0] for name in parts}
    assert all((real_data.root / name).is_dir() for name in parts)


def run_pytest(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run one test using `real_recording` in a child pytest with this conftest as plugin."""
    (tmp_path / "test_uses_data.py").write_text(
        f"def test_uses(real_recording):\n    assert real_recording({NOISE4SAM!r}).is_dir()\n"
    )
    keep = {k: v for k, v in os.environ.items() if k not in ("CI", "ANC_REQUIRE_TEST_DATA")}
    pythonpath = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "conftest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=keep | {"PYTHONPATH": pythonpath} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def failed_with(out: str, reason: str) -> bool:
    """The child's test failed with REASON as the whole report (no traceback)."""
    body = re.search(r"_ test_uses _+\n(.*?)\n=+ short test summary", out, re.DOTALL)
    return body is not None and body[1] == reason and "FAILED test_uses_data.py::test_uses" in out


@pytest.mark.slow
def test_missing_or_damaged_data_skips_locally_and_fails_on_ci(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    reason = (
        f"no real test recordings at ANC_TEST_DATA={missing}: set ANC_TEST_DATA to a copy of "
        "shared/ephy_testing_data, or install GIN's with `anc dev setup --test-data -d ../devdata`"
    )
    (tmp_path / "local").mkdir()
    code, out = run_pytest(tmp_path / "local", {"ANC_TEST_DATA": str(missing)})
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED [1] ")]
    assert code == 0 and len(skipped) == 1 and skipped[0].endswith(f": {reason}"), out

    for name, env in (("ci", {"CI": "true"}), ("required", {"ANC_REQUIRE_TEST_DATA": "1"})):
        (tmp_path / name).mkdir()
        code, out = run_pytest(tmp_path / name, {"ANC_TEST_DATA": str(missing)} | env)
        assert code == 1 and failed_with(out, reason), out

    damaged = tmp_path / "damaged"
    (damaged / NOISE4SAM).mkdir(parents=True)
    (damaged / "x.bin").write_bytes(b"changed")
    (damaged / "SHA256SUMS").write_text(f"{'0' * 64}  ./x.bin\n")
    (tmp_path / "bad").mkdir()
    code, out = run_pytest(tmp_path / "bad", {"ANC_TEST_DATA": str(damaged)})
    assert code == 1, out
    assert failed_with(
        out,
        f"real test recordings at {damaged} are damaged: ./x.bin differs from SHA256SUMS; "
        "copy them again",
    ), out
