"""Greenhouse's own webhook examples, posted byte for byte and signed as Greenhouse signs
(``Signature: sha256 <hex>``, HMAC-SHA256 of the raw body): the candidate, status and wait each one
gives. Every example is from https://developers.greenhouse.io/webhooks.html (its source:
github.com/grnhse/greenhouse-api-docs, source/includes/webhooks/). An event about an application
needs that application here first: it is created from Greenhouse's own application example with
the ids of the event under test.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select

from feedback_sla.ats.models import Delivery, DeliveryStatus, ExternalId, Kind
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.waits.models import Wait, WaitReason

from .factories import UserFactory
from .webhooks_support import body_of, connected, documented, documented_json, greenhouse_headers, post

#: Greenhouse's examples are dated 2013 to 2017; the app takes dates up to ten years back.
NOW = dt.datetime(2018, 1, 8, 12, 0, tzinfo=dt.UTC)
SECRET = "greenhouse-secret-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def greenhouse(session):
    UserFactory(email="grace@example.com", name="Grace Hopper")
    return connected(session, Kind.GREENHOUSE, SECRET, NOW)


def send(client, source, body: bytes, event_id: str):
    response = post(client, source, body, greenhouse_headers(SECRET, body, event_id))
    assert response.status_code == 200, response.json
    return response


def send_documented(client, source, event: str, event_id: str):
    return send(client, source, documented("greenhouse", event), event_id)


def application_of(person_id: int, application_id: int, applied_at: str, **person) -> bytes:
    """Greenhouse's documented new application, for the person and application of another example."""
    payload = documented_json("greenhouse", "new_candidate_application")
    application = payload["payload"]["application"]
    application.update(id=application_id, applied_at=applied_at)
    application["current_stage"] = {"id": 2944101, "name": "Application Review", "interviews": []}
    job = person.pop("job", None)
    if job:
        application["jobs"][0].update(id=job[0], name=job[1])
    candidate = application["candidate"]
    candidate.update(
        id=person_id, first_name=person.get("first", "Jack"), last_name=person.get("last", "Sparrow")
    )
    candidate["email_addresses"] = [{"value": person.get("email", "jack@example.org"), "type": "personal"}]
    return body_of(payload)


def candidate_of(session, application_id: int) -> Candidate:
    session.expire_all()
    mapping = session.scalar(select(ExternalId).where(ExternalId.external_id == str(application_id)))
    return mapping.candidate


def waits_of(session, candidate) -> list[Wait]:
    return list(session.scalars(select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))


def delivery(session, event_id: str) -> Delivery:
    return session.scalar(select(Delivery).where(Delivery.event_id == event_id))


def test_the_documented_application_creates_its_candidate_and_application_wait(client, session, greenhouse):
    # https://developers.greenhouse.io/webhooks.html#application-created
    send_documented(client, greenhouse, "new_candidate_application", "gh-1")
    candidate = candidate_of(session, 71980812)
    assert (candidate.name, candidate.email, candidate.stage) == (
        "Jane Smith",
        "person@example.com",
        "screen",
    )
    assert candidate.position.title == "Data Scientist"
    # Greenhouse names the hiring manager by user id only: the source's default manager owns the job.
    assert candidate.position.manager.email == "dora@example.com"
    (wait,) = waits_of(session, candidate)
    assert wait.reason == WaitReason.APPLICATION and wait.closed_at is None
    assert wait.opened_at == dt.datetime(2017, 10, 27, 14, 44, 43, tzinfo=dt.UTC)
    assert delivery(session, "gh-1").status == DeliveryStatus.PROCESSED


def test_the_documented_stage_change_moves_the_stage(client, session, greenhouse):
    # https://developers.greenhouse.io/webhooks.html#candidate-stage-change
    send(client, greenhouse, application_of(265772, 265277, "2013-03-22T00:00:00Z"), "gh-1")
    send_documented(client, greenhouse, "candidate_stage_change", "gh-2")
    candidate = candidate_of(session, 265277)
    assert candidate.stage == "interview"  # "Assessment"
    assert candidate.status == Status.ACTIVE
    assert delivery(session, "gh-2").status == DeliveryStatus.PROCESSED


def test_the_documented_rejection_closes_the_wait_as_an_ats_rejection(client, session, runner, greenhouse):
    # https://developers.greenhouse.io/webhooks.html#candidate-prospect-rejected
    send(client, greenhouse, application_of(265788, 265293, "2013-03-22T00:00:00Z"), "gh-1")
    send_documented(client, greenhouse, "reject_candidate", "gh-2")
    candidate = candidate_of(session, 265293)
    assert candidate.status == Status.REJECTED
    (wait,) = waits_of(session, candidate)
    assert wait.closed_at == dt.datetime(2015, 2, 11, 15, 50, 41, tzinfo=dt.UTC)
    result = runner.invoke(args=["export", "response-times", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [row["closed_by"] for row in json.loads(result.output)] == ["ats_rejection"]


def test_the_documented_hire_closes_the_wait_with_hired_when_the_offer_was_accepted(
    client, session, greenhouse
):
    # https://developers.greenhouse.io/webhooks.html#candidate-hired: no applied_at, last_activity_at
    # or rejected_at; the offer's resolved_at is when it was accepted.
    send(client, greenhouse, application_of(35897443, 46194062, "2014-11-01T09:00:00Z"), "gh-1")
    send_documented(client, greenhouse, "hire_candidate", "gh-2")
    candidate = candidate_of(session, 46194062)
    assert candidate.status == Status.HIRED
    (wait,) = waits_of(session, candidate)
    assert wait.closed_at == dt.datetime(2014, 11, 20, 22, 49, 14, tzinfo=dt.UTC)
    assert delivery(session, "gh-2").status == DeliveryStatus.PROCESSED


def test_a_hire_dated_nowhere_is_dated_by_its_delivery(client, session, greenhouse):
    # The documented hire without its offer: nothing in it says when.
    send(client, greenhouse, application_of(35897443, 46194062, "2014-11-01T09:00:00Z"), "gh-1")
    hire = documented_json("greenhouse", "hire_candidate")
    del hire["payload"]["application"]["offer"]
    arrived = NOW + dt.timedelta(hours=3)
    with time_machine.travel(arrived, tick=False):
        send(client, greenhouse, body_of(hire), "gh-2")
    candidate = candidate_of(session, 46194062)
    assert candidate.status == Status.HIRED
    assert waits_of(session, candidate)[0].closed_at == arrived


def test_the_documented_deletion_erases_the_person_and_keeps_their_waits(client, session, greenhouse):
    # https://developers.greenhouse.io/webhooks.html#candidate-deleted: the person is payload.person.id
    send(client, greenhouse, application_of(37031511, 46196263, "2013-03-22T00:00:00Z"), "gh-1")
    job = (4002543999, "Deckhand")
    send(client, greenhouse, application_of(37031511, 46196258, "2013-03-23T00:00:00Z", job=job), "gh-2")
    other = application_of(
        60304594, 71980812, "2013-03-24T00:00:00Z", first="Jane", last="Smith", email="jane@example.org"
    )
    send(client, greenhouse, other, "gh-3")
    send_documented(client, greenhouse, "delete_candidate", "gh-4")

    for application_id in (46196263, 46196258):
        erased = candidate_of(session, application_id)
        assert erased.erased_at is not None and "Sparrow" not in erased.name and "jack@" not in erased.email
        assert len(waits_of(session, erased)) == 1
    kept = candidate_of(session, 71980812)
    assert (kept.name, kept.email, kept.erased_at) == ("Jane Smith", "jane@example.org", None)
    gone = delivery(session, "gh-4")
    assert gone.status == DeliveryStatus.PROCESSED
    bodies = session.scalars(select(Delivery.body)).all()
    assert not any("Sparrow" in body or "jack@example.org" in body for body in bodies)


def test_the_documented_anonymization_of_the_name_erases_the_person(client, session, greenhouse):
    # https://developers.greenhouse.io/webhooks.html#candidate-anonymized
    send(client, greenhouse, application_of(37031511, 46196263, "2013-03-22T00:00:00Z"), "gh-1")
    send_documented(client, greenhouse, "candidate_anonymized", "gh-2")
    assert candidate_of(session, 46196263).erased_at is not None


def test_the_documented_merge_keeps_one_candidate_per_position_with_the_winner_details(
    client, session, greenhouse
):
    # https://developers.greenhouse.io/webhooks.html#candidate-merged: person.id 37031511 is merged
    # into person.new_candidate_id 457456.
    winner = {"first": "Jack", "last": "Sparrow", "email": "captain@example.org"}
    send(client, greenhouse, application_of(457456, 50000001, "2013-03-20T00:00:00Z", **winner), "gh-1")
    send(client, greenhouse, application_of(37031511, 46196263, "2013-03-22T00:00:00Z"), "gh-2")
    other_job = application_of(37031511, 46196258, "2013-03-23T00:00:00Z", job=(4002543999, "Deckhand"))
    send(client, greenhouse, other_job, "gh-3")
    send_documented(client, greenhouse, "merge_candidate", "gh-4")

    session.expire_all()
    people = [c for c in session.scalars(select(Candidate)) if c.erased_at is None]
    assert sorted((c.position.title, c.name, c.email) for c in people) == [
        ("Data Scientist", "Jack Sparrow", "captain@example.org"),
        ("Deckhand", "Jack Sparrow", "captain@example.org"),
    ]
    assert candidate_of(session, 46196263).erased_at is not None  # the duplicate on the same job
    persons = session.scalars(select(ExternalId.ats_candidate_id).where(ExternalId.kind == "application"))
    assert set(persons) == {"457456"}
    assert delivery(session, "gh-4").status == DeliveryStatus.PROCESSED


def test_deliveries_left_failed_or_received_are_processed_by_sources_retry_once_readable(
    client, session, runner, greenhouse
):
    """Greenhouse's documented hire, delete and merge as a mapping that could not read them left
    them (failed with its reason, or received when processing broke off): ``sources retry``
    processes them, each dated by what it says or else by when it was received."""
    johnny = {"first": "Johnny", "last": "Smith", "email": "personal@example.com"}
    send(client, greenhouse, application_of(35897443, 46194062, "2014-11-01T09:00:00Z", **johnny), "gh-1")
    send(client, greenhouse, application_of(37031511, 46196263, "2013-03-22T00:00:00Z"), "gh-2")
    undated = documented_json("greenhouse", "hire_candidate")
    del undated["payload"]["application"]["offer"]
    undated["payload"]["application"]["id"] = 46194099
    other = {"first": "Anne", "last": "Bonny", "email": "anne@example.org"}
    send(client, greenhouse, application_of(35897499, 46194099, "2014-11-01T09:00:00Z", **other), "gh-3")
    received = NOW - dt.timedelta(hours=5)
    left = [
        (
            "hire_candidate",
            documented("greenhouse", "hire_candidate"),
            DeliveryStatus.FAILED,
            "application.last_activity_at: missing time",
        ),
        (
            "hire_candidate",
            body_of(undated),
            DeliveryStatus.FAILED,
            "application.last_activity_at: missing time",
        ),
        ("delete_candidate", documented("greenhouse", "delete_candidate"), DeliveryStatus.RECEIVED, None),
    ]
    for number, (action, body, status, error) in enumerate(left):
        session.add(
            Delivery(
                source=greenhouse,
                event_id=f"left-{number}",
                event_type=action,
                received_at=received,
                body=body.decode(),
                status=status.value,
                error=error,
                attempts=1 if error else 0,
            )
        )
    session.commit()

    result = runner.invoke(args=["sources", "retry"])
    assert result.exit_code == 0, result.output
    assert "processed 3, still failing 0" in result.output
    session.expire_all()
    assert {d.status for d in session.scalars(select(Delivery))} == {DeliveryStatus.PROCESSED}
    hired = candidate_of(session, 46194062)
    assert hired.status == Status.HIRED
    assert waits_of(session, hired)[0].closed_at == dt.datetime(2014, 11, 20, 22, 49, 14, tzinfo=dt.UTC)
    undated_hire = candidate_of(session, 46194099)
    assert undated_hire.status == Status.HIRED and waits_of(session, undated_hire)[0].closed_at == received
    assert candidate_of(session, 46196263).erased_at is not None
    assert runner.invoke(args=["sources", "retry"]).output.startswith("processed 0, still failing 0")
