"""Personal API tokens: random, shown once, kept as their SHA-256, listed with their last use,
revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from feedback_sla.accounts.models import ApiToken, User
from feedback_sla.errors import DomainError
from feedback_sla.text import clean_line

#: Every token starts with this, so a leaked one is recognised (by a reader or a secret scanner).
PREFIX = "fsla_"
#: The longest name the api_tokens table holds.
MAX_NAME = ApiToken.__table__.c.name.type.length
#: A token's last use is written at most this often, so each request does not write a row.
LAST_USE_PRECISION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is the only time the token itself is known."""

    token: ApiToken
    secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str, now: dt.datetime) -> NewToken:
    name = clean_line((name or "").strip() or "API token", "name", MAX_NAME)
    if not user.active:
        raise DomainError(f"{user.email} is disabled")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=digest(secret), created_at=now)
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke(session: Session, token: ApiToken, now: dt.datetime) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def revoke_all(session: Session, user: User, now: dt.datetime) -> None:
    """Revoke every live token of the user: they stay revoked, whatever happens to the account."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )


def authenticate(session: Session, secret: str, now: dt.datetime) -> ApiToken | None:
    """The live token of an active user for this secret, its last use noted; None otherwise."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    # The user in the same statement: every request reads it next.
    query = select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == digest(secret))
    token = session.scalar(query)
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
        token.last_used_at = now
    return token
