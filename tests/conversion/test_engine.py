"""The conversion executed through `datalad run` in a real dataset, and re-executed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import engine, formats, metadata, script, synthetic
from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.errors import ConversionError

pytestmark = pytest.mark.slow  # datalad run and rerun of a conversion script

OUTPUT = "outputs/session.nwb"


@dataclass(frozen=True)
class Prepared:
    root: Path
    dataset_id: str


def _prepare(root: Path, size: dict[str, float]) -> Prepared:
    """A conversion dataset holding a saved recording and the rendered script."""
    ds = dsops.create_dataset(root, "conversion test", rules=annex.CONVERSION_RULES)
    synthetic.write_spikeglx(root / "inputs" / "rec", **size)
    dsops.save(ds, "Add the recording")
    detection = formats.detect_format(root / "inputs" / "rec")
    extracted = metadata.extract_metadata(formats.make_interface(detection), detection)
    context = metadata.ConversionContext(
        "engine-test", ds.id, dt.datetime(2024, 2, 1, tzinfo=dt.UTC), output=OUTPUT
    )
    decisions = metadata.decide_fields(extracted, detection.spec, context)
    script.render_script(
        detection, decisions, context, script.relative_source_data(detection, root)
    ).write(root / "scripts")
    return Prepared(root, ds.id)


@pytest.fixture(scope="module")
def ran(tmp_path_factory, recording_size) -> tuple[Prepared, engine.RunResult]:
    prepared = _prepare(tmp_path_factory.mktemp("engine") / "conversion", recording_size)
    result = engine.run_conversion(
        prepared.root, "scripts/convert.py", ["inputs/rec"], [OUTPUT], "Convert to NWB"
    )
    return prepared, result


def _log(root: Path, *args: str) -> list[str]:
    return dsops.git(root, "log", "--format=%s", *args).decode().splitlines()


def test_run_makes_a_runcmd_commit_with_a_record(ran) -> None:
    prepared, result = ran
    root = prepared.root
    assert _log(root, "-1") == ["[DATALAD RUNCMD] Convert to NWB"]
    assert dsops.git(root, "rev-parse", "HEAD").decode().strip() == result.commit
    record = result.record
    assert record["cmd"] == "python scripts/convert.py"
    assert record["exit"] == 0 and record["dsid"] == prepared.dataset_id
    assert record["outputs"] == [OUTPUT]
    assert set(record["inputs"]) == {"inputs/rec", "scripts/convert.py", "scripts/metadata.json"}
    # The script was committed before it ran, and the NWB file is annexed.
    assert "Add conversion script scripts/convert.py" in _log(root, "-2")
    key = result.outputs[OUTPUT]
    assert key.endswith(".nwb") and not key.startswith("git:")
    assert (root / OUTPUT).is_symlink()
    assert dsops.git(root, "status", "--porcelain", "--", "outputs", "scripts") == b""
    assert json.dumps(result.to_dict())


def test_datalad_rerun_leaves_the_annex_key_unchanged(ran) -> None:
    prepared, result = ran
    root = prepared.root
    commits = _log(root)
    results = dsops.dl().rerun(
        revision=result.commit,
        dataset=str(root),
        result_renderer="disabled",
        on_failure="ignore",
        return_type="list",
        result_xfm=None,
    )
    dsops.check_results(results, "rerun")
    assert _log(root) == commits  # unchanged output: no new commit
    assert engine.content_ids(root, "HEAD", [OUTPUT]) == result.outputs


def test_rerun_in_clone_reproduces_the_output(ran) -> None:
    prepared, result = ran
    verified = engine.rerun_in_clone(prepared.root, result.commit)
    assert verified.identical, verified.to_dict()
    assert verified.new_commit is None
    assert [o.recorded for o in verified.outputs] == [result.outputs[OUTPUT]]


def test_failing_script_names_its_error(tmp_path, recording_size) -> None:
    prepared = _prepare(tmp_path / "conversion", recording_size)
    settings_path = prepared.root / "scripts" / "metadata.json"
    settings = json.loads(settings_path.read_text())
    settings["conversion"]["source_data"]["stream_id"] = "imec7.ap"
    settings_path.write_text(json.dumps(settings))
    with pytest.raises(ConversionError) as info:
        engine.run_conversion(prepared.root, "scripts/convert.py", ["inputs/rec"], [OUTPUT], "x")
    assert "exit 1" in info.value.message
    assert "imec7.ap" in info.value.message
    assert "conversion-error.log" in (info.value.hint or "")
    assert not any(s.startswith("[DATALAD RUNCMD]") for s in _log(prepared.root))
