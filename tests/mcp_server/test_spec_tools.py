"""The MCP tools for conversions users already have: the interface list, and a YAML spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import call, fails, serve

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SPEC = """\
metadata:
  NWBFile: {lab: Lab, institution: Institute, experimenter: ["Doe, Jane"],
            session_description: Phy sorting and trials}
  Subject: {species: Mus musculus, sex: F, age: P60D, subject_id: m1}
data_interfaces: {phy: PhySortingInterface, trials: CsvTimeIntervalsInterface}
experiments:
  exp:
    sessions:
      - nwbfile_name: phy-example
        source_data:
          phy: {folder_path: phy_example_0}
          trials: {file_path: trials.csv}
        metadata:
          NWBFile: {session_start_time: "2021-03-01T12:00:00+00:00", session_id: phy0}
"""


async def test_list_interfaces_and_convert_from_spec(
    root: Path, tmp_path: Path, real_recording: Callable[[str], Path]
) -> None:
    data = root / "data"
    data.mkdir()
    real_recording("phy_example_0").rename(data / "phy_example_0")  # inside the server's root
    (data / "trials.csv").write_text("start_time,stop_time\n0.0,0.1\n")
    spec = data / "conversion.yml"
    spec.write_text(SPEC)
    async with serve(root, tmp_path / "server.log") as client:
        listed = await call(client, "list_interfaces")
        by_name = {i["name"]: i for i in listed["interfaces"]}
        assert listed["total"] == len(by_name) > 90
        assert by_name["PhySortingInterface"]["installed"]
        assert by_name["SpikeGLXRecordingInterface"]["extra"] == "spikeglx"
        absent = next(i for i in by_name.values() if not i["installed"])
        assert absent["pip"] == f'pip install "neuroconv[{absent["extra"]}]"' and absent["missing"]
        ecephys = await call(client, "list_interfaces", modality="ecephys", installed_only=True)
        assert ecephys["interfaces"] and all(
            i["modality"] == "ecephys" and i["installed"] for i in ecephys["interfaces"]
        )

        error = await fails(client, "convert_from_spec", spec=str(spec), session="nope")
        assert "no session 'nope'" in error
        outside = tmp_path / "outside.yml"
        outside.write_text(spec.read_text())
        assert "refused" in await fails(client, "convert_from_spec", spec=str(outside))

        done = await call(client, "convert_from_spec", spec=str(spec), session="phy-example")
        assert done["completed"] == 1 and done["failed"] == 0
        conversion = done["conversions"][0]
        assert conversion["status"] == "completed" and conversion["tag"]
        assert (Path(conversion["path"]) / "scripts/code/conversion.yml").is_file()
