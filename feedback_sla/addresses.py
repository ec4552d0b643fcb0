"""Email addresses: the one rule every door applies (the pages, the CSV import, the API, the ATS
webhooks, the commands, the settings), and the form an address takes on the wire.

An address is what email-validator accepts without asking DNS: RFC 5321 and 5322 syntax with
internationalized addresses (RFC 6531: a non-ASCII local part, an IDN domain), no display name, no
quoted local part, no IP literal, no reserved domain (``localhost``, ``.test``, ``.invalid``). It
is kept on one line, at most ``MAX_ADDRESS`` characters, in lower case with its domain in Unicode.

On the wire an IDN domain goes as its A-labels (``xn--…``), which every server takes; a non-ASCII
local part needs a server offering SMTPUTF8.
"""

from __future__ import annotations

import functools

from feedback_sla.errors import DomainError
from feedback_sla.text import clean_line

#: The longest address (RFC 5321's path limit less its brackets); every address column holds it.
MAX_ADDRESS = 254


class InvalidAddress(DomainError):
    """An address the rule refuses: ``field`` names where it was given, ``reason`` says why (the
    message is both, ``"email: ..."``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def normalize_address(value: str, field: str = "email") -> str:
    """The address as it is kept: stripped, checked, lower case, its domain in Unicode.

    InvalidAddress names ``field`` when the address is empty, not one line, holds a control
    character, is longer than ``MAX_ADDRESS`` or is not a valid address.
    """
    try:
        text = clean_line(value if isinstance(value, str) else "", field, MAX_ADDRESS)
    except DomainError as exc:
        raise InvalidAddress(field, str(exc).removeprefix(f"{field}: ")) from None
    try:
        return _validated(text).normalized.lower()
    except ValueError as exc:  # EmailNotValidError
        raise InvalidAddress(field, f"{text!r} is not a valid email address: {exc}") from None


def comparable_address(value: str) -> str:
    """An address from outside (a reply's sender, a bounce's recipient, a login) in the form the
    rule keeps, so it matches the stored one: ``Chloé@Example.COM`` and ``user@xn--mnchen-3ya.de``
    as ``chloé@example.com`` and ``user@münchen.de``. Text that is no valid address is only
    stripped and lower-cased."""
    try:
        return normalize_address(value)
    except InvalidAddress:
        return (value or "").strip().lower()


def needs_smtputf8(address: str) -> bool:
    """Whether only a server offering SMTPUTF8 takes the address: its local part is not ASCII."""
    return not address.rpartition("@")[0].isascii()


def wire_address(address: str, field: str = "email") -> str:
    """The address as SMTP and the headers carry it: the local part as is, the domain as A-labels.
    InvalidAddress when it is not a valid address."""
    try:
        checked = _validated(address)
    except ValueError as exc:
        raise InvalidAddress(field, f"{address!r} is not a valid email address: {exc}") from None
    return f"{checked.local_part}@{checked.ascii_domain}"


@functools.lru_cache(maxsize=4096)
def _validated(address: str):
    """Cached: the worker checks the same few addresses (the organisation's, each manager's) for
    every message it sends. A refusal raises, and is never cached."""
    # Imported here: it builds its grammar on import, which commands that only read data skip.
    from email_validator import validate_email

    return validate_email(address, check_deliverability=False)
