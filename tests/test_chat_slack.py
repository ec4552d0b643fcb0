"""Slack's buttons: a signed request to the interactivity URL answers through the wait's door.

The signature check is tested with Slack's own documented example (docs.slack.dev,
authentication/verifying-requests-from-slack: the example signing secret, timestamp, body and
``X-Slack-Signature``), and with a wrong, an old (six minutes) and a replayed request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.chat import interactions
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus

from .chat_support import (
    OVERDUE_AT,
    SIGNING_SECRET,
    chat_app_config,
    choose,
    deliver,
    nudge,
    running_server,
    waiting,
)
from .factories import PositionFactory, UserFactory

#: Slack's documented example request (a slash command's body), signed with SIGNING_SECRET.
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
URL = "/chat/slack/interactivity"


@pytest.fixture
def chat_server():
    with running_server() as server:
        yield server


@pytest.fixture
def app_config(app_config, chat_server):
    return chat_app_config(app_config, chat_server)


@pytest.fixture
def manager(session):
    return UserFactory(name="Grace Hopper", email="grace@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def ada(session, manager):
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")
    return waiting(session, position)


def test_the_documented_example_passes_and_anything_else_does_not():
    at = dt.datetime.fromtimestamp(int(DOC_TIMESTAMP), dt.UTC)
    headers = {"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE}
    body = DOC_BODY.encode()
    assert interactions.verified(SIGNING_SECRET, headers, body, at)
    assert not interactions.verified(SIGNING_SECRET, headers, body + b"&x=1", at)  # altered
    assert not interactions.verified("another-secret", headers, body, at)
    assert interactions.verified(SIGNING_SECRET, headers, body, at + dt.timedelta(minutes=5))
    assert not interactions.verified(SIGNING_SECRET, headers, body, at + dt.timedelta(minutes=6))  # old
    assert not interactions.verified(
        SIGNING_SECRET, {**headers, "X-Slack-Request-Timestamp": "soon"}, body, at
    )
    assert not interactions.verified(SIGNING_SECRET, {}, body, at)


def signed(body: str, at: dt.datetime, secret: str = SIGNING_SECRET) -> dict:
    """Headers as Slack signs a request at ``at``: v0 HMAC-SHA256 of ``v0:<ts>:<body>``."""
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def pressed(button: dict, member: str, response_url: str) -> str:
    """A block_actions payload as Slack posts it (docs.slack.dev, block_actions payload), form-encoded."""
    payload = {
        "type": "block_actions",
        "user": {"id": member, "username": "grace", "team_id": "T0001"},
        "api_app_id": "A0001",
        "team": {"id": "T0001", "domain": "example"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "D0ADA"},
        "trigger_id": "12345.98765.abcd",
        "channel": {"id": "D0ADA", "name": "directmessage"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "candidate-1-nudge",
                "text": button["text"],
                "value": button.get("value", ""),
                "type": "button",
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def button(message: dict, label: str) -> dict:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element["text"]["text"] == label:
                return element
    raise AssertionError(f"no {label} button in {message}")


def updates(session) -> list[OutboxMessage]:
    session.expire_all()
    query = sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.UPDATE).order_by(OutboxMessage.id)
    return list(session.scalars(query))


@pytest.fixture
def dm(session, chat_server, manager, ada):
    """The overdue nudge Grace got in Slack."""
    choose(session, manager)
    nudge(session, OVERDUE_AT)
    deliver(session, OVERDUE_AT)
    [message] = chat_server.posted()
    return message


def test_send_update_queues_one_update_and_undo_cancels_it(client, session, chat_server, ada, dm):
    response_url = chat_server.url + "/response/T0001/1/abc"
    body = pressed(button(dm, "Send update"), "U0ADA", response_url)
    press_at = OVERDUE_AT + dt.timedelta(minutes=3)
    with time_machine.travel(press_at, tick=False):
        answer = client.post(URL, data=body, headers=signed(body, press_at))
        assert answer.status_code == 200
        again = client.post(URL, data=body, headers=signed(body, press_at))  # a replay of the same request
        assert again.status_code == 409
    [update] = updates(session)
    assert (update.status, update.candidate_id) == (OutboxStatus.PENDING, ada.id)
    assert update.send_after == press_at + dt.timedelta(seconds=60)  # the triage button's undo window
    assert deliver(session, press_at).sent == 1
    [reply] = chat_server.posted("/response/T0001/1/abc")
    assert reply["replace_original"] is True
    assert reply["text"].startswith("Update queued, sent at 10:04 (Europe/Berlin) unless you undo it.")
    assert [b["text"]["text"] for b in reply["blocks"][-1]["elements"]] == ["Undo", "Open"]

    undo_body = pressed(button(reply, "Undo"), "U0ADA", response_url)
    undo_at = press_at + dt.timedelta(seconds=20)
    with time_machine.travel(undo_at, tick=False):
        assert client.post(URL, data=undo_body, headers=signed(undo_body, undo_at)).status_code == 200
    [update] = updates(session)
    assert update.status == OutboxStatus.CANCELLED
    deliver(session, undo_at)
    undone = chat_server.posted("/response/T0001/1/abc")[-1]
    assert undone["text"].startswith("Undone: the status update to Ada Lovelace will not be sent.")
    assert button(undone, "Send update")["value"] != button(dm, "Send update")["value"]  # a fresh button
    assert chat_server.problems == []


def test_a_wrong_or_old_signature_changes_nothing(client, session, chat_server, dm):
    body = pressed(button(dm, "Send update"), "U0ADA", chat_server.url + "/response/x")
    press_at = OVERDUE_AT + dt.timedelta(minutes=3)
    with time_machine.travel(press_at, tick=False):
        wrong = client.post(URL, data=body, headers=signed(body, press_at, secret="not-the-secret"))
        old = client.post(URL, data=body, headers=signed(body, press_at - dt.timedelta(minutes=6)))
        altered = client.post(URL, data=body + "&extra=1", headers=signed(body, press_at))
        unsigned = client.post(URL, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [r.status_code for r in (wrong, old, altered, unsigned)] == [401, 401, 401, 401]
    assert updates(session) == []
    assert deliver(session, press_at).sent == 0


def test_another_managers_candidate_or_an_unlinked_member_queues_nothing(client, session, chat_server, dm):
    other = UserFactory(email="other@example.com")
    choose(session, other, member="U0OTHER")
    url = chat_server.url + "/response/y"
    body = pressed(button(dm, "Send update"), "U0OTHER", url)
    stranger = pressed(button(dm, "Send update"), "U0STRANGER", url)
    press_at = OVERDUE_AT + dt.timedelta(minutes=3)
    with time_machine.travel(press_at, tick=False):
        assert client.post(URL, data=body, headers=signed(body, press_at)).status_code == 200
        assert client.post(URL, data=stranger, headers=signed(stranger, press_at)).status_code == 200
    assert updates(session) == []
    deliver(session, press_at)
    [told] = chat_server.posted("/response/y")
    assert told["response_type"] == "ephemeral"
    assert told["text"] == "Nothing was done: you cannot answer this candidate."
