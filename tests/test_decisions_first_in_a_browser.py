"""Decisions first, as a manager sees them at 1280 px (a laptop) and 390 px (a phone): the row of a
candidate who has had only updates so far says so, and shows Reject, Next step and Offer before
Send update, in reading order and on the screen; nothing reaches past the window, and axe-core
finds no accessibility violation. The escalated row offers the decision first without the mark.

The same organisation and clock as ``test_keyboard``.
"""

from __future__ import annotations

import re

import pytest

from .test_browser import OUTSIDE, WIDTHS, _fits, _violations, chromium  # noqa: F401  (a fixture)
from .test_keyboard import UPDATED, site, visit  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

#: Where each of a row's answers lies: its order in the page, and its box.
ANSWERS = """(row) => [...row.querySelectorAll(".row-answer > a, .row-answer > button")].map((el) => {
  const r = el.getBoundingClientRect();
  const seen = [...el.childNodes].filter((n) => !(n.classList && n.classList.contains("visually-hidden")));
  const text = seen.map((n) => n.textContent).join("").trim();
  return {text, top: Math.round(r.top), left: Math.round(r.left), shown: r.width > 0};
})"""


def _row(page, name: str):
    return page.locator("table.table-triage tbody tr").filter(
        has=page.get_by_role("rowheader").get_by_role("link", name=name, exact=True)
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_the_row_after_an_update_is_marked_and_offers_the_decision_first(visit, width, tmp_path):  # noqa: F811
    page = visit("/", width)
    page.screenshot(path=str(tmp_path / f"triage-{width}.png"), full_page=True)
    row = _row(page, UPDATED)
    assert row.get_by_text("Only updates so far").is_visible()
    answers = row.evaluate(ANSWERS)
    assert [a["text"] for a in answers] == ["Reject…", "Next step…", "Offer…", "Send update"]
    assert all(a["shown"] for a in answers)
    reject, update = answers[0], answers[-1]
    assert (reject["top"], reject["left"]) < (update["top"], update["left"]), (
        "Send update comes first on screen"
    )
    # Named for a screen reader: which candidate it rejects.
    assert row.get_by_role("link", name=re.compile(f"^Reject {UPDATED}")).is_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_escalated_row_offers_the_decision_first_without_the_mark(visit, width):  # noqa: F811
    page = visit("/", width)
    row = page.locator("table.table-triage tbody tr[data-state='escalated']").first
    assert row.get_by_text("Only updates so far").count() == 0
    texts = [a["text"] for a in row.evaluate(ANSWERS)]
    assert texts[:3] == ["Reject…", "Next step…", "Offer…"]


@pytest.mark.parametrize("width", WIDTHS)
def test_rows_that_offer_the_decision_first_fit_the_window_and_pass_axe(visit, width):  # noqa: F811
    page = visit("/", width)
    assert not _fits(page), _fits(page)
    assert page.evaluate(OUTSIDE, page.locator("body").element_handle()) == []
    found = _violations(page)
    assert not found, f"axe-core on the triage page at {width} px:\n{found}"
