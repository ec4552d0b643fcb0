"""Every HTML email read on a 375 px phone in Chromium: no zooming out, nothing wider than the screen.

Each kind of candidate email, a manager's rewritten text, an admin's edited template and the digest
are rendered with real sizes (a 1,300-character feedback paragraph without a line break, a long
unbroken address, a name with accents) and loaded into a phone-sized, touch, mobile Chromium. The
layout must be the phone's own width (the viewport meta is honoured, so no 980 px desktop layout),
and every paragraph's box must sit inside it. Each is read twice: as sent, and as Gmail's web client
shows it, without ``<head>`` and without the attributes of ``<body>``, where only styles written on
the elements survive. A part without a viewport is the control: Chromium lays it out 980 px wide.

Chromium as in ``test_browser``: outside CI, without it, these skip with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from feedback_sla.digest import service as digest_service
from feedback_sla.emails import composing
from feedback_sla.emails.models import CANDIDATE_KINDS
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits

from .factories import PositionFactory, UserFactory
from .test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
NAME = "Zoë Ångström-Núñez Þórsdóttir"
#: What managers really write: one paragraph of 1,300 characters without a line break.
LONG_FEEDBACK = (
    "Thank you for the thoughtful answers you gave us during the interviews; the system design "
    "discussion was a highlight and your questions about our on-call rota were exactly right. "
) * 8
LONG_FEEDBACK = LONG_FEEDBACK[:1_300]
#: A word no line break can fall inside: a pasted link.
UNBROKEN = "https://careers.northwind-logistics.example/applications/" + "x" * 90
NOW = dt.datetime(2026, 11, 18, 9, 0, tzinfo=dt.UTC)
BASE_URL = "https://feedback.northwind-logistics-worldwide.example"

MEASURE = """() => {
  const boxes = [...document.querySelectorAll('p, blockquote, div, a, strong')].map(e => {
    const r = e.getBoundingClientRect();
    return {tag: e.tagName, left: r.left, right: r.right, width: r.width, text: e.textContent.length};
  });
  const p = [...document.querySelectorAll('p, blockquote')];
  const widest = p.reduce((a, b) => (b.textContent.length > a.textContent.length ? b : a), p[0]);
  return {
    layout: window.innerWidth,
    scroll: document.documentElement.scrollWidth,
    scale: window.visualViewport.scale,
    boxes,
    widest: {text: widest.textContent.length, width: widest.getBoundingClientRect().width,
             height: widest.getBoundingClientRect().height,
             font: getComputedStyle(widest).fontFamily, size: getComputedStyle(widest).fontSize},
  };
}"""


@pytest.fixture(scope="module")
def phone():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, java_script_enabled=True
        )
        yield context
        context.close()
        browser.close()


def measure(phone, html: str) -> dict:
    """Load ``html`` in a fresh tab (a tab keeps the viewport of what it showed before)."""
    page = phone.new_page()
    try:
        page.set_content(html, wait_until="load")
        return page.evaluate(MEASURE)
    finally:
        page.close()


def as_gmail_shows_it(html: str) -> str:
    """The part as Gmail's web client puts it in its own (phone-sized) page: no <head>, and <body>
    replaced by a plain <div>, its attributes gone."""
    body = re.search(r"<body\b[^>]*>(.*)</body>", html, re.DOTALL | re.IGNORECASE).group(1)
    return (
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'</head><body><div class="gmail-message">{body}</div></body></html>'
    )


def assert_reads_on_a_phone(page, html: str, *, what: str, longest: int) -> None:
    for shown, label in ((html, "as sent"), (as_gmail_shows_it(html), "as Gmail shows it")):
        found = measure(page, shown)
        where = f"{what}, {label}"
        assert found["layout"] == PHONE["width"], f"{where}: laid out {found['layout']} px wide"
        assert found["scroll"] <= PHONE["width"], f"{where}: {found['scroll']} px to scroll sideways"
        assert found["scale"] == 1, f"{where}: zoomed out to {found['scale']}"
        wide = [b for b in found["boxes"] if b["right"] > PHONE["width"] + 0.5 or b["left"] < -0.5]
        assert not wide, f"{where}: boxes outside the screen: {wide[:3]}"
        widest = found["widest"]
        assert widest["text"] >= longest, f"{where}: the long paragraph is missing"
        assert widest["width"] <= PHONE["width"] - 16, f"{where}: the paragraph is {widest['width']} px wide"
        if longest >= 1_300:  # some 180 characters fit on a line of 16 px text 300 px wide
            assert widest["height"] > 15 * 24, f"{where}: the long paragraph did not wrap"
        assert "Arial" in widest["font"] and float(widest["size"][:-2]) >= 14, f"{where}: {widest}"


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_each_candidate_email_reads_at_375_px_without_zooming_out(app, session, phone, kind):
    values = {
        **composing.SAMPLE,
        "candidate_first_name": NAME.split()[0],
        "candidate_name": NAME,
        "manager": "Anna-Katharina von Hohenberg-Lindqvist",
        "feedback": f"{LONG_FEEDBACK} {UNBROKEN}",
        "status_url": f"{BASE_URL}/status/{'t' * 43}",
    }
    html = composing.render(session, kind, values).html
    longest = 1_300 if kind.value != "acknowledgement" else 100  # the acknowledgement has no feedback
    assert_reads_on_a_phone(phone, html, what=kind.value, longest=longest)


def test_a_managers_rewritten_text_and_an_admins_edit_read_at_375_px(app, session, phone):
    rewritten = composing.text_to_html(f"Dear {NAME},\n\n{LONG_FEEDBACK} {UNBROKEN}\n\nMaria")
    assert_reads_on_a_phone(phone, str(rewritten), what="a rewritten text", longest=1_300)
    edited = (
        "<style>.note { font-family: Arial, sans-serif; font-size: 16px; overflow-wrap: anywhere; "
        "padding: 0 12px; }</style>"
        '<p class="note">Dear {{ candidate_name }},</p><p class="note">{{ feedback }}</p>'
    )
    composing.save_template(session, "rejection", "Hello", "Dear {{ candidate_name }}", edited, None, NOW)
    html = composing.render(
        session,
        "rejection",
        {**composing.SAMPLE, "candidate_name": NAME, "feedback": f"{LONG_FEEDBACK} {UNBROKEN}"},
    ).html
    assert_reads_on_a_phone(phone, html, what="an edited template", longest=1_300)


def test_the_digest_reads_at_375_px(app, session, phone):
    settings = settings_service.load(session)
    manager = UserFactory(name="Anna-Katharina von Hohenberg-Lindqvist", time_zone="Europe/Berlin")
    position = PositionFactory(
        manager=manager, title="Principal Site Reliability Engineer, Platform Infrastructure", time_zone="UTC"
    )
    for number in range(3):
        waits.add_candidate(
            session,
            position,
            f"{NAME} {number}",
            f"candidate{number}@example.org",
            NOW - dt.timedelta(days=20 + number),
            settings,
        )
    session.commit()
    digest = digest_service.digest_for(session, NOW, settings, manager, NOW.date(), BASE_URL)
    digest = dataclasses.replace(digest, unsubscribe_url=f"{BASE_URL}/digest/unsubscribe/{'u' * 40}")
    assert len(digest.items) == 3
    _, html = digest_service.render(digest)
    assert_reads_on_a_phone(phone, html, what="the digest", longest=60)


def test_without_a_viewport_chromium_lays_a_phone_out_980_px_wide(app, session, phone):
    """The control: what every candidate email did before it had a viewport."""
    html = composing.render(session, "rejection", composing.SAMPLE).html
    bare = re.sub(r'<meta name="viewport"[^>]*>', "", html)
    assert measure(phone, bare)["layout"] > 900  # 980 px, give or take a rounding
