"""The email and outbox settings, read once from the app configuration and checked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from feedback_sla.config import ENV_PREFIX, ConfigurationError
from feedback_sla.emails.dkim_signing import DkimKey
from feedback_sla.emails.headers import HeaderError, check_address
from feedback_sla.languages import SHIPPED, effective

BACKENDS = ("smtp", "file")
#: What separates an address from its token: ``bounces+<token>@acme.example``.
DELIMITER = "+"


@dataclass(frozen=True)
class EmailConfig:
    organisation_name: str
    organisation_email: str
    undo_seconds: int = 60
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    lease_seconds: float = 300.0
    batch_size: int = 50
    poll_seconds: float = 5.0
    backend: str = "file"
    mail_timeout: float = 30.0
    mail_dir: str = "outbox-mail"
    bounce_address: str | None = None
    reply_address: str | None = None
    inbound_max_bytes: int = 10 * 1024 * 1024
    #: The app's public address (BASE_URL), without a trailing slash; None when not configured.
    base_url: str | None = None
    #: Whether candidate emails carry a status page link (the organisation setting, filled in by
    #: ``settings.service.email_config``); links also need ``base_url``.
    status_page: bool = False
    #: Signs every outgoing message when the DKIM settings are set (``emails.dkim_signing``).
    dkim: DkimKey | None = None
    #: The app's SECRET_KEY: it signs the digest's one-click unsubscribe link (none without it).
    secret_key: str | None = field(default=None, repr=False)
    #: The organisation's languages, its default first (filled in by
    #: ``settings.service.email_config``).
    languages: tuple[str, ...] = SHIPPED

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def language_of(self, tag: str | None) -> str:
        """The language to write in to someone whose language is ``tag``: theirs while enabled."""
        return effective(tag, self.languages, self.default_language)

    @property
    def status_links(self) -> bool:
        """Whether a candidate email queued now carries a link to the candidate's status page."""
        return self.status_page and bool(self.base_url)

    def status_url(self, token: str | None) -> str:
        """The status page address for a link's token; empty without a token or a base URL."""
        return f"{self.base_url}/status/{token}" if token and self.base_url else ""

    def envelope_sender(self, token: str | None) -> str:
        """The envelope sender (Return-Path) of a candidate email: the bounce address with the
        message's token (VERP), so a bounce names the message; the organisation's address
        without a bounce address or a token."""
        if self.bounce_address and token:
            return tagged(self.bounce_address, token)
        return self.organisation_email

    def reply_token_address(self, token: str | None) -> str | None:
        """The second Reply-To of a candidate email, or None without a reply address or a token."""
        if self.reply_address and token:
            return tagged(self.reply_address, token)
        return None

    @property
    def domain(self) -> str:
        """The organisation's mail domain: the right-hand side of every Message-ID."""
        return self.organisation_email.rpartition("@")[2]

    @classmethod
    def from_mapping(cls, config: Mapping[str, object], instance_path: str) -> EmailConfig:
        """The settings of an app's configuration; ConfigurationError names a bad key."""
        name = _text(config, "ORGANISATION_NAME")
        email = _text(config, "ORGANISATION_EMAIL")
        try:
            check_address(f"ORGANISATION_EMAIL ({ENV_PREFIX}_ORGANISATION_EMAIL)", email)
        except HeaderError as exc:
            raise ConfigurationError(str(exc)) from None
        backend = config.get("MAIL_BACKEND") or ("smtp" if config.get("MAIL_SERVER") else "file")
        if backend not in BACKENDS:
            raise ConfigurationError(f"MAIL_BACKEND: {backend!r} is not one of {', '.join(BACKENDS)}")
        if backend == "smtp":
            if not config.get("MAIL_SERVER"):
                raise ConfigurationError("MAIL_SERVER: the smtp backend needs a mail server host")
            _number(config, "MAIL_PORT", 1, 65_535)
            if not isinstance(config.get("MAIL_PORT"), int):
                raise ConfigurationError(f"MAIL_PORT: {config.get('MAIL_PORT')!r} is not a port number")
        mail_dir = config.get("OUTBOX_MAIL_DIR") or os.path.join(instance_path, "outbox-mail")
        return cls(
            organisation_name=name,
            organisation_email=email,
            undo_seconds=int(_number(config, "OUTBOX_UNDO_SECONDS", 0, 86_400)),
            max_attempts=int(_number(config, "OUTBOX_MAX_ATTEMPTS", 1, 100)),
            backoff_seconds=_number(config, "OUTBOX_BACKOFF_SECONDS", 0, 86_400),
            lease_seconds=_number(config, "OUTBOX_LEASE_SECONDS", 1, 86_400),
            batch_size=int(_number(config, "OUTBOX_BATCH_SIZE", 1, 10_000)),
            poll_seconds=_number(config, "OUTBOX_POLL_SECONDS", 0.01, 3_600),
            backend=str(backend),
            mail_timeout=_number(config, "MAIL_TIMEOUT", 0.01, 3_600),
            mail_dir=str(mail_dir),
            bounce_address=_base_address(config, "BOUNCE_ADDRESS"),
            reply_address=_base_address(config, "REPLY_ADDRESS"),
            inbound_max_bytes=int(_number(config, "INBOUND_MAX_BYTES", 1024, 1024**3)),
            base_url=config.get("BASE_URL"),
            dkim=DkimKey.from_mapping(config, email.rpartition("@")[2]),
            secret_key=config.get("SECRET_KEY") or None,
        )

    @classmethod
    def from_app(cls, app) -> EmailConfig:
        return cls.from_mapping(app.config, app.instance_path)


def tagged(address: str, token: str) -> str:
    """``bounces@acme.example`` with a token: ``bounces+<token>@acme.example``."""
    local, _, domain = address.rpartition("@")
    return f"{local}{DELIMITER}{token}@{domain}"


def _base_address(config: Mapping[str, object], key: str) -> str | None:
    """An address tokens are added to; None when unset. Its local part holds no ``+`` (the token
    goes there) and the address must be one a server accepts."""
    value = config.get(key)
    if value is None or value == "":
        return None
    named = f"{key} ({ENV_PREFIX}_{key})"
    if not isinstance(value, str):
        raise ConfigurationError(f"{named}: {value!r} is not an email address")
    value = value.strip()
    try:
        check_address(named, value)
    except HeaderError as exc:
        raise ConfigurationError(str(exc)) from None
    if DELIMITER in value.rpartition("@")[0]:
        raise ConfigurationError(f"{named}: {value!r} must not contain '+': the token goes there")
    return value


def _text(config: Mapping[str, object], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key}: must be set to a non-empty text")
    if "\r" in value or "\n" in value:
        raise ConfigurationError(f"{key}: must not contain a line break")
    return value.strip()


def _number(config: Mapping[str, object], key: str, low: float, high: float) -> float:
    value = config.get(key)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key}: {value!r} is not a number") from None
    if not low <= number <= high:
        raise ConfigurationError(f"{key}: must be between {low:g} and {high:g}, got {number:g}")
    return number
