"""The HTML report in headless Chromium: filters, history, charts, no network, big journals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker
from agentic_neurodata_conversion.reports import build_report, write_report

from .conftest import NEEDS_REVIEW, TRICKY_TEXT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page:
    """A page that records requests and script errors, so tests can assert there were none."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=5000)

    def rows(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#fields-table tbody tr[data-field]", "rows => rows.map(r => r.dataset.field)"
        )


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def open_(path: Path) -> Page:
        page = Page(browser, path.as_uri())
        pages.append(page)
        return page

    yield open_
    for p in pages:
        p.page.close()
        assert not p.errors, p.errors
        assert all(u.startswith(("file:", "data:", "about:")) for u in p.requests), p.requests


def test_review_filter_history_and_screenshot(rich: Path, open_page: Any, tmp_path: Path) -> None:
    p = open_page(rich / "reports" / "provenance_report.html")
    page = p.page
    assert page.title() == "Conversion rich: provenance report"
    assert not page.is_visible("#integrity-warning")
    all_rows = p.rows()
    assert len(all_rows) == 12 and all_rows == sorted(all_rows)
    assert page.inner_text("#filter-review") == "Needs review (2)"

    page.click("#filter-review")
    assert p.rows() == NEEDS_REVIEW
    badges = page.eval_on_selector_all(
        "#fields-table tbody tr",
        "rows => rows.map(r => r.querySelector('.badge.review').textContent)",
    )
    assert badges == ["needs review", "needs review"]
    species = page.locator("#fields-table tbody tr[data-field='Subject.species'] td")
    assert species.all_inner_texts()[1:5] == [
        "Mus musculus",
        "ai_generated",
        "low_evidence 0.40",
        "gpt-4o",
    ]

    page.click("#fields-table tbody tr[data-field='Subject.species']")
    detail = page.locator("#field-detail")
    assert detail.is_visible()
    assert detail.locator(".final-value").inner_text() == "Mus musculus"
    assert "confidence 0.40 is below 0.5" in detail.locator(".reasons").inner_text()
    assert detail.locator(".history-row").count() == 1

    page.click("#filter-conflict")
    assert p.rows() == ["NWBFile.lab", "NWBFile.session_description"]
    page.click("#fields-table tbody tr[data-field='NWBFile.lab']")
    history = detail.locator(".history-row td:nth-child(7)").all_inner_texts()
    assert history == ["Lab B", "Lab A"]
    conflict = detail.locator("table.conflict td.value").all_inner_texts()
    assert conflict == ["Lab B", "Lab A"]
    assert "human_override by user → Lab A" in detail.locator("h4").all_inner_texts()[-1]

    page.click("#filter-all")
    page.fill("#field-search", "ünï")
    page.wait_for_function(
        "document.querySelectorAll('#fields-table tbody tr[data-field]').length === 1"
    )
    notes = page.locator("#fields-table tbody tr[data-field='NWBFile.notes'] td.value")
    assert notes.inner_text().startswith('He said "hi"')
    assert page.evaluate("document.querySelectorAll('main b').length") == 0  # text, not markup
    assert (
        page.evaluate(
            "JSON.parse(document.getElementById('report-data').textContent).fields"
            ".find(r => r[0] === 'NWBFile.notes')[1]"
        )
        == TRICKY_TEXT
    )

    page.wait_for_selector("body[data-charts='1']")
    assert page.locator("#timeline-chart svg").count() == 1
    assert page.locator("#graph-chart .node-agent").count() >= 5
    assert page.locator("#chart-sources rect.bar").count() == 5
    assert page.locator("#validation-body").inner_text().startswith("outputs/session.nwb")
    page.click("#event-filters button[data-kind='problems']")
    statuses = page.locator("#events-table tbody tr td:nth-child(6)").all_inner_texts()
    assert statuses == ["error", "error", "retry"]

    page.click("#filter-review")
    shot = tmp_path / "report-needs-review.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000


def test_broken_chain_warning_is_visible(
    broken: tuple[Path, int], open_page: Any, tmp_path: Path
) -> None:
    path, seq = broken
    out = write_report(path, "html", tmp_path / "broken.html")
    p = open_page(out)
    warning = p.page.locator("#integrity-warning")
    assert warning.is_visible()
    assert "the journal failed its integrity check" in warning.inner_text()
    assert f"seq {seq}" in warning.inner_text()
    box = warning.bounding_box()
    assert box is not None and box["y"] < 10  # first thing on the page
    p.page.click("#filter-untrusted")
    assert p.rows() == ["Subject.species"]
    assert "untrusted" in p.page.get_attribute("#fields-table tbody tr", "class")


def test_thousands_of_fields_are_paged(tmp_path: Path, open_page: Any) -> None:
    t = ConversionProvenanceTracker("big", tmp_path / "out")
    try:
        for i in range(3000):
            t.record_field(f"Field.f{i:04d}", i, "ai_generated", confidence=(i % 100) / 100)
    finally:
        t.close()
    out = tmp_path / "big.html"
    out.write_text(build_report(t.path, "html"))
    p = open_page(out)
    page = p.page
    assert p.rows()[:2] == ["Field.f0000", "Field.f0001"] and len(p.rows()) == 50
    assert page.inner_text("#fields-pager .range") == "1–50 of 3000"
    page.click("#fields-pager .next")
    assert p.rows()[0] == "Field.f0050"
    page.click("#filter-review")
    assert page.inner_text("#fields-pager .range") == "1–50 of 1500"
    assert page.locator("#fields-table tbody tr").count() == 50
