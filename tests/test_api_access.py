"""Manager B's token gets 404 for manager A's objects on every API route, and changes nothing
(RELIABILITY 7 and 32): the routes are walked as tests/test_access.py walks the pages."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.waits import answers, bulk
from feedback_sla.waits.clock import OrgSettings

from .api_support import bearer, hiring, manager_with_token

#: One body every write accepts: each schema reads its own fields and ignores the rest, so the
#: answer is decided by who owns the object, never by a refused field.
BODY = {
    "body": "hello",
    "channel": "phone",
    "stage": "final",
    "promised_date": None,
    "kind": "rejection",
    "name": "Changed Name",
}


def snapshot() -> dict[str, list]:
    """Every row but the tokens' (B's token records its last use)."""
    return {
        table.name: sorted(map(repr, db.session.execute(sa.select(table)).all()))
        for table in db.metadata.sorted_tables
        if table.name != "api_tokens"
    }


def test_manager_b_gets_404_for_manager_as_objects_on_every_api_route(app, client, session):
    manager_a, _ = manager_with_token(session)
    manager_b, secret_b = manager_with_token(session)
    position, (candidate,) = hiring(session, manager_a, ("Ada Lovelace",))
    now = dt.datetime.now(dt.UTC)
    request = EmailRequest(
        candidate, "update", "a-update", now, manager_a, promised_date=now.date() + dt.timedelta(7)
    )
    message = answers.queue_email(session, request, EmailConfig.from_app(app), OrgSettings())
    _, (answered,) = hiring(session, manager_a, ("Bea Batch",))
    batch = bulk.answer_many(
        session,
        [answered.id],
        bulk.Answer(EmailKind.REJECTION),
        EmailConfig.from_app(app),
        OrgSettings(),
        now,
        key="a-batch",
        actor=manager_a,
        manager_id=manager_a.id,
    )
    session.commit()
    ids = {
        "candidate_id": candidate.id,
        "position_id": position.id,
        "message_id": message.id,
        "batch_id": batch.batch_id,
    }
    headers = {**bearer(secret_b), "Idempotency-Key": "walk-every-route"}

    before = snapshot()
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or not rule.arguments:
            continue
        assert set(rule.arguments) <= set(ids), f"{rule.rule}: add its object to the walk"
        url = app.url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments}, _external=False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = BODY if method in {"POST", "PATCH", "PUT"} else None
            response = client.open(url, method=method, json=body, headers=headers)
            assert response.status_code == 404, f"{method} {url}: {response.status_code} {response.json}"
            assert response.mimetype == "application/problem+json"
            checked.append((method, rule.rule))
    assert snapshot() == before
    assert len(checked) >= 8, checked


def test_manager_b_lists_nothing_of_manager_as_and_cannot_add_to_their_position(client, session):
    manager_a, secret_a = manager_with_token(session)
    manager_b, secret_b = manager_with_token(session)
    position, _ = hiring(session, manager_a)
    session.commit()
    for url in (
        "/api/v1/candidates",
        f"/api/v1/candidates?position_id={position.id}",
        "/api/v1/waits",
        f"/api/v1/waits?position_id={position.id}",
        "/api/v1/positions",
    ):
        assert client.get(url, headers=bearer(secret_b)).json["items"] == [], url
        assert client.get(url, headers=bearer(secret_a)).json["items"] != [], url
    export = client.get("/api/v1/exports/response-times", headers=bearer(secret_b), buffered=True)
    assert export.status_code == 200 and export.data == b""
    body = {"position_id": position.id, "name": "Sneaky", "email": "sneaky@example.org"}
    assert client.post("/api/v1/candidates", headers=bearer(secret_b), json=body).status_code == 404
