"""Paths outside the roots and bad calls: refused with a tool error, recorded, server still up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_neurodata_conversion.mcp_server.paths import PathRefused, Roots
from agentic_neurodata_conversion.mcp_server.redact import REDACTED, redact, sanitize

from .conftest import call, fails, serve, tool_calls


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.yaml").write_text("NWBFile: {}\n")
    return folder


# ---------------------------------------------------------------------- units


def test_roots_refuse_dotdot_absolute_and_symlinks(root: Path, outside: Path) -> None:
    roots = Roots([root])
    (root / "link-out").symlink_to(outside)
    (root / "link-in").symlink_to(root / "rec")
    assert roots.resolve("rec") == (root / "rec").resolve()
    assert roots.resolve(str(root / "rec")) == (root / "rec").resolve()
    assert roots.resolve("rec/../rec") == (root / "rec").resolve()
    assert roots.resolve("link-in") == (root / "rec").resolve()
    for given, why in [
        ("../outside", "'..' lead"),
        ("rec/../../outside/secret.yaml", "'..' lead"),
        (str(outside / "secret.yaml"), "absolute path"),
        ("link-out", "symlink"),
        ("link-out/secret.yaml", "symlink"),
        ("", "empty"),
        ("rec\0x", "NUL"),
    ]:
        with pytest.raises(PathRefused, match=why) as refused:
            roots.resolve(given)
        assert str(root.resolve()) in str(refused.value)  # names the roots


def test_roots_refuse_a_folder_holding_a_symlink_out(root: Path, outside: Path) -> None:
    roots = Roots([root])
    (root / "rec" / "extra.meta").symlink_to(outside / "secret.yaml")
    with pytest.raises(PathRefused, match="holds a symlink extra.meta"):
        roots.check_tree("rec", roots.resolve("rec"))


def test_several_roots(root: Path, outside: Path) -> None:
    roots = Roots([root, outside])
    assert roots.resolve(str(outside / "secret.yaml")) == (outside / "secret.yaml").resolve()
    assert roots.resolve("rec") == (root / "rec").resolve()  # relative: from the first root


def test_redaction() -> None:
    data = {
        "api_key": "k",
        "nested": [{"Password": "p", "ok": 1}, {"Authorization": "Bearer abc"}],
        "note": "sent Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345 to it",
        "prose": "the bearer of the news",
        "long": "x" * 5000,
        "many": list(range(300)),
    }
    clean = sanitize(data)
    assert clean["api_key"] == REDACTED
    assert clean["nested"] == [{"Password": REDACTED, "ok": 1}, {"Authorization": REDACTED}]
    assert "abcdefghijklmnop" not in clean["note"] and REDACTED in clean["note"]
    assert clean["prose"] == "the bearer of the news"
    assert clean["long"].endswith("[1000 more characters]")
    assert clean["many"][-1] == "... 100 more items" and len(clean["many"]) == 201
    assert redact(data)["long"] == "x" * 5000  # redact() keeps data whole
    assert data["api_key"] == "k"  # the original is untouched


# ---------------------------------------------------------------------- through the server


@pytest.mark.anyio
@pytest.mark.slow
async def test_path_escapes_are_refused_and_recorded(
    root: Path, outside: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    (root / "link-out").symlink_to(outside)
    (root / "meta-link.yaml").symlink_to(outside / "secret.yaml")
    async with serve(root, log) as client:
        for source in ("../outside", str(outside), "link-out"):
            text = await fails(client, "start_conversion", source=source)
            assert "outside the allowed roots" in text and str(root) in text
        await call(client, "start_conversion", source="rec", conversion_id="c1")
        await call(client, "detect_format", conversion_id="c1")
        refused = [
            ("save_artifact", {"path": "../outside/secret.yaml", "artifact_type": "input_data"}),
            (
                "save_artifact",
                {"path": str(outside / "secret.yaml"), "artifact_type": "input_data"},
            ),
            ("extract_metadata", {"metadata_file": "meta-link.yaml"}),
        ]
        for tool, arguments in refused:
            text = await fails(client, tool, conversion_id="c1", **arguments)
            assert "is refused" in text and "outside the allowed roots" in text
        assert (await call(client, "get_status", conversion_id="c1"))["stage"] == "detect"

    calls = tool_calls(root / "out" / "conversion_c1")
    assert [(c["input_data"]["tool"], c["output_data"]["status"]) for c in calls] == [
        ("start_conversion", "ok"),
        ("detect_format", "ok"),
        ("save_artifact", "refused"),
        ("save_artifact", "refused"),
        ("extract_metadata", "refused"),
        ("get_status", "ok"),
    ]
    assert not (root / "out" / "conversion_c1" / "inputs" / "secret.yaml").exists()
    # Refused starts name no conversion: they are in the server's audit log.
    audited = [
        json.loads(line.split("anc.mcp.audit: ", 1)[1])
        for line in log.read_text().splitlines()
        if "anc.mcp.audit: " in line
    ]
    assert [(a["tool"], a["status"]) for a in audited] == [("start_conversion", "refused")] * 3


@pytest.mark.anyio
@pytest.mark.slow
async def test_bad_calls_get_actionable_errors_and_the_server_keeps_serving(
    root: Path, tmp_path: Path
) -> None:
    async with serve(root, tmp_path / "server.log") as client:
        text = await fails(client, "run_conversion", conversion_id="nope")
        assert "unknown conversion id 'nope'" in text and "list_conversions" in text
        assert "contains '/'" in await fails(client, "get_status", conversion_id="../x")
        assert "Unknown tool" in await fails(client, "convert_everything")

        await call(client, "start_conversion", source="rec", conversion_id="c1")
        assert "has no stream 'imec9.ap' (its streams: 'imec0.ap')" in await fails(
            client, "detect_format", conversion_id="c1", stream="imec9.ap"
        )
        assert "call detect_format first" in await fails(
            client, "extract_metadata", conversion_id="c1"
        )
        assert "call extract_metadata first" in await fails(
            client, "run_conversion", conversion_id="c1"
        )
        assert "call run_conversion first" in await fails(
            client, "validate_conversion", conversion_id="c1"
        )
        assert "call validate_conversion first" in await fails(
            client, "finalize_conversion", conversion_id="c1"
        )
        decision = {"conversion_id": "c1", "field": "Subject.species", "value": "Mus musculus"}
        assert "less than or equal to 1" in await fails(
            client, "record_decision", **decision, confidence=2.0
        )
        assert "'human_confirmed'" in await fails(
            client, "record_decision", **decision, confidence=0.5, confidence_level="sure"
        )
        assert "valid number" in await fails(
            client, "record_decision", **decision, confidence="high"
        )
        assert "'ai_generated'" in await fails(
            client, "record_decision", **decision, confidence=0.5, source="a hunch"
        )
        assert "belong to the pipeline" in await fails(
            client, "update_pipeline_state", conversion_id="c1", updates={"stage": "validate"}
        )
        assert "'copy'" in await fails(
            client, "start_conversion", source="rec", input_mode="borrow"
        )
        assert "already holds conversion" in await fails(
            client, "start_conversion", source="rec", conversion_id="c1"
        )

        ended = await call(
            client, "finalize_conversion", conversion_id="c1", outcome="cancelled", reason="test"
        )
        assert (ended["status"], ended["tag"]) == ("cancelled", None)
        assert "is finalized (cancelled)" in await fails(
            client, "record_decision", **decision, confidence=0.5
        )
        assert "is finalized" in await fails(client, "run_conversion", conversion_id="c1")
        # Still serving, and reading a finalized conversion works.
        assert (await call(client, "get_status", conversion_id="c1"))["status"] == "cancelled"

    statuses = [
        (c["input_data"]["tool"], c["output_data"]["status"])
        for c in tool_calls(root / "out" / "conversion_c1")
    ]
    assert statuses == [
        ("start_conversion", "ok"),
        ("detect_format", "error"),
        ("extract_metadata", "error"),
        ("run_conversion", "error"),
        ("validate_conversion", "error"),
        ("finalize_conversion", "started"),
        ("finalize_conversion", "error"),
        *[("record_decision", "error")] * 4,
        ("update_pipeline_state", "error"),
        ("finalize_conversion", "started"),  # then finalized: later calls go to the audit log
    ]
