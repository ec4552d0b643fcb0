"""The triage page a manager lives in: fifty rows a page, sorted as asked, counts over every row,
one main answer per row, back on the same row after an action, and Undo inside the message."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re

import pytest
import time_machine

from feedback_sla.candidates.models import Event, EventKind, Status
from feedback_sla.database import db
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory
from .helpers import count_statements
from .helpers import logged_in as login

UTC = dt.UTC
WEDNESDAY = dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ORG = OrgSettings()


@pytest.fixture
def traveller():
    with time_machine.travel(WEDNESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def maria(session):
    user = UserFactory(name="Maria Lopez", time_zone="UTC")
    session.commit()
    return user


@pytest.fixture
def backend(session, maria):
    position = PositionFactory(title="Backend Engineer", manager=maria, time_zone="UTC")
    session.commit()
    return position


def add_many(session, position, count: int, hours_apart: int = 5) -> list[int]:
    ids = []
    for i in range(count):
        opened = WEDNESDAY - dt.timedelta(hours=1 + hours_apart * i)
        candidate = service.add_candidate(
            session, position, f"Candidate {i:03d}", f"c{i}@example.com", opened, ORG
        )
        ids.append(candidate.id)
    session.commit()
    return ids


def get(client, path: str = "/", **args) -> str:
    response = client.get(path, query_string=args)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-candidate-id="(\d+)"', html)]


def counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-state-count="(\w+)">(\d+)<', html)}


def test_fifty_rows_a_page_counts_over_every_row_and_page_links_keep_the_filters(
    traveller, client, session, maria, backend
):
    ids = add_many(session, backend, 57)
    login(client, maria)
    first = get(client, "/", stage="applied")
    assert len(row_ids(first)) == 50
    assert sum(counts(first).values()) == 57 and 'data-total="57"' in first
    assert "Page 1 of 2" in first and "Showing 1–50 of 57." in first
    assert 'href="/?stage=applied&amp;page=2"' in first
    # A row's menu opened in place (no JavaScript) belongs to its page: the next one keeps the
    # filters, not the menu.
    with_menu = get(client, "/", stage="applied", menu=ids[0])
    assert (
        'href="/?stage=applied&amp;page=2"' in with_menu and "menu=" not in with_menu.split("Page 1 of 2")[1]
    )
    second = get(client, "/", stage="applied", page=2)
    assert len(row_ids(second)) == 7 and not set(row_ids(first)) & set(row_ids(second))
    assert set(row_ids(first)) | set(row_ids(second)) == set(ids)
    assert sum(counts(second).values()) == 57  # the counts do not depend on the page
    assert row_ids(get(client, "/", page=99)) == row_ids(second)  # past the last page: the last one
    assert row_ids(get(client, "/", page="abc")) == row_ids(first)


def test_sorted_by_urgency_deadline_days_waited_or_name(traveller, client, session, maria, backend):
    ids = add_many(session, backend, 6, hours_apart=30)  # Candidate 000 newest ... 005 oldest
    newest = session.query(Wait).filter(Wait.candidate_id == ids[0]).one()
    newest.follow_ups = 2  # escalated: first by urgency although its deadline is the latest
    session.commit()
    login(client, maria)
    by_urgency = row_ids(get(client, "/"))
    assert by_urgency[0] == ids[0]
    assert row_ids(get(client, "/", sort="waited")) == list(reversed(ids))
    by_deadline = row_ids(get(client, "/", sort="deadline"))
    due = {w.candidate_id: w.due_at for w in session.query(Wait)}
    assert [due[i] for i in by_deadline] == sorted(due.values()) and by_deadline != by_urgency
    assert row_ids(get(client, "/", sort="name")) == ids
    html = get(client, "/", sort="name")
    assert '<option value="name" selected>Name</option>' in html
    assert row_ids(get(client, "/", sort="nonsense")) == by_urgency


def test_a_row_has_one_main_answer_and_a_menu_naming_the_candidate(
    traveller, client, session, maria, backend
):
    zoe = service.add_candidate(session, backend, "Zoë O'Brien", "zoe@example.com", WEDNESDAY, ORG)
    session.commit()
    login(client, maria)
    # The row's menu is written once a page, for app.js to fill in on each row; without
    # JavaScript, More leads to the page with the row's menu in place.
    plain = html_module.unescape(get(client, "/", page=1))
    (row,) = re.findall(rf'<tr data-candidate-id="{zoe.id}".*?</tr>', plain, flags=re.S)
    assert f'<a href="/?page=1&menu={zoe.id}#row-{zoe.id}">Log a call, offer or reject' in row
    assert plain.count('<template id="row-menu">') == 1 and "/candidates/0/contact" in plain
    html = html_module.unescape(get(client, "/", page=1, menu=zoe.id))
    (row,) = re.findall(rf'<tr data-candidate-id="{zoe.id}".*?</tr>', html, flags=re.S)
    assert '<details class="menu row-menu" open>' in row
    assert row.count('class="btn btn-sm btn-primary"') == 1
    assert re.search(r'>Send update<span class="visually-hidden"> Zoë O\'Brien</span></button>', row)
    assert re.search(r'>Reject<span class="visually-hidden"> Zoë O\'Brien</span></button>', row)
    # Every button but Log the call (its own form, with a note) posts the page's one form to an
    # address naming this candidate, and the form's "next" brings the manager back to the row
    # acted on. Offer and Reject are there twice: one click on a wide screen, confirmed on a phone.
    assert row.count("<button") - 1 == row.count('<button form="qa" ') == 6
    assert set(re.findall(r'formaction="/candidates/(\d+)/', row)) == {str(zoe.id)}
    assert re.findall(r'<form method="post" action="/candidates/(\d+)/contact"', row) == [str(zoe.id)]
    # The page's form and the row's Log a call form both come back to the row (not to its menu).
    assert set(re.findall(r'<input type="hidden" name="next" value="([^"]+)">', html)) == {"/?page=1#row"}
    back = "/?page=1#row"
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    response = client.post(f"/candidates/{zoe.id}/followed-up", data={"nonce": nonce, "next": back})
    assert response.status_code == 302 and response.location == f"/?page=1#row-{zoe.id}"
    assert 'href="#main"' in html and '<main id="main"' in html  # the skip link


def test_the_page_costs_the_same_statements_for_three_or_three_hundred_rows(
    traveller, client, session, maria, backend
):
    other = PositionFactory(title="Designer", manager=maria, time_zone="Europe/Berlin")
    session.commit()
    add_many(session, backend, 3)
    login(client, maria)
    get(client)
    with count_statements() as few:
        get(client)
    add_many(session, other, 300, hours_apart=1)
    with count_statements() as many:
        html = get(client)
    assert len(many) == len(few)
    assert len(row_ids(html)) == 50


def test_queued_rejection_message_holds_its_undo_and_the_time_left(
    traveller, client, session, maria, backend
):
    ana = service.add_candidate(session, backend, "Ana Okafor", "ana@example.com", WEDNESDAY, ORG)
    session.commit()
    login(client, maria)
    html = get(client, "/", page=2)  # a page past the last shows the last, and next keeps what was asked
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    response = client.post(
        f"/candidates/{ana.id}/emails/rejection", data={"nonce": nonce, "next": "/?page=1", "row": ana.id}
    )
    assert response.status_code == 302 and response.location == f"/?page=1#row-{ana.id}"
    traveller.shift(dt.timedelta(seconds=15))
    after = get(client, "/", page=1)
    (message,) = re.findall(
        r"<div class=\"alert[^\"]*\" role=\"status\" data-undo-message>.*?</div>", after, re.S
    )
    assert "Rejection to Ana Okafor queued" in message
    undo_url = re.search(r'action="(/emails/\d+/undo)"', message).group(1)
    assert ">Undo</button>" in message and "45 s left" in message
    response = client.post(undo_url, data={"next": f"/?page=1#row-{ana.id}"})
    assert response.location == f"/?page=1#row-{ana.id}"
    back = get(client, "/")
    assert "Undone: the rejection to Ana Okafor will not be sent." in back
    assert ana.id in row_ids(back)
    assert db.session.get(type(ana), ana.id).status == Status.ACTIVE


def test_a_logged_call_can_be_undone_within_the_window_and_the_wait_is_back(
    traveller, client, session, maria, backend
):
    ana = service.add_candidate(session, backend, "Ana Okafor", "ana@example.com", WEDNESDAY, ORG)
    session.commit()
    login(client, maria)
    response = client.post(f"/candidates/{ana.id}/contact", data={"channel": "phone", "next": "/"})
    after = get(client, response.location)
    assert "Logged contact with Ana Okafor (phone call): their wait is closed." in after
    assert ana.id not in row_ids(after)
    undo_url = re.search(r'action="(/candidates/\d+/events/\d+/undo)"', after).group(1)
    traveller.shift(dt.timedelta(seconds=30))
    back = get(client, client.post(undo_url, data={"next": "/"}).location)
    assert "Undone: the logged contact with Ana Okafor is taken back." in back
    assert ana.id in row_ids(back)
    [wait] = session.query(Wait).filter_by(candidate_id=ana.id).all()
    assert wait.closed_at is None and wait.closed_by_event_id is None
    kinds = [e.kind for e in session.query(Event).filter_by(candidate_id=ana.id).order_by(Event.id)]
    assert kinds == [EventKind.CREATED, EventKind.CONTACT_LOGGED, EventKind.UNDONE]
    # Twice is refused, and says why.
    again = client.post(undo_url, data={"next": "/"})
    assert again.status_code == 409
    assert "Nothing was saved: this logged contact is already undone" in again.get_data(as_text=True)


def test_a_follow_up_can_be_undone_once_the_window_is_over_it_stays(
    traveller, client, session, maria, backend
):
    ana = service.add_candidate(session, backend, "Ana Okafor", "ana@example.com", WEDNESDAY, ORG)
    session.commit()
    login(client, maria)
    first = get(client, client.post(f"/candidates/{ana.id}/followed-up", data={"next": "/"}).location)
    undo_first = re.search(r'action="(/candidates/\d+/events/\d+/undo)"', first).group(1)
    get(client, client.post(undo_first, data={"next": "/"}).location)
    assert session.query(Wait).filter_by(candidate_id=ana.id).one().follow_ups == 0

    second = get(client, client.post(f"/candidates/{ana.id}/followed-up", data={"next": "/"}).location)
    undo_second = re.search(r'action="(/candidates/\d+/events/\d+/undo)"', second).group(1)
    traveller.shift(dt.timedelta(seconds=61))
    assert "Undo</button>" not in get(client, "/")  # the message is gone with its time
    late = client.post(undo_second, data={"next": "/"})
    assert late.status_code == 409
    assert "Nothing was saved: the follow-up was recorded more than 60 seconds ago" in late.get_data(
        as_text=True
    )
    session.expire_all()
    assert session.query(Wait).filter_by(candidate_id=ana.id).one().follow_ups == 1


def test_undoing_a_follow_up_that_opened_a_reply_wait_removes_that_wait(
    traveller, client, session, maria, backend
):
    ana = service.add_candidate(session, backend, "Ana Okafor", "ana@example.com", WEDNESDAY, ORG)
    service.log_contact(session, ana, "phone", WEDNESDAY)  # answered: nobody waits
    session.commit()
    traveller.shift(dt.timedelta(minutes=5))
    login(client, maria)
    asked = get(client, client.post(f"/candidates/{ana.id}/followed-up", data={"next": "/"}).location)
    assert "Ana Okafor asked for news. A reply is owed" in asked and ana.id in row_ids(asked)
    undo_url = re.search(r'action="(/candidates/\d+/events/\d+/undo)"', asked).group(1)
    back = get(client, client.post(undo_url, data={"next": "/"}).location)
    assert ana.id not in row_ids(back)
    assert session.query(Wait).filter_by(candidate_id=ana.id, closed_at=None).count() == 0


def test_another_managers_event_cannot_be_undone(traveller, client, session, maria, backend):
    jonas = UserFactory(name="Jonas Becker")
    theirs = PositionFactory(title="Designer", manager=jonas)
    session.commit()
    ben = service.add_candidate(session, theirs, "Ben Larsen", "ben@example.com", WEDNESDAY, ORG)
    event = service.log_contact(session, ben, "phone", WEDNESDAY)
    session.commit()
    login(client, maria)
    assert client.post(f"/candidates/{ben.id}/events/{event.id}/undo").status_code == 404
    assert session.query(Event).filter_by(kind=EventKind.UNDONE).count() == 0
