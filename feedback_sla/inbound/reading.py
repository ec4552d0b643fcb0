"""Reading one message that came back: who sent it, what it answers, and what kind of message it is.

Nothing here touches the database: ``read`` turns the raw bytes into an ``Incoming`` that the
service matches to an email we sent. Bounce formats are flufl.bounce's (RFC 3464 delivery status
reports and the home-grown reports of common servers); the quoted original of a reply is removed by
mail-parser-reply. HTML from outside is never rendered: only its text is kept. Attachments are
ignored. Only a bounded part of the message is parsed (``inbound.limits``), and each header and
text is read bounded (``inbound.parts``), so a message costs no more than a page of text whatever its
shape.
"""

from __future__ import annotations

import email
import enum
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures
from mailparser_reply import EmailReplyParser

from feedback_sla.addresses import comparable_address
from feedback_sla.inbound import limits, parts
from feedback_sla.inbound.parts import Headers, html_to_text

#: The largest message read; a bigger one is refused before it is parsed.
MAX_BYTES = 10 * 1024 * 1024

#: The first lines of a reply kept on the timeline.
KEPT_LINES = 12
KEPT_CHARACTERS = 2_000
#: What the reply parser reads to find where the quoted original starts: the text's first
#: ``REPLY_WINDOW`` characters, blank lines run together, each line cut to ``PROBE_LINE``
#: characters (its expressions take time that grows with the square of a line's length). A quote's
#: opening line is short, and what is kept lies well inside the window.
REPLY_WINDOW = 8 * 1024
PROBE_LINE = 300

#: Subjects of out-of-office and similar automatic answers, in the languages candidates write in.
AUTO_SUBJECTS = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|i am away|on vacation|"
    r"vacation reply)",
    re.IGNORECASE,
)
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
#: Where a message says who it was delivered to, and how much of them is read.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
RECIPIENTS_READ = 8 * 1024
MAX_RECIPIENTS = 100
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "pt", "sv"]


class TooLarge(ValueError):
    """The message passes ``MAX_BYTES`` (or the limit given)."""


class Kind(enum.StrEnum):
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"  # a permanent failure: the address does not take mail
    DELAY = "delay"  # a temporary failure: the server keeps trying


@dataclass(frozen=True)
class Incoming:
    message_id: str | None
    sender: str  # the From address, as the address rule keeps addresses (lower case)
    recipients: tuple[str, ...]  # every address the message was delivered to, likewise
    subject: str
    answers: tuple[str, ...]  # Message-IDs from In-Reply-To and References, nearest first
    kind: Kind
    text: str = ""  # a reply's new text, its quoted original removed
    failed: tuple[str, ...] = ()  # a bounce's failed recipients, likewise
    reason: str = ""  # a bounce's diagnostic, in the server's words
    original_message_id: str | None = None  # the Message-ID of the bounced email, when attached
    notes: tuple[str, ...] = field(default_factory=tuple)


def read(raw: bytes, max_bytes: int = MAX_BYTES) -> Incoming:
    if len(raw) > max_bytes:
        raise TooLarge(f"the message is {len(raw):,} bytes; the limit is {max_bytes:,}")
    raw = limits.parsed_part(raw)
    message = email.message_from_bytes(raw)  # the classic API: headers stay text until read
    headers = Headers(message)
    subject = _one_line(headers.decoded("Subject"))
    base = {
        "message_id": _message_id(headers.first("Message-ID")),
        "sender": _address(parseaddr(headers.first("From"))[1]),
        "recipients": _recipients(headers),
        "subject": subject,
        "answers": _answers(headers),
    }
    temporary, permanent = _failures(limits.report_part(raw))
    if permanent or temporary or message.get_content_type() == "multipart/report":
        return Incoming(
            **base,
            kind=Kind.BOUNCE if permanent or not temporary else Kind.DELAY,
            failed=tuple(sorted(permanent or temporary)),
            reason=_diagnostic(message),
            original_message_id=_original_message_id(message),
        )
    if _automatic(headers, subject):
        return Incoming(**base, kind=Kind.AUTO_REPLY)
    return Incoming(**base, kind=Kind.REPLY, text=new_text(message))


def _one_line(value: str) -> str:
    return " ".join(value.split())[:500]


def _message_id(value) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", str(value))
    return found.group(0) if found else None


def _recipients(headers: Headers) -> tuple[str, ...]:
    values = headers.every(RECIPIENT_HEADERS, RECIPIENTS_READ)
    found = [address for _, address in getaddresses(values) if "@" in address][:MAX_RECIPIENTS]
    seen = dict.fromkeys(_address(address) for address in found)
    return tuple(seen)


def _address(value: str) -> str:
    """An address from outside as the address rule keeps it, so it matches ours whatever its case
    or the form of its domain. A header in UTF-8 (RFC 6532) is read back from the bytes the parser
    kept as surrogates."""
    return comparable_address(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _answers(headers: Headers) -> tuple[str, ...]:
    ids = re.findall(r"<[^<>\s]+>", headers.first("In-Reply-To"))
    ids += reversed(re.findall(r"<[^<>\s]+>", headers.first("References")))
    return tuple(dict.fromkeys(ids))


def _failures(raw: bytes) -> tuple[set[str], set[str]]:
    temporary, permanent = all_failures(_legacy(raw))

    def text(addresses) -> set[str]:
        found = (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in addresses)
        return {_address(a.strip().strip("<>")) for a in found if "@" in a}

    return text(temporary), text(permanent)


def _legacy(raw: bytes) -> Message:
    """The message in the classic API the detectors read, its UTF-8 headers (RFC 6532, as from an
    address with a non-ASCII local part) as text: the classic API hands such a header back as a
    ``Header`` object, on which detectors fail."""
    legacy = email.message_from_bytes(raw)
    for part in legacy.walk():
        headers = list(part.raw_items())
        if all(value.isascii() for _, value in headers):
            continue
        for name in {name for name, _ in headers}:
            del part[name]
        for name, value in headers:  # every header again, in its order
            part[name] = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return legacy


def _automatic(headers: Headers, subject: str) -> bool:
    """RFC 3834's Auto-Submitted, the headers autoresponders add, and out-of-office subjects."""
    submitted = (headers.first("Auto-Submitted") or "no").strip().lower()
    if submitted and submitted != "no":
        return True
    if any(headers.first(name) for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if headers.first("Precedence").strip().lower() in AUTO_PRECEDENCE:
        return True
    return bool(AUTO_SUBJECTS.match(subject))


def _diagnostic(message: Message) -> str:
    """The server's words: the Diagnostic-Code (or Status) of a delivery status report, else the
    first lines of the human-readable part."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload() or []:
                code = parts.decoded(
                    "Diagnostic-Code", block.get("Diagnostic-Code") or block.get("Status") or ""
                )
                if code:
                    return _one_line(code.split(";", 1)[-1])
    body = parts.body(message, ("plain",))
    if body is not None:
        lines = [line.strip() for line in parts.content(body).splitlines() if line.strip()]
        return _one_line(" ".join(lines[:4]))
    return ""


def _original_message_id(message: Message) -> str | None:
    """The Message-ID in the returned headers: those of the attached original (``message/rfc822``)
    or of a ``text/rfc822-headers`` part."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            return _message_id(Headers(part.get_payload(0)).first("Message-ID"))
        if kind == "text/rfc822-headers":
            returned = parts.content(part)
            found = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", returned, re.IGNORECASE | re.MULTILINE)
            if found:
                return found.group(1)
    return None


def new_text(message: Message) -> str:
    """The reply's own words: the plain part (or the HTML part's text), its quoted original removed,
    cut to its first lines."""
    body = parts.body(message, ("plain", "html"))
    if body is None:
        return ""
    content = parts.content(body)
    if body.get_content_type() == "text/html":
        content = limits.text_read(html_to_text(content))
    lines = _window(content)
    probe = "\n".join(line[:PROBE_LINE] for line in lines)
    reply = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text=probe)
    if reply:  # the lines the parser kept, whole again
        start = probe.find(reply)
        first = probe.count("\n", 0, start) if start >= 0 else 0
        lines = lines[first : first + reply.count("\n") + 1] if start >= 0 else reply.splitlines()
    kept = "\n".join(lines[:KEPT_LINES]).strip()
    return kept[:KEPT_CHARACTERS]


def _window(text: str) -> list[str]:
    """The first lines of the text, up to ``REPLY_WINDOW`` characters, each stripped, blank lines
    run together."""
    lines: list[str] = []
    size = 0
    for line in text.splitlines():
        line = line.strip()
        if line or (lines and lines[-1]):
            lines.append(line)
            size += len(line) + 1
            if size >= REPLY_WINDOW:
                break
    return lines
