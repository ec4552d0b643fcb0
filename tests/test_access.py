"""Managers see only their own candidates and positions: every route is walked (RELIABILITY 7)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from feedback_sla.database import db
from feedback_sla.emails import library
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.inbound.models import Confirmation, InboundMessage
from feedback_sla.waits import answers, bulk, service
from feedback_sla.waits.clock import OrgSettings

from .factories import PASSWORD, PositionFactory, UserFactory

#: URL arguments that name an object, and how to find manager A's object of that kind.
OBJECT_ARGUMENTS = (
    "candidate_id",
    "position_id",
    "user_id",
    "message_id",
    "template_id",
    "wait_id",
    "kind",
    "inbound_id",
    "batch_id",
    "default_id",
)
FORM = {
    "channel": "phone",
    "note": "hello",
    "stage": "offer",
    "body": "note text",
    "promised_date": "2030-01-02",
    "name": "Changed Name",
    "email": "changed@example.com",
    "title": "Changed",
    "time_zone": "UTC",
    "role": "admin",
    "manager_id": "",
    "reason": "moved on",
    "next": "/",
    "nonce": "walk-every-route",
    "subject": "Hello",
    "text": "A message",
    "html": "<p>A message</p>",
    "feedback": "Thanks",
    "action": "queue",
}


def snapshot() -> dict[str, list]:
    """Every row of every table, to prove a refused request changed nothing."""
    return {
        table.name: sorted(map(repr, db.session.execute(sa.select(table)).all()))
        for table in db.metadata.sorted_tables
    }


def test_manager_b_gets_404_for_every_route_that_takes_manager_as_objects(app, client, session):
    settings = OrgSettings()
    manager_a = UserFactory()
    manager_b = UserFactory()
    position = PositionFactory(manager=manager_a)
    now = dt.datetime.now(dt.UTC)
    candidate = service.add_candidate(session, position, "Ada A", "ada@example.com", now, settings)
    request = EmailRequest(
        candidate,
        "update",
        "manager-a-update",
        now,
        manager_a,
        promised_date=now.date() + dt.timedelta(days=7),
    )
    message = answers.queue_email(session, request, EmailConfig.from_app(app), settings)
    report = InboundMessage(  # a delivery report about manager A's candidate, waiting for an admin
        received_at=now,
        source="pipe",
        fingerprint="f" * 64,
        sender="mailer-daemon@mx.example.net",
        subject="Undelivered Mail Returned to Sender",
        kind="bounce",
        outcome="unconfirmed bounce",
        candidate_id=candidate.id,
        outbox_message_id=message.id,
        size=2_000,
        confirmation=Confirmation.UNCONFIRMED,
    )
    session.add(report)
    answered = service.add_candidate(session, position, "Bea Batch", "bea@example.com", now, settings)
    batch = bulk.answer_many(
        session,
        [answered.id],
        bulk.Answer(EmailKind.REJECTION),
        EmailConfig.from_app(app),
        settings,
        now,
        key="manager-a-batch",
        actor=manager_a,
        manager_id=manager_a.id,
    )
    template = library.add(
        session, "rejection", "After the final interview", "Hi", "Hi", "<p>Hi</p>", None, now
    )
    default = library.set_scope_default(session, template, position_id=position.id)
    session.commit()
    ids = {
        "template_id": template.id,
        "default_id": default.id,
        "candidate_id": candidate.id,
        "position_id": position.id,
        "user_id": manager_a.id,
        "message_id": message.id,
        "kind": "rejection",
        "inbound_id": report.id,
        "batch_id": batch.batch_id,
    }

    client.post("/login", data={"email": manager_b.email, "password": PASSWORD})
    before = snapshot()
    checked = []
    for rule in app.url_map.iter_rules():
        names = [a for a in rule.arguments if a in OBJECT_ARGUMENTS]
        if not names or any(a not in ids for a in rule.arguments) or rule.rule.startswith("/api/"):
            continue  # the API takes no session: tests/test_api_access.py walks it with tokens
        url = app.url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments}, _external=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data=FORM if method == "POST" else None)
            assert response.status_code == 404, f"{method} {url} ({rule.endpoint}): {response.status_code}"
            checked.append((method, rule.endpoint))
    assert snapshot() == before
    endpoints = {endpoint for _, endpoint in checked}
    assert any(e.startswith("candidates.") for e in endpoints), checked
    assert any(e.startswith("positions.") for e in endpoints), checked
    emails_routes = {"emails.send", "emails.customize", "emails.undo", "emails.retry", "emails.edit_template"}
    emails_routes.add("emails.undo_batch")
    assert emails_routes <= endpoints, checked
    assert "admin.apply_bounce" in endpoints, checked
