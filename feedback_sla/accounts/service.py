"""Users: creation and validation. The caller commits."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..timeutil import validate_time_zone
from .models import Role, User

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def normalize_email(email: str) -> str:
    """A syntactically valid address, lower-cased; DomainError names what is wrong."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise DomainError(f"invalid email {email!r}: {exc}") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise DomainError(f"password must have at most {MAX_PASSWORD} characters")


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


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
    email = normalize_email(email)
    if not name.strip():
        raise DomainError("name must not be empty")
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
        name=name.strip(),
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
