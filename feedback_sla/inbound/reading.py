"""Reading one message that came back: who sent it, what it answers, and what kind of message it is.

Nothing here touches the database: ``read`` turns the raw bytes into an ``Incoming`` that the
service matches to an email we sent. Bounce formats are flufl.bounce's (RFC 3464 delivery status
reports and the home-grown reports of common servers); the quoted original of a reply is removed by
mail-parser-reply. HTML from outside is never rendered: only its text is kept. Attachments are
ignored.
"""

from __future__ import annotations

import email
import email.policy
import enum
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from flufl.bounce import all_failures
from mailparser_reply import EmailReplyParser

#: The largest message read; a bigger one is refused before it is parsed.
MAX_BYTES = 10 * 1024 * 1024

#: The first lines of a reply kept on the timeline.
KEPT_LINES = 12
KEPT_CHARACTERS = 2_000

#: Subjects of out-of-office and similar automatic answers, in the languages candidates write in.
AUTO_SUBJECTS = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|i am away|on vacation|"
    r"vacation reply)",
    re.IGNORECASE,
)
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
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
    sender: str  # the From address, lower case
    recipients: tuple[str, ...]  # every address the message was delivered to, lower case
    subject: str
    answers: tuple[str, ...]  # Message-IDs from In-Reply-To and References, nearest first
    kind: Kind
    text: str = ""  # a reply's new text, its quoted original removed
    failed: tuple[str, ...] = ()  # a bounce's failed recipients
    reason: str = ""  # a bounce's diagnostic, in the server's words
    original_message_id: str | None = None  # the Message-ID of the bounced email, when attached
    notes: tuple[str, ...] = field(default_factory=tuple)


def read(raw: bytes, max_bytes: int = MAX_BYTES) -> Incoming:
    if len(raw) > max_bytes:
        raise TooLarge(f"the message is {len(raw):,} bytes; the limit is {max_bytes:,}")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = _one_line(str(message.get("Subject", "")))
    base = {
        "message_id": _message_id(message.get("Message-ID")),
        "sender": parseaddr(str(message.get("From", "")))[1].lower(),
        "recipients": _recipients(message),
        "subject": subject,
        "answers": _answers(message),
    }
    temporary, permanent = _failures(raw)
    if permanent or temporary or message.get_content_type() == "multipart/report":
        return Incoming(
            **base,
            kind=Kind.BOUNCE if permanent or not temporary else Kind.DELAY,
            failed=tuple(sorted(permanent or temporary)),
            reason=_diagnostic(message),
            original_message_id=_original_message_id(message),
        )
    if _automatic(message, subject):
        return Incoming(**base, kind=Kind.AUTO_REPLY)
    return Incoming(**base, kind=Kind.REPLY, text=new_text(message))


def _one_line(value: str) -> str:
    return " ".join(value.split())[:500]


def _message_id(value) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", str(value))
    return found.group(0) if found else None


def _recipients(message: Message) -> tuple[str, ...]:
    headers = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
    values = [str(v) for name in headers for v in message.get_all(name, [])]
    seen = dict.fromkeys(address.lower() for _, address in getaddresses(values) if "@" in address)
    return tuple(seen)


def _answers(message: Message) -> tuple[str, ...]:
    ids = re.findall(r"<[^<>\s]+>", str(message.get("In-Reply-To", "")))
    ids += reversed(re.findall(r"<[^<>\s]+>", str(message.get("References", ""))))
    return tuple(dict.fromkeys(ids))


def _failures(raw: bytes) -> tuple[set[str], set[str]]:
    legacy = email.message_from_bytes(raw)  # the detectors read the classic message API
    temporary, permanent = all_failures(legacy)

    def text(addresses) -> set[str]:
        found = (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in addresses)
        return {a.strip().strip("<>").lower() for a in found if "@" in a}

    return text(temporary), text(permanent)


def _automatic(message: Message, subject: str) -> bool:
    """RFC 3834's Auto-Submitted, the headers autoresponders add, and out-of-office subjects."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted and submitted != "no":
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Auto-Response-Suppress"):
        return True
    if str(message.get("Precedence", "")).strip().lower() in AUTO_PRECEDENCE:
        return True
    return bool(AUTO_SUBJECTS.match(subject))


def _diagnostic(message: Message) -> str:
    """The server's words: the Diagnostic-Code (or Status) of a delivery status report, else the
    first lines of the human-readable part."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload() or []:
                code = block.get("Diagnostic-Code") or block.get("Status")
                if code:
                    return _one_line(str(code).split(";", 1)[-1])
    body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    if body is not None:
        lines = [line.strip() for line in _content(body).splitlines() if line.strip()]
        return _one_line(" ".join(lines[:4]))
    return ""


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return _message_id(payload[0].get("Message-ID"))
            if isinstance(payload, str):
                found = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", payload, re.IGNORECASE | re.MULTILINE)
                if found:
                    return found.group(1)
    return None


def new_text(message: Message) -> str:
    """The reply's own words: the plain part (or the HTML part's text), its quoted original removed,
    cut to its first lines."""
    body = message.get_body(("plain", "html")) if isinstance(message, EmailMessage) else None
    if body is None:
        return ""
    content = _content(body)
    if body.get_content_type() == "text/html":
        content = html_to_text(content)
    reply = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text=content) or content
    lines = [line.rstrip() for line in reply.strip().splitlines()]
    kept = "\n".join(lines[:KEPT_LINES]).strip()
    return kept[:KEPT_CHARACTERS]


def _content(part) -> str:
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read it as Latin-1 rather than fail
        text = (part.get_payload(decode=True) or b"").decode("latin-1")
    return "".join(c for c in str(text) if c in "\n\t" or c >= " ")  # no NUL or control characters


class _TextOnly(HTMLParser):
    """The text of an HTML part, blocks on their own lines; scripts, styles and quoted originals
    (``blockquote``) dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3"}
    SKIPPED = {"script", "style", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()
