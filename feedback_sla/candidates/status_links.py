"""Private links to a candidate's status page: made as an email is queued, found by their token.

The token (256 random bits) is only in the email; the database keeps its SHA-256. A link works
until the candidate's links are revoked, the candidate is erased, or a set number of days after
the final decision. Every function writes into the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from feedback_sla.accounts.tokens import digest as hash_token
from feedback_sla.candidates.models import Candidate, StatusLink
from feedback_sla.timeutil import as_utc

#: The channel of what a candidate did on their status page (asked for news, withdrew), on the timeline.
CHANNEL = "status page"
#: Longer than any token we make: anything longer is refused before it is hashed.
MAX_TOKEN = 100
#: A link's token as an email carries it, in its status page address.
CARRIED = re.compile(r"/status/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def create(session: Session, candidate_id: int, token: str, now: dt.datetime) -> StatusLink:
    """Store the link for ``token`` (made with ``new_token``, carried by one email)."""
    link = StatusLink(candidate_id=candidate_id, token_hash=hash_token(token), created_at=now)
    session.add(link)
    return link


def create_many(session: Session, links: Iterable[tuple[int, str, dt.datetime]]) -> None:
    """``create`` for many links (candidate id, token, time) in one INSERT, without loading them."""
    rows = [
        {"candidate_id": candidate_id, "token_hash": hash_token(token), "created_at": at}
        for candidate_id, token, at in links
    ]
    if rows:
        session.execute(insert(StatusLink.__table__), rows)


def dead_after(candidate: Candidate, days_after_decision: int) -> dt.datetime | None:
    """When the candidate's links stop working: ``days_after_decision`` days after the decision;
    None while no decision is made."""
    if candidate.decided_at is None:
        return None
    return as_utc(candidate.decided_at) + dt.timedelta(days=days_after_decision)


def find(session: Session, token: str, now: dt.datetime, days_after_decision: int) -> StatusLink | None:
    """The live link of ``token``, its candidate loaded; None when the token is unknown, revoked,
    its candidate erased, or the decision older than ``days_after_decision`` days."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = session.execute(
        select(StatusLink, Candidate)
        .join(Candidate, Candidate.id == StatusLink.candidate_id)
        .where(StatusLink.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    link, candidate = row
    if link.revoked_at is not None or not has_live_link(candidate, now, days_after_decision):
        return None
    return link


def has_live_link(candidate: Candidate, now: dt.datetime, days_after_decision: int) -> bool:
    """Whether a candidate who has an unrevoked link can still open it: not erased, and decided
    less than ``days_after_decision`` days ago (or not at all)."""
    if candidate.erased_at is not None:
        return False
    dies = dead_after(candidate, days_after_decision)
    return dies is None or as_utc(now) < dies


def revoke_all(session: Session, candidate_id: int, now: dt.datetime) -> int:
    """Revoke every live link of a candidate; returns how many were live."""
    return _revoke(session, candidate_id, now)


def revoke_carried(session: Session, candidate_id: int, body: str, now: dt.datetime) -> int:
    """Revoke the candidate's links that an email's ``body`` carries (an email cancelled before it
    was sent: nobody received them); returns how many were live."""
    hashes = {hash_token(token) for token in CARRIED.findall(body)}
    return _revoke(session, candidate_id, now, StatusLink.token_hash.in_(sorted(hashes))) if hashes else 0


def _revoke(session: Session, candidate_id: int, now: dt.datetime, *which) -> int:
    result = session.execute(
        update(StatusLink)
        .where(StatusLink.candidate_id == candidate_id, StatusLink.revoked_at.is_(None), *which)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
