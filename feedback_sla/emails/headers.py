"""Header values are checked before any message is built: a line break would start a new header."""

from __future__ import annotations

from collections.abc import Mapping

from email_validator import EmailNotValidError, validate_email

from feedback_sla.errors import DomainError


class HeaderError(DomainError):
    """A value that cannot go into an email header; the message names it."""


def check_headers(values: Mapping[str, str | None]) -> None:
    """Refuse CR or LF in any header value, naming the first offending one."""
    for label, value in values.items():
        if value is not None and ("\r" in value or "\n" in value):
            raise HeaderError(f"{label} contains a line break, which is not allowed in an email header")


def check_address(label: str, address: str) -> None:
    check_headers({label: address})
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise HeaderError(f"{label} {address!r} is not a valid email address: {exc}") from None
