"""A lab superdataset made by `anc batch` organised as one dandiset: every session an asset,
named by dandi from the subject and session the folder paths gave, keys shared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.batch.cluster import ClusterRequest
from agentic_neurodata_conversion.batch.run import BatchOptions, run_batch
from agentic_neurodata_conversion.conversion import synthetic
from agentic_neurodata_conversion.datalad_layer.keys import key_of_file

pytestmark = pytest.mark.slow  # a batch of conversions on Dask

RunCli = Callable[..., tuple[int, str, str]]


def test_a_batch_lab_becomes_one_dandiset(tmp_path: Path, run_cli: RunCli) -> None:
    raw = tmp_path / "raw"
    for n, (subject, session) in enumerate([("m1", "s01"), ("m1", "s02"), ("m2", "s01")]):
        synthetic.write_spikeglx(raw / subject / session, seed=n, channels=32, seconds=0.2)
    given = tmp_path / "lab.yml"
    given.write_text(
        "NWBFile: {lab: Doe Lab, institution: Example University, experimenter: ['Doe, Jane']}\n"
        "Subject: {species: Mus musculus, sex: F, age: P90D}\n"
    )
    lab = tmp_path / "lab"
    record = run_batch(
        f"{raw}/{{subject_id}}/{{session_id}}",
        lab,
        ClusterRequest(workers=2),
        BatchOptions(metadata_file=given),
    )
    assert record.counts["completed"] == 3

    dandiset = tmp_path / "dandiset"
    code, out, err = run_cli("dandi", "organize", str(lab), "--output", str(dandiset))
    assert code == 0, err
    index = json.loads((dandiset / "provenance" / "assets.json").read_text())
    assert sorted(index["assets"]) == [
        "sub-m1/sub-m1_ses-s01_ecephys.nwb",
        "sub-m1/sub-m1_ses-s02_ecephys.nwb",
        "sub-m2/sub-m2_ses-s01_ecephys.nwb",
    ]
    for path, entry in index["assets"].items():
        conversion = Path(entry["dataset_path"])
        assert conversion.parent == lab.resolve()
        assert key_of_file(dandiset / path) == key_of_file(conversion / entry["nwb"])
    code, out, err = run_cli("dandi", "validate", str(dandiset))
    assert code == 0, out + err
    assert "3 assets, valid" in out
