"""Answering from the digest: each row's signed "Send update" and "Reject" links open a confirmation
page for the manager it went to; confirming answers through the same door as the triage page."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.accounts.models import Role
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.digest import answers
from feedback_sla.emails.automatic import unsubscribe_token
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import csrf_token, logged_in, login, text

BASE_URL = "https://feedback.example.com"
SECRET = "test-secret-key-not-for-production"
#: 08:00 in Berlin on Wednesday 25 November 2026: the manager's digest hour.
DIGEST_AT = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)
#: The end of Thursday 26 November in Berlin, the local day after the digest's.
EXPIRES_AT = dt.datetime(2026, 11, 26, 23, 0, tzinfo=dt.UTC)
LINK = re.compile(re.escape(BASE_URL) + r"(/digest/answer/[A-Za-z0-9_.-]+)")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE_URL
    return app_config


@pytest.fixture
def morning():
    """The manager reads the digest an hour after it came (the clock stands still)."""
    with time_machine.travel(DIGEST_AT + dt.timedelta(hours=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(session):
    return UserFactory(time_zone="Europe/Berlin", digest_hour=8, name="Grace Hopper")


def waiting(session, manager, name, email, title="Backend Engineer") -> Candidate:
    position = PositionFactory(manager=manager, title=title)
    opened = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    return service.add_candidate(session, position, name, email, opened, OrgSettings())


def send_digest(runner, session) -> OutboxMessage:
    session.commit()
    result = runner.invoke(args=["digest", "send", "--now", DIGEST_AT.isoformat()])
    assert result.exit_code == 0, result.output
    return session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST))


def row_links(body: str, label: str) -> list[str]:
    return re.findall(rf"{label}: {re.escape(BASE_URL)}(/digest/answer/\S+)", body)


@pytest.fixture
def ada(session, manager):
    return waiting(session, manager, "Ada Lovelace", "ada@example.org")


@pytest.fixture
def links(runner, session, ada):
    """Ada's "Send update" and "Reject" paths, read from the text part of the queued digest."""
    message = send_digest(runner, session)
    return {
        "update": row_links(message.text_body, "Send update")[0],
        "reject": row_links(message.text_body, "Reject")[0],
    }


def emails(session, kind: EmailKind) -> list[OutboxMessage]:
    session.expire_all()
    query = sa.select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    return session.scalars(query).all()


def nonce_of(page: str) -> str:
    return re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)


def test_each_row_of_the_digest_carries_its_two_signed_links(runner, session, manager):
    ada = waiting(session, manager, "Ada Lovelace", "ada@example.org")
    bob = waiting(session, manager, "Bob <script>", "bob@example.org", title="Designer")
    message = send_digest(runner, session)
    updates, rejects = row_links(message.text_body, "Send update"), row_links(message.text_body, "Reject")
    assert len(updates) == len(rejects) == 2
    in_html = LINK.findall(message.html_body)
    assert sorted(in_html) == sorted(updates + rejects)
    assert message.html_body.count(">Send update</a>") == message.html_body.count(">Reject</a>") == 2
    named = set()
    for path in updates + rejects:
        link = answers.read_token(SECRET, path.removeprefix(answers.ANSWER_PATH), DIGEST_AT)
        assert link.manager_id == manager.id and link.expires_at == EXPIRES_AT
        named.add((link.candidate_id, link.action.value))
    assert named == {(c.id, a) for c in (ada, bob) for a in ("update", "reject")}


def test_send_update_confirms_first_then_queues_one_update_with_its_undo(
    client, session, manager, ada, links, morning
):
    logged_in(client, manager)
    page = client.get(links["update"])
    assert page.status_code == 200
    shown = text(page)
    assert "Send Ada Lovelace an update?" in shown and "Backend Engineer" in shown
    assert re.search(r"Waiting \d+ business days for", shown)
    assert "promising an answer by" in shown and "60 seconds after you confirm" in shown
    assert emails(session, EmailKind.UPDATE) == []  # the GET changed nothing

    posted = client.post(links["update"], data={"nonce": nonce_of(shown)})
    assert posted.status_code == 302 and posted.location == links["update"]
    [update] = emails(session, EmailKind.UPDATE)
    assert update.status == OutboxStatus.PENDING and update.candidate_id == ada.id
    assert update.send_after == DIGEST_AT + dt.timedelta(hours=1, seconds=60)
    after = text(client.get(links["update"]))
    assert "Status update to Ada Lovelace queued" in after
    assert f'action="/emails/{update.id}/undo"' in after and "data-undo-message" in after
    assert 'data-answered="update on its way"' in after

    again = client.post(links["update"], data={"nonce": nonce_of(shown)})  # the same form again
    assert again.status_code == 409 and 'data-answered="update on its way"' in text(again)
    assert len(emails(session, EmailKind.UPDATE)) == 1

    undone = client.post(f"/emails/{update.id}/undo", data={"next": links["update"]})
    assert undone.location == links["update"]
    assert [m.status for m in emails(session, EmailKind.UPDATE)] == [OutboxStatus.CANCELLED]
    assert "Send the update" in text(client.get(links["update"]))  # offered again after the undo


def test_reject_confirms_then_queues_the_default_rejection(client, session, manager, ada, links, morning):
    logged_in(client, manager)
    shown = text(client.get(links["reject"]))
    assert "Reject Ada Lovelace?" in shown and "no feedback written for them" in shown
    assert f"/candidates/{ada.id}/emails/rejection/customize?next=" in shown  # to write it instead
    assert emails(session, EmailKind.REJECTION) == []
    posted = client.post(links["reject"], data={"nonce": nonce_of(shown)})
    assert posted.status_code == 302
    [rejection] = emails(session, EmailKind.REJECTION)
    assert rejection.status == OutboxStatus.PENDING
    assert session.get(Candidate, ada.id).status == Status.REJECTED
    after = text(client.get(links["reject"]))
    assert "Ada Lovelace is now rejected" in after and 'data-answered="not waiting"' in after
    assert client.post(links["reject"], data={"nonce": nonce_of(shown)}).status_code == 409
    # The update link of the same row no longer acts either: Ada is not waiting any more.
    assert 'data-answered="not waiting"' in text(client.get(links["update"]))
    assert len(emails(session, EmailKind.REJECTION)) == 1 and emails(session, EmailKind.UPDATE) == []


def test_with_csrf_on_a_post_without_its_token_is_refused(csrf_on, client, session, manager, links, morning):
    logged_in(client, manager)
    page = text(client.get(links["update"]))
    refused = client.post(links["update"], data={"nonce": nonce_of(page)})
    assert refused.status_code == 400
    assert emails(session, EmailKind.UPDATE) == []
    token = csrf_token(client, links["update"])
    assert (
        client.post(links["update"], data={"nonce": nonce_of(page), "csrf_token": token}).status_code == 302
    )
    assert len(emails(session, EmailKind.UPDATE)) == 1


def test_a_link_works_until_the_end_of_the_day_after_the_digest_then_is_refused(
    client, session, manager, links
):
    with time_machine.travel(EXPIRES_AT - dt.timedelta(seconds=1), tick=False):  # 23:59:59 in Berlin
        logged_in(client, manager)
        page = text(client.get(links["update"]))
        assert "Send the update" in page
    with time_machine.travel(EXPIRES_AT, tick=False):
        for response in (
            client.get(links["update"]),
            client.post(links["update"], data={"nonce": nonce_of(page)}),
        ):
            assert response.status_code == 410
            shown = text(response)
            assert "This link has expired" in shown and "Fri 27 Nov 2026, 00:00" in shown
            assert 'href="/"' in shown and "Traceback" not in shown
    assert emails(session, EmailKind.UPDATE) == []


def _swapped(path: str, candidate_id: int) -> str:
    """The link with another candidate's id in its payload and the original signature."""
    payload, signature = path.removeprefix(answers.ANSWER_PATH).split(".")
    values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    values[1] = candidate_id
    forged = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).rstrip(b"=")
    return f"{answers.ANSWER_PATH}{forged.decode()}.{signature}"


def test_an_altered_link_is_refused_and_changes_nothing(client, session, manager, ada, links, morning):
    other = waiting(session, manager, "Bob Builder", "bob@example.org")
    session.commit()
    logged_in(client, manager)
    path = links["update"]
    changed = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    altered = [
        changed,
        _swapped(path, other.id),
        answers.ANSWER_PATH + unsubscribe_token(SECRET, manager.id),  # another of the app's tokens
        answers.ANSWER_PATH + "nonsense",
    ]
    for bad in altered:
        for response in (client.get(bad), client.post(bad, data={"nonce": "abcdefghijkl"})):
            assert response.status_code == 400, bad
            shown = text(response)
            assert "This link does not work" in shown and 'href="/"' in shown
    assert emails(session, EmailKind.UPDATE) == []


def test_another_manager_or_an_admin_is_refused(client, session, manager, links, morning):
    for someone in (UserFactory(), UserFactory(role=Role.ADMIN)):
        logged_in(client, someone)
        for response in (
            client.get(links["update"]),
            client.post(links["reject"], data={"nonce": "abcdefghijkl"}),
        ):
            assert response.status_code == 403
            assert "This link is for another manager" in text(response)
            assert "Ada Lovelace" not in text(response)
        client.post("/logout")
    assert emails(session, EmailKind.UPDATE) == emails(session, EmailKind.REJECTION) == []


def test_not_signed_in_the_manager_logs_in_and_lands_back_on_the_confirmation(
    client, session, manager, links, morning
):
    response = client.get(links["update"])
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    login_page = text(client.get(response.location))
    assert f'value="{links["update"]}"' in login_page
    back = login(client, manager, next=links["update"])
    assert back.status_code == 302 and back.location == links["update"]
    assert "Send Ada Lovelace an update?" in text(client.get(back.location))


def test_a_candidate_no_longer_the_managers_is_not_found(client, session, manager, ada, links, morning):
    ada.position.manager = UserFactory()
    session.commit()
    logged_in(client, manager)
    assert client.get(links["update"]).status_code == 404
    assert client.post(links["update"], data={"nonce": "abcdefghijkl"}).status_code == 404
    assert emails(session, EmailKind.UPDATE) == []


def test_names_are_escaped_on_the_page(client, session, manager, runner, morning):
    waiting(session, manager, "<script>alert(1)</script>", "x@example.org", title="<b>Chief</b>")
    message = send_digest(runner, session)
    logged_in(client, manager)
    page = client.get(row_links(message.text_body, "Reject")[0]).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Chief</b>" not in page
