"""Lever webhooks: signed inside the body (``token + triggeredAt``), ids only, the details fetched
from a local HTTP server answering with the shapes of Lever's API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.waits.models import Wait, WaitReason

from .factories import UserFactory
from .webhooks_support import LeverApi, body_of, count, documented_json, lever_signed, post, sample

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SECRET = "lever-signature-token-0123456789"
API_KEY = "lever-api-key-abc"
OPPORTUNITY = "250d8f03-738a-4bba-a671-8a3d73477145"
POSTING = "f2f01e16-27f8-4711-a728-7d49499795a0"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def lever_api(app):
    with LeverApi() as api:
        api.answer(f"/opportunities/{OPPORTUNITY}", sample("lever_opportunity"))
        api.answer(f"/postings/{POSTING}", sample("lever_posting"))
        app.config["LEVER_API_BASE"] = api.base
        app.config["LEVER_API_TIMEOUT"] = 5
        yield api


@pytest.fixture
def lever(session):
    UserFactory(email="grace@example.com", name="Grace Hopper")
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    new = sources.NewSource(Kind.LEVER, "Lever", dora, SECRET, api_key=API_KEY)
    source = sources.create_source(session, new, NOW)
    session.commit()
    return source


def test_a_lever_application_fetches_its_details_and_creates_the_candidate_once(
    client, session, lever, lever_api
):
    body = body_of(lever_signed(sample("lever_application_created"), SECRET))
    response = post(client, lever, body)
    assert response.status_code == 200, response.json
    (candidate,) = session.scalars(select(Candidate)).all()
    assert (candidate.name, candidate.email, candidate.stage) == (
        "Hedy Lamarr",
        "hedy@example.org",
        "applied",
    )
    assert candidate.position.title == "Radio Engineer"
    assert candidate.position.manager.email == "grace@example.com"
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.reason == WaitReason.APPLICATION
    assert wait.opened_at == dt.datetime.fromtimestamp(1764000000, dt.UTC)
    paths = [path for path, _ in lever_api.requests]
    assert paths[0].startswith(f"/v1/opportunities/{OPPORTUNITY}?expand=applications&expand=stage")
    assert all(auth == "Basic bGV2ZXItYXBpLWtleS1hYmM6" for _, auth in lever_api.requests)  # key, no password
    assert post(client, lever, body).json["status"] == "replay"
    assert count(session, Candidate) == 1 and count(session, Delivery) == 1


def test_applications_to_one_posting_read_the_posting_once(client, session, lever, lever_api):
    other = sample("lever_opportunity")
    other["data"].update(id="opp-2", name="Grace Hopper Jr", contact="contact-2", emails=["gh@example.org"])
    lever_api.answer("/opportunities/opp-2", other)
    for index, opportunity in enumerate((OPPORTUNITY, "opp-2")):
        payload = sample("lever_application_created")
        payload.update(id=f"delivery-{index}", token=f"token-{index}")
        payload["data"]["opportunityId"] = opportunity
        assert post(client, lever, body_of(lever_signed(payload, SECRET))).status_code == 200
    assert count(session, Candidate) == 2
    postings = [path for path, _ in lever_api.requests if path.startswith("/v1/postings/")]
    assert postings == [f"/v1/postings/{POSTING}?expand=hiringManager"]


def test_a_lever_body_changed_answers_401_and_creates_nothing(client, session, lever, lever_api):
    signed = lever_signed(sample("lever_application_created"), SECRET)
    signed["token"] = signed["token"][:-1] + "0"
    assert post(client, lever, body_of(signed)).status_code == 401
    unsigned = sample("lever_application_created")
    del unsigned["signature"]
    assert post(client, lever, body_of(unsigned)).status_code == 401
    assert count(session, Candidate) == count(session, Delivery) == 0 and lever_api.requests == []


def test_a_stale_lever_timestamp_answers_401(client, session, lever, lever_api):
    stale = lever_signed(sample("lever_application_created"), SECRET, at=NOW - dt.timedelta(minutes=6))
    response = post(client, lever, body_of(stale))
    assert response.status_code == 401 and "5 minutes" in response.json["error"]
    fresh_enough = lever_signed(sample("lever_application_created"), SECRET, at=NOW - dt.timedelta(minutes=4))
    assert post(client, lever, body_of(fresh_enough)).status_code == 200
    assert count(session, Candidate) == 1


def test_a_lever_stage_change_reads_the_new_stage_from_the_api(client, session, lever, lever_api):
    assert (
        post(client, lever, body_of(lever_signed(sample("lever_application_created"), SECRET))).status_code
        == 200
    )
    moved = sample("lever_opportunity")
    moved["data"]["stage"] = {"id": "f5d2c8a4-3b1e-4d6f-9a7c-2e0b8d6f4a1c", "text": "Phone Screen"}
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", moved)
    body = body_of(lever_signed(sample("lever_candidate_stage_change"), SECRET))
    assert post(client, lever, body).status_code == 200
    assert session.scalar(select(Candidate.stage)) == "screen"


def test_the_lever_api_down_keeps_the_delivery_for_sources_retry(client, session, runner, lever, lever_api):
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", {"code": "ServiceUnavailable"}, status=503)
    response = post(client, lever, body_of(lever_signed(sample("lever_application_created"), SECRET)))
    assert response.status_code == 202
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.FAILED and "503" in delivery.error and delivery.attempts == 1
    assert count(session, Candidate) == 0
    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 1 and "still failing 1" in result.output
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", sample("lever_opportunity"))
    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 0, result.output
    assert "processed 1, still failing 0" in result.output
    session.expire_all()
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.PROCESSED and delivery.attempts == 3
    assert session.scalar(select(Candidate.email)) == "hedy@example.org"


def test_a_lever_source_needs_an_api_key(session):
    from feedback_sla.errors import DomainError

    dora = UserFactory()
    with pytest.raises(DomainError, match="API key"):
        sources.create_source(session, sources.NewSource(Kind.LEVER, "Lever", dora, SECRET), NOW)


# Lever's other events, in the shape https://hire.lever.co/developer/documentation#webhooks gives
# them (tests/webhooks/vendor/lever): ids only, the archive reason read from GET /archive_reasons/{id}.

REASON = "63dd55b2-a99f-4e7b-985f-22c7bf80ab42"


def lever_event(event: str) -> bytes:
    return body_of(lever_signed(documented_json("lever", event), SECRET))


def applied(client, lever) -> None:
    assert (
        post(client, lever, body_of(lever_signed(sample("lever_application_created"), SECRET))).status_code
        == 200
    )


def test_a_lever_hire_closes_the_wait_with_hired(client, session, lever, lever_api):
    applied(client, lever)
    assert post(client, lever, lever_event("candidate_hired")).json["status"] == DeliveryStatus.PROCESSED
    session.expire_all()
    candidate = session.scalar(select(Candidate))
    assert candidate.status == Status.HIRED
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.closed_at is not None and abs(wait.closed_at - NOW) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ({}, Status.REJECTED),
        ({"text": "Withdrew", "type": "non-hired"}, Status.WITHDRAWN),
        ({"text": "Hired", "type": "hired"}, Status.HIRED),
    ],
    ids=["non-hired", "withdrew", "hired"],
)
def test_a_lever_archive_is_what_its_reason_says_at_its_archive_time(
    client, session, lever, lever_api, reason, status
):
    answer = documented_json("lever", "archive_reason")
    answer["data"].update(reason)
    lever_api.answer(f"/archive_reasons/{REASON}", answer)
    applied(client, lever)
    assert post(client, lever, lever_event("candidate_archive_change")).status_code == 200
    session.expire_all()
    assert session.scalar(select(Candidate.status)) == status
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.closed_at == dt.datetime.fromtimestamp(1764500000, dt.UTC)  # toArchived.archivedAt


def test_a_lever_deletion_erases_the_opportunity_candidate(client, session, lever, lever_api):
    applied(client, lever)
    assert post(client, lever, lever_event("candidate_deleted")).json["status"] == DeliveryStatus.PROCESSED
    session.expire_all()
    candidate = session.scalar(select(Candidate))
    assert candidate.erased_at is not None and "Lamarr" not in candidate.name
    assert not any("hedy@example.org" in body for body in session.scalars(select(Delivery.body)))
