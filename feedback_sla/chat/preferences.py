"""Each user's chat: the channels of their digest and nudges, quiet hours, a daily cap, and the
links that say where a message reaches them (a Slack member id; their own Teams Workflows URL, or
the team's). The caller commits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.chat import connection
from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import CHOOSABLE, Channel, ChatPreference
from feedback_sla.errors import DomainError

#: A Slack member id as Slack shows it in a profile (More, Copy member ID): U or W and capitals and digits.
SLACK_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
#: The highest daily cap accepted.
MOST_A_DAY = 200
DEFAULT_CAP = 20


def preference_of(session: Session, user: User) -> ChatPreference:
    """The user's row; a new one (not yet added) with the defaults when they have none."""
    found = session.get(ChatPreference, user.id)
    if found is None:
        found = ChatPreference(user_id=user.id, digest_channels="", nudge_channels="", daily_cap=DEFAULT_CAP)
    return found


def _stored(session: Session, user: User, now: dt.datetime) -> ChatPreference:
    row = session.get(ChatPreference, user.id)
    if row is None:
        row = preference_of(session, user)
        row.updated_at = now
        session.add(row)
    return row


@dataclass(frozen=True)
class Choices:
    """What a user sets on My settings. ``teams_webhook``: a new URL (None keeps the one stored)."""

    digest: Sequence[Channel]
    nudges: Sequence[Channel]
    quiet_from: int | None
    quiet_until: int | None
    daily_cap: int
    teams_webhook: str | None = None
    forget_teams_webhook: bool = False


def save_choices(
    session: Session, user: User, choices: Choices, config: ChatConfig, now: dt.datetime
) -> ChatPreference:
    """Save a user's chat choices; DomainError names the field that is wrong, and nothing is saved."""
    for hour, field in ((choices.quiet_from, "quiet hours from"), (choices.quiet_until, "quiet hours until")):
        if hour is not None and not 0 <= hour <= 23:
            raise DomainError(f"{field}: an hour between 0 and 23, got {hour}")
    if (choices.quiet_from is None) != (choices.quiet_until is None):
        raise DomainError("quiet hours: choose both when they start and when they end, or neither")
    if choices.quiet_from is not None and choices.quiet_from == choices.quiet_until:
        raise DomainError("quiet hours: the start and the end are the same hour")
    if not 1 <= choices.daily_cap <= MOST_A_DAY:
        raise DomainError(f"nudges a day: a number from 1 to {MOST_A_DAY}, got {choices.daily_cap}")
    new_url = connection.check_teams_url(choices.teams_webhook, config) if choices.teams_webhook else None
    row = _stored(session, user, now)
    if new_url:
        row.teams_webhook = connection.encrypt(config.secret_key or "", new_url)
    elif choices.forget_teams_webhook:
        row.teams_webhook = None
    wanted = set(choices.digest) | set(choices.nudges)
    if Channel.TEAMS in wanted and not row.teams_webhook and not config.teams_webhook_url:
        raise DomainError(
            "Teams: paste the URL of your Teams workflow first (no workflow is set for the whole team)"
        )
    row.digest_channels = _joined(choices.digest, "digest")
    row.nudge_channels = _joined(choices.nudges, "nudge")
    row.quiet_from, row.quiet_until = choices.quiet_from, choices.quiet_until
    row.daily_cap = choices.daily_cap
    row.updated_at = now
    return row


def _joined(channels: Sequence[Channel], which: str) -> str:
    return ",".join(c.value for c in CHOOSABLE[which] if c in set(channels))


def link_slack(session: Session, user: User, member_id: str | None, now: dt.datetime) -> ChatPreference:
    """Link the user to a Slack member (None or empty: unlink); one member is one user's."""
    row = _stored(session, user, now)
    member_id = (member_id or "").strip().upper() or None
    if member_id is not None:
        if not SLACK_MEMBER_ID.match(member_id):
            raise DomainError(
                f"Slack member ID: {member_id!r} is not one (it looks like U0123ABCD: in Slack, open the "
                "profile, More, Copy member ID)"
            )
        other = session.scalar(
            select(ChatPreference).where(
                ChatPreference.slack_user_id == member_id, ChatPreference.user_id != user.id
            )
        )
        if other is not None:
            taken = session.get(User, other.user_id)
            raise DomainError(f"Slack member ID: {member_id} is already linked to {taken.email}")
    row.slack_user_id = member_id
    row.updated_at = now
    return row


def set_teams_webhook(
    session: Session, user: User, url: str | None, config: ChatConfig, now: dt.datetime
) -> ChatPreference:
    """The user's own Teams Workflows URL (None: none, the team's is used)."""
    row = _stored(session, user, now)
    row.teams_webhook = (
        connection.encrypt(config.secret_key or "", connection.check_teams_url(url, config)) if url else None
    )
    row.updated_at = now
    return row


def teams_url_of(preference: ChatPreference | None, config: ChatConfig) -> str | None:
    """Where a user's Teams card goes: their own workflow, else the team's; None when neither is set."""
    if preference is not None and preference.teams_webhook:
        return connection.decrypt(config.secret_key or "", preference.teams_webhook)
    return config.teams_webhook_url


def user_of_slack_member(session: Session, member_id: str) -> User | None:
    """The active user linked to this Slack member, if any."""
    return session.scalar(
        select(User)
        .join(ChatPreference, ChatPreference.user_id == User.id)
        .where(ChatPreference.slack_user_id == member_id, User.active.is_(True))
    )


def reachable(preference: ChatPreference, channel: Channel, config: ChatConfig) -> bool:
    """Whether a message on ``channel`` can reach the user now: Slack connected and the user
    linked; a Teams workflow set (theirs or the team's); an email always (to their address)."""
    if channel == Channel.EMAIL:
        return True
    if channel == Channel.SLACK:
        return bool(config.slack_bot_token and preference.slack_user_id)
    return bool(preference.teams_webhook or config.teams_webhook_url)


def quiet_until(preference: ChatPreference, time_zone: str, now: dt.datetime) -> dt.datetime | None:
    """When the user's quiet hours end, if ``now`` falls in them; None otherwise."""
    start, end = preference.quiet_from, preference.quiet_until
    if start is None or end is None:
        return None
    from feedback_sla.timeutil import as_utc, zone

    tz = zone(time_zone)
    local = as_utc(now).astimezone(tz)
    hour = local.hour
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    if not inside:
        return None
    day = local.date() if hour < end else local.date() + dt.timedelta(days=1)
    wall = dt.datetime.combine(day, dt.time(end), tzinfo=tz)
    return wall.astimezone(dt.UTC)
