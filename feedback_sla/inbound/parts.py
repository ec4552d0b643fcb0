"""What is read of a parsed message, each read bounded: a header's value, the part a person reads,
a part's text, an HTML part's words.

Messages are parsed with the email package's classic API (``compat32``): a header stays the text
it came as until it is read here, at most ``MAX_HEADER`` characters of it (the modern API parses
every header it is asked for whole, in time that grows faster than its length). A part's text is
its first ``limits.MAX_TEXT`` characters, without NUL or other control characters.
"""

from __future__ import annotations

import codecs
import email.policy
import re
from email.message import Message
from html.parser import HTMLParser

from feedback_sla.inbound import limits

#: The characters of one header's value that are read (Subject, From, References…).
MAX_HEADER = 4 * 1024
#: Charsets whose decoding takes time that grows with the square of the text (256 KB of punycode
#: take seconds): a part that names one is read as Latin-1.
SLOW_CHARSETS = frozenset({"punycode", "idna"})


class Headers:
    """A message's top-level header fields by lower-case name, as they came (unfolded only when
    read)."""

    def __init__(self, message: Message) -> None:
        self._fields: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._fields.setdefault(name.lower(), []).append(str(value))

    def first(self, name: str) -> str:
        """The first field's value on one line, cut to ``MAX_HEADER`` characters; "" if none."""
        values = self._fields.get(name.lower())
        return _unfolded(values[0]) if values else ""

    def every(self, names: tuple[str, ...], limit: int) -> list[str]:
        """The values of these fields, name by name, until ``limit`` characters are read."""
        found, read = [], 0
        for name in names:
            for value in self._fields.get(name.lower(), []):
                if read >= limit:
                    return found
                found.append(_unfolded(value)[: limit - read])
                read += len(found[-1])
        return found

    def decoded(self, name: str) -> str:
        """The first field's value, decoded (``decoded``)."""
        return decoded(name, self.first(name))


def decoded(name: str, value: str) -> str:
    """A field's value on one line, cut to ``MAX_HEADER`` characters, its encoded words (RFC 2047)
    and UTF-8 (RFC 6532) decoded."""
    value = _unfolded(str(value))
    return str(email.policy.default.header_factory(name.lower(), value)) if value else ""


def _unfolded(value: str) -> str:
    return "".join(value[: MAX_HEADER + 100].splitlines())[:MAX_HEADER]


def body(message: Message, preference: tuple[str, ...]) -> Message | None:
    """The part a person reads: the first text part of the first subtype in ``preference``
    (``"plain"``, ``"html"``) that is not an attachment, looked for through multiparts but not
    inside attached messages."""
    found: dict[str, Message] = {}
    for part in _inline_parts(message):
        maintype, _, subtype = part.get_content_type().partition("/")
        if maintype == "text" and subtype in preference:
            found.setdefault(subtype, part)
    return next((found[subtype] for subtype in preference if subtype in found), None)


def _inline_parts(message: Message):
    """The message and its parts in order, multiparts opened (without recursion: the nesting is
    bounded, but the walk need not lean on that), attachments left out."""
    pending = [message]
    while pending:
        part = pending.pop()
        if part.get_content_disposition() == "attachment":
            continue
        yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            pending.extend(reversed(part.get_payload()))


def content(part: Message) -> str:
    """A part's text: its first ``limits.MAX_TEXT`` characters, in its charset (Latin-1 when that
    is unknown, no text encoding or slow to decode), without NUL or other control characters."""
    payload = part.get_payload(decode=True)
    payload = payload[: 4 * limits.MAX_TEXT] if isinstance(payload, bytes) else b""
    try:
        charset = codecs.lookup(part.get_content_charset() or "us-ascii").name
        if charset in SLOW_CHARSETS:
            raise LookupError(charset)
        text = payload.decode(charset, "replace")
    except (LookupError, ValueError):  # an unknown charset: read it as Latin-1 rather than fail
        text = payload.decode("latin-1")
    return "".join(c for c in limits.text_read(text) if c in "\n\t" or c >= " ")


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


#: A "<" that opens no tag, comment or declaration is text; written as ``&lt;`` the parser takes a
#: run of them as one piece of text instead of trying each (64 KB of them took a third of a second).
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])")


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(_STRAY_LT.sub("&lt;", html))
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()
