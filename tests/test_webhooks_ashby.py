"""Ashby's documented webhooks, posted byte for byte and signed as Ashby signs (``Ashby-Signature:
sha256=<hex>``, HMAC-SHA256 of the raw body): the candidate, status and wait each one gives.

The bodies (tests/webhooks/vendor/ashby) are Ashby's documented envelope
(https://developers.ashbyhq.com/docs/common-payload-data) around each action's documented fields and
example values (https://developers.ashbyhq.com/reference/applicationsubmitwebhook,
.../candidatestagechangewebhook, .../applicationupdatewebhook, .../candidatehirewebhook,
.../candidatedeletewebhook, .../candidatemergewebhook, .../pingwebhook). A hire sends
``candidateHire``, ``applicationUpdate`` and ``candidateStageChange`` with one ``webhookActionId``,
in any order.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from feedback_sla.ats.models import Delivery, DeliveryStatus, ExternalId, Kind
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.waits.models import Wait, WaitReason

from .factories import UserFactory
from .webhooks_support import ashby_headers, body_of, connected, count, documented, documented_json, post

#: Ashby's examples are dated August 2022.
NOW = dt.datetime(2022, 9, 1, 12, 0, tzinfo=dt.UTC)
SECRET = "ashby-secret-token-0123456789abcdef"
HIRE = ("application_update_hired", "candidate_hire", "candidate_stage_change_hired")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def ashby(session):
    return connected(session, Kind.ASHBY, SECRET, NOW)


def send(client, source, body: bytes):
    response = post(client, source, body, ashby_headers(SECRET, body))
    assert response.status_code == 200, response.json
    return response.json


def send_documented(client, source, event: str):
    return send(client, source, documented("ashby", event))


def only_candidate(session) -> Candidate:
    session.expire_all()
    (candidate,) = session.scalars(select(Candidate)).all()
    return candidate


def waits_of(session, candidate) -> list[Wait]:
    return list(session.scalars(select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))


def test_the_documented_application_creates_its_candidate_for_the_hiring_manager(client, session, ashby):
    # https://developers.ashbyhq.com/reference/applicationsubmitwebhook
    joey = UserFactory(email="test@ashbyhq.com", name="Joey Joe")  # the hiring team's Hiring Manager
    session.commit()
    assert send_documented(client, ashby, "application_submit")["status"] == DeliveryStatus.PROCESSED
    candidate = only_candidate(session)
    assert (candidate.name, candidate.email, candidate.stage) == ("James", "test@ashbyhq.com", "applied")
    assert candidate.position.title == "First Designer" and candidate.position.manager_id == joey.id
    (wait,) = waits_of(session, candidate)
    assert wait.reason == WaitReason.APPLICATION
    assert wait.opened_at == dt.datetime(2022, 8, 12, 20, 29, 56, 964000, tzinfo=dt.UTC)


def test_the_documented_stage_change_moves_the_stage(client, session, ashby):
    # https://developers.ashbyhq.com/reference/candidatestagechangewebhook
    send_documented(client, ashby, "application_submit")
    send_documented(client, ashby, "candidate_stage_change")
    assert only_candidate(session).stage == "offer"


@pytest.mark.parametrize(
    "order",
    [
        HIRE,
        tuple(reversed(HIRE)),
        ("candidate_hire", "application_update_hired", "candidate_stage_change_hired"),
    ],
    ids=["update-first", "stage-change-first", "hire-first"],
)
def test_the_documented_hire_is_recorded_whatever_order_its_three_deliveries_arrive_in(
    client, session, ashby, order
):
    # https://developers.ashbyhq.com/reference/candidatehirewebhook: "Also triggers applicationUpdate
    # and candidateStageChange", all three with the hire's webhookActionId.
    send_documented(client, ashby, "application_submit")
    answers = [send_documented(client, ashby, event)["status"] for event in order]
    assert "replay" not in answers and answers.count(DeliveryStatus.PROCESSED) == 1
    candidate = only_candidate(session)
    assert candidate.status == Status.HIRED
    (wait,) = waits_of(session, candidate)
    assert wait.closed_at == dt.datetime(2022, 8, 26, 16, 45, tzinfo=dt.UTC)
    assert count(session, Delivery) == 4
    # Ashby's retry of one of them is a replay and changes nothing.
    assert send_documented(client, ashby, order[0])["status"] == "replay"
    assert count(session, Delivery) == 4


def test_the_documented_archive_rejects_or_is_a_withdrawal_at_its_archive_time(client, session, ashby):
    # https://developers.ashbyhq.com/reference/applicationupdatewebhook
    send_documented(client, ashby, "application_submit")
    send_documented(client, ashby, "application_update_archived")
    candidate = only_candidate(session)
    assert candidate.status == Status.REJECTED
    assert waits_of(session, candidate)[0].closed_at == dt.datetime(2022, 8, 15, 9, 30, tzinfo=dt.UTC)


def test_an_archive_by_the_candidate_is_a_withdrawal(client, session, ashby):
    send_documented(client, ashby, "application_submit")
    withdrew = documented_json("ashby", "application_update_archived")
    withdrew["data"]["application"]["archiveReason"]["reasonType"] = "RejectedByCandidate"
    send(client, ashby, body_of(withdrew))
    assert only_candidate(session).status == Status.WITHDRAWN


def test_the_documented_deletion_erases_the_candidate(client, session, ashby):
    # https://developers.ashbyhq.com/reference/candidatedeletewebhook
    send_documented(client, ashby, "application_submit")
    assert send_documented(client, ashby, "candidate_delete")["status"] == DeliveryStatus.PROCESSED
    candidate = only_candidate(session)
    assert candidate.erased_at is not None and candidate.name != "James" and "ashbyhq" not in candidate.email
    assert len(waits_of(session, candidate)) == 1
    assert not any("test@ashbyhq.com" in body for body in session.scalars(select(Delivery.body)))


def test_the_documented_merge_gives_the_application_to_the_merged_candidate(client, session, ashby):
    # https://developers.ashbyhq.com/reference/candidatemergewebhook: deletedCandidate merged into
    # mergedCandidate.
    send_documented(client, ashby, "application_submit")
    assert send_documented(client, ashby, "candidate_merge")["status"] == DeliveryStatus.PROCESSED
    candidate = only_candidate(session)
    assert (candidate.name, candidate.erased_at) == ("James", None)
    persons = session.scalars(select(ExternalId.ats_candidate_id).where(ExternalId.kind == "application"))
    assert list(persons) == ["561cdd98-c23b-473a-bcdb-1a44c0b09d87"]


def test_the_documented_ping_is_answered_and_stored_as_ignored(client, session, ashby):
    # https://developers.ashbyhq.com/reference/pingwebhook
    assert send_documented(client, ashby, "ping")["status"] == DeliveryStatus.IGNORED
    assert count(session, Candidate) == 0
