"""Real recordings (tests/conftest.py `real_recording`): NeuroConv reads every one with the
extras pyproject.toml installs, and the SpikeGLX metadata comes from its .meta file. The
project's own conversion of each is test_real_recordings.py."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agentic_neurodata_conversion.conversion import formats, metadata

# (recording, NeuroConv interface, its arguments (paths relative to the copy), expected):
# recordings expect (channels, sampling rate, samples per segment), sortings (units, sampling
# rate, spikes); the numbers are those of ../shared/ephy_testing_data/README.md.
READERS: list[tuple[str, str, dict[str, Any], tuple[Any, ...]]] = [
    (
        "sglx_Noise4Sam_g0/Noise4Sam_g0",
        "SpikeGLXRecordingInterface",
        {"folder_path": ".", "stream_id": "imec0.ap"},
        (384, 30000.0, [1155]),
    ),
    (
        "sglx_multi_trigger_multi_gate_CI0/5-19-2022-CI0",
        "SpikeGLXRecordingInterface",
        {"folder_path": "5-19-2022-CI0_g0", "stream_id": "imec1.ap"},
        (384, 29999.762343096234, [299, 299]),
    ),
    (
        "oe_pytools_v067_binary",
        "OpenEphysRecordingInterface",
        {"folder_path": "Record Node 101"},
        (16, 40000.0, [131362]),
    ),
    (
        "oebin_v0.4.4.1_with_spikes",
        "OpenEphysRecordingInterface",
        {"folder_path": "."},
        (32, 30000.0, [16]),
    ),
    (
        "intan_fps_test_231117_052500",
        "IntanRecordingInterface",
        {"file_path": "info.rhd"},
        (64, 30000.0, [24320]),
    ),
    (
        "blackrock_2_1",
        "BlackrockRecordingInterface",
        {"file_path": "l101210-001.ns2"},
        (6, 1000.0, [3640]),
    ),
    ("axona_raw", "AxonaRecordingInterface", {"file_path": "axona_raw.bin"}, (16, 48000.0, [576])),
    (
        "tdt_ECTest_B1/ECTest-220207-135355",
        "TdtRecordingInterface",
        {"folder_path": ".", "gain": 1.0},
        (8, 24414.0625, [118784]),
    ),
    (
        "plexon_3_plx",
        "PlexonRecordingInterface",
        {"file_path": "File_plexon_3.plx", "stream_name": "V"},
        (1, 1000.0, [600806]),
    ),
    (
        "biocam_hw3.0_fw1.6",
        "BiocamRecordingInterface",
        {"file_path": "biocam_hw3.0_fw1.6.brw"},
        (36, 19753.774423337854, [19754]),
    ),
    (
        "alphaomega_mpx_map_version4/mpx_map_version4",
        "AlphaOmegaRecordingInterface",
        {"folder_path": "."},
        (4, 30000.0, [140633, 88969, 22073]),
    ),
    (
        "spikegadgets_W122",
        "SpikeGadgetsRecordingInterface",
        {"file_path": "W122_06_09_2019_1_fromSD.rec"},
        (128, 30000.0, [2]),
    ),
    (
        "neuroscope_test1",
        "NeuroScopeRecordingInterface",
        {"file_path": "test1.dat", "xml_file_path": "test1.xml"},
        (8, 10000.0, [10]),
    ),
    (
        "neuralynx_cheetah_v5.4.0/original_data",
        "NeuralynxRecordingInterface",
        {"folder_path": "."},
        (1, 1017.375, [3584]),
    ),
    (
        "plexon_3_plx",
        "PlexonSortingInterface",
        {"file_path": "File_plexon_3.plx"},
        (30, 30000.0, 8351),
    ),
    (
        "neuroscope_YutaMouse42_dataset_1",
        "NeuroScopeSortingInterface",
        {"folder_path": ".", "xml_file_path": "YutaMouse42-151117.xml"},
        (28, 20000.0, 76),
    ),
    ("phy_example_0", "PhySortingInterface", {"folder_path": "."}, (13, 32000.0, 788)),
    ("phy_example_0", "KiloSortSortingInterface", {"folder_path": "."}, (13, 32000.0, 788)),
    (
        "cellexplorer_dataset_1",
        "CellExplorerSortingInterface",
        {"file_path": "20170311_684um_2088um_170311_134350.spikes.cellinfo.mat"},
        (6, 20000.0, 569),
    ),
]


def _quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():  # readers warn about what these small files lack
        warnings.simplefilter("ignore")
        return build()


@pytest.mark.parametrize(
    ("name", "interface", "arguments", "expected"),
    READERS,
    ids=[f"{interface}-{name.split('/')[0]}" for name, interface, _, _ in READERS],
)
def test_neuroconv_reads_each_real_recording(
    real_recording: Callable[[str], Path],
    name: str,
    interface: str,
    arguments: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    import neuroconv.datainterfaces

    copy = real_recording(name)
    kwargs = {k: str(copy / v) if k.endswith("_path") else v for k, v in arguments.items()}
    reader = _quiet(lambda: getattr(neuroconv.datainterfaces, interface)(**kwargs))
    if interface.endswith("SortingInterface"):
        sorting = reader.sorting_extractor
        units = sorting.get_unit_ids()
        spikes = sum(len(sorting.get_unit_spike_train(u, segment_index=0)) for u in units)
        assert (len(units), sorting.get_sampling_frequency(), spikes) == expected
    else:
        rec = reader.recording_extractor
        samples = [rec.get_num_samples(s) for s in range(rec.get_num_segments())]
        assert (rec.get_num_channels(), rec.get_sampling_frequency(), samples) == expected
    assert isinstance(_quiet(reader.get_metadata), dict)


def _values(decisions: list[metadata.FieldDecision]) -> dict[str, Any]:
    return {d.field: d.value for d in decisions}


def test_real_spikeglx_metadata_comes_from_its_meta_file(
    real_recording: Callable[[str], Path],
) -> None:
    folder = real_recording("sglx_Noise4Sam_g0/Noise4Sam_g0")
    detection = formats.detect_format(folder)
    assert (detection.format, detection.streams) == ("spikeglx", ("imec0.ap",))
    assert detection.source_data["stream_id"] == "imec0.ap"
    decisions = metadata.extract_metadata(formats.make_interface(detection), detection)
    values = _values(decisions)
    assert values["NWBFile.session_start_time"] == datetime(2020, 11, 3, 10, 35, 10)
    assert values["DeviceModels.imec_PRB_1_4_0480_1.model_number"] == "PRB_1_4_0480_1"
    assert values["Devices.neuropixels_18194809281.serial_number"] == "18194809281"
    assert values["Ecephys.ElectrodeGroups.NeuropixelsImec0.name"] == "NeuropixelsImec0"
    serial = next(d for d in decisions if d.field.endswith(".serial_number"))
    assert serial.evidence == ["Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.meta: imDatPrb_sn"]
