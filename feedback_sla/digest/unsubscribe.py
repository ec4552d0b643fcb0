"""Turning a manager's digest off from the link in it (List-Unsubscribe, RFC 8058).

The link's token names the manager (``emails.automatic``): whoever holds it may turn that one
digest off, which the manager can undo in My settings. The page asks first; only a POST acts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.emails import automatic


class Outcome(enum.Enum):
    TURNED_OFF = "turned off"
    ALREADY_OFF = "already off"


@dataclass(frozen=True)
class Unsubscribed:
    user: User
    outcome: Outcome


def user_of(session: Session, secret: str, token: str) -> User | None:
    """The user a link's token names; None for a token not signed with ``secret`` or a user gone."""
    user_id = automatic.unsubscribed_user(secret, token)
    return session.get(User, user_id) if user_id is not None else None


def turn_off(session: Session, user: User) -> Unsubscribed:
    """Turn the user's digest off (the caller commits); the same link twice changes nothing."""
    if not user.digest_enabled:
        return Unsubscribed(user, Outcome.ALREADY_OFF)
    user.digest_enabled = False
    session.flush()
    return Unsubscribed(user, Outcome.TURNED_OFF)
