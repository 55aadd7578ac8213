"""`track_conversion(MyConverter, ...)`: a user's own NWBConverter (a real LFP, a real sorting
and a behavioural trials table in one NWB) tracked and re-executed from the copy of its code."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic_neurodata_conversion import track_conversion
from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.journal.chain import iter_entries

YUTA = "neuroscope_YutaMouse42_dataset_1"
RunCli = Callable[..., tuple[int, str, str]]

CONVERTER = '''\
from neuroconv import NWBConverter
from neuroconv.datainterfaces import (
    CsvTimeIntervalsInterface,
    NeuroScopeLFPInterface,
    NeuroScopeSortingInterface,
)

from .naming import DESCRIPTION


class LabConverter(NWBConverter):
    """LFP, spike sorting and trials of one session."""

    data_interface_classes = dict(
        lfp=NeuroScopeLFPInterface,
        sorting=NeuroScopeSortingInterface,
        trials=CsvTimeIntervalsInterface,
    )

    def get_metadata(self):
        metadata = super().get_metadata()
        metadata["NWBFile"]["session_description"] = DESCRIPTION
        return metadata
'''


@pytest.fixture
def lab_package(tmp_path: Path) -> Iterator[Path]:
    """A package `mylab` the test writes and imports; removed from sys.modules afterwards."""
    root = tmp_path / "code"
    package = root / "mylab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "converter.py").write_text(CONVERTER)
    (package / "naming.py").write_text('DESCRIPTION = "Y maze, LFP and units"\n')
    (package / "unused.py").write_text("raise RuntimeError('never imported')\n")
    sys.path.insert(0, str(root))
    try:
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "mylab" or n.startswith("mylab.")]:
            del sys.modules[name]


def source_data(yuta: Path, trials: Path) -> dict:
    xml = str(yuta / "YutaMouse42-151117.xml")
    return {
        "lfp": {"file_path": str(yuta / "YutaMouse42-151117.lfp"), "xml_file_path": xml},
        "sorting": {"folder_path": str(yuta), "xml_file_path": xml},
        "trials": {"file_path": str(trials)},
    }


METADATA = {
    "NWBFile": {
        "session_start_time": "2015-11-17T10:00:00+09:00",
        "lab": "Buzsaki lab",
        "institution": "NYU",
        "experimenter": ["Doe, Jane"],
    },
    "Subject": {"subject_id": "YutaMouse42", "species": "Mus musculus", "sex": "M", "age": "P90D"},
}


@pytest.mark.slow
def test_own_converter_is_tracked_and_reruns_from_its_copied_code(
    lab_package: Path, real_recording: Callable[[str], Path], tmp_path: Path, run_cli: RunCli
) -> None:
    yuta = real_recording(YUTA)
    trials = tmp_path / "trials.csv"
    trials.write_text("start_time,stop_time,arm\n0.0,0.1,left\n0.2,0.3,right\n")
    LabConverter = importlib.import_module("mylab.converter").LabConverter

    result = track_conversion(
        LabConverter, source_data(yuta, trials), metadata=METADATA, output=tmp_path / "out"
    )
    assert result.status == "completed" and result.tag, result.reason
    root = result.path
    code = root / "scripts/code/mylab"
    assert sorted(p.name for p in code.iterdir()) == ["__init__.py", "converter.py", "naming.py"]
    assert (code / "converter.py").read_text() == CONVERTER

    entries = [e for e in iter_entries(root / "provenance" / "journal")]
    fields = {e["field"]: e for e in entries if e.get("operation") == "set_metadata_field"}
    # the converter's own get_metadata() value, attributed to the converter
    description = fields["NWBFile.session_description"]
    assert description["value"] == "Y maze, LFP and units"
    assert description["source"] == "auto_extracted"
    assert description["evidence"] == [
        "converter LabConverter.get_metadata(): NWBFile.session_description"
    ]
    assert fields["Subject.species"]["source"] == "user_provided"
    assert any(
        "interface sorting (NeuroScopeSortingInterface)" in e["evidence"][0]
        for e in fields.values()
        if e["source"] == "auto_extracted"
    )

    evaluation = json.loads((root / "reports/evaluation.json").read_text())
    assert evaluation["passes"]
    assert [s["series"] for s in evaluation["series"]] == ["ElectricalSeriesLFP", "units (sorting)"]
    assert evaluation["unchecked"] == {
        "trials": "CsvTimeIntervalsInterface: no read-back check for this interface"
    }

    # Nothing of the user's checkout is needed any more: re-executed from scripts/code/.
    shutil.rmtree(lab_package)
    code_, stdout, stderr = run_cli("verify", str(root))
    assert code_ == 0, stdout + stderr


def test_not_a_converter_is_refused(lab_package: Path, tmp_path: Path) -> None:
    from neuroconv.datainterfaces import PhySortingInterface

    converter = importlib.import_module("mylab.converter").LabConverter
    for wrong in (PhySortingInterface, dict, "LabConverter"):
        with pytest.raises(UsageError, match="is not a NeuroConv NWBConverter subclass"):
            track_conversion(wrong, {}, output=tmp_path / "out")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="LabConverter has no interface 'video'"):
        track_conversion(converter, {"video": {}}, output=tmp_path / "out")
    with pytest.raises(UsageError, match="does not exist"):
        track_conversion(
            converter,
            {"trials": {"file_path": str(tmp_path / "none.csv")}},
            output=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists()
