"""The metrics page, the candidates list and the email templates list read on a phone (390 px) and
a laptop (1280 px): every figure of the summary is shown, chart labels stay legible (11 px or more
as drawn), and names, subjects and addresses wrap between words, never inside one.

On the demo organisation of ``test_browser`` (its module's server and logins); Chromium as there.
"""

from __future__ import annotations

import pytest

from .test_browser import ADMIN, MANAGER, WIDTHS, _fits, chromium, site, visit  # noqa: F401

pytestmark = pytest.mark.browser

FIGURES = (
    "waits",
    "answered",
    "median_days",
    "p90_days",
    "within_deadline",
    "open_now",
    "overdue_now",
    "by_autopilot",
)

#: Every chart label drawn smaller than 11 px: its text and its size as drawn.
SMALL_LABELS = """() => [...document.querySelectorAll("svg text")]
  .map((t) => [t.textContent, t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize)])
  .filter(([, size]) => size < 11)
  .map(([text, size]) => `${text} at ${size.toFixed(1)} px`)"""

#: Words (runs of text without a space) of the elements that ``selector`` finds which the browser
#: broke across two lines.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.checkVisibility()) continue;
      for (const match of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_metrics_summary_shows_every_figure_named(visit, width):  # noqa: F811
    page = visit(MANAGER, width, "/metrics")
    row = page.locator("#metrics-summary tbody tr").first
    for figure in FIGURES:
        cell = row.locator(f"[data-figure='{figure}']")
        assert cell.is_visible(), f"{figure} is not shown at {width} px"
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{figure} lies outside the window"
    assert "escalated included" in row.locator("[data-figure='overdue_now']").get_attribute("data-label")
    assert not _fits(page), _fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_metrics_charts_are_drawn_legibly(visit, width):  # noqa: F811
    page = visit(MANAGER, width, "/metrics")
    assert page.locator("svg text").count() > 10
    assert page.evaluate(SMALL_LABELS) == []
    assert not _fits(page), _fits(page)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("who", "path", "selector"),
    [
        (MANAGER, "/candidates", "tbody td"),
        (ADMIN, "/candidates", "tbody td"),
        (ADMIN, "/admin/emails", "tbody td"),
        (MANAGER, "/metrics", "#metrics-summary tbody"),
    ],
)
def test_lists_wrap_between_words(visit, who, path, selector, width):  # noqa: F811
    page = visit(who, width, path)
    assert page.locator(selector).count() > 0
    assert page.evaluate(BROKEN_WORDS, selector) == []
