"""Header values are checked before any message is built: a line break would start a new header."""

from __future__ import annotations

from collections.abc import Mapping

from feedback_sla.addresses import InvalidAddress, normalize_address
from feedback_sla.errors import DomainError


class HeaderError(DomainError):
    """A value that cannot go into an email header; the message names it."""


def check_headers(values: Mapping[str, str | None]) -> None:
    """Refuse CR or LF in any header value, naming the first offending one."""
    for label, value in values.items():
        if value is not None and ("\r" in value or "\n" in value):
            raise HeaderError(f"{label} contains a line break, which is not allowed in an email header")


def check_address(label: str, address: str) -> None:
    """The address by the one rule (``addresses.normalize_address``); HeaderError names ``label``."""
    check_headers({label: address})
    try:
        normalize_address(address, label)
    except InvalidAddress as exc:
        raise HeaderError(str(exc)) from None
