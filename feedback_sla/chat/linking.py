"""Linking users to Slack members by their address (Slack's users.lookupByEmail). The caller commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.chat import preferences, transport
from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import ChatPreference
from feedback_sla.chat.transport import DeliveryError
from feedback_sla.errors import DomainError


@dataclass
class Linked:
    linked: list[tuple[User, str]] = field(default_factory=list)
    not_found: list[User] = field(default_factory=list)
    errors: list[tuple[User, str]] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        parts = [f"linked {len(self.linked)}"]
        if self.not_found:
            parts.append("not in Slack: " + ", ".join(u.email for u in self.not_found))
        if self.errors:
            parts.append("; ".join(f"{u.email}: {why}" for u, why in self.errors))
        return "Slack: " + "; ".join(parts) + "."


def link_by_address(
    session: Session, config: ChatConfig, now: dt.datetime, users: list[User] | None = None
) -> Linked:
    """Look each user (by default every active user not linked yet) up in Slack by address."""
    if not config.slack_bot_token:
        raise DomainError("Slack is not connected: set its bot token first")
    if users is None:
        linked_ids = select(ChatPreference.user_id).where(ChatPreference.slack_user_id.is_not(None))
        users = list(
            session.scalars(
                select(User).where(User.active.is_(True), User.id.not_in(linked_ids)).order_by(User.id)
            )
        )
    result = Linked()
    for user in users:
        try:
            member = transport.lookup_member(config, user.email)
        except DeliveryError as exc:
            result.errors.append((user, str(exc)))
            if exc.permanent:  # invalid_auth and the like: every other lookup would fail alike
                break
            continue
        if member is None:
            result.not_found.append(user)
            continue
        try:
            preferences.link_slack(session, user, member, now)
        except DomainError as exc:
            result.errors.append((user, str(exc)))
            continue
        result.linked.append((user, member))
    return result
