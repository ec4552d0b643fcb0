"""ATS webhooks at /hooks/<kind>/<id>: samples in each vendor's documented format (tests/webhooks),
one field changed at a time, signed as the vendor signs them, posted, and the candidate, waits and
stage checked. The vendors' own examples, verbatim, are in test_webhooks_greenhouse.py,
test_webhooks_ashby.py, test_webhooks_workable.py and test_webhooks_lever.py.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select

from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, ExternalId, Kind
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.positions.models import Position
from feedback_sla.waits.models import Wait, WaitReason

from .factories import UserFactory
from .webhooks_support import (
    ashby_headers,
    body_of,
    count,
    greenhouse_headers,
    post,
    sample,
    workable_headers,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def managers(session):
    grace = UserFactory(email="grace@example.com", name="Grace Hopper")
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    session.commit()
    return grace, dora


def make_source(session, kind: str, manager, **extra):
    new = sources.NewSource(kind, f"{kind} test", manager, SECRET, **extra)
    source = sources.create_source(session, new, NOW)
    session.commit()
    return source


@pytest.fixture
def greenhouse(session, managers):
    return make_source(session, Kind.GREENHOUSE, managers[1])


def only_candidate(session) -> Candidate:
    (candidate,) = session.scalars(select(Candidate)).all()
    return candidate


def waits_of(session, candidate) -> list[Wait]:
    return list(session.scalars(select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))


# Greenhouse


def test_a_greenhouse_application_creates_the_candidate_and_its_application_wait(client, session, greenhouse):
    body = body_of(sample("greenhouse_new_candidate_application"))
    response = post(client, greenhouse, body, greenhouse_headers(SECRET, body))
    assert response.status_code == 200, response.json
    candidate = only_candidate(session)
    assert (candidate.name, candidate.email, candidate.stage) == (
        "Ada Lovelace",
        "ada@example.org",
        "applied",
    )
    assert candidate.position.title == "Backend Engineer"
    assert candidate.position.manager.email == "grace@example.com"  # the job's hiring manager
    (wait,) = waits_of(session, candidate)
    assert wait.reason == WaitReason.APPLICATION and wait.closed_at is None
    assert wait.opened_at == dt.datetime(2026, 11, 23, 15, 47, 3, tzinfo=dt.UTC)
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.PROCESSED and delivery.candidate_id == candidate.id


def test_one_byte_changed_answers_401_and_creates_nothing(client, session, greenhouse):
    body = body_of(sample("greenhouse_new_candidate_application"))
    headers = greenhouse_headers(SECRET, body)
    tampered = body.replace(b"Lovelace", b"Lovelacf", 1)
    assert post(client, greenhouse, tampered, headers).status_code == 401
    assert post(client, greenhouse, body, {}).status_code == 401  # no signature at all
    wrong_secret = greenhouse_headers("another secret", body)
    assert post(client, greenhouse, body, wrong_secret).status_code == 401
    assert count(session, Candidate) == count(session, Delivery) == count(session, Position) == 0


def test_the_same_greenhouse_delivery_twice_creates_one_candidate(client, session, greenhouse):
    body = body_of(sample("greenhouse_new_candidate_application"))
    headers = greenhouse_headers(SECRET, body, event_id="gh-event-1")
    assert post(client, greenhouse, body, headers).status_code == 200
    again = post(client, greenhouse, body, headers)
    assert again.status_code == 200 and again.json["status"] == "replay"
    assert count(session, Candidate) == 1 and count(session, Delivery) == 1 and count(session, Wait) == 1


def test_deliveries_past_the_limit_of_a_source_answer_429_and_other_sources_still_take_theirs(
    make_app, session, managers
):
    throttled = make_app(RATELIMIT_ENABLED=True, WEBHOOK_LIMIT_PER_SOURCE="2 per minute")
    client = throttled.test_client()
    first, second = (make_source(session, Kind.GREENHOUSE, managers[1]) for _ in range(2))
    body = body_of(sample("greenhouse_ping"))
    codes = [
        post(client, first, body, greenhouse_headers(SECRET, body, event_id=f"ping-{i}")).status_code
        for i in range(2)
    ]
    codes.append(post(client, first, body, {}).status_code)  # unsigned ones count too
    assert codes == [200, 200, 429]
    assert post(client, second, body, greenhouse_headers(SECRET, body)).status_code == 200
    assert count(session, Delivery) == 3


def test_greenhouse_ping_answers_200(client, session, greenhouse):
    body = body_of(sample("greenhouse_ping"))
    response = post(client, greenhouse, body, greenhouse_headers(SECRET, body))
    assert response.status_code == 200
    assert session.scalar(select(Delivery.status)) == DeliveryStatus.IGNORED
    assert count(session, Candidate) == 0


def test_an_unknown_hiring_manager_gives_the_position_to_the_default_manager(client, session, greenhouse):
    payload = sample("greenhouse_new_candidate_application")
    payload["payload"]["application"]["jobs"][0]["hiring_team"]["hiring_managers"][0]["email"] = (
        "x@example.net"
    )
    body = body_of(payload)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body)).status_code == 200
    assert only_candidate(session).position.manager.email == "dora@example.com"


def test_an_unknown_job_becomes_a_position_once(client, session, greenhouse):
    first = sample("greenhouse_new_candidate_application")
    body = body_of(first)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body, "gh-1")).status_code == 200
    second = sample("greenhouse_new_candidate_application")
    application = second["payload"]["application"]
    application["id"] = 69306999
    application["candidate"].update(id=47108999, first_name="Alan", last_name="Turing")
    application["candidate"]["email_addresses"] = [{"value": "alan@example.org", "type": "personal"}]
    body = body_of(second)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body, "gh-2")).status_code == 200
    (position,) = session.scalars(select(Position)).all()
    assert position.title == "Backend Engineer"
    assert count(session, Candidate) == 2
    job = session.scalar(select(ExternalId).where(ExternalId.kind == "job"))
    assert (job.external_id, job.position_id) == ("4002543003", position.id)


def greenhouse_event(client, source, name: str, event_id: str):
    body = body_of(sample(name))
    response = post(client, source, body, greenhouse_headers(SECRET, body, event_id))
    assert response.status_code == 200, response.json
    return response


def test_stage_changes_move_the_stage_and_a_move_past_the_interview_records_it(client, session, greenhouse):
    greenhouse_event(client, greenhouse, "greenhouse_new_candidate_application", "gh-1")
    greenhouse_event(client, greenhouse, "greenhouse_candidate_stage_change", "gh-2")
    candidate = only_candidate(session)
    assert candidate.stage == "interview"
    assert [w.reason for w in waits_of(session, candidate)] == [WaitReason.APPLICATION]
    offer = sample("greenhouse_candidate_stage_change")
    offer["payload"]["application"]["current_stage"] = {"id": 2976377, "name": "Offer"}
    offer["payload"]["application"]["last_activity_at"] = "2026-11-27T09:00:00Z"
    body = body_of(offer)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body, "gh-3")).status_code == 200
    session.expire_all()
    candidate = only_candidate(session)
    assert candidate.stage == "offer"
    application, decision = waits_of(session, candidate)
    assert application.closed_at is not None  # the interview was a meeting with the candidate
    assert decision.reason == WaitReason.DECISION and decision.closed_at is None
    assert decision.opened_at == dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)


def test_a_stage_nobody_mapped_changes_nothing_and_says_so(client, session, greenhouse):
    greenhouse_event(client, greenhouse, "greenhouse_new_candidate_application", "gh-1")
    odd = sample("greenhouse_candidate_stage_change")
    odd["payload"]["application"]["current_stage"] = {"id": 1, "name": "Culture Vibes"}
    body = body_of(odd)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body, "gh-2")).status_code == 200
    assert only_candidate(session).stage == "applied"
    delivery = session.scalar(select(Delivery).where(Delivery.event_id == "gh-2"))
    assert delivery.status == DeliveryStatus.IGNORED and "Culture Vibes" in delivery.error


def test_a_source_stage_map_names_the_vendor_stages(client, session, managers):
    source = make_source(session, Kind.GREENHOUSE, managers[1], stage_map={"Culture Vibes": "screen"})
    greenhouse_event(client, source, "greenhouse_new_candidate_application", "gh-1")
    odd = sample("greenhouse_candidate_stage_change")
    odd["payload"]["application"]["current_stage"] = {"id": 1, "name": "Culture Vibes"}
    body = body_of(odd)
    assert post(client, source, body, greenhouse_headers(SECRET, body, "gh-2")).status_code == 200
    assert only_candidate(session).stage == "screen"


def test_a_rejection_in_the_ats_closes_the_wait_as_ats_rejection(client, session, runner, greenhouse):
    greenhouse_event(client, greenhouse, "greenhouse_new_candidate_application", "gh-1")
    greenhouse_event(client, greenhouse, "greenhouse_reject_candidate", "gh-2")
    candidate = only_candidate(session)
    assert candidate.status == Status.REJECTED
    (wait,) = waits_of(session, candidate)
    assert wait.closed_at == dt.datetime(2026, 11, 26, 16, 30, tzinfo=dt.UTC)
    result = runner.invoke(args=["export", "response-times", "--format", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["closed_by"] == "ats_rejection"


def test_they_rejected_us_is_a_withdrawal(client, session, greenhouse):
    greenhouse_event(client, greenhouse, "greenhouse_new_candidate_application", "gh-1")
    payload = sample("greenhouse_reject_candidate")
    payload["payload"]["application"]["rejection_reason"]["type"]["name"] = "They rejected us"
    body = body_of(payload)
    assert post(client, greenhouse, body, greenhouse_headers(SECRET, body, "gh-2")).status_code == 200
    assert only_candidate(session).status == Status.WITHDRAWN


def test_an_event_about_an_application_never_seen_changes_nothing(client, session, greenhouse):
    response = greenhouse_event(client, greenhouse, "greenhouse_candidate_stage_change", "gh-1")
    assert response.json["status"] == DeliveryStatus.IGNORED
    assert count(session, Candidate) == 0


def test_unknown_source_answers_404_and_a_large_body_413(client, app, greenhouse):
    body = body_of(sample("greenhouse_ping"))
    assert client.post(f"/hooks/greenhouse/{'x' * 20}", data=body).status_code == 404
    assert client.post(f"/hooks/lever/{greenhouse.public_id}", data=body).status_code == 404
    app.config["WEBHOOK_MAX_BYTES"] = 100
    large = b"{" + b" " * 200 + b"}"
    assert post(client, greenhouse, large, greenhouse_headers(SECRET, large)).status_code == 413


def test_webhooks_need_no_csrf_token(make_app, session, greenhouse):
    app = make_app(WTF_CSRF_ENABLED=True)
    body = body_of(sample("greenhouse_new_candidate_application"))
    with app.app_context():
        response = post(app.test_client(), greenhouse, body, greenhouse_headers(SECRET, body))
    assert response.status_code == 200


# Ashby


@pytest.fixture
def ashby(session, managers):
    return make_source(session, Kind.ASHBY, managers[1])


def test_an_ashby_application_creates_the_candidate_once_and_needs_its_signature(client, session, ashby):
    body = body_of(sample("ashby_application_submit"))
    assert (
        post(client, ashby, body.replace(b"Katherine", b"Katherinf"), ashby_headers(SECRET, body)).status_code
        == 401
    )
    assert post(client, ashby, body, {"Ashby-Signature": "sha256 " + "0" * 64}).status_code == 401
    assert count(session, Candidate) == count(session, Delivery) == 0
    assert post(client, ashby, body, ashby_headers(SECRET, body)).status_code == 200
    assert post(client, ashby, body, ashby_headers(SECRET, body)).json["status"] == "replay"
    candidate = only_candidate(session)
    assert (candidate.name, candidate.email, candidate.stage) == (
        "Katherine Johnson",
        "katherine@example.org",
        "applied",
    )
    assert candidate.position.title == "Flight Data Analyst"
    assert candidate.position.manager.email == "dora@example.com"  # Dorothy has no account here
    (wait,) = waits_of(session, candidate)
    assert wait.reason == WaitReason.APPLICATION
    assert wait.opened_at == dt.datetime(2026, 11, 24, 8, 15, 30, 123000, tzinfo=dt.UTC)
    body = body_of(sample("ashby_candidate_stage_change"))
    assert post(client, ashby, body, ashby_headers(SECRET, body)).status_code == 200
    assert only_candidate(session).stage == "screen"


# Workable


@pytest.fixture
def workable(session, managers):
    return make_source(session, Kind.WORKABLE, managers[1])


def test_a_workable_candidate_creates_the_candidate_once_and_needs_its_signature(client, session, workable):
    body = body_of(sample("workable_candidate_created"))
    assert post(client, workable, body + b" ", workable_headers(SECRET, body)).status_code == 401
    assert post(client, workable, body, {}).status_code == 401
    assert count(session, Candidate) == 0
    assert post(client, workable, body, workable_headers(SECRET, body)).status_code == 200
    assert post(client, workable, body, workable_headers(SECRET, body)).json["status"] == "replay"
    candidate = only_candidate(session)
    assert (candidate.name, candidate.email, candidate.stage) == ("Mae Jemison", "mae@example.org", "applied")
    assert (
        candidate.position.title == "Mission Engineer"
        and candidate.position.manager.email == "dora@example.com"
    )
    (wait,) = waits_of(session, candidate)
    assert wait.opened_at == dt.datetime(2026, 11, 24, 11, 2, 40, tzinfo=dt.UTC)
    body = body_of(sample("workable_candidate_moved"))
    assert post(client, workable, body, workable_headers(SECRET, body)).status_code == 200
    assert only_candidate(session).stage == "screen"
    moved = sample("workable_candidate_moved")
    moved["fired_at"] = "2026-11-27T10:00:00Z"
    moved["data"].update(disqualified=True, disqualification_reason="Not a fit")
    body = body_of(moved)
    assert post(client, workable, body, workable_headers(SECRET, body)).status_code == 200
    assert only_candidate(session).status == Status.REJECTED


def test_a_delivery_is_stored_before_processing_so_a_crash_loses_nothing(client, session, runner, greenhouse):
    from feedback_sla.ats import apply

    body = body_of(sample("greenhouse_new_candidate_application"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apply, "apply", lambda *args: (_ for _ in ()).throw(RuntimeError("processing broke")))
        assert post(client, greenhouse, body, greenhouse_headers(SECRET, body)).status_code == 500
    assert session.scalar(select(Delivery.status)) == DeliveryStatus.RECEIVED
    assert count(session, Candidate) == 0
    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 0 and "processed 1" in result.output
    assert only_candidate(session).email == "ada@example.org"
