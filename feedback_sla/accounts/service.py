"""Users: creation and validation. The caller commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla import languages
from feedback_sla.accounts import tokens
from feedback_sla.accounts.models import Role, User
from feedback_sla.addresses import comparable_address, normalize_address
from feedback_sla.errors import DomainError
from feedback_sla.text import clean_line
from feedback_sla.timeutil import validate_time_zone

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


#: The longest name the users table holds (an address: ``addresses.MAX_ADDRESS``).
MAX_NAME = User.__table__.c.name.type.length


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise DomainError(f"password must have at most {MAX_PASSWORD} characters")


def no_user_with(email: str) -> str:
    """The message for an address no account has."""
    return f"no user with email {email}"


def active_users(session: Session) -> list[User]:
    """Every user who can log in, by name."""
    return list(
        session.scalars(select(User).where(User.active.is_(True)).order_by(func.lower(User.name), User.id))
    )


@dataclass(frozen=True)
class Found:
    """The users a picker's text names: ``exact`` when one of them is the name or address typed."""

    users: list[User]
    exact: User | None
    more: bool  # more matched than ``users`` lists


def find_users(session: Session, text: str, limit: int = 20) -> Found:
    """Users by name or address, as typed in a picker (any case; a part of either will do): the
    one whose name or address it is, if any, and the first ``limit`` matches, the active first."""
    wanted = " ".join(text.split()).lower()
    if not wanted:
        return Found([], None, False)
    pattern = "%" + wanted.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    exact = (func.lower(User.name) == wanted) | (func.lower(User.email) == wanted)
    query = (
        select(User)
        .where(
            func.lower(User.name).like(pattern, escape="/") | func.lower(User.email).like(pattern, escape="/")
        )
        .order_by(exact.desc(), User.active.desc(), func.lower(User.name), User.id)
        .limit(limit + 1)
    )
    users = list(session.scalars(query))
    named = [u for u in users if wanted in (u.name.lower(), u.email.lower())]
    return Found(users[:limit], named[0] if len(named) == 1 else None, len(users) > limit)


def everyone(session: Session) -> list[User]:
    """Every account, the active ones first, by name: disabled managers may still have candidates."""
    return list(session.scalars(select(User).order_by(User.active.desc(), func.lower(User.name), User.id)))


def find_by_email(session: Session, email: str) -> User | None:
    """The user with this address, whatever its case or the form of its domain."""
    return session.scalar(select(User).where(func.lower(User.email) == comparable_address(email)))


def create_user(
    session: Session,
    email: str,
    name: str,
    role: Role | str,
    time_zone: str,
    password: str,
    *,
    digest_hour: int = 8,
) -> User:
    email = normalize_address(email, "email")
    name = clean_line(name, "name", MAX_NAME)
    try:
        role = Role(role)
        validate_time_zone(time_zone)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if not 0 <= digest_hour <= 23:
        raise DomainError("digest hour must be between 0 and 23")
    check_password(password)
    if find_by_email(session, email) is not None:
        raise DomainError(f"a user with email {email} already exists")
    user = User(
        email=email,
        name=name,
        role=role,
        time_zone=time_zone,
        digest_hour=digest_hour,
        active=True,
        session_version=1,
    )
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def _ensure_another_active_admin(session: Session, user: User, action: str) -> None:
    """Refuse to leave the organisation without an active admin.

    The other admins' rows are locked (PostgreSQL), so two admins demoting each other at
    the same moment cannot both succeed.
    """
    if not (user.is_admin and user.active):
        return
    others = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise DomainError(f"{user.email} is the last active admin and cannot be {action}")


def set_role(session: Session, user: User, role: Role | str) -> None:
    try:
        role = Role(role)
    except ValueError:
        raise DomainError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from None
    if role != Role.ADMIN:
        _ensure_another_active_admin(session, user, "demoted")
    user.role = role


def disable_user(session: Session, user: User, actor: User, now: dt.datetime) -> None:
    """Disable an account; every session it has ends at once and its API tokens are revoked for good."""

    if user.id == actor.id:
        raise DomainError("you cannot disable your own account")
    _ensure_another_active_admin(session, user, "disabled")
    disable(user)
    tokens.revoke_all(session, user, now)


def enable_user(session: Session, user: User, now: dt.datetime) -> None:
    """Allow logging in again; sessions and API tokens from before the account was disabled stay
    ended (a token still live here predates the rule that disabling revokes them)."""
    tokens.revoke_all(session, user, now)
    user.active = True


def end_all_sessions(user: User) -> None:
    """Every cookie issued so far for this user stops working."""
    user.session_version += 1


def disable(user: User) -> None:
    user.active = False
    end_all_sessions(user)


@dataclass(frozen=True)
class Preferences:
    """What a user sets on My settings."""

    name: str
    time_zone: str
    digest_enabled: bool
    digest_hour: int
    digest_empty: bool
    #: The language of the app's pages and the digest; None: the browser's.
    language: str | None = None


def update_preferences(user: User, preferences: Preferences) -> None:
    """A user's own name, time zone and digest choices; DomainError names what is wrong."""
    name = clean_line(preferences.name, "name", MAX_NAME)
    try:
        time_zone = validate_time_zone(preferences.time_zone.strip())
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if not 0 <= preferences.digest_hour <= 23:
        raise DomainError(f"digest hour must be between 0 and 23, got {preferences.digest_hour}")
    user.name = name
    user.time_zone = time_zone
    user.digest_enabled = preferences.digest_enabled
    user.digest_hour = preferences.digest_hour
    user.digest_empty = preferences.digest_empty
    user.language = _page_language(preferences.language)


def _page_language(tag: str | None) -> str | None:
    """A language the app's pages ship in, as kept; None (the browser's) when not given."""
    if not tag:
        return None
    found = languages.normalize(tag)
    if found not in languages.APP:
        raise DomainError(f"language: the app's pages are in {', '.join(languages.APP)}, not {tag}")
    return found
