"""Erasing candidates' personal data: a set time after the decision (``feedback-sla retention run``),
one on request (``feedback-sla candidates erase``, the admins' button), and what stays for reports.

The acceptance test fills every table a candidate can reach (an ATS delivery, notes, feedback,
sent emails, a reply and a stranger's mail from their address, a digest naming them, status
links), runs the command, and searches a dump of every table for their name and address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from email.message import EmailMessage
from email.utils import formataddr

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.orm import Session

from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, Kind, Source
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status, StatusLink
from feedback_sla.database import db
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.retention import service as retention
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import csrf_token, logged_in, text
from .inbound_support import INBOUND_CONFIG, pipe, send
from .webhooks_support import body_of, greenhouse_headers, post, sample

BASE_URL = "https://feedback.example.com"
ORG = OrgSettings()
SECRET = "whsec-test-0123456789abcdef"
#: Tuesday 1 December 2026: the candidates apply a week before.
DAY = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)

FIRST, LAST = 'Zoë "Zed"', "O'Ångström-Quixley"
NAME = f"{FIRST} {LAST}"
EMAIL = "Zed.Quixley-7731@Example.NET"
LOCAL_PART = "zed.quixley-7731"


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"), BASE_URL=BASE_URL)
    return app_config


def set_retention(runner, days: str) -> None:
    result = runner.invoke(args=["settings", "set", "retention.days_after_decision", days])
    assert result.exit_code == 0, result.output


def retention_run(runner, at: dt.datetime, *args: str):
    with time_machine.travel(at, tick=False):
        return runner.invoke(args=["retention", "run", *args])


def decided(session, manager, name: str, email: str, at: dt.datetime) -> Candidate:
    """A candidate who applied a week before ``at`` and was rejected at ``at``."""
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")
    candidate = waits.add_candidate(session, position, name, email, at - dt.timedelta(days=7), ORG)
    waits.close_with_status(session, candidate, Status.REJECTED, at)
    session.commit()
    return candidate


def dump(session) -> str:
    """Every value of every row of every table as text (JSON values by their strings), folded for a
    case-insensitive search."""
    session.expire_all()
    found: list[str] = []
    for table in db.metadata.sorted_tables:
        for row in session.execute(sa.select(table)).all():
            found.append(table.name)
            found.extend(_texts(row))
    return "\n".join(found).casefold()


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [text for pair in value.items() for text in _texts(list(pair))]
    if isinstance(value, list | tuple | sa.Row):
        return [text for item in value for text in _texts(item)]
    return [str(value)]


def export_rows(runner, at: dt.datetime) -> list[dict]:
    with time_machine.travel(at, tick=False):
        result = runner.invoke(args=["export", "response-times", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- the command ----------------------------------------------------------------------------------


def test_the_setting_off_erases_nothing_and_says_so(runner, session):
    candidate = decided(session, UserFactory(), "Ada Lovelace", "ada@example.org", DAY)
    result = retention_run(runner, DAY + dt.timedelta(days=3650))
    assert result.exit_code == 0, result.output
    assert "retention is off: nothing erased" in result.output
    session.expire_all()
    assert session.get(Candidate, candidate.id).name == "Ada Lovelace"


def test_a_dry_run_lists_who_would_be_erased_and_writes_nothing(runner, session):
    manager = UserFactory()
    old = decided(session, manager, "Ada Lovelace", "ada@example.org", DAY)
    recent = decided(session, manager, "Grace Hopper", "grace@example.org", DAY + dt.timedelta(days=20))
    set_retention(runner, "30")
    result = retention_run(runner, DAY + dt.timedelta(days=31), "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"candidate {old.id}: decided 2026-12-01T12:00:00+00:00" in result.output
    assert f"candidate {recent.id}" not in result.output
    assert (
        "dry run: 1 candidate(s) decided over 30 days ago would be erased; nothing written" in result.output
    )
    session.expire_all()
    assert [c.name for c in session.scalars(sa.select(Candidate).order_by(Candidate.id))] == [
        "Ada Lovelace",
        "Grace Hopper",
    ]
    assert session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.ERASED)) == 0


def test_the_run_erases_only_those_decided_before_the_period_in_batches(runner, session, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    manager = UserFactory()
    old = [
        decided(session, manager, f"Old {n}", f"old{n}@example.org", DAY + dt.timedelta(hours=n))
        for n in range(5)
    ]
    recent = decided(session, manager, "Recent One", "recent@example.org", DAY + dt.timedelta(days=20))
    active = waits.add_candidate(session, recent.position, "Still Active", "active@example.org", DAY, ORG)
    session.commit()
    set_retention(runner, "30")

    # 30 days after the last of the old ones, to the second: not yet more than 30 days.
    assert "erased 0 candidate(s)" in retention_run(runner, DAY + dt.timedelta(days=30)).output
    result = retention_run(runner, DAY + dt.timedelta(days=30, hours=4, seconds=1))
    assert result.exit_code == 0, result.output
    assert "erased 5 candidate(s) decided over 30 days ago" in result.output
    session.expire_all()
    for candidate in old:
        erased = session.get(Candidate, candidate.id)
        assert erased.name == "Erased candidate" and erased.email.endswith("@erased.invalid")
        assert erased.erased_at == DAY + dt.timedelta(days=30, hours=4, seconds=1)
    assert session.get(Candidate, recent.id).name == "Recent One"
    assert session.get(Candidate, active.id).name == "Still Active"
    (event,) = session.scalars(
        sa.select(Event).where(Event.candidate_id == old[0].id, Event.kind == EventKind.ERASED)
    ).all()
    assert event.data["by"] == "retention" and "30 days after the final decision" in event.data["reason"]

    # Run again (or on another host): nobody is erased twice.
    again = retention_run(runner, DAY + dt.timedelta(days=31))
    assert "erased 0 candidate(s)" in again.output
    assert session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.ERASED)) == 5


def test_a_candidate_another_run_erased_is_skipped(session):
    candidate = decided(session, UserFactory(), "Ada Lovelace", "ada@example.org", DAY)
    later = DAY + dt.timedelta(days=40)
    batch = retention.next_batch(session, later, 30)
    assert [c.id for c in batch] == [candidate.id]
    # Another run erased the candidate meanwhile, and committed.
    session.execute(sa.update(Candidate).where(Candidate.id == candidate.id).values(erased_at=later))
    assert retention.erase_batch(session, batch, later, 30) == 0
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.ERASED)) == 0
    assert retention.next_batch(session, later, 30) == []


def test_two_runs_at_once_erase_each_candidate_once(session):
    manager = UserFactory()
    for n in range(3):
        decided(session, manager, f"Old {n}", f"old{n}@example.org", DAY)
    later = DAY + dt.timedelta(days=40)
    other = Session(bind=db.engine)  # another host's run
    try:
        mine = retention.next_batch(session, later, 30)
        # PostgreSQL skips the rows the first run locked; SQLite hands the same rows to both.
        theirs = retention.next_batch(other, later, 30)
        assert len(mine) == 3 and len(theirs) in (0, 3)
        assert retention.erase_batch(session, mine, later, 30) == 3
        session.commit()
        assert retention.erase_batch(other, theirs, later, 30) == 0
        other.commit()
    finally:
        other.close()
    assert session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.ERASED)) == 3


# --- one candidate on request ---------------------------------------------------------------------


def test_the_command_erases_one_candidate_and_refuses_an_unknown_id(runner, session):
    manager = UserFactory()
    candidate = decided(session, manager, "Ada Lovelace", "ada@example.org", DAY)
    other = decided(session, manager, "Grace Hopper", "grace@example.org", DAY)

    unknown = runner.invoke(args=["candidates", "erase", "999999", "--yes"])
    assert unknown.exit_code != 0 and "no candidate with id 999999" in unknown.output

    declined = runner.invoke(args=["candidates", "erase", str(candidate.id)], input="n\n")
    assert declined.exit_code != 0
    session.expire_all()
    assert session.get(Candidate, candidate.id).erased_at is None

    bad = runner.invoke(args=["candidates", "erase", str(candidate.id), "--yes", "--reason", "a\x00b"])
    assert bad.exit_code != 0 and "reason" in bad.output

    with time_machine.travel(DAY + dt.timedelta(days=1), tick=False):
        result = runner.invoke(
            args=["candidates", "erase", str(candidate.id), "--yes", "--reason", "asked by email"]
        )
    assert result.exit_code == 0, result.output
    assert f"erased candidate {candidate.id}" in result.output
    session.expire_all()
    assert session.get(Candidate, candidate.id).name == "Erased candidate"
    assert session.get(Candidate, other.id).name == "Grace Hopper"
    (event,) = session.scalars(sa.select(Event).where(Event.kind == EventKind.ERASED)).all()
    assert event.data["by"] == "command line" and event.data["reason"] == "asked by email"

    twice = runner.invoke(args=["candidates", "erase", str(candidate.id), "--yes"])
    assert twice.exit_code == 0 and "nothing to do" in twice.output
    assert session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.ERASED)) == 1


def test_an_admin_erases_a_candidate_from_their_page_and_a_manager_cannot(csrf_on, client, session):
    admin = UserFactory(role="admin", email="admin@example.com", name="Alex Admin")
    manager = UserFactory()
    candidate = decided(session, manager, "Ada <b>Lovelace</b>", "ada@example.org", DAY)
    session.add(StatusLink(candidate_id=candidate.id, token_hash=hashlib.sha256(b"x").hexdigest()))
    session.commit()
    page = f"/admin/candidates/{candidate.id}/erase"

    logged_in(client, manager)
    assert "Erase personal data" not in text(client.get(f"/candidates/{candidate.id}"))
    assert client.get(page).status_code == 404
    token = csrf_token(client, f"/candidates/{candidate.id}")
    assert client.post(page, data={"csrf_token": token}).status_code == 404
    client.post("/logout", data={"csrf_token": token})

    logged_in(client, admin)
    shown = client.get(f"/candidates/{candidate.id}").get_data(as_text=True)
    assert f'href="{page}"' in shown
    confirm = client.get(page)
    assert confirm.status_code == 200
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in confirm.get_data(as_text=True)  # escaped
    assert "ada@example.org" in text(confirm) and "status page links (1)" in text(confirm)

    assert client.post(page, data={"reason": "asked"}).status_code == 400  # no CSRF token
    session.expire_all()
    assert session.get(Candidate, candidate.id).erased_at is None

    done = client.post(page, data={"reason": "asked by phone", "csrf_token": csrf_token(client, page)})
    assert done.status_code == 302 and done.location.endswith(f"/candidates/{candidate.id}")
    after = text(client.get(done.location))
    assert "Personal data erased" in after and "Erased candidate" in after and "Lovelace" not in after
    session.expire_all()
    (event,) = session.scalars(sa.select(Event).where(Event.kind == EventKind.ERASED)).all()
    assert event.actor_id == admin.id and event.data["by"] == "admin admin@example.com"
    assert event.data["reason"] == "asked by phone"
    assert session.scalar(sa.select(sa.func.count()).select_from(StatusLink)) == 0


# --- what stays: the waits, in the export and the report ----------------------------------------


def test_the_export_and_report_still_count_the_erased_candidates_waits(runner, session):
    manager = UserFactory(email="maria@example.com", name="Maria Lopez")
    candidate = decided(session, manager, "Ada Lovelace", "ada@example.org", DAY)
    decided(session, manager, "Grace Hopper", "grace@example.org", DAY + dt.timedelta(days=20))
    set_retention(runner, "30")
    later = DAY + dt.timedelta(days=31)
    before = {r["candidate_id"]: r for r in export_rows(runner, later)}
    assert retention_run(runner, later).exit_code == 0

    rows = {r["candidate_id"]: r for r in export_rows(runner, later)}
    assert rows.keys() == before.keys() and len(rows) == 2
    erased = rows[candidate.id]
    assert erased["candidate_name"] == "Erased candidate"
    assert erased["candidate_email"] == f"erased-{candidate.id}@erased.invalid"
    assert "Ada" not in json.dumps(rows) and "ada@example.org" not in json.dumps(rows)
    personal = ("candidate_name", "candidate_email")
    assert {k: v for k, v in erased.items() if k not in personal} == {
        k: v for k, v in before[candidate.id].items() if k not in personal
    }
    with time_machine.travel(later, tick=False):
        report = runner.invoke(args=["report", "--format", "json"])
    assert report.exit_code == 0, report.output
    (line,) = json.loads(report.output)
    assert line["manager"] == "maria@example.com" and line["waits"] == 2, line
    assert "Ada" not in report.output


# --- acceptance: nothing of theirs anywhere -------------------------------------------------------


def _greenhouse_application(client, session, name: tuple[str, str], email: str, event_id: str) -> Candidate:
    payload = sample("greenhouse_new_candidate_application")
    person = payload["payload"]["application"]["candidate"]
    person["first_name"], person["last_name"] = name
    person["email_addresses"] = [{"value": email, "type": "personal"}]
    number = int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16)
    person["id"] = number
    payload["payload"]["application"]["id"] = number + 1
    body = body_of(payload)
    source = session.scalar(sa.select(Source))
    response = post(client, source, body, greenhouse_headers(SECRET, body, event_id))
    assert response.status_code == 200, response.get_data(as_text=True)
    # Addresses are kept as the address rule writes them (lower case): found whatever the case.
    return session.scalar(sa.select(Candidate).where(Candidate.email == email.lower()))


def _reply(message: OutboxMessage, name: str, address: str, *, token: bool = True) -> bytes:
    """A reply from the candidate to one of our emails (or, without the token, unmatched mail)."""
    reply = EmailMessage()
    reply["From"] = formataddr((name, address))
    reply["To"] = f"replies+{message.reply_token}@acme.example" if token else "jobs@acme.example"
    reply["Subject"] = f"Re: news? from {name}" if token else f"A question from {name}"
    reply["Message-ID"] = f"<reply-{address.split('@')[0]}-{secrets.token_hex(4)}@mail.example.net>"
    if token:
        reply["In-Reply-To"] = message.message_id
    reply["Date"] = "Tue, 01 Dec 2026 14:00:00 +0000"
    reply.set_content(f"Hello, any news?\n\nBest,\n{name}\n{address}\n")
    return bytes(reply)


def _fill_every_table(runner, session, candidate: Candidate) -> None:
    """Everything a candidate's data reaches besides the ATS delivery and the digest: notes, sent
    emails with feedback, a reply, a stranger's mail from their address, a status link."""
    full, email = candidate.name, candidate.email
    first = full.split()[0]
    actor = candidate.position.manager
    at = DAY + dt.timedelta(minutes=5)
    waits.add_note(session, candidate, f"Spoke to {full} <{email}>: keen", at, actor)
    session.commit()
    update = send(session, candidate, "update", at + dt.timedelta(minutes=1))
    assert update.status == OutboxStatus.SENT and f"Dear {first}," in update.text_body
    later = DAY + dt.timedelta(hours=2)
    assert pipe(runner, _reply(update, full, email), later).exit_code == 0
    assert pipe(runner, _reply(update, full, email, token=False), later).exit_code == 0
    waits.log_contact(session, candidate, "phone", later, actor, note=f"Called {full}")
    session.commit()
    rejection = send(
        session,
        candidate,
        "rejection",
        later + dt.timedelta(minutes=5),
        feedback=f"Thank you, {full}.",
        reasons=(f"{first} lacks Go", "salary"),
    )
    assert rejection.status == OutboxStatus.SENT
    session.add(StatusLink(candidate_id=candidate.id, token_hash=hashlib.sha256(email.encode()).hexdigest()))
    session.commit()


def test_after_retention_no_name_or_address_of_an_erased_candidate_remains_anywhere(client, runner, session):
    grace = UserFactory(email="grace@example.com", name="Grace Hopper", digest_hour=8)
    dora = UserFactory(email="dora@example.com", name="Dora Default")
    session.commit()
    sources.create_source(session, sources.NewSource(Kind.GREENHOUSE, "gh", dora, SECRET), DAY)
    session.commit()
    with time_machine.travel(DAY, tick=False):
        erased = _greenhouse_application(client, session, (FIRST, LAST), EMAIL, "gh-erased")
        kept = _greenhouse_application(
            client, session, ("Bob", "Keeperton"), "bob.keeperton@example.org", "gh-kept"
        )
    assert erased.name == NAME and kept.name == "Bob Keeperton"
    digest = runner.invoke(args=["digest", "send", "--now", DAY.isoformat()])
    assert digest.exit_code == 0, digest.output
    _fill_every_table(runner, session, erased)
    _fill_every_table(runner, session, kept)
    # The kept candidate was decided later: inside the period when retention runs.
    session.execute(
        sa.update(Candidate).where(Candidate.id == kept.id).values(decided_at=DAY + dt.timedelta(days=40))
    )
    session.commit()
    assert erased.position.manager_id == grace.id  # the job's hiring manager: the digest is hers

    before = dump(session)
    for needle in (NAME, EMAIL, LOCAL_PART, LAST):
        assert needle.casefold() in before, needle  # the test reaches every place they are kept
    assert session.scalar(
        sa.select(sa.func.count()).select_from(Delivery).where(Delivery.candidate_id == erased.id)
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 4
    digests = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST)).all()
    assert any(LAST in d.html_body for d in digests) or any(LAST in d.text_body for d in digests)
    waits_before = export_rows(runner, DAY + dt.timedelta(days=45))

    set_retention(runner, "30")
    result = retention_run(runner, DAY + dt.timedelta(days=45))
    assert result.exit_code == 0, result.output
    assert "erased 1 candidate(s)" in result.output

    after = dump(session)
    # "Quixley" also finds them in an ATS payload as it came (JSON with \\u escapes).
    for needle in (NAME, EMAIL, LOCAL_PART, LAST, "Ångström", "Quixley", "Zoë", json.dumps(LAST)[1:-1]):
        assert needle.casefold() not in after, needle
    for needle in ("Bob Keeperton", "bob.keeperton@example.org"):
        assert needle.casefold() in after, needle
    session.expire_all()
    assert session.get(Candidate, kept.id).name == "Bob Keeperton"
    kept_texts = session.scalars(
        sa.select(OutboxMessage.text_body).where(OutboxMessage.candidate_id == kept.id)
    )
    assert all(body.startswith("Dear Bob,") for body in kept_texts)
    digests = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST)).all()
    assert any("Bob Keeperton" in d.text_body for d in digests)
    assert any("Erased candidate" in d.text_body for d in digests)
    assert session.scalar(sa.select(sa.func.count()).select_from(StatusLink)) == 1  # only the kept one's
    kept_payloads = session.scalars(sa.select(Delivery.body).where(Delivery.candidate_id == kept.id)).all()
    assert kept_payloads and all("Keeperton" in body for body in kept_payloads)
    assert session.scalar(sa.select(Delivery.body).where(Delivery.candidate_id == erased.id)) == "{}"
    rows = export_rows(runner, DAY + dt.timedelta(days=45))
    assert len(rows) == len(waits_before)
    theirs = [r for r in waits_before if r["candidate_id"] == erased.id]
    assert len(theirs) >= 2  # the application wait, the update's, the follow-up's
    assert [r for r in rows if r["candidate_id"] == erased.id] == [
        {**r, "candidate_name": "Erased candidate", "candidate_email": f"erased-{erased.id}@erased.invalid"}
        for r in theirs
    ]
