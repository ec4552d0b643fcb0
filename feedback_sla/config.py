"""Configuration: defaults in code, then ``instance/config.py``, then ``FEEDBACK_SLA_*`` variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_PREFIX = "FEEDBACK_SLA"

#: Every setting an operator may change, with its default. README's configuration table mirrors it.
DEFAULTS: dict[str, object] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "SQLITE_BUSY_TIMEOUT": 15,  # seconds a writer waits for SQLite's lock
    "BASE_URL": None,
    "DEMO": False,
    "RATELIMIT_STORAGE_URI": "memory://",
    "LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "50 per 15 minutes",
    "API_LIMIT_PER_TOKEN": "300 per minute",  # requests one API token may make
    "STATUS_PAGE_LIMIT_PER_ADDRESS": "60 per minute",  # requests one address may make to status pages
    "MY_DATA_LIMIT_PER_ADDRESS": "10 per hour",  # "Download my data" from one address
    "WEBHOOK_LIMIT_PER_SOURCE": "600 per minute",  # deliveries one ATS source's webhook URL takes
    "SESSION_IDLE_MINUTES": 120,
    "SESSION_ABSOLUTE_HOURS": 12,
    "BEHIND_PROXY": False,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,  # None: on, except in debug and demo runs over plain HTTP
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "feedback_sla_session",
    "BOOTSTRAP_SERVE_LOCAL": True,
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # bytes; larger request bodies answer 413
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    # Candidate emails come from the organisation's address, with Reply-To the hiring manager.
    # The name is the company's until an admin sets the organisation setting company_name.
    "ORGANISATION_NAME": "Example Company",
    "ORGANISATION_EMAIL": "jobs@example.com",
    # Delivery: "smtp" or "file" (.eml files in OUTBOX_MAIL_DIR); unset: smtp when MAIL_SERVER is set.
    "MAIL_BACKEND": None,
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,  # STARTTLS after connecting
    "MAIL_USE_SSL": False,  # TLS from the first byte (port 465)
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_TIMEOUT": 30,  # seconds an SMTP connection or reply may take before the attempt fails
    "OUTBOX_MAIL_DIR": None,  # None: <instance>/outbox-mail
    # Deliver from a thread of the web process (the demo and `feedback-sla run` turn it on).
    "OUTBOX_BACKGROUND_WORKER": False,
    "OUTBOX_UNDO_SECONDS": 60,  # undo window of a one-click email; 0 sends at once
    "OUTBOX_MAX_ATTEMPTS": 8,  # delivery attempts before a message is marked failed
    "OUTBOX_BACKOFF_SECONDS": 30,  # retry n waits about this times 2**n, with jitter
    "OUTBOX_LEASE_SECONDS": 300,  # a worker that stops mid-send loses its claim after this
    "OUTBOX_BATCH_SIZE": 50,  # messages a worker claims and sends on one SMTP connection
    "OUTBOX_POLL_SECONDS": 5,  # a running worker looks for due messages this often
    # Mail that comes back. Unset: candidate emails go out as before, no token in any address.
    "BOUNCE_ADDRESS": None,  # e.g. bounces@acme.example: envelope sender bounces+<token>@acme.example
    "REPLY_ADDRESS": None,  # e.g. replies@acme.example: a second Reply-To, replies+<token>@acme.example
    "INBOUND_MAX_BYTES": 10 * 1024 * 1024,  # a larger incoming message is refused
    # DKIM signing of every outgoing message (all three, or none: then the mail server may sign).
    "DKIM_KEY_FILE": None,  # e.g. /etc/feedback-sla/dkim.pem: an unencrypted PEM RSA key, 2048 bits
    "DKIM_SELECTOR": None,  # e.g. fsla2026: the public key is the TXT record fsla2026._domainkey.<domain>
    "DKIM_DOMAIN": None,  # e.g. acme.example: ORGANISATION_EMAIL's domain or a parent of it
    # Replies read from a mailbox by `feedback-sla inbound imap` (checked when the command starts).
    "INBOUND_IMAP_HOST": None,
    "INBOUND_IMAP_PORT": None,  # None: 993 for imaps, 143 for starttls and none
    "INBOUND_IMAP_USER": None,
    "INBOUND_IMAP_PASSWORD": None,
    "INBOUND_IMAP_SECURITY": "imaps",  # imaps, starttls, or none (a loopback host only)
    "INBOUND_IMAP_CA_FILE": None,  # None: the system's trusted certificate authorities
    "INBOUND_IMAP_FOLDER": "INBOX",  # every message in it is read, then moved away
    "INBOUND_IMAP_DONE_FOLDER": "Processed",  # created when missing
    "INBOUND_IMAP_FAILED_FOLDER": "Failed",  # messages that could not be read; created when needed
    "INBOUND_IMAP_INTERVAL": 60,  # seconds between two polls of a running `inbound imap`
    "INBOUND_IMAP_TIMEOUT": 30,  # seconds a connection or an answer of the server may take
    # Operators: `text` (Flask's default lines) or `json` (one JSON object per line, app and commands).
    "LOG_FORMAT": "text",
    "METRICS_TOKEN": None,  # None: no Prometheus endpoint; set, /ops/metrics needs it as a Bearer token
    # ATS webhooks (/hooks/<kind>/<id>): a larger body answers 413; Lever's details come from its API.
    "WEBHOOK_MAX_BYTES": 1024 * 1024,
    "LEVER_API_BASE": "https://api.lever.co/v1",
    "LEVER_API_TIMEOUT": 10,  # seconds a Lever API request may take; then the delivery is retried later
    # Chat (Slack and Microsoft Teams). Secrets set here win over those an admin enters on /admin/chat.
    "SLACK_BOT_TOKEN": None,  # the Slack app's Bot User OAuth Token, xoxb-...
    "SLACK_SIGNING_SECRET": None,  # the Slack app's signing secret (Basic Information)
    "SLACK_API_BASE": "https://slack.com/api/",
    "TEAMS_WEBHOOK_URL": None,  # the team's Teams Workflows URL, for managers without their own
    "TEAMS_WEBHOOK_HOSTS": "logic.azure.com powerplatform.com",  # hosts a Workflows URL may be on
    "CHAT_TIMEOUT": 10,  # seconds a Slack or Teams request may take before the attempt fails
    "CHAT_MAX_ATTEMPTS": 8,  # delivery attempts before a chat message is marked failed
    "CHAT_BACKOFF_SECONDS": 30,  # retry n waits about this times 2**n, with jitter (or Retry-After)
    "CHAT_LEASE_SECONDS": 120,  # a chat worker that stops mid-send loses its claim after this
    "CHAT_POLL_SECONDS": 5,  # a running chat worker looks for due messages this often
}


def instance_path() -> str | None:
    """The instance folder chosen by ``FEEDBACK_SLA_INSTANCE_PATH``, or None for Flask's default."""
    path = os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def database_uri(url: str | None, instance_folder: str) -> str:
    """The SQLAlchemy URL for a configured database URL; PostgreSQL always goes through psycopg 3."""
    if not url:
        return "sqlite:///" + str(Path(instance_folder) / "feedback_sla.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(uri: str, busy_timeout: float) -> dict:
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": float(busy_timeout)}}
    return {"pool_pre_ping": True}


def local_secret_key(instance_folder: str) -> str:
    """A key kept in the instance folder, for debug and demo runs only."""
    path = Path(instance_folder) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class ConfigurationError(RuntimeError):
    """The configuration cannot run the app; the message names the setting."""


#: Settings that must be positive numbers, and the largest value that makes sense.
NUMBERS = {
    "SQLITE_BUSY_TIMEOUT": 3600,
    "SESSION_IDLE_MINUTES": 60 * 24 * 30,
    "SESSION_ABSOLUTE_HOURS": 24 * 365,
    "MAX_CONTENT_LENGTH": 1024**3,
}


def base_url(value) -> str | None:
    """BASE_URL as every link is built on it: no surrounding spaces, no trailing slash; None when
    it is not set."""
    return str(value or "").strip().rstrip("/") or None


def check(config) -> None:
    """Refuse a configuration the app cannot run with, naming the setting and its variable."""
    for key, highest in NUMBERS.items():
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= highest:
            raise ConfigurationError(
                f"{key} ({ENV_PREFIX}_{key}): {value!r} is not a number between 0 and {highest}"
            )
    _check_operations(config)


#: The shortest metrics token accepted: a guessable one would open the figures to anyone.
METRICS_TOKEN_MIN_LENGTH = 16


def _check_operations(config) -> None:
    if config.get("LOG_FORMAT") not in ("text", "json"):
        raise ConfigurationError(
            f"LOG_FORMAT ({ENV_PREFIX}_LOG_FORMAT): {config.get('LOG_FORMAT')!r} is not text or json"
        )
    token = config.get("METRICS_TOKEN")
    if token not in (None, "") and (not isinstance(token, str) or len(token) < METRICS_TOKEN_MIN_LENGTH):
        raise ConfigurationError(
            f"METRICS_TOKEN ({ENV_PREFIX}_METRICS_TOKEN): not text of at least {METRICS_TOKEN_MIN_LENGTH} "
            "characters; make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
