"""Lever webhooks: signed inside the body (``token + triggeredAt``), ids only, the details fetched
from a local HTTP server answering with Lever's documented examples
(https://hire.lever.co/developer/documentation; tests/webhooks/vendor/lever, see webhooks_support)."""

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
from .webhooks_support import (
    LeverApi,
    body_of,
    count,
    documented_json,
    lever_documented_stage_change,
    lever_opportunity,
    lever_posting,
    lever_signed,
    post,
    sample,
)

#: Lever's documented application is dated December 2014.
NOW = dt.datetime(2014, 12, 20, 12, 0, tzinfo=dt.UTC)
SECRET = "lever-signature-token-0123456789"
API_KEY = "lever-api-key-abc"
#: The opportunity of Lever's example delivery, and of its documented application.
OPPORTUNITY = "3410c8b9-5c31-4bab-b7e9-9f710206d647"
#: The posting of Lever's documented application (its documented posting is served there).
POSTING = "6a1e4b79-75a3-454f-9417-ea79612b9585"
#: Lever's documented application was created at 1418353241665 (epoch milliseconds).
APPLIED_AT = dt.datetime(2014, 12, 12, 3, 0, 41, 665000, tzinfo=dt.UTC)


def application_created(opportunity: str = OPPORTUNITY) -> dict:
    """An ``applicationCreated`` delivery (Lever publishes no example of one) for ``opportunity``."""
    payload = sample("lever_application_created")
    payload["data"]["opportunityId"] = opportunity
    return payload


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def lever_api(app):
    with LeverApi() as api:
        api.answer(f"/opportunities/{OPPORTUNITY}", lever_opportunity())
        api.answer(f"/postings/{POSTING}", lever_posting())
        app.config["LEVER_API_BASE"] = api.base
        app.config["LEVER_API_TIMEOUT"] = 5
        yield api


@pytest.fixture
def lever(session):
    UserFactory(email="chandler@example.com", name="Chandler Bing")  # the documented posting's manager
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    new = sources.NewSource(Kind.LEVER, "Lever", dora, SECRET, api_key=API_KEY)
    source = sources.create_source(session, new, NOW)
    session.commit()
    return source


def test_a_lever_application_fetches_its_details_and_creates_the_candidate_once(
    client, session, lever, lever_api
):
    body = body_of(lever_signed(application_created(), SECRET))
    response = post(client, lever, body)
    assert response.status_code == 200, session.scalar(select(Delivery.error))
    (candidate,) = session.scalars(select(Candidate)).all()
    # Lever's documented opportunity, its application, its stage and its posting's hiring manager.
    assert (candidate.name, candidate.email, candidate.stage) == (
        "Shane Smith",
        "shane@exampleq3.com",
        "applied",  # "New applicant"
    )
    assert candidate.position.title == "Infrastructure Engineer"
    assert candidate.position.manager.email == "chandler@example.com"
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.reason == WaitReason.APPLICATION
    assert wait.opened_at == APPLIED_AT
    paths = [path for path, _ in lever_api.requests]
    assert paths[0].startswith(f"/v1/opportunities/{OPPORTUNITY}?expand=applications&expand=stage")
    assert all(auth == "Basic bGV2ZXItYXBpLWtleS1hYmM6" for _, auth in lever_api.requests)  # key, no password
    assert post(client, lever, body).json["status"] == "replay"
    assert count(session, Candidate) == 1 and count(session, Delivery) == 1


def test_applications_to_one_posting_read_the_posting_once(client, session, lever, lever_api):
    # A second opportunity of Lever's documented list (Chaofan West), applied to the same posting.
    other = lever_opportunity()
    other["data"].update(
        id="5c86dcd8-6cf1-40da-9ae3-5e7ea91079f5",
        name="Chaofan West",
        contact="bd4d81c8-7858-4624-be98-552dfb9ca850",
        emails=["chaofan@example.com"],
    )
    lever_api.answer("/opportunities/5c86dcd8-6cf1-40da-9ae3-5e7ea91079f5", other)
    for index, opportunity in enumerate((OPPORTUNITY, "5c86dcd8-6cf1-40da-9ae3-5e7ea91079f5")):
        payload = application_created(opportunity)
        payload.update(id=f"delivery-{index}", token=f"token-{index}")
        assert post(client, lever, body_of(lever_signed(payload, SECRET))).status_code == 200
    assert count(session, Candidate) == 2
    postings = [path for path, _ in lever_api.requests if path.startswith("/v1/postings/")]
    assert postings == [f"/v1/postings/{POSTING}?expand=hiringManager"]


def test_a_lever_body_changed_answers_401_and_creates_nothing(client, session, lever, lever_api):
    signed = lever_signed(application_created(), SECRET)
    signed["token"] = signed["token"][:-1] + "0"
    assert post(client, lever, body_of(signed)).status_code == 401
    unsigned = application_created()
    del unsigned["signature"]
    assert post(client, lever, body_of(unsigned)).status_code == 401
    assert count(session, Candidate) == count(session, Delivery) == 0 and lever_api.requests == []


def test_a_stale_lever_timestamp_answers_401(client, session, lever, lever_api):
    stale = lever_signed(application_created(), SECRET, at=NOW - dt.timedelta(minutes=6))
    response = post(client, lever, body_of(stale))
    assert response.status_code == 401 and "5 minutes" in response.json["error"]
    fresh_enough = lever_signed(application_created(), SECRET, at=NOW - dt.timedelta(minutes=4))
    assert post(client, lever, body_of(fresh_enough)).status_code == 200
    assert count(session, Candidate) == 1


def test_lever_s_example_stage_change_reads_the_new_stage_from_the_api(client, session, lever, lever_api):
    # https://hire.lever.co/developer/documentation#webhooks, "Example delivery" (no "id": known by
    # its token); its triggeredAt (2015) and signature (Lever's token) are replaced to sign it here.
    applied(client, lever)
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", lever_opportunity(stage="Phone Interview"))
    delivery = lever_documented_stage_change()
    assert delivery["data"]["opportunityId"] == OPPORTUNITY and "id" not in delivery
    response = post(client, lever, body_of(lever_signed(delivery, SECRET)))
    assert response.json["status"] == DeliveryStatus.PROCESSED
    assert session.scalar(select(Candidate.stage)) == "screen"  # "Phone Interview"
    event_ids = session.scalars(
        select(Delivery.event_id).where(Delivery.event_type == "candidateStageChange")
    )
    assert list(event_ids) == ["be58f711f349c7780e4579cd7c63341ac6f881e4dccc3154"]


def test_lever_s_test_request_is_answered_and_ignored(client, session, lever, lever_api):
    # https://hire.lever.co/developer/documentation#webhooks: "Our test POST request looks like
    # this", a candidateHired with empty data; signed here as Lever signs.
    response = post(client, lever, body_of(lever_signed(documented_json("lever", "test_request"), SECRET)))
    assert response.status_code == 200 and response.json["status"] == DeliveryStatus.IGNORED
    assert count(session, Candidate) == 0 and lever_api.requests == []


def test_the_lever_api_down_keeps_the_delivery_for_sources_retry(client, session, runner, lever, lever_api):
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", {"code": "ServiceUnavailable"}, status=503)
    response = post(client, lever, body_of(lever_signed(application_created(), SECRET)))
    assert response.status_code == 202
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.FAILED and "503" in delivery.error and delivery.attempts == 1
    assert count(session, Candidate) == 0
    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 1 and "still failing 1" in result.output
    lever_api.answer(f"/opportunities/{OPPORTUNITY}", lever_opportunity())
    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 0, result.output
    assert "processed 1, still failing 0" in result.output
    session.expire_all()
    delivery = session.scalar(select(Delivery))
    assert delivery.status == DeliveryStatus.PROCESSED and delivery.attempts == 3
    assert session.scalar(select(Candidate.email)) == "shane@exampleq3.com"


def test_a_lever_source_needs_an_api_key(session):
    from feedback_sla.errors import DomainError

    dora = UserFactory()
    with pytest.raises(DomainError, match="API key"):
        sources.create_source(session, sources.NewSource(Kind.LEVER, "Lever", dora, SECRET), NOW)


# Lever's other events, in the shape https://hire.lever.co/developer/documentation#webhooks gives
# them (tests/webhooks/vendor/lever; their data fields are folded away on that page, so these carry
# the documented fields with the example delivery's ids): ids only, the archive reason read from
# GET /archive_reasons/{id}, answered with Lever's documented reasons (List all archive reasons).

REASON = "63dd55b2-a99f-4e7b-985f-22c7bf80ab42"


def archive_reason(text: str) -> dict:
    (reason,) = [r for r in documented_json("lever", "archive_reasons")["data"] if r["text"] == text]
    return reason


def lever_event(event: str) -> bytes:
    return body_of(lever_signed(documented_json("lever", event), SECRET))


def applied(client, lever) -> None:
    assert post(client, lever, body_of(lever_signed(application_created(), SECRET))).status_code == 200


def test_a_lever_hire_closes_the_wait_with_hired(client, session, lever, lever_api):
    applied(client, lever)
    assert post(client, lever, lever_event("candidate_hired")).json["status"] == DeliveryStatus.PROCESSED
    session.expire_all()
    candidate = session.scalar(select(Candidate))
    assert candidate.status == Status.HIRED
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.closed_at is not None and abs(wait.closed_at - NOW) < dt.timedelta(minutes=1)


def test_the_documented_archive_reason_is_the_listed_one():
    # https://hire.lever.co/developer/documentation: Retrieve a single archive reason
    assert documented_json("lever", "archive_reason")["data"] == archive_reason("Underqualified")
    assert archive_reason("Underqualified")["id"] == REASON


@pytest.mark.parametrize(
    ("reason", "status"),
    [("Underqualified", Status.REJECTED), ("Withdrew", Status.WITHDRAWN), ("Hired", Status.HIRED)],
)
def test_a_lever_archive_is_what_its_reason_says_at_its_archive_time(
    client, session, lever, lever_api, reason, status
):
    documented = archive_reason(reason)
    lever_api.answer(f"/archive_reasons/{documented['id']}", {"data": documented})
    applied(client, lever)
    archived = documented_json("lever", "candidate_archive_change")
    archived["data"]["toArchived"]["reason"] = documented["id"]
    assert post(client, lever, body_of(lever_signed(archived, SECRET))).status_code == 200
    session.expire_all()
    assert session.scalar(select(Candidate.status)) == status
    (wait,) = session.scalars(select(Wait)).all()
    assert wait.closed_at == dt.datetime.fromtimestamp(1418900000, dt.UTC)  # toArchived.archivedAt


def test_a_lever_deletion_erases_the_opportunity_candidate(client, session, lever, lever_api):
    applied(client, lever)
    assert post(client, lever, lever_event("candidate_deleted")).json["status"] == DeliveryStatus.PROCESSED
    session.expire_all()
    candidate = session.scalar(select(Candidate))
    assert candidate.erased_at is not None and "Shane" not in candidate.name
    assert not any("shane@exampleq3.com" in body for body in session.scalars(select(Delivery.body)))
