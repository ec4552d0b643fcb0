"""Transport: the message as it goes on the wire, and the SMTP and file backends that carry it.

A message counts as sent as soon as the server accepted it: whatever fails after that (QUIT, a
dropped connection) cannot turn it into a failure. ``DeliveryError.permanent`` marks a refusal
that retrying cannot help (a 5xx answer).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import os
import smtplib
import tempfile
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from flask import Flask

from feedback_sla.addresses import InvalidAddress, needs_smtputf8, wire_address
from feedback_sla.emails.automatic import Verbatim, automatic_headers
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.dkim_signing import new_message
from feedback_sla.emails.headers import HeaderError, check_headers

# Messages are built with the standard library's email package; Flask-Mail holds the SMTP settings,
# and connections are opened here, with a timeout it does not set.


@dataclass(frozen=True)
class Envelope:
    """A claimed message as the worker read it: sending needs no database access."""

    id: int
    candidate_id: int | None
    kind: str
    to_name: str
    to_address: str
    reply_to_name: str | None
    reply_to_address: str | None
    subject: str
    text: str
    html: str
    message_id: str
    attempts: int
    lease_until: dt.datetime
    queued_at: dt.datetime
    promised_date: dt.date | None
    reply_token: str | None = None  # names the message in VERP and Reply-To addresses
    autopilot: bool = False  # queued by autopilot, not by a person's click
    recipient_user_id: int | None = None  # an email to a user of the app (the digest)
    language: str | None = None  # the BCP 47 tag it is written in (Content-Language)

    @property
    def token(self) -> str | None:
        """The token a candidate email carries in its addresses; None for a user's (the digest)."""
        return self.reply_token if self.candidate_id is not None else None


class DeliveryError(Exception):
    """One message was not delivered; ``permanent`` when retrying cannot help (a 5xx refusal)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _Disconnected(DeliveryError):
    """The server closed the connection before answering."""


class ConnectError(DeliveryError):
    """The mail server could not be reached or refused the session: no message can go now."""


# --- transports ---------------------------------------------------------------------------------


class SmtpTransport:
    """One SMTP connection reused for a batch, opened on first use with ``MAIL_TIMEOUT``."""

    def __init__(self, state, timeout: float) -> None:
        self._state = state  # Flask-Mail's settings: server, port, TLS, credentials
        self._timeout = timeout
        self._host: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        state = self._state
        host: smtplib.SMTP | None = None
        try:
            if state.use_ssl:
                host = smtplib.SMTP_SSL(state.server, state.port, timeout=self._timeout)
            else:
                host = smtplib.SMTP(state.server, state.port, timeout=self._timeout)
            if state.use_tls:
                host.starttls()
            if state.username and state.password:
                host.login(state.username, state.password)
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(host)
            raise ConnectError(
                f"cannot reach mail server {state.server}:{state.port}: {_describe(exc)}"
            ) from None
        return host

    def send(self, message: EmailMessage, envelope: Envelope, sender: str) -> None:
        data = message.as_bytes()
        # The addresses only a server offering SMTPUTF8 takes (a UTF-8 message names at least one).
        addresses = (envelope.to_address, envelope.reply_to_address, sender)
        international = [a for a in addresses if a and needs_smtputf8(a)]
        if message.policy.utf8 and not international:
            international = ["the reply address"]
        sender = _wire("the envelope sender", sender)
        recipient = _wire("the recipient's address", envelope.to_address)
        reused = self._host is not None
        if not reused:
            self._host = self._connect()
        try:
            self._sendmail(sender, recipient, data, international)
        except _Disconnected:
            if not reused:
                raise
            # The server closed the connection kept from the previous message (many servers limit the
            # messages per connection); this one was most likely not taken, so try once on a new
            # connection. Should it have been, the copy carries the same Message-ID.
            self._host = self._connect()
            self._sendmail(sender, recipient, data, international)

    def _sendmail(self, sender: str, recipient: str, data: bytes, international: list[str]) -> None:
        try:
            options = self._smtputf8(international) if international else ()
            self._host.sendmail(sender, [recipient], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {_describe(exc)}", permanent=all(c >= 500 for c in codes)
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self.close()
            raise DeliveryError(_describe(exc), permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise _Disconnected(_describe(exc)) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(_describe(exc)) from None

    def _smtputf8(self, addresses: list[str]) -> tuple[str, ...]:
        """The MAIL options of a message with a non-ASCII local part (RFC 6531); a permanent
        DeliveryError naming the addresses when the server does not offer SMTPUTF8."""
        self._host.ehlo_or_helo_if_needed()
        if not self._host.has_extn("smtputf8"):
            raise DeliveryError(
                f"the mail server does not offer SMTPUTF8, which {', '.join(addresses)} needs "
                "(non-ASCII characters before the @); nothing was sent",
                permanent=True,
            )
        return ("SMTPUTF8", "BODY=8BITMIME") if self._host.has_extn("8bitmime") else ("SMTPUTF8",)

    def close(self) -> None:
        host, self._host = self._host, None
        _close_quietly(host)


def _close_quietly(host: smtplib.SMTP | None) -> None:
    """QUIT and close; an error here comes after every accepted message and changes nothing."""
    if host is None:
        return
    try:
        host.quit()
    except (smtplib.SMTPException, OSError):
        host.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
            for address, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class SmtpBackend:
    def __init__(self, state, timeout: float) -> None:
        self.state = state
        self.timeout = timeout

    def open(self) -> SmtpTransport:
        return SmtpTransport(self.state, self.timeout)


class FileTransport:
    """Writes each message as an .eml file; a resend overwrites the same file."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def send(self, message: EmailMessage, envelope: Envelope, sender: str) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
            name = f"{envelope.queued_at:%Y%m%d-%H%M%S}-{envelope.id:06d}-{envelope.kind}.eml"
            fd, partial = tempfile.mkstemp(dir=self.directory, suffix=".partial")
            with os.fdopen(fd, "wb") as out:
                out.write(message.as_bytes())
            os.replace(partial, os.path.join(self.directory, name))
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.directory}: {exc}") from None

    def close(self) -> None:
        pass


class FileBackend:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def open(self) -> FileTransport:
        return FileTransport(self.directory)


def backend_for(app: Flask, config: EmailConfig) -> SmtpBackend | FileBackend:
    if config.backend == "smtp":
        return SmtpBackend(app.extensions["mail"], config.mail_timeout)
    return FileBackend(config.mail_dir)


# --- building -----------------------------------------------------------------------------------


#: How every message goes on the wire: CRLF, headers folded as RFC 5322 says, and each body part 7-bit
#: (plain when it is ASCII in short lines, else quoted-printable or base64, whichever is shorter), so
#: no line passes 78 characters (RFC 5321 allows 998) and a server without 8BITMIME takes it as is.
WIRE_POLICY = email.policy.SMTP.clone(cte_type="7bit")
#: A message with a non-ASCII local part in an address: headers in UTF-8 (RFC 6532), bodies 7-bit
#: as above; only a server offering SMTPUTF8 takes it.
SMTPUTF8_POLICY = WIRE_POLICY.clone(utf8=True)


def _wire(label: str, address: str) -> str:
    """The address as SMTP carries it (its domain as A-labels); HeaderError names ``label``."""
    try:
        return wire_address(address, label)
    except InvalidAddress as exc:
        raise HeaderError(str(exc)) from None


def _address(label: str, name: str | None, address: str) -> Address:
    local, _, domain = _wire(label, address).rpartition("@")
    try:
        return Address(name or "", username=local, domain=domain)
    except (ValueError, IndexError, HeaderParseError):
        raise HeaderError(f"{label} {address!r} cannot go into an email header") from None


def build_message(envelope: Envelope, config: EmailConfig, now: dt.datetime) -> EmailMessage:
    """The message as sent: from the organisation, Reply-To the hiring manager (and, with
    ``REPLY_ADDRESS``, the reply address with the message's token, so a reply reaches the manager and
    the app), its stored Message-ID, the text and its HTML twin as one multipart/alternative.

    A line break in any header value is refused before anything is built. Display names are quoted
    or encoded by the policy, so "O'Brien, Sean" stays one address.
    """
    check_headers(
        {
            "the organisation's name": config.organisation_name,
            "the organisation's address": config.organisation_email,
            "the recipient's name": envelope.to_name,
            "the recipient's address": envelope.to_address,
            "the reply-to name": envelope.reply_to_name,
            "the reply-to address": envelope.reply_to_address,
            "the subject": envelope.subject,
            "the Message-ID": envelope.message_id,
        }
    )
    ours = (config.organisation_email, config.reply_address, envelope.to_address, envelope.reply_to_address)
    international = any(needs_smtputf8(address) for address in ours if address)
    # DKIM-signed as it becomes bytes, when configured.
    message = new_message(config.dkim, SMTPUTF8_POLICY if international else WIRE_POLICY)
    message["From"] = _address(
        "the organisation's address", config.organisation_name, config.organisation_email
    )
    message["To"] = _address("the recipient's address", envelope.to_name, envelope.to_address)
    reply_to = []
    if envelope.reply_to_address:
        reply_to.append(_address("the reply-to address", envelope.reply_to_name, envelope.reply_to_address))
    tokened = config.reply_token_address(envelope.token)
    if tokened and reply_to:
        reply_to.append(_address("the reply address", config.organisation_name, tokened))
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = envelope.subject
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = envelope.message_id
    for name, value in automatic_headers(envelope, config):  # Auto-Submitted, List-Unsubscribe
        message[name] = Verbatim(name, value)
    message.set_content(envelope.text)
    message.add_alternative(envelope.html, subtype="html")
    if envelope.language:  # RFC 3282, for the reader's mail program (after the content, which clears it)
        message["Content-Language"] = envelope.language
    return message
