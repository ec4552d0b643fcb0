"""The company name an admin sets reaches every email: one click, previews, the sender, the commands."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.database import db
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.models import Role, Setting
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.worker import run_worker

from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text

#: Monday 16 November 2026, 09:00 UTC.
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
COMPANY = "Northwind & Söhne <GmbH>"


@pytest.fixture
def traveller():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def admin():
    return UserFactory(name="Ann Admin", email="ann@example.com", role=Role.ADMIN)


@pytest.fixture
def candidate(session, traveller, admin):
    position = PositionFactory(manager=admin, title="Backend engineer", time_zone="UTC")
    candidate = waits.add_candidate(
        session, position, "Jane Doe", "jane@example.com", MONDAY - dt.timedelta(hours=2), OrgSettings()
    )
    session.commit()
    return candidate


def set_company(runner, name: str) -> None:
    result = runner.invoke(args=["settings", "set", "company_name", name])
    assert result.exit_code == 0, result.output


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_after_an_admin_renames_the_company_the_next_one_click_rejection_says_it(
    client, session, admin, candidate
):
    logged_in(client, admin)
    first = client.post(f"/candidates/{candidate.id}/emails/rejection", data={"nonce": "first-page-n0nce"})
    assert first.status_code == 302
    shown = {key.replace(".", "_"): value for key, value in settings_service.raw_values(session).items()}
    renamed = client.post("/admin/settings", data={**shown, "company_name": COMPANY})
    assert renamed.status_code == 302
    other = waits.add_candidate(
        session,
        candidate.position,
        "Joe Roe",
        "joe@example.com",
        MONDAY - dt.timedelta(hours=1),
        OrgSettings(),
    )
    session.commit()
    response = client.post(f"/candidates/{other.id}/emails/rejection", data={"nonce": "second-page-n0nce"})
    assert response.status_code == 302

    before, after = outbox()
    assert before.subject == "Your application for Backend engineer at Example Company"
    assert after.subject == f"Your application for Backend engineer at {COMPANY}"
    assert f"role at {COMPANY}" in after.text_body
    assert "Northwind &amp; Söhne &lt;GmbH&gt;" in after.html_body


def test_the_customize_page_and_the_template_preview_use_the_company_name(
    client, runner, session, admin, candidate
):
    set_company(runner, COMPANY)
    logged_in(client, admin)
    customize = text(client.get(f"/candidates/{candidate.id}/emails/rejection/customize"))
    assert f"Your application for Backend engineer at {COMPANY}" in customize
    preview = text(client.get("/admin/emails/rejection"))
    assert f"Your application for Backend Engineer at {COMPANY}" in preview
    preview = runner.invoke(args=["emails", "template", "preview", "offer"])
    assert f"Backend Engineer at {COMPANY}: let's talk about an offer" in preview.output


def test_the_sender_is_the_company_name_set_when_the_email_is_sent(
    app, client, runner, session, admin, candidate
):
    logged_in(client, admin)
    client.post(f"/candidates/{candidate.id}/emails/rejection", data={"nonce": "n0nce-for-the-test"})
    set_company(runner, "Northwind Traders")

    report = run_worker(app, once=True, clock=lambda: MONDAY + dt.timedelta(minutes=5))
    assert report.sent == 1
    [path] = sorted(Path(app.instance_path).rglob("*.eml"))
    sent = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert sent["From"] == "Northwind Traders <jobs@example.com>"


def test_the_settings_command_shows_the_configured_name_until_one_is_set(app, make_app):
    other = make_app(ORGANISATION_NAME="Configured Hiring Ltd")
    with other.app_context():
        runner = other.test_cli_runner()
        shown = runner.invoke(args=["settings", "show", "--format", "csv"])
        assert "company_name,Configured Hiring Ltd," in shown.output
        # Setting the configured name again stores nothing: the name keeps following the configuration.
        assert runner.invoke(args=["settings", "set", "company_name", "Configured Hiring Ltd"]).exit_code == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Setting)) == 0
