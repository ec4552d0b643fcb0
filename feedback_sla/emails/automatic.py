"""The headers that mark a message no person's click sent, and the digest's unsubscribe link.

``Auto-Submitted: auto-generated`` (RFC 3834) goes on autopilot's updates and on every email to a
user (the digest), so auto-responders stay quiet; the digest also carries a one-click unsubscribe
link (RFC 2369 and 8058): a POST to it, with no cookie, turns that user's digest off. Its token is
the user's id signed with the app's secret key. A one-click email from a person carries none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer

from feedback_sla.emails.headers import HeaderError, check_headers
from feedback_sla.emails.models import EmailKind

if TYPE_CHECKING:
    from feedback_sla.emails.config import EmailConfig
    from feedback_sla.emails.transport import Envelope

#: Where a digest's one-click unsubscribe link points, under BASE_URL; the token follows.
UNSUBSCRIBE_PATH = "/digest/unsubscribe/"
_UNSUBSCRIBE_SALT = "feedback-sla digest unsubscribe"


def unsubscribe_token(secret: str, user_id: int) -> str:
    """The token of a user's unsubscribe link: their id, signed with the app's secret key."""
    return URLSafeSerializer(secret, salt=_UNSUBSCRIBE_SALT).dumps(user_id)


def unsubscribed_user(secret: str, token: str) -> int | None:
    """The user an unsubscribe token names; None when it was not signed with ``secret``."""
    try:
        value = URLSafeSerializer(secret, salt=_UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    return value if type(value) is int else None


def unsubscribe_url(base_url: str | None, secret: str | None, user_id: int) -> str | None:
    """The one-click unsubscribe link of a user's digest; None without a base URL or a secret key."""
    if not base_url or not secret:
        return None
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}{unsubscribe_token(secret, user_id)}"


def automatic_headers(envelope: Envelope, config: EmailConfig) -> list[tuple[str, str]]:
    """The headers this message adds: none for a person's email; Auto-Submitted for autopilot's
    and a user's; and on the digest List-Unsubscribe and List-Unsubscribe-Post, when BASE_URL is
    https (RFC 8058 allows no other) and the secret key is known."""
    if not envelope.autopilot and envelope.recipient_user_id is None:
        return []
    found = [("Auto-Submitted", "auto-generated")]
    if envelope.kind == EmailKind.DIGEST.value and envelope.recipient_user_id is not None:
        url = unsubscribe_url(config.base_url, config.secret_key, envelope.recipient_user_id)
        if url and url.startswith("https://"):
            found.append(("List-Unsubscribe", f"<{url}>"))
            found.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return found


class Verbatim(str):
    """A header sent as written, on one line: the email package would otherwise encode a long
    value without spaces (an unsubscribe URL) as RFC 2047 words, which no client reads as a URL."""

    name: str

    def __new__(cls, name: str, value: str) -> Verbatim:
        check_headers({name: value})
        if not value.isascii() or len(name) + len(value) > 990:
            raise HeaderError(f"{name} must be ASCII and shorter than a mail line")
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"
