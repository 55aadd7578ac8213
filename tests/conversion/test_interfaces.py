"""The list of NeuroConv interfaces, against the installed NeuroConv itself (no stand-ins)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

import agentic_neurodata_conversion
from agentic_neurodata_conversion.conversion import formats, interfaces
from agentic_neurodata_conversion.conversion.interfaces import (
    EXTRA_EXCEPTIONS,
    list_interfaces,
    require_installed,
)
from agentic_neurodata_conversion.errors import UsageError

# Not installed in this venv (ndx-pose, tables): the example of a missing extra.
NOT_INSTALLED = "DeepLabCutInterface"


def by_name() -> dict[str, interfaces.InterfaceInfo]:
    return {info.name: info for info in list_interfaces()}


def test_sources_read_as_the_imported_classes_say() -> None:
    import neuroconv.datainterfaces as nd

    listed = list_interfaces()
    assert sorted(i.name for i in listed) == sorted(c.__name__ for c in nd.interface_list)
    assert listed == sorted(listed, key=lambda i: (i.modality, i.name))
    for info in listed:
        cls = getattr(nd, info.name)
        assert info.module == cls.__module__, info.name
        assert info.modality == cls.__module__.split(".")[2], info.name
        assert info.display_name == cls.display_name, info.name
        assert info.associated_suffixes == tuple(cls.associated_suffixes), info.name


def test_every_interface_has_an_extra_or_needs_none_explicitly() -> None:
    provided = {canonicalize_name(e) for e in metadata("neuroconv").get_all("Provides-Extra")}
    listed = list_interfaces()
    names = {i.name for i in listed}
    assert set(EXTRA_EXCEPTIONS) <= names, "an exception names no interface: drop it"
    assert {e for e in EXTRA_EXCEPTIONS.values() if e} <= provided
    for info in listed:
        if info.extra is None:
            assert EXTRA_EXCEPTIONS.get(info.name, "") is None, f"{info.name} has no extra"
            assert info.installed and info.pip == "pip install neuroconv"
            continue
        assert info.extra in provided, info.name
        assert info.pip == f'pip install "neuroconv[{info.extra}]"'
        folder = info.module.split(".")[3] if info.module.count(".") > 3 else None
        if folder is not None and info.name not in EXTRA_EXCEPTIONS:
            # named by its folder, never by the whole modality's extra
            assert info.extra.replace("-fp", "") == canonicalize_name(folder), info.name
    known = by_name()
    assert known["Plexon2RecordingInterface"].extra == "plexon2"
    assert known["PlexonRecordingInterface"].extra == "plexon"
    assert known["CSVFiberPhotometryInterface"].extra == "csv-fp"
    assert known["GuppyInterface"].extra == "guppy"
    assert known["ImageInterface"].extra == "image"
    assert known["MedPCInterface"].extra == "medpc-legacy"
    assert known["CSVEventsInterface"].extra == "csv-events"


def test_the_interfaces_of_our_formats_are_listed_and_installed() -> None:
    known = by_name()
    for spec in formats.FORMATS.values():
        info = known[spec.interface]
        assert info.extra == canonicalize_name(spec.extra), spec.name
        assert info.installed == (formats.missing_requirements(spec.extra) == []), spec.name
    for name in (
        "SpikeGLXRecordingInterface",
        "SpikeGLXNIDQInterface",
        "OpenEphysBinaryRecordingInterface",
        "IntanRecordingInterface",
        "PhySortingInterface",
        "KiloSortSortingInterface",
        "CellExplorerSortingInterface",
    ):
        assert known[name].installed and known[name].missing == (), name
    glx = known["SpikeGLXRecordingInterface"]
    assert (glx.modality, glx.extra, glx.display_name) == (
        "ecephys",
        "spikeglx",
        "SpikeGLX Recording",
    )
    assert ".meta" in glx.associated_suffixes
    assert glx.pip == 'pip install "neuroconv[spikeglx]"'


def test_an_interface_whose_extra_is_missing_says_what_and_how() -> None:
    info = by_name()[NOT_INSTALLED]
    assert not info.installed, f"{NOT_INSTALLED}'s extra is installed here: pick another"
    assert (info.modality, info.extra) == ("behavior", "deeplabcut")
    assert any(m.startswith("ndx-pose") and "not installed" in m for m in info.missing)
    assert info.pip == 'pip install "neuroconv[deeplabcut]"'
    data = info.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["missing"] == list(info.missing) and data["installed"] is False


def test_a_requirement_at_a_wrong_version_is_unmet() -> None:
    unmet = interfaces._Unmet()
    assert unmet("packaging>=9999")[0].startswith("packaging>=9999 (have ")
    assert unmet("packaging>=1") == ()
    # the extras of another distribution are followed too
    assert any(m.startswith("roiextractors") for m in unmet("neuroconv[ophys-tiff]"))


def test_filters() -> None:
    ophys = list_interfaces(modality="ophys")
    assert ophys and {i.modality for i in ophys} == {"ophys"}
    installed = list_interfaces(installed_only=True)
    assert installed and all(i.installed for i in installed)
    assert NOT_INSTALLED not in {i.name for i in installed}
    with pytest.raises(UsageError, match="unknown modality 'ephys'") as info:
        list_interfaces(modality="ephys")
    assert "ecephys" in str(info.value.hint)


def test_require_installed_passes_installed_interfaces() -> None:
    require_installed(["SpikeGLXRecordingInterface", "PhySortingInterface"])
    require_installed(iter(["NeuralynxNvtInterface"]))  # needs no extra
    require_installed([])


def test_require_installed_refuses_an_unknown_name_with_the_closest() -> None:
    with pytest.raises(UsageError) as info:
        require_installed(["PhySortingInterface", "SpikeGLXRecording"])
    assert info.value.message == "unknown NeuroConv interface 'SpikeGLXRecording'"
    assert info.value.hint.startswith("did you mean SpikeGLXRecordingInterface")
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError) as info:
        require_installed(["SpikeGlxRecordingInterfce"])
    assert "SpikeGLXRecordingInterface" in info.value.hint


def test_require_installed_refuses_a_missing_extra_with_the_pip_line() -> None:
    with pytest.raises(UsageError) as info:
        require_installed(["SpikeGLXRecordingInterface", NOT_INSTALLED])
    assert info.value.message.startswith(f"{NOT_INSTALLED} needs ndx-pose")
    assert info.value.hint == 'pip install "neuroconv[deeplabcut]"'
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError) as info:  # several: one line installs them all
        require_installed([NOT_INSTALLED, "ExternalVideoInterface"])
    assert "ExternalVideoInterface needs opencv-python-headless" in info.value.message
    assert info.value.hint == 'pip install "neuroconv[deeplabcut,video]"'


def test_listing_imports_neither_neuroconv_nor_pynwb() -> None:
    code = (
        "import sys\n"
        "from agentic_neurodata_conversion.conversion.interfaces import list_interfaces\n"
        "assert len(list_interfaces()) > 90\n"
        "print(sorted(m for m in ('neuroconv', 'pynwb', 'spikeinterface') if m in sys.modules))\n"
    )
    here = str(Path(agentic_neurodata_conversion.__file__).parents[1])  # this checkout's code
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- anc interfaces


def anc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from agentic_neurodata_conversion.cli.main import main

    code = main(["interfaces", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = anc(capsys)
    assert code == 0 and err == ""
    cells = [[c.strip() for c in line.strip("│ ").split("│")] for line in out.splitlines()]
    assert ["name", "modality", "extra", "installed"] in [
        [c.strip("┃ ") for c in line.split("┃") if c.strip("┃ ")] for line in out.splitlines()
    ]
    rows = {row[0]: row[1:] for row in cells if len(row) == 4}
    assert rows["SpikeGLXRecordingInterface"] == ["ecephys", "spikeglx", "yes"]
    assert rows[NOT_INSTALLED] == ["behavior", "deeplabcut", "no"]
    assert rows["NeuralynxNvtInterface"] == ["behavior", "-", "yes"]  # needs no extra
    assert len(rows) == len(list_interfaces())
    total = len(list_interfaces())
    assert f"{total} interfaces, " in out.splitlines()[-1]


def test_cli_filters_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = anc(capsys, "--modality", "ecephys", "--installed", "--json")
    assert code == 0
    data = json.loads(out)
    assert data == [i.to_dict() for i in list_interfaces("ecephys", installed_only=True)]
    assert "SpikeGLXRecordingInterface" in {d["name"] for d in data}
    assert {d["modality"] for d in data} == {"ecephys"} and all(d["installed"] for d in data)
    code, out, _ = anc(capsys, "--modality", "behavior")
    assert code == 0 and NOT_INSTALLED in out and "SpikeGLX" not in out
    code, out, err = anc(capsys, "--modality", "ephys")
    assert (code, out) == (2, "")
    assert err.startswith("error: unknown modality 'ephys' (one of: behavior, ecephys,")
    assert err.count("\n") == 1
