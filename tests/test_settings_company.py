"""The company name in candidate emails: an organisation setting whose default is the configuration."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from feedback_sla.emails import checks
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.models import Role, Setting
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits

from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text

CONFIGURED = "Configured Hiring Ltd"
#: A Wednesday, clear of weekends and holidays.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def app_config(app_config):
    app_config["ORGANISATION_NAME"] = CONFIGURED
    return app_config


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", email="ann@example.com", role=Role.ADMIN)


def stored(session) -> dict[str, str]:
    session.expire_all()
    return dict(session.execute(sa.select(Setting.key, Setting.value)).all())


def form_values(client) -> dict[str, str]:
    """What the settings form posts as the page shows it."""
    page = client.get("/admin/settings").get_data(as_text=True)
    values = {name: value for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page)}
    for name, select in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', select)
        values[name] = chosen.group(1) if chosen else ""
    values.pop("csrf_token", None)
    return values


def post_settings(client, **changes):
    return client.post("/admin/settings", data={**form_values(client), **changes})


def rejection(session, app):
    """A rejection queued through the door the pages and commands use, with the config they build."""
    manager = UserFactory(name="Maria Lopez")
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="UTC")
    org = settings_service.load(session)
    candidate = waits.add_candidate(session, position, "Jane Doe", "jane@example.com", NOW, org)
    request = checks.EmailRequest(candidate, EmailKind.REJECTION, checks.new_idempotency_key(), NOW, manager)
    config = settings_service.email_config(session, EmailConfig.from_app(app))
    return answers.queue_email(session, request, config, org)


def test_until_an_admin_sets_it_the_company_name_is_the_configured_one(app, client, session, admin):
    assert settings_service.raw_values(session, app.config)["company_name"] == CONFIGURED
    assert settings_service.email_config(session, EmailConfig.from_app(app)).organisation_name == CONFIGURED
    message = rejection(session, app)
    assert message.subject == f"Your application for Backend Engineer at {CONFIGURED}"

    logged_in(client, admin)
    page = text(client.get("/admin/settings"))
    assert re.search(rf'<input[^>]*id="company_name"[^>]*maxlength="200"[^>]*value="{CONFIGURED}"', page)
    assert '<label class="form-label" for="company_name">Company name</label>' in page
    assert settings_service.DEFINITIONS["company_name"].help in page

    # Saving the page as shown keeps following the configuration: nothing is stored.
    response = post_settings(client)
    assert response.status_code == 302
    assert stored(session) == {}


def test_an_admin_changes_the_company_name_and_the_next_rejection_says_it(app, client, session, admin):
    logged_in(client, admin)
    response = client.post(
        "/admin/settings", data={**form_values(client), "company_name": "  Northwind & Söhne <GmbH>  "}
    )
    assert response.status_code == 302
    assert "Saved." in text(client.get(response.location))
    assert stored(session) == {"company_name": "Northwind & Söhne <GmbH>"}
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="Northwind &amp; Söhne &lt;GmbH&gt;"' in page

    message = rejection(session, app)
    assert message.subject == "Your application for Backend Engineer at Northwind & Söhne <GmbH>"
    assert "role at Northwind & Söhne <GmbH>" in message.text_body
    assert message.text_body.rstrip().endswith("Northwind & Söhne <GmbH>")
    assert "Northwind &amp; Söhne &lt;GmbH&gt;" in message.html_body
    assert "<GmbH>" not in message.html_body


BAD_NAMES = [
    pytest.param("Acme\x00 Ltd", "contains a control character (NUL)", id="nul"),
    pytest.param("Acme\nLtd", "must be one line", id="line-break"),
    pytest.param("Acme\r\nLtd", "must be one line", id="crlf"),
    pytest.param("Acme\u2028Ltd", "must be one line", id="line-separator"),
    pytest.param("Acme\x1b[31m", "contains a control character (U+001B)", id="escape"),
    pytest.param("A" * 10_000, "longer than 200 characters (10000)", id="10000-characters"),
    pytest.param("   ", "must not be empty", id="blank"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_NAMES)
def test_a_bad_company_name_is_refused_naming_the_field_and_changes_nothing(
    client, session, admin, value, reason
):
    session.add(Setting(key="company_name", value="Northwind Traders"))
    logged_in(client, admin)
    response = post_settings(client, company_name=value, policy_application="7")

    assert response.status_code == 422
    page = text(response)
    summary = re.search(r"<div[^>]*data-error-summary.*?</div>", page, re.S).group(0)
    assert "There is a problem" in summary and "Nothing was saved." in summary
    (link,) = re.findall(r'<a class="alert-link" href="#company_name">([^<]*)</a>', summary)
    assert link.startswith("Company name: ") and reason in link
    assert re.findall(r'<(?:input|select)[^>]*aria-invalid="true"[^>]*>', page) == [
        re.search(r'<input[^>]*name="company_name"[^>]*>', page).group(0)
    ]
    assert stored(session) == {"company_name": "Northwind Traders"}


@pytest.mark.parametrize(("value", "reason"), BAD_NAMES)
def test_the_service_and_the_command_refuse_the_same_names(runner, session, value, reason):
    with pytest.raises(settings_service.SettingsInvalid) as refused:
        settings_service.update(session, {"company_name": value})
    assert reason in refused.value.errors["company_name"]
    session.rollback()

    result = runner.invoke(args=["settings", "set", "company_name", value])
    assert result.exit_code == 1 and "company_name: " in result.output and reason in result.output
    assert stored(session) == {}


def test_two_hundred_characters_fit_and_the_clock_ignores_the_name(session):
    name = "N" * settings_service.MAX_COMPANY_NAME
    update = settings_service.update(session, {"company_name": name})
    assert update.changed == {"company_name"} and update.moved is None
    assert settings_service.company_name(session, CONFIGURED) == name
    assert not hasattr(settings_service.load(session), "company_name")
