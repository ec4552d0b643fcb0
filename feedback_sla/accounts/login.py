"""Logging in and out, passwords and session versions. The caller commits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import check_password, end_all_sessions, find_by_email
from feedback_sla.errors import DomainError


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for every failure)."""
    user = find_by_email(session, email)
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def load_from_token(session: Session, token: str) -> User | None:
    """The user of a session token, unless the session has been ended since."""
    user_id, _, version = token.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise DomainError("the current password is wrong")
    check_password(new)
    user.set_password(new)
    end_all_sessions(user)
