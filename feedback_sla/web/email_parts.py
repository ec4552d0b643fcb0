"""The email parts of other pages: the candidate page's send buttons and history, the nonce of a
page's one-click buttons (the triage page's too), the one-click form they post, and what the manager
is told once an email is queued."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext
from wtforms import HiddenField
from wtforms.validators import DataRequired, Regexp

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails import queries, scheduling
from feedback_sla.emails.checks import can_send
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.text import normalize_newlines
from feedback_sla.timeutil import local_date
from feedback_sla.waits import promises
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.queries import WaitRow
from feedback_sla.web.filters import local_date as local_date_words
from feedback_sla.web.filters import local_time, words
from feedback_sla.web.forms import PromiseForm

#: A page's nonce: with the candidate id and the kind it makes a button's idempotency key.
NONCE_PATTERN = r"^[A-Za-z0-9_-]{8,40}$"

#: The kinds a candidate page offers to send.
SENDABLE = (EmailKind.REJECTION, EmailKind.OFFER, EmailKind.UPDATE, EmailKind.NEXT_STEP)


def new_nonce() -> str:
    """Rendered once into a page; a double click or a resent form reuses it."""
    return secrets.token_urlsafe(12)


def idempotency_key(nonce: str, candidate_id: int, kind: str) -> str:
    """One key per page, candidate and kind: the candidate id and kind end it, so pages never collide."""
    return f"{nonce}:{candidate_id}:{kind}"


def fingerprint(text: str) -> str:
    """A short fingerprint of text shown in a form, to tell later whether the manager edited it."""
    return hashlib.sha256(normalize_newlines(text).encode()).hexdigest()[:32]


class SendForm(PromiseForm):
    """One click: queue the default template (an update may carry another promised date)."""

    nonce = HiddenField(
        validators=[
            DataRequired(message="The page is out of date: reload it and try again"),
            Regexp(NONCE_PATTERN, message="The page is out of date: reload it and try again"),
        ]
    )


@dataclass
class CandidateEmails:
    """The email parts of a candidate page."""

    #: The latest emails, newest first: what the history lists.
    history: list[queries.HistoryEmail]
    #: Whether older emails exist than those listed.
    more: bool
    #: Every unfinished email (pending, sending, failed), listed or not, newest first.
    unfinished: list[queries.HistoryEmail]
    nonce: str
    now: dt.datetime
    today: dt.date  # in the position's time zone: the earliest date an update may promise
    undo_seconds: int
    #: The date the update button offers: the promise, else the policy's next deadline.
    suggested: dt.date | None
    can_send: dict[str, bool] = field(default_factory=dict)

    @property
    def undoable(self) -> list[queries.HistoryEmail]:
        return [m for m in self.unfinished if m.can_undo(self.now)]

    @property
    def failed(self) -> list[queries.HistoryEmail]:
        return [m for m in self.unfinished if m.status == OutboxStatus.FAILED]

    @property
    def reopens(self) -> bool:
        """A pending rejection or offer: a stage move cancels it and restores the status."""
        return any(m.status == OutboxStatus.PENDING and m.kind in STATUS_SET for m in self.unfinished)


def candidate_emails(
    candidate: Candidate, now: dt.datetime, org: OrgSettings, wait: WaitRow | None, limit: int
) -> CandidateEmails:
    """The latest ``limit`` emails and every unfinished one in one statement; ``wait`` is the
    candidate's open wait (None: nobody is waiting), read by the caller."""
    found = queries.history(db.session, candidate.id, limit + 1, unfinished=True)
    waiting = wait is not None
    suggested = promises.promise_date_for(wait, candidate, now, org) if waiting else None
    return CandidateEmails(
        history=found[:limit],
        more=len(found) > limit,
        unfinished=[m for m in found if m.status in queries.UNFINISHED],
        nonce=new_nonce(),
        now=now,
        today=local_date(now, candidate.position.time_zone),
        undo_seconds=EmailConfig.from_app(current_app).undo_seconds,
        suggested=suggested,
        can_send={kind.value: can_send(candidate, kind, waiting=waiting) for kind in SENDABLE},
    )


def _title(kind: EmailKind) -> str:
    label = words(kind)
    return label[:1].upper() + label[1:]


def queued_message(message: OutboxMessage, candidate: Candidate, again: str | None = None) -> str:
    """What the manager is told after queueing: when it goes, what changed, what the wait does.
    The triage, candidate and customize pages say it, and the digest's answer links; ``again``: how
    to queue it anew when the email this page queued was cancelled meanwhile."""
    title, name, kind = _title(message.kind), candidate.name, words(message.kind)
    if message.status == OutboxStatus.CANCELLED:
        return gettext(
            "This %(kind)s to %(name)s was already queued from this page and then cancelled; %(again)s.",
            kind=kind,
            name=name,
            again=again or gettext("reload the page to queue it again"),
        )
    if message.status != OutboxStatus.PENDING or message.send_after <= message.queued_at:
        sentence = gettext("%(title)s to %(name)s queued: it is sent now.", title=title, name=name)
    elif message.send_at_zone:
        when = scheduling.describe(message.send_after, message.send_at_zone, candidate.time_zone)
        sentence = gettext(
            "%(title)s to %(name)s scheduled for %(when)s: you can undo it until then.",
            title=title,
            name=name,
            when=when,
        )
    else:
        sentence = gettext(
            "%(title)s to %(name)s queued: it is sent at %(time)s unless you undo it.",
            title=title,
            name=name,
            time=local_time(message.send_after, "%H:%M:%S"),
        )
    if message.kind in STATUS_SET:
        sentence += " " + gettext(
            "%(name)s is now %(status)s.", name=name, status=words(STATUS_SET[message.kind].value)
        )
    if message.promised_date is not None:
        sentence += " " + gettext(
            "You promise an answer by %(date)s.", date=local_date_words(message.promised_date)
        )
    return sentence + " " + gettext("Their wait closes when the email is sent.")
