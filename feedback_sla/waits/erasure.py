"""Erasing a candidate's personal data, on request or a set time after the decision: every row of
theirs at this layer loses the name, the address and the free text; the waits and their times stay,
so the export and the report still count them (under the neutral name).

What holds a candidate's personal data, table by table (``feedback_sla/*/models.py``):

- ``candidates``: name, email, search_key (a neutral name and address, an empty key) and the
  bounce flag of the address.
- ``events``: body (notes, contact notes, replies, email subjects, reasons) is cleared; in data, a
  reply's ``sender`` is dropped and any other text naming them is replaced.
- ``outbox_messages``: theirs lose the name, address, subject, bodies, feedback and every error
  or bounce text a server wrote about the address, and any rejection reason naming them; a
  digest to a manager that named them keeps its text with their name and address replaced.
- ``status_links``: deleted (the links die with the data).
- ``inbound_messages`` and ``ats_deliveries`` belong to features above this layer:
  ``retention.service`` (and the ATS's own deletion) clear those.

A candidate still in the process (active or offered) is withdrawn first, through the wait's door:
their open wait closes and they leave triage and the digest, as anyone who asked to be forgotten
is out of the process. Once erased, nothing of theirs is written again: ``update_details`` refuses
them, and mail or ATS events about them are recorded without their content (``inbound.service``,
``ats.apply``).

They hold nothing of the candidate's: ``waits`` (times and counts), ``positions``, ``users``,
``api_tokens``, ``settings``, ``email_templates``, ``digest_days``, ``ats_sources``, and
``ats_external_ids`` (the ATS's own ids, kept so later deliveries about the application are still
recognised and change nothing). The caller commits once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from markupsafe import escape
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import timeline
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status, StatusLink
from feedback_sla.database import checkpoint_after_commit
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.waits import emailing, lifecycle, service

#: What an erased candidate's name becomes, and what replaces a text that named them.
ERASED_NAME = "Erased candidate"
ERASED_TEXT = "(erased)"
#: The statuses of a candidate still in the process: erasing withdraws them.
IN_PROCESS = frozenset({Status.ACTIVE, Status.OFFERED})
#: Keys of event data that hold what the candidate wrote or sent from: dropped.
PERSONAL_KEYS = frozenset({"sender"})


@dataclass(frozen=True)
class Request:
    """Who erases and why: ``by`` is ``retention``, ``admin``, ``command line`` or ``ats``; the
    reason is words of the operator's, never the candidate's data."""

    by: str
    reason: str
    actor: User | None = None


@dataclass(frozen=True)
class Former:
    """What the candidate was called, to find it in rows that are not theirs (a manager's digest)."""

    name: str
    email: str

    @property
    def spellings(self) -> tuple[str, ...]:
        """As written in text, and as escaped in HTML."""
        plain = (self.name, self.email)
        return tuple(dict.fromkeys(s for s in (*plain, *(str(escape(p)) for p in plain)) if s))

    def pattern(self, *, words: bool = False) -> re.Pattern[str]:
        """Any spelling of the name or address; with ``words`` also any word of the name (for
        their own rows, where "Zoë lacks Go" names them too)."""
        found = [re.escape(s) for s in self.spellings]
        if words:
            parts = (w.strip("\"'()[]<>,.;:") for w in self.name.split())
            found += [rf"\b{re.escape(w)}\b" for w in parts if len(w) > 1]
        return re.compile("|".join(found), re.IGNORECASE)


def erased_address(candidate_id: int) -> str:
    return f"erased-{candidate_id}@erased.invalid"


def erase(session: Session, candidate: Candidate, at: dt.datetime, request: Request) -> Former | None:
    """Erase the candidate's personal data; the former name and address when this call erased
    them, None when they were erased before (by another run, or twice on request).

    The claim is one conditional UPDATE of ``erased_at``, so two runs at once erase a candidate
    once. Rows written about them after an erasure are cleared again; the timeline says once,
    by whom, why and how many rows were cleared. A candidate still in the process (active, or
    offered) is out of it: withdrawn through the wait's door, so the open wait closes (reports
    still count it, closed by the withdrawal). Pending emails are cancelled first: nothing more
    goes to them.
    """
    former = Former(candidate.name, candidate.email)
    checkpoint_after_commit(session)  # nothing of theirs left in SQLite's log once committed
    claimed = session.execute(
        update(Candidate)
        .where(Candidate.id == candidate.id, Candidate.erased_at.is_(None))
        .values(erased_at=at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(candidate, ["erased_at"])
    if claimed.rowcount == 1 and candidate.status in IN_PROCESS:
        _withdraw(session, candidate, at, request)
    emailing.cancel_contradicted(session, candidate, at, status=Status.WITHDRAWN)
    _neutral_candidate(candidate)
    done = {
        "events": _clear_events(session, candidate, former),
        "emails": _clear_emails(session, candidate, former),
        "status_links": session.execute(
            delete(StatusLink).where(StatusLink.candidate_id == candidate.id)
        ).rowcount,
    }
    if claimed.rowcount != 1:
        session.flush()
        return None
    done["digests"] = _clear_digests(session, candidate, former)
    timeline.append(
        session,
        candidate,
        EventKind.ERASED,
        at,
        request.actor,
        data={"by": request.by, "reason": request.reason, "cleared": done},
    )
    session.flush()
    return former


def _withdraw(session: Session, candidate: Candidate, at: dt.datetime, request: Request) -> None:
    """Withdrawn because their data is erased: the event says so, with no personal text; the open
    wait closes with it and pending emails are cancelled."""
    data = {"erasure": True}
    if candidate.status == Status.ACTIVE:
        service.close_with_status(session, candidate, Status.WITHDRAWN, at, request.actor, data=data)
        return
    # Offered: out of the process as well (close_with_status takes active candidates only).
    event = service.record(
        session,
        candidate,
        EventKind.STATUS_CHANGED,
        at,
        request.actor,
        data={"from": candidate.status.value, "to": Status.WITHDRAWN.value, **data},
    )
    candidate.status = Status.WITHDRAWN
    candidate.decided_at = candidate.decided_at or at
    lifecycle.close_open_wait(session, candidate, event, at)


def _neutral_candidate(candidate: Candidate) -> None:
    candidate.name = ERASED_NAME
    candidate.email = erased_address(candidate.id)
    candidate.search_key = ""
    candidate.email_undeliverable_at = None


def _clear_events(session: Session, candidate: Candidate, former: Former) -> int:
    """Bodies cleared in one statement; data rewritten only where it named them. How many
    events were changed."""
    cleared = session.execute(
        update(Event).where(Event.candidate_id == candidate.id, Event.body.is_not(None)).values(body=None)
    ).rowcount
    pattern = former.pattern(words=True)
    rows = session.execute(select(Event.id, Event.data).where(Event.candidate_id == candidate.id))
    for event_id, data in rows.all():
        scrubbed = _scrub(data, pattern)
        if scrubbed != data:
            session.execute(update(Event).where(Event.id == event_id).values(data=scrubbed))
            cleared += 1
    return cleared


def _scrub(value, pattern: re.Pattern[str]):
    """A copy of event data with personal keys dropped and every text naming them replaced."""
    if isinstance(value, dict):
        return {k: _scrub(v, pattern) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, str) and pattern.search(value):
        return ERASED_TEXT
    return value


def _clear_emails(session: Session, candidate: Candidate, former: Former) -> int:
    """Their emails keep kind, status and times; rejection reasons (kept for reporting) lose any
    that names them."""
    pattern = former.pattern(words=True)
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.reasons).where(OutboxMessage.candidate_id == candidate.id)
    ).all()
    for message_id, reasons in rows:
        scrubbed = _scrub(reasons or [], pattern)
        if scrubbed != (reasons or []):
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id).values(reasons=scrubbed)
            )
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.candidate_id == candidate.id)
        .values(
            to_name=ERASED_NAME,
            to_address=candidate.email,
            subject=ERASED_TEXT,
            text_body="",
            html_body="",
            feedback=None,
            cancel_reason=None,
            last_error=None,
            bounce_reason=None,
        )
    ).rowcount


def _clear_digests(session: Session, candidate: Candidate, former: Former) -> int:
    """Digests name the candidates waiting (and bounced emails' addresses): those queued since the
    candidate was added that name them keep their text, with the name and address replaced."""
    texts = (OutboxMessage.subject, OutboxMessage.text_body, OutboxMessage.html_body)
    found = or_(*(column.contains(s, autoescape=True) for s in former.spellings for column in texts))
    query = select(OutboxMessage.id, *texts).where(
        OutboxMessage.candidate_id.is_(None), OutboxMessage.queued_at >= candidate.created_at, found
    )
    pattern = former.pattern()
    rows = session.execute(query).all()
    for message_id, subject, text_body, html_body in rows:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                subject=pattern.sub(ERASED_NAME, subject),
                text_body=pattern.sub(ERASED_NAME, text_body),
                html_body=pattern.sub(ERASED_NAME, html_body),
            )
        )
    return len(rows)
