"""The organisation's chat connection and the chat worker's settings.

Secrets come from configuration (``FEEDBACK_SLA_SLACK_BOT_TOKEN``, ``..._SLACK_SIGNING_SECRET``,
``..._TEAMS_WEBHOOK_URL``) or, when not configured, from what an admin entered on the chat page,
stored as Fernet tokens under a key derived from the app's secret key: the database alone does not
reveal them, and no page shows them again. A Teams Workflows URL is a secret too (it carries its
signature), so a manager's own is stored the same way.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.chat.models import ChatSetting
from feedback_sla.errors import DomainError
from feedback_sla.text import clean_line

#: The secrets an admin may enter, by the name they are stored under, with their configuration key.
SECRETS = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "teams_webhook_url": "TEAMS_WEBHOOK_URL",
}
#: The longest secret or URL accepted.
MAX_SECRET = 2000


class SecretUnreadable(DomainError):
    """A stored secret was encrypted under another secret key: it must be entered again."""


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise DomainError(
            "the app has no secret key (FEEDBACK_SLA_SECRET_KEY): chat secrets cannot be stored"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"feedback-sla chat secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored chat secret cannot be read with this secret key (was FEEDBACK_SLA_SECRET_KEY "
            "changed?): enter it again on the chat page"
        ) from None


@dataclass(frozen=True)
class ChatConfig:
    """What the chat worker, the nudges and the interactivity endpoint run with."""

    secret_key: str | None
    base_url: str
    slack_api_base: str = "https://slack.com/api/"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    teams_webhook_url: str | None = None
    teams_hosts: tuple[str, ...] = ("logic.azure.com", "powerplatform.com")
    timeout: float = 10
    max_attempts: int = 8
    backoff_seconds: float = 30
    lease_seconds: int = 120
    poll_seconds: float = 5
    batch_size: int = 20
    #: Where each secret came from: "configuration", "entered on the chat page", or absent.
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def slack_ready(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def interactivity_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/slack/interactivity"


def from_app_config(config: Mapping) -> ChatConfig:
    """The configured values only (no stored secrets): ``load`` adds those."""
    base = config.get("BASE_URL") or "http://localhost:5000"
    hosts = tuple(str(config.get("TEAMS_WEBHOOK_HOSTS") or "").replace(",", " ").split())
    values = {name: config.get(key) or None for name, key in SECRETS.items()}
    sources = {name: "configuration" for name, value in values.items() if value}
    return ChatConfig(
        secret_key=config.get("SECRET_KEY"),
        base_url=str(base).rstrip("/"),
        slack_api_base=str(config.get("SLACK_API_BASE") or "https://slack.com/api/"),
        teams_hosts=hosts,
        timeout=float(config.get("CHAT_TIMEOUT", 10)),
        max_attempts=int(config.get("CHAT_MAX_ATTEMPTS", 8)),
        backoff_seconds=float(config.get("CHAT_BACKOFF_SECONDS", 30)),
        lease_seconds=int(config.get("CHAT_LEASE_SECONDS", 120)),
        poll_seconds=float(config.get("CHAT_POLL_SECONDS", 5)),
        sources=sources,
        **values,
    )


def load(session: Session, config: Mapping) -> ChatConfig:
    """The chat settings: configuration first, then the secrets an admin entered (decrypted).

    A stored secret that can no longer be read counts as not set (the chat page says so).
    """
    chat = from_app_config(config)
    rows = session.scalars(select(ChatSetting).where(ChatSetting.name.in_(list(SECRETS))))
    stored = {row.name: row.value for row in rows}
    values, sources = {}, dict(chat.sources)
    for name in SECRETS:
        if getattr(chat, name) or name not in stored:
            continue
        try:
            values[name] = decrypt(chat.secret_key or "", stored[name])
            sources[name] = "entered on the chat page"
        except (SecretUnreadable, DomainError):
            sources[name] = "unreadable: enter it again"
    return dataclasses.replace(chat, sources=sources, **values)


def store_secret(
    session: Session, config: ChatConfig, name: str, value: str | None, now: dt.datetime
) -> None:
    """Store (encrypted) or, with None or empty, forget an entered secret. The caller commits."""
    if name not in SECRETS:
        raise DomainError(f"unknown chat secret {name!r}")
    row = session.get(ChatSetting, name)
    if not value:
        if row is not None:
            session.delete(row)
        return
    value = check_secret(name, value, config)
    token = encrypt(config.secret_key or "", value)
    if row is None:
        session.add(ChatSetting(name=name, value=token, updated_at=now))
    else:
        row.value, row.updated_at = token, now


def check_secret(name: str, value: str, config: ChatConfig) -> str:
    """A secret as entered, without surrounding spaces; DomainError names the field."""
    label = name.replace("_", " ")
    value = clean_line(value, label, MAX_SECRET).strip()
    if name == "slack_bot_token" and not value.startswith("xoxb-"):
        raise DomainError(
            f"{label}: a Slack bot token starts with xoxb- (OAuth & Permissions, Bot User OAuth Token)"
        )
    if name == "teams_webhook_url":
        return check_teams_url(value, config, label)
    return value


def check_teams_url(url: str, config: ChatConfig, field: str = "Teams webhook URL") -> str:
    """A Teams Workflows URL: https on one of the allowed hosts (``TEAMS_WEBHOOK_HOSTS``), so a typed
    address cannot make the server post to anything else; plain http only to a loopback address the
    operator listed there themselves (a relay on this machine), never to one typed alone."""
    url = clean_line(url, field, MAX_SECRET).strip()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = any(host == h or host.endswith("." + h) for h in config.teams_hosts)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and _loopback(host) and host in config.teams_hosts
    )
    if not secure or not allowed:
        hosts = ", ".join(config.teams_hosts) or "none configured"
        raise DomainError(
            f"{field}: not a Teams Workflows URL (https on {hosts}): copy the URL the workflow's "
            "trigger When a Teams webhook request is received shows"
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
