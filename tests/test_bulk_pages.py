"""Answering many at once in the browser: select on the candidates list, confirm, one Undo."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import erasure

from .bulk_support import NAMES, manager_with_position, waiting_candidates
from .factories import PositionFactory, UserFactory
from .helpers import csrf_token, logged_in, text


@pytest.fixture(autouse=True)
def _a_wednesday_morning():
    """The tests' own clock (ticking from a Wednesday morning), whatever the day they run."""
    with time_machine.travel(dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC), tick=True):
        yield


UNDO = re.compile(r'action="(/emails/batches/[0-9a-f]+/undo)"')


def statuses(session) -> set[OutboxStatus]:
    session.expire_all()
    return set(session.scalars(sa.select(OutboxMessage.status)))


def confirm_page(client, ids, kind="rejection", **extra):
    return client.get("/emails/bulk", query_string={"candidate": ids, "kind": kind, **extra})


def test_the_candidates_list_offers_a_checkbox_per_row_and_the_bulk_actions(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3])
    logged_in(client, manager)
    page = text(client.get("/candidates"))
    for person in people:
        assert (
            f'name="candidate" value="{person.id}" form="bulk-select" aria-label="Select {person.name}"'
            in page
        )
        assert f'name="on_page" value="{person.id}"' in page
    assert 'aria-label="Select all on this page" data-bulk-all' in page
    assert 'name="kind" value="rejection"' in page and 'name="kind" value="next_step"' in page


def test_thirty_are_rejected_after_typing_their_number_and_one_undo_takes_all_back(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position)
    ids = [p.id for p in people]
    logged_in(client, manager)

    page = text(confirm_page(client, ids, next="/candidates"))
    assert all(name in page for name in NAMES)
    assert "Type the number of candidates to confirm" in page and "type 30 to confirm" in page
    form = {"kind": "rejection", "candidate": ids, "nonce": "bulk-nonce-1", "next": "/candidates"}
    refused = client.post("/emails/bulk", data={**form, "confirm": "3"})
    assert refused.status_code == 409
    assert "you typed 3, but 30 candidates would be answered; type 30" in text(refused)
    assert statuses(session) == set()

    done = client.post("/emails/bulk", data={**form, "confirm": "30", "feedback": "Thank you."})
    assert done.status_code == 302 and done.headers["Location"] == "/candidates"
    after = text(client.get("/candidates"))
    assert "Queued 30 rejections, each to its own candidate." in after
    session.expire_all()
    rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.to_name for m in rows] == list(NAMES)
    assert all(m.to_name.split()[0] in m.text_body and "Thank you." in m.text_body for m in rows)

    (undo,) = UNDO.findall(after)
    undone = client.post(undo, data={"next": "/candidates"})
    assert undone.status_code == 302
    assert "Undone: 30 rejections will not be sent" in text(client.get("/candidates"))
    assert statuses(session) == {OutboxStatus.CANCELLED}
    assert set(session.scalars(sa.select(Candidate.status))) == {Status.ACTIVE}


def test_a_batch_with_one_erased_candidate_sends_the_others_and_names_the_skipped_one(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:4])
    erasure.erase(session, people[2], utcnow(), erasure.Request("admin", "asked by the candidate"))
    session.commit()
    skipped_name = session.get(Candidate, people[2].id).name
    logged_in(client, manager)
    ids = [p.id for p in people]

    page = text(confirm_page(client, ids, kind="next_step"))
    assert f"{skipped_name}: their personal data was erased" in page
    client.post("/emails/bulk", data={"kind": "next_step", "candidate": ids, "nonce": "bulk-nonce-2"})
    after = text(client.get("/candidates"))
    assert f"Skipped 1: {skipped_name} (their personal data was erased)." in after
    assert "Queued 3 next-step invitations" in after
    session.expire_all()
    assert sorted(session.scalars(sa.select(OutboxMessage.candidate_id))) == sorted(ids[:2] + ids[3:])


def test_all_on_this_page_selects_every_row_without_javascript(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3])
    logged_in(client, manager)
    page = text(
        client.get(
            "/emails/bulk", query_string={"all": "1", "on_page": [p.id for p in people], "kind": "update"}
        )
    )
    assert all(f'name="candidate" value="{p.id}"' in page for p in people)
    assert "Recipients (3)" in page and "will hear by" in page


def test_a_manager_cannot_answer_another_managers_candidates(client, session):
    manager, position = manager_with_position(session)
    mine = waiting_candidates(session, position, NAMES[:1])
    other = PositionFactory(manager=UserFactory(), title="Designer")
    theirs = waiting_candidates(session, other, ["Ana Stranger"], prefix="s")
    logged_in(client, manager)
    ids = [mine[0].id, theirs[0].id]

    page = text(confirm_page(client, ids))
    assert "Ana Stranger" not in page
    assert f"Candidate {theirs[0].id}: no such candidate among yours" in page
    client.post(
        "/emails/bulk", data={"kind": "rejection", "candidate": [theirs[0].id], "nonce": "bulk-nonce-3"}
    )
    assert "Nothing was queued" in text(client.get("/candidates"))
    assert statuses(session) == set()


def test_an_admin_answers_any_managers_candidates(client, session):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:2])
    admin = UserFactory(role="admin")
    logged_in(client, admin)
    client.post(
        "/emails/bulk", data={"kind": "update", "candidate": [p.id for p in people], "nonce": "bulk-n-4"}
    )
    assert statuses(session) == {OutboxStatus.PENDING}


def test_the_post_needs_its_csrf_token(csrf_on, client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:2])
    logged_in(client, manager)
    form = {"kind": "rejection", "candidate": [p.id for p in people], "nonce": "bulk-nonce-5"}
    assert client.post("/emails/bulk", data=form).status_code == 400
    assert statuses(session) == set()
    token = csrf_token(
        client, f"/emails/bulk?kind=rejection&candidate={people[0].id}&candidate={people[1].id}"
    )
    assert client.post("/emails/bulk", data={**form, "csrf_token": token}).status_code == 302
    assert statuses(session) == {OutboxStatus.PENDING}


def test_nothing_selected_says_so(client, session):
    manager, _ = manager_with_position(session)
    logged_in(client, manager)
    page = text(client.get("/emails/bulk", query_string={"kind": "rejection", "next": "/candidates"}))
    assert "No candidate is selected" in page
    client.post("/emails/bulk", data={"kind": "rejection", "nonce": "bulk-nonce-6", "next": "/candidates"})
    assert "Nothing was queued. Select candidates first." in text(client.get("/candidates"))


def test_the_triage_page_selects_rows_and_all_on_the_page_for_one_answer(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3])
    logged_in(client, manager)
    page = text(client.get("/"))
    for person in people:
        assert f'name="candidate" value="{person.id}" form="bulk-select"' in page
        assert f'name="on_page" value="{person.id}"' in page
    assert "data-bulk-all>All on this page</label>" in page

    chosen = {"all": "1", "on_page": [p.id for p in people], "kind": "update", "next": "/"}
    confirm = text(client.get("/emails/bulk", query_string=chosen))
    assert "Recipients (3)" in confirm
    form = {"kind": "update", "candidate": [p.id for p in people], "nonce": "bulk-triage-1", "next": "/"}
    assert client.post("/emails/bulk", data=form).headers["Location"] == "/"
    assert "Queued 3 status updates, each to its own candidate." in text(client.get("/"))
    assert statuses(session) == {OutboxStatus.PENDING}
