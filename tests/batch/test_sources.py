"""`anc batch SOURCES` as sessions: path patterns (NeuroConv's LocalPathExpander), list files
and a YAML spec, on small real folders (empty marker files are enough for matching)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.batch.sources import BatchSession, expand_sources
from agentic_neurodata_conversion.errors import UsageError

YUTA = "neuroscope_YutaMouse42_dataset_1"
PHY = "phy_example_0"


def make(root: Path, *folders: str, files: tuple[str, ...] = ()) -> Path:
    """Folders (each with a marker file, as a recording would have) and loose files."""
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "data.bin").touch()
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return root


def refused(sources: str, cwd: Path) -> str:
    with pytest.raises(UsageError) as caught:
        expand_sources(sources, cwd=cwd)
    assert caught.value.hint, "every refusal names the fix"
    assert "\n" not in str(caught.value)
    return caught.value.message


# --------------------------------------------------------------------------- patterns


def test_a_pattern_gives_one_session_per_matching_folder(tmp_path: Path) -> None:
    make(tmp_path, "raw/m1/s1", "raw/m1/s2", "raw/m2/s1", files=("raw/m2/notes.txt",))
    sessions = expand_sources("raw/{subject_id}/{session_id}", cwd=tmp_path)
    assert [s.name for s in sessions] == ["m1_s1", "m1_s2", "m2_s1"]
    first = sessions[0]
    assert first == BatchSession(
        name="m1_s1",
        source=tmp_path / "raw/m1/s1",
        inputs=(tmp_path / "raw/m1/s1",),
        fields={"subject_id": "m1", "session_id": "s1"},
        metadata={"NWBFile": {"session_id": "s1"}, "Subject": {"subject_id": "m1"}},
        evidence="path pattern 'raw/{subject_id}/{session_id}' matched raw/m1/s1",
    )
    # an absolute pattern matches the same folders and shows them absolute
    absolute = expand_sources(f"{tmp_path}/raw/{{subject_id}}/{{session_id}}", cwd=Path("/"))
    assert [s.source for s in absolute] == [s.source for s in sessions]
    assert absolute[1].evidence.endswith(f"matched {tmp_path}/raw/m1/s2")


def test_fields_inside_a_component_and_a_time_format(tmp_path: Path) -> None:
    make(tmp_path, "sub-m1/ses-20240105", "sub-m1/ses-20240212", "sub-m2/ses-20240105")
    make(tmp_path, "sub-m2/ses-notadate", "other/ses-20240105")  # no match
    sessions = expand_sources("sub-{subject_id}/ses-{session_start_time:%Y%m%d}", cwd=tmp_path)
    assert [s.name for s in sessions] == ["m1_20240105", "m1_20240212", "m2_20240105"]
    assert sessions[1].fields == {"subject_id": "m1", "session_start_time": "20240212"}
    assert sessions[1].metadata == {
        "NWBFile": {"session_start_time": dt.datetime(2024, 2, 12)},
        "Subject": {"subject_id": "m1"},
    }
    # a field NeuroConv has no NWB place for is in the fields only
    make(tmp_path, "rigs/A/day1")
    (rig,) = expand_sources("rigs/{rig}/{session_id}", cwd=tmp_path)
    assert (rig.name, rig.fields) == ("A_day1", {"rig": "A", "session_id": "day1"})
    assert rig.metadata == {"NWBFile": {"session_id": "day1"}}


def test_a_session_folder_may_hold_its_own_metadata_file(tmp_path: Path) -> None:
    make(tmp_path, "raw/s1", "raw/s2", "raw/s3")
    (tmp_path / "raw/s1/metadata.yml").write_text("Subject:\n  species: Mus musculus\n")
    (tmp_path / "raw/s2/metadata.json").write_text('{"NWBFile": {"lab": "Doe lab"}}')
    sessions = expand_sources("raw/{session_id}", cwd=tmp_path)
    assert [s.metadata_file for s in sessions] == [
        tmp_path / "raw/s1/metadata.yml",
        tmp_path / "raw/s2/metadata.json",
        None,
    ]
    # checked now, before anything is written
    (tmp_path / "raw/s3/metadata.yaml").write_text("Subject:\n  sex: male\n")
    assert "raw/s3/metadata.yaml: field Subject.sex" in refused("raw/{session_id}", tmp_path)
    (tmp_path / "raw/s3/metadata.yaml").unlink()
    (tmp_path / "raw/s2/metadata.yml").write_text("{}\n")
    assert "raw/s2 holds 2 metadata files" in refused("raw/{session_id}", tmp_path)


def test_a_pattern_matching_nothing_names_the_first_part_that_fails(tmp_path: Path) -> None:
    make(tmp_path, "raw/m1/s1", "raw/m1/s2", "raw/m2/s1", files=("raw/m3/notes.txt",))
    (tmp_path / "raw/empty").mkdir()
    assert refused("raw/{subject_id}/x{session_id}", tmp_path) == (
        "nothing under raw/m1 (and 3 more folders) matches 'x{session_id}'; raw/m1 holds s1/, s2/"
    )
    assert refused("raw/empty/{session_id}", tmp_path) == (
        "nothing under raw/empty matches '{session_id}'; raw/empty is empty"
    )
    assert refused("raw/m3/{session_id}", tmp_path) == (
        "nothing under raw/m3 matches '{session_id}' as a folder; only files do: raw/m3/notes.txt"
    )
    assert refused("raw/ses-{subject_id}/{session_id}", tmp_path) == (
        "nothing under raw matches 'ses-{subject_id}'; raw holds empty/, m1/, m2/, m3/"
    )
    # every part matches some folder, the whole does not (one field, two values)
    assert refused("raw/{session_id}/{session_id}", tmp_path) == (
        "no folder matches 'raw/{session_id}/{session_id}'"
    )
    assert refused("data/{session_id}", tmp_path) == "pattern 'data/{session_id}': no folder data"


def test_a_pattern_giving_two_sessions_one_name_is_refused(tmp_path: Path) -> None:
    make(tmp_path, "raw/a_b/c", "raw/a/b_c")
    assert refused("raw/{subject_id}/{session_id}", tmp_path) == (
        f"two folders give the session name a_b_c: {tmp_path}/raw/a/b_c, {tmp_path}/raw/a_b/c"
    )


def test_pattern_fields_need_plain_names(tmp_path: Path) -> None:
    make(tmp_path, "raw/s1")
    assert "field {} has no plain name" in refused("raw/{}", tmp_path)
    assert "field {a.b} has no plain name" in refused("raw/{a.b}", tmp_path)
    assert refused("raw/{{literal}}", tmp_path) == "pattern 'raw/{{literal}}' names no field"


# --------------------------------------------------------------------------- list files


def test_a_list_file_gives_its_folders_named_apart_by_their_parents(tmp_path: Path) -> None:
    make(tmp_path, "data/m1/s1", "data/m2/s1", "elsewhere/other")
    listing = tmp_path / "data" / "sessions.txt"
    listing.write_text(f"# sessions of the lab\n\nm2/s1\n  m1/s1  \n{tmp_path}/elsewhere/other\n")
    sessions = expand_sources("data/sessions.txt", cwd=tmp_path)
    assert [(s.name, s.source, s.evidence) for s in sessions] == [
        ("m2_s1", tmp_path / "data/m2/s1", "listed in sessions.txt line 3"),
        ("m1_s1", tmp_path / "data/m1/s1", "listed in sessions.txt line 4"),
        ("other", tmp_path / "elsewhere/other", "listed in sessions.txt line 5"),
    ]
    assert all(s.inputs == (s.source,) and s.fields == {} == s.metadata for s in sessions)
    assert all(s.spec is None and s.spec_session is None for s in sessions)


def test_bad_list_files_are_refused(tmp_path: Path) -> None:
    make(tmp_path, "s1", files=("notes.txt",))
    listing = tmp_path / "sessions.txt"
    listing.write_text("s1\n# gone:\ns2\n")
    assert refused("sessions.txt", tmp_path) == f"sessions.txt line 3: {tmp_path}/s2 does not exist"
    listing.write_text("s1\nnotes.txt\n")
    assert refused("sessions.txt", tmp_path) == (
        f"sessions.txt line 2: {tmp_path}/notes.txt is a file, not a folder"
    )
    listing.write_text("s1\n./s1/\n")
    assert (
        refused("sessions.txt", tmp_path) == f"sessions.txt lines 1 and 2 both list {tmp_path}/s1"
    )
    listing.write_text("# nothing yet\n\n")
    assert refused("sessions.txt", tmp_path) == f"{listing} lists no folder"


def test_listed_folders_whose_names_never_differ_are_refused(tmp_path: Path) -> None:
    make(tmp_path, "x/a b", "x/a-b")  # one safe name, "a-b", all the way up
    (tmp_path / "list").write_text("x/a b\nx/a-b\n")
    assert refused("list", tmp_path) == (
        f"two folders give the session name {'_'.join(tmp_path.parts[1:])}_x_a-b: "
        f"{tmp_path}/x/a b, {tmp_path}/x/a-b"
    )


def test_sources_that_are_neither_a_file_nor_a_pattern(tmp_path: Path) -> None:
    make(tmp_path, "raw/s1")
    assert refused("missing.txt", tmp_path) == (
        "SOURCES missing.txt: no such file, and no '{field}' of a pattern"
    )
    assert refused("raw", tmp_path) == "SOURCES raw is a folder, not a pattern, list or spec"


# --------------------------------------------------------------------------- specs

SPEC = """\
metadata:
  NWBFile:
    lab: Buzsaki lab
  Subject:
    species: Mus musculus
data_interfaces:
  lfp: NeuroScopeLFPInterface
  sorting: NeuroScopeSortingInterface
  phy: PhySortingInterface
  trials: CsvTimeIntervalsInterface
experiments:
  ymaze:
    sessions:
      - nwbfile_name: yuta42-151117
        source_data:
          lfp:
            file_path: {yuta}/YutaMouse42-151117.lfp
            xml_file_path: {yuta}/YutaMouse42-151117.xml
          sorting:
            folder_path: {yuta}
            xml_file_path: {yuta}/YutaMouse42-151117.xml
        metadata:
          NWBFile:
            session_start_time: "2015-11-17T10:00:00+09:00"
      - source_data:
          phy:
            folder_path: {phy}
          trials:
            file_path: trials.csv
        metadata:
          NWBFile:
            session_start_time: "2021-03-01T12:00:00+00:00"
            session_id: phy0
"""


def test_each_session_of_a_spec_is_a_batch_session(
    real_recording: Callable[[str], Path], tmp_path: Path
) -> None:
    """The two-session spec of tests/conversion/test_spec.py (real NeuroScope and Phy files)."""
    yuta, phy = real_recording(YUTA), real_recording(PHY)
    folder = yuta.parent
    (folder / "trials.csv").write_text("start_time,stop_time\n0.0,0.1\n")
    spec = folder / "conversion.yml"
    spec.write_text(SPEC.format(yuta=yuta.name, phy=phy.name))
    sessions = expand_sources("real/conversion.yml", cwd=tmp_path)
    assert sessions == [
        BatchSession(
            name="yuta42-151117",
            source=None,
            inputs=(yuta,),  # the files named inside the sorting's folder are in it
            fields={},
            metadata={},
            evidence="conversion.yml experiments.ymaze.sessions[0]",
            spec=spec,
            spec_session="yuta42-151117",
        ),
        BatchSession(
            name="phy0",  # no nwbfile_name: the session_id
            source=None,
            inputs=(phy, folder / "trials.csv"),
            fields={},
            metadata={},
            evidence="conversion.yml experiments.ymaze.sessions[1]",
            spec=spec,
            spec_session="phy0",
        ),
    ]
    # a source the spec names but the disk lacks is refused before anything starts
    (folder / "trials.csv").unlink()
    assert refused(str(spec), tmp_path) == (
        f"conversion.yml experiments.ymaze.sessions[1]: source trials.file_path = "
        f"{folder}/trials.csv does not exist"
    )


def test_a_yaml_that_is_no_spec_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sessions.yml").write_text("- raw/s1\n- raw/s2\n")
    assert refused("sessions.yml", tmp_path) == (
        "sessions.yml is not a conversion specification (no 'experiments' at its top level)"
    )
    (tmp_path / "broken.yaml").write_text("experiments: [\n")
    assert "broken.yaml: not valid YAML (line 2" in refused("broken.yaml", tmp_path)
    # NeuroConv's own schema check, through load_spec
    (tmp_path / "bad.yml").write_text("experiments:\n  e:\n    sessions: [{}]\n")
    assert "experiments.e.sessions[0]" in refused("bad.yml", tmp_path)
