"""An agent walks a user through the review list: a conversion finalized as failed because the
subject's data were missing is revised through `revise_conversion` into a completed one, one
journalled iteration and one tag per correction."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentic_neurodata_conversion.journal.chain import iter_records, verify_journal

from .conftest import call, fails, serve

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_failed_for_missing_metadata_revised_into_completed(
    root: Path, tmp_path: Path
) -> None:
    async with serve(root, tmp_path / "server.log") as client:
        cid = (await call(client, "start_conversion", source="rec", conversion_id="r1"))[
            "conversion_id"
        ]
        await call(client, "detect_format", conversion_id=cid)
        metadata = await call(client, "extract_metadata", conversion_id=cid)
        assert "Subject.subject_id" in metadata["needs_review"]
        failed = await call(
            client,
            "finalize_conversion",
            conversion_id=cid,
            outcome="failed",
            reason="the subject's data are missing: asked the lab",
        )
        assert failed["status"] == "failed" and failed["tag"] is None

        bad = await fails(
            client, "revise_conversion", conversion_id=cid, values={"Subject.sex": "X"}
        )
        assert "field Subject.sex" in bad
        first = await call(
            client,
            "revise_conversion",
            conversion_id=cid,
            values={
                "Subject.subject_id": "mouse-7",
                "Subject.species": "Mus musculus",
                "Subject.sex": "M",
                "Subject.age": "P60D",
                "NWBFile.experimenter": ["Doe, Jane"],
            },
            reason="the lab's answer",
        )
        assert first["status"] == "completed" and first["revision"] == 2
        assert first["tag"] == "conversion-r1-v2" and first["nwb_remade"]
        second = await call(
            client,
            "revise_conversion",
            conversion_id=cid,
            values={"NWBFile.session_id": "s7"},
            reason="the session's name in the lab book",
        )
        assert second["tag"] == "conversion-r1-v3" and second["revision"] == 3
        report = await call(
            client, "get_field_report", conversion_id=cid, field="Subject.subject_id"
        )
        assert report["fields"]["Subject.subject_id"]["final_value"] == "mouse-7"

    conversion = root / "out" / "conversion_r1"
    assert verify_journal(conversion).ok
    begins = [r for r in iter_records(conversion / "provenance" / "journal")
              if r.operation == "begin_revision"]  # fmt: skip
    assert [b.output_data["previous_status"] for b in begins] == ["failed", "completed"]
    assert begins[0].agent == "test-agent"
    tags = subprocess.run(
        ["git", "-C", str(conversion), "tag"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert tags == ["conversion-r1-v2", "conversion-r1-v3"]
