"""Positions: creation and policy overrides. The caller commits."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..candidates.models import WaitReason
from ..candidates.service import recompute_open_waits
from ..errors import DomainError
from ..settings.service import OrgSettings
from ..timeutil import validate_time_zone
from .models import Position

REASONS = tuple(reason.value for reason in WaitReason)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, int]:
    """``["application=7", "decision=2"]`` to ``{"application": 7, "decision": 2}``."""
    overrides: dict[str, int] = {}
    for item in items:
        reason, sep, days = item.partition("=")
        reason = reason.strip()
        if not sep or reason not in REASONS:
            raise DomainError(
                f"policy override {item!r} must be REASON=DAYS with REASON one of {', '.join(REASONS)}"
            )
        overrides[reason] = check_days(reason, days)
    return overrides


def check_days(reason: str, days: str | int) -> int:
    try:
        value = int(str(days).strip())
    except ValueError:
        raise DomainError(f"{reason}: {days!r} is not a whole number of business days") from None
    if not 1 <= value <= 90:
        raise DomainError(f"{reason}: business days must be between 1 and 90, got {value}")
    return value


def create_position(
    session: Session,
    title: str,
    manager: User,
    time_zone: str | None = None,
    policy_overrides: dict[str, int] | None = None,
) -> Position:
    """A position; its time zone defaults to its hiring manager's."""
    if not title.strip():
        raise DomainError("title must not be empty")
    time_zone = time_zone or manager.time_zone
    try:
        validate_time_zone(time_zone)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    position = Position(
        title=title.strip(),
        manager=manager,
        time_zone=time_zone,
        policy_overrides=dict(policy_overrides or {}),
        is_open=True,
    )
    session.add(position)
    session.flush()
    return position


def find_position(session: Session, title: str, manager: User) -> Position | None:
    return session.scalar(
        select(Position)
        .where(
            func.lower(Position.title) == title.strip().lower(), Position.manager_id == manager.id
        )
        .order_by(Position.is_open.desc(), Position.id)
        .limit(1)
    )


def update_position(
    session: Session,
    position: Position,
    title: str,
    manager: User,
    time_zone: str,
    policy_overrides: dict[str, int],
    settings: OrgSettings,
) -> int:
    """Change a position; returns how many of its open waits got new deadlines.

    Only a change of time zone or of policy overrides moves deadlines, so only then are the
    position's open waits recomputed.
    """
    if not title.strip():
        raise DomainError("title must not be empty")
    try:
        validate_time_zone(time_zone)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if not manager.active and manager.id != position.manager_id:
        raise DomainError(f"{manager.email} is disabled and cannot become a hiring manager")
    overrides = {reason: check_days(reason, days) for reason, days in policy_overrides.items()}
    unknown = set(overrides) - set(REASONS)
    if unknown:
        raise DomainError(f"unknown wait reason {sorted(unknown)[0]!r}; one of {', '.join(REASONS)}")
    moves_deadlines = time_zone != position.time_zone or overrides != dict(
        position.policy_overrides or {}
    )
    position.title = title.strip()
    position.manager = manager
    position.time_zone = time_zone
    position.policy_overrides = overrides
    session.flush()
    if not moves_deadlines:
        return 0
    return recompute_open_waits(session, settings, position_id=position.id)


def close_position(position: Position) -> None:
    """No new candidates; those already waiting keep their waits until they hear from us."""
    position.is_open = False


def reopen_position(position: Position) -> None:
    position.is_open = True
