"""Issue 16: the lab's provenance index against scanning the journals, in one run.

Builds N conversions (default 10,000) of 100 records each with the journal API
(``index.synthetic``: no DataLad, no NeuroConv): 4 sessions per subject, 1 subject in 100
with sessions that disagree on species, placeholders, AI guesses, failed tool calls, four
NeuroConv versions, inputs shared by two conversions. Prints the full rebuild time, the
incremental add of one conversion (goal <= 10 ms, median of 7), the median of 7 runs of each
query of the issue (goal <= 50 ms, each a whole `index.query` call: open, check names,
answer, close), and the same questions answered by scanning every journal with the
tolerant reader (goal: index >= 100x faster). The scans' answers are checked against the
index's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import report

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.index import Query
from agentic_neurodata_conversion.index.build import add_conversions
from agentic_neurodata_conversion.index.synthetic import (
    ConversionSpec,
    FieldSpec,
    make_conversion,
    records_of,
)
from agentic_neurodata_conversion.journal.chain import JOURNAL_DIR
from agentic_neurodata_conversion.journal.reader import read_entries

RECORDS = 100
VERSIONS = ("0.9.0", "0.10.0", "0.10.1", "0.10.2")


def spec_of(i: int, raw: Path, rng: random.Random) -> ConversionSpec:
    subject = f"m{i // 4}"
    species = "Rattus norvegicus" if (i // 4) % 100 == 0 and i % 4 == 3 else "Mus musculus"
    fields = [FieldSpec(f"NWBFile.field_{k:02d}", f"value {k}") for k in range(70)]
    if i % 20 == 0:
        fields.append(FieldSpec("Subject.age", "P0D/", "domain_knowledge", 0.2, "placeholder"))
    else:
        fields.append(FieldSpec("Subject.age", "P90D", "user_provided", 1.0, "human_confirmed"))
    confidence = round(rng.random(), 2)
    level = "low_evidence" if confidence < 0.5 else "medium_evidence"
    fields.append(FieldSpec("Subject.sex", "F", "ai_generated", confidence, level, agent="agent"))
    calls = [("detect_format", "ok"), ("extract_metadata", "ok")]
    calls.append(("run_conversion", "error" if i % 50 == 0 else "ok"))
    spec = ConversionSpec(
        f"s{i:05d}",
        subject=subject,
        species=species,
        inputs=[raw / f"r{i // 2:05d}.bin"],  # two conversions per input file
        neuroconv=VERSIONS[i % len(VERSIONS)],
        fields=fields,
        tool_calls=calls,
    )
    spec.padding = RECORDS - len(records_of(spec, raw))
    return spec


def build_lab(folder: Path, count: int) -> Path:
    rng = random.Random(16)
    raw = folder / "raw"
    raw.mkdir()
    for j in range(count // 2 + 8):  # and for the added ones
        (raw / f"r{j:05d}.bin").write_bytes(j.to_bytes(4, "little") * 16)
    lab = folder / "lab"
    lab.mkdir()
    for i in range(count):
        make_conversion(lab, spec_of(i, raw, rng))
    return lab


# ------------------------------------------------------------------ the same questions, by scan


def final_fields(lab: Path) -> Any:
    """(conversion, field -> last record) for every journal: what any scan must read."""
    for conv in sorted(lab.iterdir()):
        journal = conv / JOURNAL_DIR
        if not journal.is_dir():
            continue
        last: dict[str, dict[str, Any]] = {}
        for e in read_entries(journal):
            if e["field"] is not None:
                last[e["field"]] = e
        yield conv.name, last


def scan_placeholder_age(lab: Path) -> list[str]:
    return sorted(
        conv
        for conv, last in final_fields(lab)
        if last.get("Subject.age", {}).get("confidence_level") == "placeholder"
    )


def scan_inconsistent_subjects(lab: Path) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], set[str]] = {}
    for _, last in final_fields(lab):
        subject = last.get("Subject.subject_id", {}).get("value")
        if not subject:
            continue
        for name, e in last.items():
            if e["confidence_level"] in ("placeholder", "unknown"):
                continue
            if name.startswith("Subject.") and name != "Subject.subject_id":
                seen.setdefault((subject, name), set()).add(repr(e["value"]))
    return sorted(k for k, values in seen.items() if len(values) > 1)


def median_ms(fn: Any, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anc-bench-index-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        lab = build_lab(folder, args.conversions)
        report(
            f"build {args.conversions} conversions x {RECORDS} records (journal API)",
            time.perf_counter() - started,
            "s",
        )
        started = time.perf_counter()
        built = index.rebuild(lab)
        report(f"full rebuild ({built.records} records)", time.perf_counter() - started, "s")

        raw = folder / "raw"
        rng = random.Random(1)
        adds = []
        for k in range(7):
            path = make_conversion(lab, spec_of(args.conversions + k, raw, rng))
            started = time.perf_counter()
            add_conversions(lab, [path])
            adds.append((time.perf_counter() - started) * 1000)
        report(
            "incremental add of one conversion (median of 7)",
            statistics.median(adds),
            "ms",
            "goal <= 10 ms",
        )

        shared = str(raw / "r00010.bin")
        queries = {
            "--field Subject.age --level placeholder": Query(
                field="Subject.age", level="placeholder"
            ),
            "--needs-review": Query(needs_review=True),
            "--source ai_generated --max-confidence 0.5": Query(
                source="ai_generated", max_confidence=0.5
            ),
            "--tool run_conversion --status error": Query(tool="run_conversion", status="error"),
            "--derived-from raw/r00010.bin": Query(derived_from=shared),
            "--tool-version neuroconv<0.10.2": Query(tool_version="neuroconv<0.10.2"),
            "--inconsistent Subject": Query(inconsistent="Subject"),
        }
        answers = {}
        for label, q in queries.items():
            answers[label] = index.query(lab, q)
            ms = median_ms(lambda q=q: index.query(lab, q))
            report(f"query {label} ({answers[label].total} rows)", ms, "ms", "goal <= 50 ms")

        placeholder_q = queries["--field Subject.age --level placeholder"]
        q_ms = median_ms(lambda: index.query(lab, placeholder_q))
        started = time.perf_counter()
        scanned = scan_placeholder_age(lab)
        scan_s = time.perf_counter() - started
        assert scanned == sorted(
            r.conversion for r in answers["--field Subject.age --level placeholder"].rows
        )
        report("scan: placeholder Subject.age by reading every journal", scan_s, "s")
        report("  ratio scan / index", scan_s * 1000 / q_ms, "x", "goal >= 100x")

        i_ms = median_ms(lambda: index.query(lab, queries["--inconsistent Subject"]))
        started = time.perf_counter()
        pairs = scan_inconsistent_subjects(lab)
        scan_s = time.perf_counter() - started
        assert pairs == [(r.subject, r.field) for r in answers["--inconsistent Subject"].rows]
        report("scan: subjects whose sessions disagree, by reading every journal", scan_s, "s")
        report("  ratio scan / index", scan_s * 1000 / i_ms, "x", "goal >= 100x")


if __name__ == "__main__":
    main()
