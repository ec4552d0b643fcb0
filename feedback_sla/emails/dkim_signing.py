"""Optional DKIM signing (RFC 6376) of every outgoing message, with dkimpy.

Off unless ``DKIM_KEY_FILE``, ``DKIM_SELECTOR`` and ``DKIM_DOMAIN`` are all set; a mail server
(an MTA) that signs for the domain does the same job without them. The key is read and checked when
the settings are, so a bad one stops the app at start with the setting's name. A message is signed
as it is turned into bytes for the wire (``DkimMessage.as_bytes``): the signature covers exactly
what the server receives, however the transport serialises it.

dkimpy is imported when a key is read or a message signed: it loads dnspython with it, which
commands that send nothing (the export, the digest's dry run) need not wait for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from feedback_sla.config import ENV_PREFIX, ConfigurationError
from feedback_sla.emails.headers import HeaderError

SETTINGS = ("DKIM_KEY_FILE", "DKIM_SELECTOR", "DKIM_DOMAIN")
#: Receivers ignore a signature made with a shorter RSA key (RFC 8301); 2048 bits is the advice.
MIN_KEY_BITS = 1024
#: Headers signed besides dkimpy's defaults (From, To, Subject, Date, Message-ID, List-Unsubscribe
#: and the other RFC 6376 "should sign" fields): RFC 8058 wants List-Unsubscribe-Post covered too.
ALSO_SIGNED = frozenset({b"list-unsubscribe-post", b"auto-submitted"})
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LABELS = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class DkimKey:
    """The signing key and where its public half is published: ``<selector>._domainkey.<domain>``."""

    selector: str
    domain: str
    key_file: str
    private_key: bytes = field(repr=False)

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def sign(self, data: bytes) -> bytes:
        """The ``DKIM-Signature`` header (folded, ending in CRLF) for a message's wire bytes;
        headers and body canonicalised relaxed, so a server that refolds a header keeps it valid."""
        import dkim

        signer = dkim.DKIM(data, linesep=b"\r\n")
        signed = signer.default_sign_headers()
        signed += [name for name, _ in signer.headers if name.lower() in ALSO_SIGNED]
        return signer.sign(
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=signed,
        )

    @classmethod
    def from_mapping(cls, config: Mapping[str, object], sender_domain: str) -> DkimKey | None:
        """The key of the DKIM settings; None when none is set. ConfigurationError names a bad one."""
        values = {key: config.get(key) for key in SETTINGS}
        if all(value in (None, "") for value in values.values()):
            return None
        missing = [_named(key) for key, value in values.items() if value in (None, "")]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)}: DKIM signing needs all of {', '.join(SETTINGS)} (or none of them)"
            )
        selector = _labels("DKIM_SELECTOR", values["DKIM_SELECTOR"])
        domain = _labels("DKIM_DOMAIN", values["DKIM_DOMAIN"]).lower()
        sender_domain = sender_domain.lower()
        if sender_domain != domain and not sender_domain.endswith("." + domain):
            raise ConfigurationError(
                f"{_named('DKIM_DOMAIN')}: {domain!r} is neither the domain of ORGANISATION_EMAIL "
                f"({sender_domain!r}) nor a parent of it, so DMARC would not count the signature"
            )
        path = str(values["DKIM_KEY_FILE"])
        return cls(selector, domain, path, _read_key(path))


def _named(key: str) -> str:
    return f"{key} ({ENV_PREFIX}_{key})"


def _labels(key: str, value: object) -> str:
    """A domain name or selector: dot-separated DNS labels of letters, digits and hyphens."""
    # From the environment a selector of digits arrives as a number.
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _LABELS.match(text):
        raise ConfigurationError(f"{_named(key)}: {value!r} is not a DNS name (letters, digits, '-' and '.')")
    return text


@functools.lru_cache(maxsize=8)
def _read_key(path: str) -> bytes:
    """The PEM RSA private key at ``path`` (PKCS#1 or PKCS#8, unencrypted), checked. Read once per
    process (pages read the settings on every request): a new key takes a restart, as a new
    setting does."""
    try:
        with open(path, "rb") as file:
            data = file.read(64 * 1024).replace(b"\r\n", b"\n")
    except OSError as exc:
        raise ConfigurationError(f"{_named('DKIM_KEY_FILE')}: cannot read {path!r}: {exc.strerror}") from None
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        key = parse_pem_private_key(data)
    except (UnparsableKeyError, ValueError, IndexError, TypeError):
        raise ConfigurationError(
            f"{_named('DKIM_KEY_FILE')}: {path!r} is not an unencrypted PEM RSA private key "
            "(make one with: openssl genrsa -out dkim.pem 2048)"
        ) from None
    bits = key["modulus"].bit_length()
    if bits < MIN_KEY_BITS:
        raise ConfigurationError(
            f"{_named('DKIM_KEY_FILE')}: the key has {bits} bits; "
            f"receivers need at least {MIN_KEY_BITS} (use 2048)"
        )
    return data


class DkimMessage(EmailMessage):
    """A message that signs itself as it becomes bytes, when it has a key."""

    dkim_key: DkimKey | None = None  # parts made inside the message never sign

    def as_bytes(self, unixfrom: bool = False, policy=None) -> bytes:
        data = super().as_bytes(unixfrom=unixfrom, policy=policy)
        if self.dkim_key is None or unixfrom:
            return data
        import dkim

        try:
            return self.dkim_key.sign(data) + data
        except dkim.DKIMException as exc:  # the worker records it as this message's failure
            raise HeaderError(f"the message cannot be DKIM-signed: {exc}") from None

    def __bytes__(self) -> bytes:
        return self.as_bytes()


def new_message(key: DkimKey | None, policy) -> EmailMessage:
    """An empty message with ``policy``: signed on the wire when there is a key."""
    message = DkimMessage(policy=policy)
    message.dkim_key = key
    return message
