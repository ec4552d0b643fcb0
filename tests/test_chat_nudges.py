"""Nudges in Slack and Teams: one message per thing worth telling, never two, on any number of
hosts; the deadline in the manager's zone; quiet hours and a daily cap."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine

from feedback_sla.chat.models import About, Channel, ChatStatus
from feedback_sla.database import db
from feedback_sla.timeutil import local_time_in
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .chat_support import (
    DUE,
    OPENED,
    OVERDUE_AT,
    chat_app_config,
    choose,
    deliver,
    messages,
    nudge,
    running_server,
    waiting,
)
from .factories import PositionFactory, UserFactory


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
def position(session, manager):
    return PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")


def test_an_overdue_wait_gives_exactly_one_slack_dm_with_two_workers_and_repeated_cron_runs(
    app, runner, session, chat_server, manager, position
):
    ada = waiting(session, position)
    choose(session, manager)
    said = []
    for _ in range(2):  # cron, twice: the second run finds the message already queued
        result = runner.invoke(args=["chat", "nudge", "--now", OVERDUE_AT.isoformat()])
        assert result.exit_code == 0, result.output
        said.append(result.output.split(" nudge(s)")[0])
    assert said == ["queued 1", "queued 0"]
    [queued] = messages(session)
    assert (queued.about, queued.channel, queued.candidate_id) == (About.OVERDUE, Channel.SLACK, ada.id)

    results = []

    def worker():
        with app.app_context():
            try:
                results.append(deliver(db.session, OVERDUE_AT))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(r.sent for r in results) == 1
    [dm] = chat_server.posted()
    assert chat_server.problems == []
    assert dm["channel"] == "U0ADA"
    deadline = local_time_in(DUE, "Europe/Berlin")
    assert deadline == "Mon 09 Nov 2026, 18:00 Europe/Berlin"
    assert "Ada Lovelace is overdue for an answer" in dm["text"] and deadline in dm["text"]
    section = dm["blocks"][0]["text"]["text"]
    assert "Backend Engineer" in section and "Waiting: 7 business days" in section and deadline in section
    buttons = [b["text"]["text"] for b in dm["blocks"][1]["elements"]]
    assert buttons == ["Send update", "Write a rejection", "Open"]
    assert dm["blocks"][1]["elements"][2]["url"] == f"https://feedback.example.com/candidates/{ada.id}"
    [sent] = messages(session)
    assert sent.status == ChatStatus.SENT and sent.slack_channel == "D0ADA"

    nudge(session, OVERDUE_AT + dt.timedelta(hours=3))  # later runs: nothing new
    deliver(session, OVERDUE_AT + dt.timedelta(hours=3))
    assert len(chat_server.posted()) == 1


def test_each_state_is_told_once_as_the_wait_moves_on(session, chat_server, manager, position):
    waiting(session, position)
    choose(session, manager)
    due_soon_at = dt.datetime(2026, 11, 9, 8, tzinfo=dt.UTC)  # the deadline's day: due soon
    escalated_at = dt.datetime(2026, 11, 17, 9, tzinfo=dt.UTC)  # 14 days after it opened
    for at in (due_soon_at, due_soon_at, OVERDUE_AT, OVERDUE_AT, escalated_at):
        nudge(session, at)
    assert [m.about for m in messages(session)] == [About.DUE_SOON, About.OVERDUE, About.ESCALATED]


def test_a_teams_manager_gets_the_same_nudge_as_an_adaptive_card(session, chat_server, manager, position):
    ada = waiting(session, position)
    choose(
        session, manager, nudges_by=(Channel.TEAMS,), member=None, teams_url=chat_server.url + "/teams/grace"
    )
    report = nudge(session, OVERDUE_AT)
    assert report.queued == 1
    assert deliver(session, OVERDUE_AT).sent == 1
    [envelope] = chat_server.posted("/teams/grace")
    assert chat_server.problems == []
    assert envelope["type"] == "message"
    [attachment] = envelope["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == "Ada Lovelace is overdue for an answer"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Position"] == "Backend Engineer" and facts["Waiting"] == "7 business days"
    assert facts["Deadline"].startswith("Mon 09 Nov 2026, 18:00 Europe/Berlin")
    links = {a["title"]: a["url"] for a in card["actions"]}
    assert list(links) == ["Send update", "Write a rejection", "Open"]
    assert links["Send update"].startswith("https://feedback.example.com/digest/answer/")
    assert links["Open"] == f"https://feedback.example.com/candidates/{ada.id}"
    assert chat_server.posted() == []  # not in Slack: the manager chose Teams only


def test_quiet_hours_hold_a_nudge_until_they_end(session, chat_server, manager, position):
    waiting(session, position)
    choose(session, manager, quiet_from=20, quiet_until=11)  # 10:00 in Berlin is quiet
    nudge(session, OVERDUE_AT)
    [held] = messages(session)
    assert held.next_attempt_at == dt.datetime(2026, 11, 11, 10, tzinfo=dt.UTC)  # 11:00 in Berlin
    assert deliver(session, OVERDUE_AT).sent == 0 and chat_server.posted() == []
    assert deliver(session, held.next_attempt_at).sent == 1


def test_past_the_daily_cap_nudges_are_skipped_and_say_why(session, chat_server, manager, position):
    for n in range(3):
        waiting(session, position, f"Candidate {n}", f"c{n}@example.org")
    choose(session, manager, daily_cap=2)
    report = nudge(session, OVERDUE_AT)
    assert (report.queued, report.skipped) == (2, 1)
    statuses = sorted(m.status.value for m in messages(session))
    assert statuses == ["pending", "pending", "skipped"]
    [skipped] = [m for m in messages(session) if m.status == ChatStatus.SKIPPED]
    assert "daily cap" in skipped.last_error
    nudge(session, OVERDUE_AT + dt.timedelta(minutes=5))
    assert len(messages(session)) == 3  # a skipped nudge is not tried again


def test_a_reply_by_mail_and_a_withdrawal_are_told_once(session, chat_server, manager, position):
    ada = waiting(session, position)
    bob = waiting(session, position, "Bob Byte", "bob@example.org")
    choose(session, manager)
    with time_machine.travel(OVERDUE_AT - dt.timedelta(hours=1), tick=False):
        nudge(session, OVERDUE_AT - dt.timedelta(hours=1))  # the first scan: where the timeline is
        service.followed_up(session, ada, OVERDUE_AT - dt.timedelta(hours=1), OrgSettings(), channel="email")
        service.withdraw(session, bob, OVERDUE_AT - dt.timedelta(hours=1), channel="status page")
        session.commit()
    with time_machine.travel(OVERDUE_AT, tick=False):
        nudge(session, OVERDUE_AT)
        nudge(session, OVERDUE_AT)
    told = {(m.candidate_id, m.about) for m in messages(session)}
    assert (ada.id, About.REPLIED) in told and (bob.id, About.WITHDREW) in told
    assert len([m for m in messages(session) if m.about in (About.REPLIED, About.WITHDREW)]) == 2
    deliver(session, OVERDUE_AT)
    texts = [dm["text"] for dm in chat_server.posted()]
    assert any(t.startswith("Ada Lovelace replied to our email") for t in texts)
    withdrew = [dm for dm in chat_server.posted() if dm["text"].startswith("Bob Byte withdrew")]
    assert [b["text"]["text"] for b in withdrew[0]["blocks"][1]["elements"]] == ["Open"]
    assert chat_server.problems == []


def test_erasing_a_candidate_leaves_no_chat_message_naming_them(session, chat_server, manager, position):
    from feedback_sla.retention import service as retention

    ada = waiting(session, position)
    choose(session, manager)
    nudge(session, OVERDUE_AT)
    deliver(session, OVERDUE_AT)
    assert "Ada Lovelace" in messages(session)[0].text
    retention.erase(session, ada, OVERDUE_AT, retention.request_by("admin", "asked to be forgotten"))
    session.commit()
    assert messages(session) == []
    nudge(session, OVERDUE_AT + dt.timedelta(hours=1))  # the erased candidate's wait is closed: nothing again
    assert messages(session) == []


def test_a_manager_slack_cannot_reach_holds_up_no_one_elses_nudges(
    session, chat_server, manager, position, monkeypatch
):
    from feedback_sla.chat import nudges as chat_nudges

    monkeypatch.setattr(chat_nudges, "BATCH", 2)  # a run looks at two waits, the most urgent first
    unlinked = UserFactory(name="Una Linked", email="una@example.com", time_zone="Europe/Berlin")
    theirs = PositionFactory(manager=unlinked, time_zone="Europe/Berlin")
    for n in range(3):  # more urgent than Grace's: opened a day earlier
        waiting(session, theirs, f"Early {n}", f"e{n}@example.org", opened=OPENED - dt.timedelta(days=1))
    waiting(session, position)
    choose(session, unlinked, member=None)  # chose Slack, but nobody linked them
    choose(session, manager)
    for minutes in range(3):
        nudge(session, OVERDUE_AT + dt.timedelta(minutes=minutes))
    told = messages(session)
    skipped = [m for m in told if m.user_id == unlinked.id]
    assert len(skipped) == 3 and {m.status for m in skipped} == {ChatStatus.SKIPPED}
    assert "cannot be reached on Slack" in skipped[0].last_error
    [grace] = [m for m in told if m.user_id == manager.id]
    assert grace.status == ChatStatus.PENDING


def test_the_chat_digest_comes_once_a_day_and_forgets_an_erased_candidate(
    session, chat_server, manager, position
):
    from feedback_sla.retention import service as retention

    with time_machine.travel(OPENED, tick=False):  # added when they applied, before the digest
        ada = waiting(session, position, "Zoë Ångström", "zoe@example.org")
        waiting(session, position, "Bob Byte", "bob@example.org")
    choose(session, manager, nudges_by=(), digest_by=(Channel.SLACK,))
    for minutes in (0, 30):  # past Grace's digest hour in Berlin, twice: one digest
        nudge(session, OVERDUE_AT + dt.timedelta(minutes=minutes))
    [digest] = [m for m in messages(session) if m.about == About.DIGEST]
    assert "Zoë Ångström" in str(digest.body) and "Bob Byte" in str(digest.body)

    retention.erase(session, ada, OVERDUE_AT, retention.request_by("admin", "asked to be forgotten"))
    session.commit()
    [digest] = [m for m in messages(session) if m.about == About.DIGEST]
    assert "Zoë" not in f"{digest.text} {digest.body}" and "Ångström" not in str(digest.body)
    assert "Bob Byte" in str(digest.body)  # the others it named stay


def test_a_name_written_as_markup_stays_a_name_in_slack_and_in_teams(session, chat_server, manager, position):
    hostile = "<!channel> [Confirm](https://evil.example) *now*"
    waiting(session, position, hostile, "x@example.org")
    choose(session, manager, nudges_by=(Channel.SLACK, Channel.TEAMS), teams_url=chat_server.url + "/teams/g")
    nudge(session, OVERDUE_AT)
    assert deliver(session, OVERDUE_AT).sent == 2
    [dm] = chat_server.posted()
    # Slack: no mention of everyone, no link; the notification's text as escaped as the blocks.
    assert "<!channel>" not in dm["text"] and dm["text"].startswith("&lt;!channel&gt; [Confirm]")
    assert "<!channel>" not in str(dm["blocks"])
    # Teams: the card's Markdown shows the brackets and stars instead of making a link of them.
    [envelope] = chat_server.posted("/teams/g")
    title = envelope["attachments"][0]["content"]["body"][0]["text"]
    assert title == r"<!channel> \[Confirm\]\(https://evil.example\) \*now\* is overdue for an answer"
