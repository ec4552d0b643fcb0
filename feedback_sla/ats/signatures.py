"""Each vendor's signature, checked on the raw body in constant time, before anything is parsed.

Greenhouse: ``Signature: sha256 <hex>``, HMAC-SHA256 of the body. Ashby: ``Ashby-Signature:
sha256=<hex>``, the same HMAC. Workable: ``X-Workable-Signature: <hex>``, the same HMAC. Lever signs
inside the body: ``signature`` is the HMAC-SHA256 of ``token + triggeredAt``, and ``triggeredAt``
(epoch milliseconds) must be at most ``LEVER_MAX_AGE`` old.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from feedback_sla.ats.models import Kind

LEVER_MAX_AGE = dt.timedelta(minutes=5)
#: A Lever time a little ahead of ours is clock skew, not a forgery.
LEVER_MAX_SKEW = dt.timedelta(minutes=1)


class BadSignature(Exception):
    """The delivery is not from the source: answered 401, nothing written."""


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _header_value(headers: Mapping[str, str], name: str, prefix: str) -> str | None:
    value = headers.get(name)
    if value is None or not value.lower().startswith(prefix):
        return None
    return value[len(prefix) :]


def verify(kind: str, secret: str, headers: Mapping[str, str], body: bytes, now: dt.datetime) -> None:
    """BadSignature unless ``body`` was signed with ``secret`` as ``kind`` documents it."""
    if kind == Kind.LEVER:
        return _verify_lever(secret, body, now)
    expected = hmac_hex(secret, body)
    given = {
        Kind.GREENHOUSE: lambda: _header_value(headers, "Signature", "sha256 "),
        Kind.ASHBY: lambda: _header_value(headers, "Ashby-Signature", "sha256="),
        Kind.WORKABLE: lambda: headers.get("X-Workable-Signature"),
    }[Kind(kind)]()
    if not _same(expected, given):
        raise BadSignature("signature: missing or wrong")


def _verify_lever(secret: str, body: bytes, now: dt.datetime) -> None:
    try:
        payload = json.loads(body)
        token, triggered_at, signature = payload["token"], payload["triggeredAt"], payload["signature"]
    except (ValueError, TypeError, KeyError):
        raise BadSignature("signature: token, triggeredAt or signature missing") from None
    if not isinstance(token, str) or not isinstance(signature, str) or isinstance(triggered_at, bool):
        raise BadSignature("signature: token, triggeredAt or signature malformed")
    if not isinstance(triggered_at, int | str):
        raise BadSignature("signature: triggeredAt malformed")
    if not _same(hmac_hex(secret, f"{token}{triggered_at}".encode()), signature):
        raise BadSignature("signature: missing or wrong")
    try:
        sent = dt.datetime.fromtimestamp(int(triggered_at) / 1000, dt.UTC)
    except (ValueError, OverflowError):
        raise BadSignature("signature: triggeredAt is not a time") from None
    if sent < now - LEVER_MAX_AGE or sent > now + LEVER_MAX_SKEW:
        raise BadSignature("signature: triggeredAt is more than 5 minutes old")
