"""The daily digest: once per manager and local day, at their hour, only when something is owed.

``due_digests`` decides who gets one now, ``gather`` collects what they owe (one query for a batch of
managers, however many candidates each has), ``render`` writes the text and HTML, and ``queue``
claims the (manager, local day) row with an insert that does nothing on conflict, in the same
transaction as the queued message: concurrent and repeated runs never send twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.database import insert_unless_exists
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails import outbox
from feedback_sla.emails.composing import RenderedEmail, first_name
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.timeutil import as_utc, utcnow, zone
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.queries import Filters, WaitingRow, waiting
from feedback_sla.waits.wording import DueWords

#: The states a digest reports; due-today waits that are not yet overdue are added by date.
REPORTED = (State.ESCALATED, State.OVERDUE)
BATCH = 500


@dataclass(frozen=True)
class DigestItem:
    row: WaitingRow
    due_text: str
    url: str


#: The most urgent candidates a digest lists; the rest are counted, with a link to the triage page.
SHOWN = 25


@dataclass(frozen=True)
class Digest:
    manager: User
    local_date: dt.date
    items: list[DigestItem]
    triage_url: str
    settings_url: str

    @property
    def shown(self) -> list[DigestItem]:
        return self.items[:SHOWN]

    @property
    def more(self) -> int:
        """How many waiting candidates the digest counts but does not list."""
        return max(0, len(self.items) - SHOWN)

    @property
    def greeting_name(self) -> str:
        return first_name(self.manager.name)

    @property
    def subject(self) -> str:
        if not self.items:
            return "Nobody is waiting on you today"
        counts = {s: sum(1 for i in self.items if i.row.state == s) for s in State}
        parts = [f"{counts[State.ESCALATED]} escalated"] if counts[State.ESCALATED] else []
        if counts[State.OVERDUE]:
            parts.append(f"{counts[State.OVERDUE]} overdue")
        due_today = len(self.items) - counts[State.ESCALATED] - counts[State.OVERDUE]
        if due_today:
            parts.append(f"{due_today} due today")
        return f"Candidates waiting on you: {', '.join(parts)}"


def due_digests(
    session: Session, now: dt.datetime, manager_email: str | None = None
) -> list[tuple[User, dt.date]]:
    """Active managers at or past their digest hour with no digest for their local day yet."""
    query = select(User).where(User.active.is_(True), User.digest_enabled.is_(True))
    if manager_email:
        query = query.where(User.email == manager_email.strip().lower())
    candidates = []
    for user in session.scalars(query.order_by(User.id)):
        local = as_utc(now).astimezone(zone(user.time_zone))
        if local.hour >= user.digest_hour:
            candidates.append((user, local.date()))
    if not candidates:
        return []
    done = set()
    for start in range(0, len(candidates), BATCH):
        chunk = candidates[start : start + BATCH]
        done.update(
            tuple(row)
            for row in session.execute(
                select(DigestDay.user_id, DigestDay.local_date).where(
                    DigestDay.user_id.in_([u.id for u, _ in chunk]),
                    DigestDay.local_date.in_({d for _, d in chunk}),
                )
            )
        )
    return [(user, day) for user, day in candidates if (user.id, day) not in done]


def gather(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    managers: Sequence[User],
    base_url: str,
) -> dict[int, list[DigestItem]]:
    """Escalated, overdue and due-today waits of each manager, most urgent first."""
    base = base_url.rstrip("/")
    words = DueWords(now, settings, "UTC")  # phrases only: worded once per deadline
    owed: dict[int, list[DigestItem]] = defaultdict(list)
    ids = [m.id for m in managers]
    for start in range(0, len(ids), BATCH):
        rows = waiting(session, now, settings, Filters(manager_ids=tuple(ids[start : start + BATCH])))
        for row in rows:
            if row.state in REPORTED or _due_today(row, now):
                owed[row.manager_id].append(
                    DigestItem(
                        row=row,
                        due_text=words.phrase(row.due_at, row.time_zone),
                        url=f"{base}/candidates/{row.candidate_id}",
                    )
                )
    return owed


def _due_today(row: WaitingRow, now: dt.datetime) -> bool:
    tz = zone(row.time_zone)
    return as_utc(row.due_at).astimezone(tz).date() == as_utc(now).astimezone(tz).date()


def build(manager: User, day: dt.date, items: list[DigestItem], base_url: str) -> Digest:
    base = base_url.rstrip("/")
    return Digest(
        manager=manager,
        local_date=day,
        items=items,
        triage_url=base + "/",
        settings_url=base + "/account/settings",
    )


def render(digest: Digest) -> tuple[str, str]:
    """Text and HTML bodies; the HTML escapes every name (autoescape)."""
    context = {"digest": digest, "manager": digest.manager, "items": digest.items}
    return (render_template("mail/digest.txt", **context), render_template("mail/digest.html", **context))


def claim(session: Session, manager: User, day: dt.date, items: int) -> DigestDay | None:
    """Claim the manager's day; None when another run already has it (nothing is written)."""
    statement = (
        insert_unless_exists(session, DigestDay, conflict=["user_id", "local_date"])
        .values(user_id=manager.id, local_date=day, items=items, created_at=utcnow())
        .returning(DigestDay)
    )
    return session.scalars(statement).one_or_none()


def queue(
    session: Session,
    digest: Digest,
    now: dt.datetime,
    config: EmailConfig,
) -> DigestDay | None:
    """Claim the manager's day and queue the digest in the same transaction (the caller commits).

    None when another run claimed the day first. A day with nothing owed is claimed without a
    message unless the manager asked for empty digests, so a later run that day sends nothing.
    """
    day = claim(session, digest.manager, digest.local_date, len(digest.items))
    if day is None:
        return None
    if not digest.items and not digest.manager.digest_empty:
        return day
    text, html = render(digest)
    message = outbox.queue_to_user(
        session,
        digest.manager,
        EmailKind.DIGEST,
        RenderedEmail(digest.subject, text, html),
        now,
        config,
        idempotency_key=f"digest:{digest.manager.id}:{digest.local_date.isoformat()}",
    )
    day.outbox_message_id = message.id
    return day
