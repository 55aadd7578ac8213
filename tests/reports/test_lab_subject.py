"""The HTML report of a conversion in an indexed lab shows (and links to) its subject's
other sessions and their disagreements, in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic_neurodata_conversion import index
from agentic_neurodata_conversion.index.synthetic import ConversionSpec, make_conversion
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker
from agentic_neurodata_conversion.reports import write_report

from .test_browser import Page


def test_report_links_to_the_subjects_sessions(tmp_path: Path, browser: Any) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    first = make_conversion(lab, ConversionSpec("m1-day1", subject="m1"))
    (first / "reports").mkdir()
    make_conversion(lab, ConversionSpec("m2-day1", subject="m2"))
    index.rebuild(lab)

    t = ConversionProvenanceTracker("m1-day2", lab, checkpoint=False, register=False)
    t.record_field("Subject.subject_id", "m1", "user_provided", confidence=1.0)
    t.record_field("Subject.species", "Rattus norvegicus", "user_provided", confidence=1.0)
    t.record_field(
        "Subject.sex", "U", "domain_knowledge", confidence=0.2, confidence_level="placeholder"
    )
    t.finalize_conversion("completed")  # writes its report, then joins the index
    t.close()
    second = t.path
    write_report(first, "html")  # the first session's report, now that the index has both

    page = Page(browser, (second / "reports" / "provenance_report.html").as_uri())
    section = page.page.locator("#lab-subject")
    assert section.locator("h2").inner_text() == "Subject m1 in the lab"
    sessions = section.locator("#lab-sessions tbody tr")
    assert sessions.evaluate_all("rows => rows.map(r => r.dataset.conversion)") == [
        "conversion_m1-day1",
        "conversion_m1-day2",
    ]
    assert "(this report)" in sessions.nth(1).inner_text()
    disagreement = section.locator("#lab-inconsistencies li")
    assert disagreement.count() == 1  # the placeholder sex disagrees with no one
    assert disagreement.get_attribute("data-field") == "Subject.species"
    text = disagreement.inner_text()
    assert 'conversion_m1-day1: "Mus musculus"' in text
    assert 'conversion_m1-day2: "Rattus norvegicus"' in text

    sessions.nth(0).locator("a").click()  # to the other session's own report
    page.page.wait_for_selector("body[data-ready='1']")
    assert page.page.title() == "Conversion m1-day1: provenance report"
    back = page.page.locator("#lab-subject #lab-inconsistencies li")
    assert back.get_attribute("data-field") == "Subject.species"
    assert not page.errors
    assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests)
    page.page.close()

    # a conversion in no indexed lab: no such section
    alone = tmp_path / "alone"
    t = ConversionProvenanceTracker("solo", alone, checkpoint=False, register=False)
    t.record_field("Subject.subject_id", "m1", "user_provided", confidence=1.0)
    t.finalize_conversion("completed")
    t.close()
    assert 'id="lab-subject"' not in (t.path / "reports" / "provenance_report.html").read_text()
