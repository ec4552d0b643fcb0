"""Positions: creation and policy overrides. The caller commits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.errors import DomainError
from feedback_sla.numbers import whole_number
from feedback_sla.positions.models import Position
from feedback_sla.text import clean_line
from feedback_sla.timeutil import validate_time_zone

#: The longest position title the table holds.
MAX_TITLE = Position.__table__.c.title.type.length

#: The wait reasons a position may override the policy of (``waits.models.WaitReason``).
REASONS = ("application", "decision", "follow_up")


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
    """A policy's business days for a wait reason: 1 to 90; DomainError names the reason."""
    try:
        return whole_number(days, 1, 90, unit="business days")
    except ValueError as exc:
        raise DomainError(f"{reason}: {exc}") from None


def create_position(
    session: Session,
    title: str,
    manager: User,
    time_zone: str | None = None,
    policy_overrides: dict[str, int] | None = None,
    *,
    autopilot: bool = False,
) -> Position:
    """A position; its time zone defaults to its hiring manager's. ``autopilot``: status updates to
    its candidates before their deadlines pass (see ``autopilot.service``)."""
    title = clean_line(title, "title", MAX_TITLE)
    time_zone = time_zone or manager.time_zone
    try:
        validate_time_zone(time_zone)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    position = Position(
        title=title,
        manager=manager,
        time_zone=time_zone,
        policy_overrides=dict(policy_overrides or {}),
        is_open=True,
        autopilot=autopilot,
    )
    session.add(position)
    session.flush()
    return position


def find_position(session: Session, title: str, manager: User) -> Position | None:
    return session.scalar(
        select(Position)
        .where(func.lower(Position.title) == title.strip().lower(), Position.manager_id == manager.id)
        .order_by(Position.is_open.desc(), Position.id)
        .limit(1)
    )


@dataclass(frozen=True)
class PositionChange:
    """A position's new details, as the edit page or a command gives them."""

    title: str
    manager: User
    time_zone: str
    policy_overrides: dict[str, int | str] = field(default_factory=dict)
    #: Autopilot on or off; None keeps it as it is.
    autopilot: bool | None = None


def apply_change(session: Session, position: Position, change: PositionChange) -> bool:
    """Validate and apply a change; True when it moves deadlines (a new time zone or policy).

    ``waits.service.update_position`` recomputes the open waits when it does.
    """
    title = clean_line(change.title, "title", MAX_TITLE)
    try:
        validate_time_zone(change.time_zone)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if not change.manager.active and change.manager.id != position.manager_id:
        raise DomainError(f"{change.manager.email} is disabled and cannot become a hiring manager")
    unknown = set(change.policy_overrides) - set(REASONS)
    if unknown:
        raise DomainError(f"unknown wait reason {sorted(unknown)[0]!r}; one of {', '.join(REASONS)}")
    overrides = {reason: check_days(reason, days) for reason, days in change.policy_overrides.items()}
    moves_deadlines = change.time_zone != position.time_zone or overrides != dict(
        position.policy_overrides or {}
    )
    position.title = title
    position.manager = change.manager
    position.time_zone = change.time_zone
    position.policy_overrides = overrides
    if change.autopilot is not None:
        position.autopilot = change.autopilot
    session.flush()
    return moves_deadlines


def close_position(position: Position) -> None:
    """No new candidates; those already waiting keep their waits until they hear from us."""
    position.is_open = False


def reopen_position(position: Position) -> None:
    position.is_open = True


def set_autopilot(position: Position, on: bool) -> None:
    """Autopilot writes to this position's candidates before their deadlines pass, or stops."""
    position.autopilot = on
