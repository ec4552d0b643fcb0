""" "Download my data": the candidate's own copy from their status page, the admin's from the
candidate page, the operator's from `feedback-sla candidates export-data`; and an erased
candidate's link, which opens nothing any more."""

from __future__ import annotations

import json

import sqlalchemy as sa

from feedback_sla.accounts.models import Role
from feedback_sla.candidates.models import Candidate, Event, EventKind
from feedback_sla.database import db
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits

from . import test_status_page as status
from .factories import PositionFactory, UserFactory
from .helpers import berlin, csrf_token, logged_in, text
from .test_status_page import deliver, form_token, link_in_mail, mail_files, queue

app_config, clock, manager, candidate = status.app_config, status.clock, status.manager, status.candidate


def other_candidate(session, manager):
    position = PositionFactory(manager=manager, title="Designer", time_zone="Europe/Berlin")
    other = waits.add_candidate(
        session, position, "Otto Other", "otto@example.org", status.APPLIED, settings_service.load(session)
    )
    session.commit()
    return other


def download(client, path: str, fmt: str = "json"):
    page = client.get(path).get_data(as_text=True)
    token = form_token(page, f"{path}/my-data")
    return client.post(f"{path}/my-data", data={"form_token": token, "format": fmt})


def exported(candidate_id: int) -> list[Event]:
    db.session.expire_all()
    query = sa.select(Event).where(Event.candidate_id == candidate_id, Event.kind == EventKind.DATA_EXPORTED)
    return list(db.session.scalars(query))


def test_download_my_data_gives_every_email_sent_to_them_and_nobody_else_s_data(
    app, client, runner, session, manager, candidate, clock
):
    other = other_candidate(session, manager)
    queue(app, other, "rejection")
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    clock.move_to(berlin(2026, 12, 2, 10, 0))
    queue(app, candidate, "rejection")
    deliver(runner)
    mine = [path for path in mail_files(app) if "jane" in path.read_text(errors="replace").lower()]
    path = link_in_mail(mine[0])

    response = download(client, path)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert 'attachment; filename="my-data.json"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))

    db.session.expire_all()
    sent = db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.candidate_id == candidate.id, OutboxMessage.status == OutboxStatus.SENT
        )
    ).all()
    assert len(sent) == 2
    assert [email["subject"] for email in data["emails_sent"]] == [m.subject for m in sent]
    assert [email["text_body"] for email in data["emails_sent"]] == [m.text_body for m in sent]
    assert all(
        email["to"] == "jane@example.com" and email["language"] == "en" for email in data["emails_sent"]
    )
    assert data["candidate"]["name"] == "Jane Doe"
    assert data["candidate"]["status"] == "rejected"
    assert "anonymous" in data["survey_answers"]
    assert len(data["status_links"]) == 2
    whole = json.dumps(data)
    assert "Otto" not in whole and "otto@example.org" not in whole and "Designer" not in whole
    [logged] = exported(candidate.id)
    assert logged.data == {"by": "candidate"}
    assert exported(other.id) == []


def test_the_readable_page_and_the_internal_notes_setting(app, client, runner, session, candidate, clock):
    waits.record(
        session, db.session.get(Candidate, candidate.id), EventKind.NOTE, status.TUESDAY, body="Weak SQL"
    )
    session.commit()
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    path = link_in_mail(written)

    page = download(client, path, "html")
    assert page.status_code == 200
    assert "Emails we sent you" in text(page) and "Weak SQL" in text(page)
    assert "Survey answers are not included" in text(page)

    settings_service.update(db.session, {"my_data.include_internal": "off"})
    db.session.commit()
    data = json.loads(download(client, path).get_data(as_text=True))
    assert "Weak SQL" not in json.dumps(data)
    assert data["internal_notes_included"] is False


def test_the_download_needs_the_form_token_and_a_get_changes_nothing(app, client, runner, candidate, clock):
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    path = link_in_mail(written)
    assert client.post(f"{path}/my-data", data={"format": "json"}).status_code == 400
    assert client.get(f"{path}/my-data").status_code == 405
    assert exported(candidate.id) == []


def test_an_erased_candidate_s_link_and_download_answer_404(app, client, runner, candidate, clock):
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    path = link_in_mail(written)
    token = form_token(client.get(path).get_data(as_text=True), f"{path}/my-data")
    result = runner.invoke(args=["candidates", "erase", str(candidate.id), "--yes"])
    assert result.exit_code == 0, result.output
    assert client.get(path).status_code == 404
    assert client.post(f"{path}/my-data", data={"form_token": token}).status_code == 404


def test_an_admin_downloads_from_the_candidate_page_and_a_manager_cannot(
    app, client, runner, session, manager, candidate, clock
):
    admin = UserFactory(role=Role.ADMIN, email="admin@example.com")
    session.commit()
    logged_in(client, manager)
    assert client.post(f"/candidates/{candidate.id}/my-data").status_code == 403
    client = app.test_client()
    logged_in(client, admin)
    page = client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
    assert "Download their data (JSON)" in page
    response = client.post(f"/candidates/{candidate.id}/my-data", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["candidate"]["email"] == "jane@example.com"
    assert exported(candidate.id)[0].data == {"by": "admin"}


def test_export_data_command(app, runner, candidate, clock, tmp_path):
    target = tmp_path / "jane.json"
    result = runner.invoke(args=["candidates", "export-data", str(candidate.id), "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["candidate"]["name"] == "Jane Doe"
    assert exported(candidate.id)[0].data == {"by": "operator"}

    unknown = runner.invoke(args=["candidates", "export-data", "999999"])
    assert unknown.exit_code == 1
    assert "no candidate with id 999999" in unknown.output


def test_the_download_is_throttled_per_address(make_app, app, runner, candidate, clock):
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    path = link_in_mail(written)
    limited = make_app(RATELIMIT_ENABLED=True, MY_DATA_LIMIT_PER_ADDRESS="2 per hour", BASE_URL=status.BASE)
    client = limited.test_client()
    token = form_token(client.get(path).get_data(as_text=True), f"{path}/my-data")
    answers = [client.post(f"{path}/my-data", data={"form_token": token}).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get(path).status_code == 200  # the page itself still opens
    assert len(exported(candidate.id)) == 2
