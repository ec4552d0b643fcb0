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
from email.utils import formataddr

from flask import Flask
from flask_mail import Message

from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.headers import check_headers

# Flask-Mail builds the messages; connections are opened here, with a timeout it does not set.


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

    def send(self, message: Message, envelope: Envelope, sender: str) -> None:
        data = message.as_bytes()
        reused = self._host is not None
        if not reused:
            self._host = self._connect()
        try:
            self._sendmail(sender, envelope.to_address, data)
        except _Disconnected:
            if not reused:
                raise
            # The server closed the connection kept from the previous message (many servers limit the
            # messages per connection); this one was most likely not taken, so try once on a new
            # connection. Should it have been, the copy carries the same Message-ID.
            self._host = self._connect()
            self._sendmail(sender, envelope.to_address, data)

    def _sendmail(self, sender: str, recipient: str, data: bytes) -> None:
        try:
            self._host.sendmail(sender, [recipient], data)
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

    def send(self, message: Message, envelope: Envelope, sender: str) -> None:
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


#: Written as built: under Flask-Mail's SMTP policy every header is parsed again and refolded.
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")


class OutboxMail(Message):
    """Flask-Mail's message, with address headers written as quoted or encoded addresses.

    Flask-Mail 0.10 writes the message under Python's SMTP policy, which refolds a header longer
    than a line from its decoded form: a display name with a comma ("O'Brien, Sean") then becomes
    two addresses, and one with quotes or angle brackets garbles the header. Here the address
    headers are set from ``formataddr`` (quoted when needed, an encoded word when not ASCII) and
    the message is written without reparsing, which is also several times faster.
    """

    def __init__(self, *args, address_headers: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.address_headers = address_headers

    def _message(self):
        message = super()._message()
        message.policy = _WIRE_POLICY
        for name, value in self.address_headers.items():
            message.replace_header(name, value)
        return message


def build_message(envelope: Envelope, config: EmailConfig, now: dt.datetime) -> Message:
    """The message as sent: from the organisation, Reply-To the hiring manager, its stored Message-ID.

    A line break in any header value is refused before anything is built.
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
    sender = formataddr((config.organisation_name, config.organisation_email))
    to = formataddr((envelope.to_name, envelope.to_address))
    reply_to = (
        formataddr((envelope.reply_to_name or "", envelope.reply_to_address))
        if envelope.reply_to_address
        else None
    )
    message = OutboxMail(
        subject=envelope.subject,
        recipients=[(envelope.to_name, envelope.to_address)],
        body=envelope.text,
        html=envelope.html,
        sender=sender,
        reply_to=reply_to,
        date=now.timestamp(),
        address_headers={"From": sender, "To": to, **({"Reply-To": reply_to} if reply_to else {})},
    )
    message.msgId = envelope.message_id
    return message
