"""A form with errors says so at its top, links each error to its field, and ties it to the field."""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from feedback_sla.models import Role
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import logged_in, served

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: Every template with a form a person fills in: each shows the error summary.
FORM_TEMPLATES = [
    "auth/login.html",
    "auth/password.html",
    "account/settings.html",
    "admin/new_user.html",
    "admin/settings.html",
    "positions/form.html",
    "candidates/new.html",
    "candidates/edit.html",
    "candidates/import.html",
    "emails/customize.html",
    "emails/edit_template.html",
]
CONTROLS = ("input", "select", "textarea")
VOID = {"input", "br", "hr", "img", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


class Form(HTMLParser):
    """What assistive technology reads of a page: controls, the text under each id, the summary."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: dict[str, dict] = {}  # by name
        self.texts: dict[str, str] = {}  # element id -> its text
        self.summary: list[tuple[str | None, str]] = []  # (link target, text) per listed problem
        self.summary_attrs: dict | None = None
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of open elements
        self._in_summary = 0
        self._item: list | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in CONTROLS and a.get("type") not in ("hidden", "submit") and "name" in a:
            self.controls.setdefault(a["name"], a)
        if "data-error-summary" in a:
            self.summary_attrs = a
            self._in_summary = len(self._open) + 1
        if self._in_summary and tag == "li":
            self._item = [None, ""]
        if self._item is not None and tag == "a":
            self._item[0] = a["href"].removeprefix("#")
        if tag in VOID:
            return
        self._open.append((tag, a.get("id")))
        if a.get("id"):
            self.texts.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self._open:
            open_tag, _id = self._open.pop()
            if open_tag == tag:
                break
        if tag == "li" and self._item is not None:
            self.summary.append((self._item[0], " ".join(self._item[1].split())))
            self._item = None
        if self._in_summary and len(self._open) < self._in_summary:
            self._in_summary = 0

    def handle_data(self, data):
        for _tag, element_id in self._open:
            if element_id:
                self.texts[element_id] += data
        if self._item is not None:
            self._item[1] += data

    # --- what the tests ask ---

    def invalid(self) -> set[str]:
        return {name for name, a in self.controls.items() if a.get("aria-invalid") == "true"}

    def description(self, name: str) -> str:
        """The text a screen reader reads after the field's label: its aria-describedby targets."""
        ids = (self.controls[name].get("aria-describedby") or "").split()
        missing = [i for i in ids if i not in self.texts]
        assert not missing, f"aria-describedby of {name} names no element: {missing}"
        return " ".join(" ".join(self.texts[i].split()) for i in ids)

    def id_of(self, name: str) -> str:
        return self.controls[name]["id"]


def page_of(response, status: int) -> Form:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return Form(response.get_data(as_text=True))


def assert_summary(form: Form, expected: dict[str, str]) -> None:
    """The summary lists exactly these fields (name -> words of the message), each a link to it."""
    assert form.summary_attrs is not None, "no error summary"
    assert form.summary_attrs["role"] == "alert"
    assert "There is a problem" in form.texts[form.summary_attrs["aria-labelledby"]]
    linked = {target: message for target, message in form.summary if target}
    assert set(linked) == {form.id_of(name) for name in expected}
    for name, words in expected.items():
        field_id = form.id_of(name)
        assert words in linked[field_id], (name, linked)
        # The message under the field is what its aria-describedby reads first.
        message = " ".join(form.texts[f"{field_id}-error"].split())
        assert message and message in linked[field_id], (name, message, linked)
        assert form.description(name).startswith(message), (name, form.description(name))
    assert form.invalid() == set(expected)


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", email="ann@example.com", role=Role.ADMIN, time_zone="UTC")


@pytest.fixture
def manager():
    return UserFactory(name="Ada Manager", email="ada@example.com", time_zone="UTC")


def test_every_form_template_shows_the_error_summary():
    for name in FORM_TEMPLATES:
        source = (TEMPLATES / name).read_text()
        assert "error_summary(form" in source, name
        assert 'class="alert alert-danger"' not in source or name == "candidates/import.html", name


def test_a_page_without_errors_has_no_summary_and_no_invalid_field(client, session, admin):
    logged_in(client, admin)
    PositionFactory(manager=admin, title="Backend engineer")
    session.commit()
    for url in (
        "/candidates/new",
        "/positions/new",
        "/admin/settings",
        "/account/password",
        "/admin/users/new",
    ):
        form = page_of(client.get(url), 200)
        assert form.summary_attrs is None, url
        assert form.invalid() == set(), url


def test_the_new_candidate_form_links_each_error_to_its_field(client, session, manager):
    position = PositionFactory(manager=manager, title="Backend engineer", time_zone="UTC")
    logged_in(client, manager)
    response = client.post(
        "/candidates/new",
        data={"name": "", "email": "not an address", "position": str(position.id), "stage": "applied"},
    )
    form = page_of(response, 422)
    assert_summary(
        form,
        {"name": "Name: must not be empty", "email": "Email: 'not an address' is not a valid email address"},
    )
    assert form.description("applied_at") == "In the position's time zone. Leave empty for now."
    assert "aria-invalid" not in form.controls["position"]


def test_the_positions_form_links_each_error_to_its_field_and_keeps_the_help(client, session, manager):
    logged_in(client, manager)
    response = client.post(
        "/positions/new",
        data={
            "title": "",
            "time_zone": "Mars/Olympus",
            "application": "5",
            "decision": "abc",
            "follow_up": "0",
        },
    )
    form = page_of(response, 422)
    assert_summary(
        form,
        {
            "title": "Title: This field is required.",
            "time_zone": "Time zone: ",
            "decision": "Business days to decide after an interview: ",
            "follow_up": "Business days to reply to a follow-up: ",
        },
    )
    # The field's help text is still read, after its error.
    assert form.controls["time_zone"]["aria-describedby"] == "time_zone-error time_zone-help"
    assert form.description("time_zone").endswith(
        "Deadlines count business days and end of day in this zone."
    )
    assert form.controls["application"].get("aria-describedby") is None


def test_the_settings_form_links_each_error_and_keeps_its_number_time_and_select_boxes(
    client, session, admin
):
    logged_in(client, admin)
    before = Form(client.get("/admin/settings").get_data(as_text=True))
    assert before.controls["end_of_business_day"]["type"] == "time"
    assert before.controls["warning_business_days"]["type"] == "number"
    assert before.controls["policy_follow_up"]["type"] == "number"
    assert "type" not in before.controls["holiday_calendar"]  # a <select>
    values = {name: a.get("value", "") for name, a in before.controls.items()}
    values.update(time_zone="UTC", holiday_calendar="", status_page_enabled="on", languages_default="en")
    values.update(
        survey_enabled="off", my_data_include_internal="on"
    )  # the select boxes, as a browser sends them

    response = client.post(
        "/admin/settings",
        data={**values, "end_of_business_day": "25:00", "escalate_after_days": "0", "company_name": ""},
    )
    form = page_of(response, 422)
    assert_summary(
        form,
        {
            "end_of_business_day": "End of business day (HH:MM): '25:00' is not a time of day",
            "escalate_after_days": "Escalate after (calendar days waiting): must be between 1 and 365",
            "company_name": "Company name: must not be empty",
        },
    )
    assert "Nothing was saved." in response.get_data(as_text=True)


def test_the_password_page_ties_a_wrong_current_password_and_a_mismatch_to_their_fields(
    client, session, manager
):
    logged_in(client, manager)
    response = client.post(
        "/account/password",
        data={"current_password": "", "new_password": "short", "confirm": "other"},
    )
    form = page_of(response, 200)
    invalid = form.invalid()
    assert "current_password" in invalid and "new_password" in invalid
    assert set(invalid) <= {"current_password", "new_password", "confirm"}
    assert form.description("new_password").endswith("At least 8 characters; long passphrases welcome.")
    assert {target for target, _ in form.summary} == {form.id_of(name) for name in invalid}

    response = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": "a long new passphrase",
            "confirm": "a long new passphrase",
        },
    )
    form = page_of(response, 401)
    assert form.invalid() == {"current_password"}
    [(target, message)] = form.summary
    assert target == "current_password" and message.startswith("Current password: ")
    assert form.description("current_password") in message


def test_a_form_level_error_is_listed_without_a_link_and_marks_no_field(client, session, admin, manager):
    logged_in(client, admin)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "ada@example.com",  # already taken
            "name": "Ada Again",
            "role": "manager",
            "time_zone": "UTC",
            "password": "a long enough password",
        },
    )
    form = page_of(response, 422)
    assert form.summary_attrs is not None
    [(target, message)] = form.summary
    assert target is None and "ada@example.com" in message
    assert form.invalid() == set()


def test_an_error_on_a_hidden_field_is_listed_as_text(client, session, manager):
    position = PositionFactory(manager=manager, title="Backend engineer", time_zone="UTC")
    candidate = waits.add_candidate(
        session, position, "Jane Doe", "jane@example.com", utcnow(), OrgSettings()
    )
    logged_in(client, manager)
    response = client.post(
        f"/candidates/{candidate.id}/emails/rejection/customize",
        data={"subject": "Hello", "text": "A message", "action": "preview"},
    )
    form = page_of(response, 422)
    assert form.summary == [(None, "The page is out of date: reload it and try again")]
    assert form.invalid() == set()

    # A checkbox group links to its first box, and its fieldset reads the error.
    response = client.post(
        f"/candidates/{candidate.id}/emails/rejection/customize",
        data={
            "nonce": "a-page-n0nce-1",
            "subject": "Hello",
            "text": "A message",
            "reasons": "Not a reason we offer",
            "action": "preview",
        },
    )
    form = page_of(response, 422)
    [(target, message)] = form.summary
    assert target == "reasons-0" and message.startswith("Internal rejection reasons (never sent): ")
    assert form.controls["reasons"]["id"] == "reasons-0" and form.invalid() == {"reasons"}
    assert form.texts["reasons-error"].strip() in message


# --- a real browser and axe-core ------------------------------------------------------------------

CHROMIUM = os.environ.get("FEEDBACK_SLA_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def live_server(app):
    with served(app) as url:
        yield url


@pytest.mark.browser
def test_forms_with_errors_pass_axe_core(session, manager, live_server):
    missing = None if shutil.which(CHROMIUM) else f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from axe_playwright_python.sync_playwright import Axe
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or "Playwright or axe-playwright-python is not installed (pip install -e '.[test]')"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    PositionFactory(manager=manager, title="Backend engineer", time_zone="UTC")
    session.commit()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.goto(f"{live_server}/login")
        page.click("button[type=submit]")  # nothing typed: both fields in error
        _assert_accessible(Axe(), page, "/login")
        page.fill("#email", manager.email)
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        for url, submit in (
            ("/candidates/new", "Add candidate"),
            ("/positions/new", "Create position"),
            ("/account/password", "Change password"),
        ):
            page.goto(live_server + url)
            page.get_by_role("button", name=submit).click()
            _assert_accessible(Axe(), page, url)
        browser.close()


def _assert_accessible(axe, page, url: str) -> None:
    assert page.locator("[data-error-summary]").count() == 1, url
    results = axe.run(page)
    assert results.violations_count == 0, (url, results.generate_report())
    page.locator("[data-error-summary] a").first.click()
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true", url
