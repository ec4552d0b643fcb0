"""Signed webhooks that cannot be read as meant: each is stored as failed with its reason (so the
vendor's retry, or ``sources retry`` once mended, can take it again), answered without a 500, and
nothing of it is half written. On SQLite and PostgreSQL alike (PostgreSQL refuses a NUL in text).

The bodies are Greenhouse's documented new application (developers.greenhouse.io/webhooks.html)
with one value made hostile, signed as Greenhouse signs.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.positions.models import Position

from .webhooks_support import body_of, connected, documented_json, greenhouse_headers, post

NOW = dt.datetime(2018, 1, 8, 12, 0, tzinfo=dt.UTC)
SECRET = "greenhouse-secret-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def greenhouse(session):
    return connected(session, Kind.GREENHOUSE, SECRET, NOW)


def application(change) -> bytes:
    payload = documented_json("greenhouse", "new_candidate_application")
    change(payload["payload"]["application"])
    return body_of(payload)


def set_applied_at(value):
    return lambda app: app.update(applied_at=value)


def nothing_written() -> None:
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Position)) == 0


def only_delivery() -> Delivery:
    db.session.expire_all()
    [delivery] = db.session.scalars(sa.select(Delivery)).all()
    return delivery


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (set_applied_at(float("inf")), "application.applied_at"),
        (set_applied_at(1e30), "application.applied_at"),
        (set_applied_at("0001-01-01T00:00:00Z"), "application.applied_at"),
        (set_applied_at("9999-12-31T23:59:59Z"), "application.applied_at"),
        (lambda app: app["jobs"][0].update(id="12\x0034"), "id: not an id"),
        (lambda app: app.update(id="app\x00lication"), "id: not an id"),
        (lambda app: app["candidate"].update(first_name="Jo\x00hn"), "name"),
        (lambda app: app["candidate"].update(last_name="Smith\ud800"), "name"),
        (lambda app: app["jobs"][0].update(name="Data\x00Scientist"), "title"),
    ],
    ids=[
        "applied-infinity",
        "applied-1e30",
        "applied-year-1",
        "applied-year-9999",
        "nul-in-job-id",
        "nul-in-application-id",
        "nul-in-name",
        "half-a-character-in-name",
        "nul-in-job-title",
    ],
)
def test_a_hostile_value_fails_the_delivery_with_its_reason_and_writes_nothing_else(
    client, greenhouse, change, reason
):
    raw = application(change)
    if b"Infinity" in raw:  # json.dumps writes Infinity, as some senders do; it is not JSON
        assert raw.count(b"Infinity") == 1
    response = post(client, greenhouse, raw, greenhouse_headers(SECRET, raw, "gh-hostile"))
    assert response.status_code in (200, 202)
    delivery = only_delivery()
    assert delivery.status in (DeliveryStatus.FAILED.value, DeliveryStatus.FAILED)
    assert reason in (delivery.error or ""), delivery.error
    nothing_written()


def test_a_nul_in_the_event_id_and_action_is_kept_out_of_the_database(client, greenhouse):
    raw = json.dumps({"action": "ping\x00", "payload": {}}).encode()
    response = post(client, greenhouse, raw, greenhouse_headers(SECRET, raw, "gh-\x00-1"))
    assert response.status_code in (200, 202, 400)
    db.session.rollback()
    for delivery in db.session.scalars(sa.select(Delivery)):
        assert "\x00" not in delivery.event_id and "\x00" not in (delivery.event_type or "")


def test_a_body_nested_a_hundred_thousand_deep_is_stored_as_failed_not_a_500(client, greenhouse, runner):
    raw = b"[" * 100_000 + b"]" * 100_000
    response = post(client, greenhouse, raw, greenhouse_headers(SECRET, raw, "gh-deep"))
    assert response.status_code in (200, 202)
    delivery = only_delivery()
    assert delivery.status in (DeliveryStatus.FAILED.value, DeliveryStatus.FAILED)
    assert delivery.error == "the body is not a JSON object"
    # Retried by the operator: it fails again with the same reason, and the command says so.
    result = runner.invoke(args=["sources", "retry"])
    assert "Traceback" not in result.output
    assert only_delivery().error == "the body is not a JSON object"
    nothing_written()
