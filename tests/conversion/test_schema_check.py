"""The schema check: against the installed namespaces when the file caches exactly those,
against the file's own cached copy otherwise; both find the same schema error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h5py
import pytest
from pynwb import NWBHDF5IO, NWBFile

from agentic_neurodata_conversion.conversion import validation


def _write_nwb(path: Path) -> Path:
    nwbfile = NWBFile(
        session_description="schema check",
        identifier="schema-check",
        session_start_time=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _break_schema(path: Path) -> None:
    with h5py.File(path, "a") as file:
        del file["session_description"]  # required by the NWB core schema


@pytest.fixture()
def nwb(tmp_path: Path) -> Path:
    return _write_nwb(tmp_path / "file.nwb")


def test_a_file_of_this_environment_is_checked_against_the_installed_schema(nwb: Path) -> None:
    assert validation._caches_installed_schema(nwb)
    assert validation.schema_errors(nwb) == []
    _break_schema(nwb)
    errors = validation.schema_errors(nwb)
    assert any("session_description" in e.reason or "session_description" in e.name for e in errors)


def test_another_cached_version_is_checked_against_the_files_own_copy(nwb: Path) -> None:
    with h5py.File(nwb, "a") as file:
        (version,) = file["specifications/core"].keys()
        file.move(f"specifications/core/{version}", "specifications/core/9.9.9")
    assert not validation._caches_installed_schema(nwb)
    _break_schema(nwb)
    errors = validation.schema_errors(nwb)
    assert any("session_description" in e.reason or "session_description" in e.name for e in errors)


def test_a_file_without_cached_namespaces_is_not_taken_for_one(tmp_path: Path) -> None:
    path = tmp_path / "bare.nwb"
    with h5py.File(path, "w") as file:
        file.attrs["neurodata_type"] = "NWBFile"
    assert not validation._caches_installed_schema(path)
    assert not validation._caches_installed_schema(tmp_path / "missing.nwb")
