"""Workable's subscription events (https://workable.readme.io/reference/webhook-subscriptions-candidates-employees:
``candidate_created``, ``candidate_moved``, ``candidate_deleted``, each carrying the candidate resource),
signed as Workable signs (``X-Workable-Signature``, HMAC-SHA256 of the raw body): a move to the
"Hired" stage closes the wait with hired at ``hired_at``; a deletion erases the candidate.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.waits.models import Wait

from .webhooks_support import body_of, connected, documented, post, sample, workable_headers

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SECRET = "workable-subscription-token-0123456789"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def workable(session):
    return connected(session, Kind.WORKABLE, SECRET, NOW)


def send(client, source, body: bytes):
    response = post(client, source, body, workable_headers(SECRET, body))
    assert response.status_code == 200, response.json
    return response.json


def created(client, source) -> None:
    send(client, source, body_of(sample("workable_candidate_created")))


def only_candidate(session) -> Candidate:
    session.expire_all()
    (candidate,) = session.scalars(select(Candidate)).all()
    return candidate


def test_a_move_to_hired_closes_the_wait_with_hired_when_workable_says(client, session, workable):
    created(client, workable)
    assert send(client, workable, documented("workable", "candidate_moved_hired"))["status"] == "processed"
    candidate = only_candidate(session)
    assert candidate.status == Status.HIRED
    (wait,) = session.scalars(select(Wait).where(Wait.candidate_id == candidate.id)).all()
    assert wait.closed_at == dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)


def test_a_deleted_candidate_is_erased_and_keeps_no_payload(client, session, workable):
    created(client, workable)
    assert send(client, workable, documented("workable", "candidate_deleted"))["status"] == "processed"
    candidate = only_candidate(session)
    assert candidate.erased_at is not None and "Jemison" not in candidate.name
    assert session.scalar(select(Delivery.status).where(Delivery.event_type == "candidate_deleted")) == (
        DeliveryStatus.PROCESSED
    )
    assert not any("mae@example.org" in body for body in session.scalars(select(Delivery.body)))
