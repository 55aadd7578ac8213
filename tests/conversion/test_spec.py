"""`anc convert --spec`: a NeuroConv YAML specification, one tracked conversion per session,
on real sorting and LFP outputs (tests/conftest.py `real_recording`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.journal.chain import iter_entries

RunCli = Callable[..., tuple[int, str, str]]
YUTA = "neuroscope_YutaMouse42_dataset_1"
PHY = "phy_example_0"
TRIALS = "start_time,stop_time,condition\n0.0,0.1,left\n0.2,0.3,right\n"


def write_spec(folder: Path, yuta: Path, phy: Path, *, extra: str = "") -> Path:
    """Two sessions: an LFP + a sorting (real NeuroScope files), a Phy sorting + trials (CSV)."""
    (folder / "trials.csv").write_text(TRIALS)
    spec = folder / "conversion.yml"
    spec.write_text(f"""\
metadata:
  NWBFile:
    lab: Buzsaki lab
    institution: NYU
    experimenter: ["Doe, Jane"]
  Subject:
    species: Mus musculus
    sex: M
    age: P90D
data_interfaces:
  lfp: NeuroScopeLFPInterface
  sorting: NeuroScopeSortingInterface
  phy: PhySortingInterface
  trials: CsvTimeIntervalsInterface
experiments:
  ymaze:
    metadata:
      NWBFile:
        session_description: Y maze exploration
        experiment_description: Spatial memory in a Y maze
    sessions:
      - nwbfile_name: yuta42-151117
        source_data:
          lfp:
            file_path: {yuta.name}/YutaMouse42-151117.lfp
            xml_file_path: {yuta.name}/YutaMouse42-151117.xml
          sorting:
            folder_path: {yuta.name}
            xml_file_path: {yuta.name}/YutaMouse42-151117.xml
        metadata:
          NWBFile:
            session_start_time: "2015-11-17T10:00:00+09:00"
            session_id: "151117"
          Subject:
            subject_id: YutaMouse42
      - nwbfile_name: phy-example
        source_data:
          phy:
            folder_path: {phy.name}
          trials:
            file_path: trials.csv
        metadata:
          NWBFile:
            session_start_time: "2021-03-01T12:00:00+00:00"
            session_id: phy0
          Subject:
            subject_id: rat-7
            species: Rattus norvegicus
{extra}""")
    return spec


@pytest.fixture
def spec_folder(real_recording: Callable[[str], Path]) -> Path:
    yuta, phy = real_recording(YUTA), real_recording(PHY)
    assert yuta.parent == phy.parent
    return yuta.parent


def field_records(conversion: Path) -> dict[str, dict]:
    """The latest record of each metadata field in the conversion's journal."""
    return {
        e["field"]: e
        for e in iter_entries(conversion / "provenance" / "journal")
        if e.get("operation") == "set_metadata_field"
    }


def operations(conversion: Path) -> list[dict]:
    return [e for e in iter_entries(conversion / "provenance" / "journal")]


@pytest.mark.slow
def test_each_session_of_a_spec_is_a_tracked_verified_conversion(
    spec_folder: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    spec = write_spec(spec_folder, spec_folder / YUTA, spec_folder / PHY)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("convert", "--spec", str(spec), "--output", str(out))
    assert code == 0, stderr
    folders = sorted(out.glob("conversion_*"))
    assert [f.name.split("_", 1)[1].rsplit("-", 1)[0] for f in folders] == [
        "phy-example",
        "yuta42-151117",
    ]
    assert stdout.splitlines()[-1] == str(next(f for f in folders if "phy" in f.name))
    phy_conv, yuta_conv = folders
    for conversion in folders:
        # the spec, unchanged, beside the generated script; the run names the manifests
        assert (conversion / "scripts/code/conversion.yml").read_bytes() == spec.read_bytes()
        session = json.loads((conversion / "provenance/conversion_session.json").read_text())
        assert session["status"] == "completed"
        run = next(e for e in operations(conversion) if e["operation"] == "run_conversion")
        assert any(
            p.startswith("inputs/") and p.endswith(".manifest.json")
            for p in run["input_data"]["inputs"]
        )
        assert "scripts/code/conversion.yml" in run["input_data"]["inputs"]
        assert run["output_data"]["software"]["neuroconv"]
        assert (conversion / "scripts/requirements.lock").is_file()
        nwb = next((conversion / "outputs").glob("*.nwb"))
        assert nwb.is_symlink() and ".git/annex/objects" in str(nwb.readlink())

    fields = field_records(yuta_conv)
    species = fields["Subject.species"]
    assert species["source"] == "user_provided"
    assert species["evidence"] == ["scripts/code/conversion.yml: metadata.Subject.species"]
    assert fields["Subject.subject_id"]["evidence"] == [
        "scripts/code/conversion.yml: experiments.ymaze.sessions[0].metadata.Subject.subject_id"
    ]
    # the sorting's own start time loses to the spec's, and the conflict is on the record
    start = fields["NWBFile.session_start_time"]
    assert start["source"] == "user_provided" and start["conflict"]["resolution"]
    losing = start["conflict"]["candidates"][0]
    assert losing["source"] == "auto_extracted"
    assert "NeuroScopeSortingInterface" in losing["evidence"][0]
    extracted = [f for f in fields.values() if f["source"] == "auto_extracted"]
    assert any("interface lfp (NeuroScopeLFPInterface)" in f["evidence"][0] for f in extracted)

    # the session's species replaces the global one
    phy_species = field_records(phy_conv)["Subject.species"]
    assert phy_species["value"] == "Rattus norvegicus"
    assert "experiments.ymaze.sessions[1].metadata.Subject.species" in phy_species["evidence"][0]

    evaluation = json.loads((yuta_conv / "reports/evaluation.json").read_text())
    assert evaluation["passes"]
    names = [s["series"] for s in evaluation["series"]]
    assert "ElectricalSeriesLFP" in names and "units (sorting)" in names
    phy_eval = json.loads((phy_conv / "reports/evaluation.json").read_text())
    assert [s["series"] for s in phy_eval["series"]] == ["units (phy)"]
    assert phy_eval["series"][0]["samples_compared"] == 788  # every spike of the Phy output
    assert list(phy_eval["unchecked"]) == ["trials"]

    code, stdout, stderr = run_cli("verify", str(yuta_conv))
    assert code == 0, stdout + stderr
    assert "reproduces every output" in stdout


@pytest.mark.slow
def test_one_session_by_name(spec_folder: Path, tmp_path: Path, run_cli: RunCli) -> None:
    spec = write_spec(spec_folder, spec_folder / YUTA, spec_folder / PHY)
    code, _, stderr = run_cli(
        "convert", "--spec", str(spec), "--session", "phy-example", "--output", str(tmp_path / "o")
    )
    assert code == 0, stderr
    assert [p.name.startswith("conversion_phy-example") for p in (tmp_path / "o").iterdir()] == [
        True
    ]


def _refused(run_cli: RunCli, out: Path, *args: str) -> str:
    code, stdout, stderr = run_cli("convert", *args, "--output", str(out))
    assert code != 0
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr + stdout
    assert not out.exists(), "a refusal creates nothing"
    return stderr


def test_bad_specs_are_refused_in_one_line(
    spec_folder: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    yuta, phy, out = spec_folder / YUTA, spec_folder / PHY, tmp_path / "out"
    spec = write_spec(spec_folder, yuta, phy)

    # NeuroConv's own schema: the key path of the problem is named
    broken = spec_folder / "broken.yml"
    broken.write_text(
        spec.read_text().replace(
            "      - nwbfile_name: phy-example\n        source_data:",
            "      - nwbfile_name: phy-example\n        sources:",
        )
    )
    err = _refused(run_cli, out, "--spec", str(broken))
    assert "experiments.ymaze.sessions[1]" in err and "source_data" in err

    err = _refused(run_cli, out, "--spec", str(spec), "--session", "phy-exampel")
    assert "no session 'phy-exampel'" in err and "phy-example" in err

    typo = spec_folder / "typo.yml"
    typo.write_text(spec.read_text().replace("PhySortingInterface", "PhySortingInterfase"))
    err = _refused(run_cli, out, "--spec", str(typo))
    assert "PhySortingInterfase" in err and "PhySortingInterface" in err

    options = spec_folder / "options.yml"
    options.write_text(spec.read_text() + "conversion_options:\n  stub_test: true\n")
    err = _refused(run_cli, out, "--spec", str(options))
    assert "'stub_test'" in err and "CsvTimeIntervalsInterface" in err and "trials" in err

    missing = spec_folder / "missing.yml"
    missing.write_text(spec.read_text().replace("file_path: trials.csv", "file_path: trails.csv"))
    err = _refused(run_cli, out, "--spec", str(missing))
    assert "trails.csv" in err and "does not exist" in err

    err = _refused(run_cli, out, "--spec", str(spec), "--metadata", str(spec))
    assert "--metadata does not go with --spec" in err
    err = _refused(run_cli, out, "--spec", str(tmp_path / "nope.yml"))
    assert "no YAML specification" in err


def test_an_interface_whose_extra_is_missing_names_the_pip_line(
    spec_folder: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    from agentic_neurodata_conversion.conversion.interfaces import list_interfaces

    absent = next(i for i in list_interfaces() if not i.installed and i.extra)
    spec = write_spec(spec_folder, spec_folder / YUTA, spec_folder / PHY)
    odd = spec_folder / "odd.yml"
    odd.write_text(spec.read_text().replace("PhySortingInterface", absent.name))
    err = _refused(run_cli, tmp_path / "out", "--spec", str(odd))
    assert absent.name in err and f"neuroconv[{absent.extra}]" in err
