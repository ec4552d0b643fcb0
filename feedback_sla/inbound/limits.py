"""What of a message is read: the cost of receiving one is bounded, whatever its shape.

A message up to ``INBOUND_MAX_BYTES`` is recorded whole (its fingerprint is of every byte), but the
email package, flufl.bounce, the reply parser and the character filter see only what a person's
reply or a delivery report needs, so one line of 9 MB, 100,000 parts or parts nested 1,000 deep
cost no more than a page of text:

* its first ``PARSED_BYTES`` and its first ``MAX_LINES`` lines;
* its first ``MAX_STRUCTURE`` lines that open a part or give one a type (boundary lines, ``--…``,
  and ``Content-Type:`` lines): every part and every level of nesting needs one, so this bounds how
  many parts there are and how deep they nest;
* each line cut to ``MAX_LINE`` bytes (RFC 5322 allows 998 characters);
* in each header section, ``MAX_FIELDS`` fields of at most ``MAX_FIELD`` bytes each, continuation
  lines included (the email package parses a header's parameters in time that grows faster than
  its length);
* of each text part, the first ``MAX_TEXT`` characters (``text_read``);
* flufl.bounce, whose detectors try some fifty expressions on every line, reads the first
  ``REPORT_BYTES`` and ``REPORT_LINES`` of that (``report_part``): a delivery report says who
  failed well before (the largest real ones, AOL's, by their 1,300th line).

A delivery report puts what proves it (the failed address, the returned headers) before the
original's body, and a reply its new words before any attachment, so nothing they need is cut.
"""

from __future__ import annotations

#: The bytes of a message that are parsed, and the lines they may take (a megabyte of base64 is
#: about 14,000 lines).
PARSED_BYTES = 1024 * 1024
MAX_LINES = 20_000
#: Boundary and Content-Type lines parsed: at most this many parts, nested at most this deep.
MAX_STRUCTURE = 100
#: The bytes of one line that are parsed.
MAX_LINE = 16 * 1024
#: The fields of one header section, and the bytes of one field (a References header of 60
#: Message-IDs, a Content-Type with its parameters).
MAX_FIELDS = 500
MAX_FIELD = 4 * 1024
#: The characters of a text part that are read: more than any reply a person writes.
MAX_TEXT = 64 * 1024
#: What the bounce detectors read.
REPORT_BYTES = 64 * 1024
REPORT_LINES = 2_000

_CONTENT_TYPE = b"content-type:"


def parsed_part(raw: bytes) -> bytes:
    """The part of ``raw`` that is parsed (see the module's description); each line kept still
    ends in its line break."""
    kept: list[bytes] = []
    size = structure = start = lines = 0
    end_of_raw = len(raw)
    section = _HeaderSection()  # the message starts with its header section
    while start < end_of_raw and size < PARSED_BYTES and lines < MAX_LINES:
        lines += 1
        newline = raw.find(b"\n", start)
        end = end_of_raw if newline < 0 else newline + 1
        line = _cut(raw, start, end, MAX_LINE, newline >= 0)
        start = end
        if line.startswith(b"--") or line[: len(_CONTENT_TYPE)].lower() == _CONTENT_TYPE:
            structure += 1
            if structure > MAX_STRUCTURE:
                break
        if section is not None:
            line, section = section.take(line)
        elif line.startswith(b"--"):  # perhaps a boundary: a part's header section follows
            section = _HeaderSection()
        if line:
            kept.append(line)
            size += len(line)
    return b"".join(kept)


def report_part(parsed: bytes) -> bytes:
    """The start of the parsed part that the bounce detectors read: its first ``REPORT_BYTES``
    and ``REPORT_LINES`` lines."""
    end = min(len(parsed), REPORT_BYTES)
    start = 0
    for _ in range(REPORT_LINES):
        newline = parsed.find(b"\n", start, end)
        if newline < 0:
            return parsed[:end]
        start = newline + 1
    return parsed[:start]


def text_read(text: str) -> str:
    """The first ``MAX_TEXT`` characters of a part's text: what the character filter, the HTML
    reader and the reply parser see."""
    return text[:MAX_TEXT]


def _cut(raw: bytes, start: int, end: int, limit: int, broken: bool) -> bytes:
    if end - start <= limit:
        return raw[start:end]
    return raw[start : start + limit] + (b"\n" if broken else b"")


#: Parts whose content is header sections too: an attached message starts with its own, a delivery
#: status report is a series of them, returned headers are one.
_ATTACHED_MESSAGE = (b"message/",)
_STATUS_REPORT = (b"message/delivery-status", b"message/global-delivery-status")
_RETURNED_HEADERS = (b"text/rfc822-headers", b"message/global-headers")


class _HeaderSection:
    """Lines of one header section: its fields cut to ``MAX_FIELD`` bytes, at most ``MAX_FIELDS``
    of them; a blank line ends it, and a line that may be a boundary starts a part's. What follows
    the blank line is a header section too when the section's Content-Type says so."""

    def __init__(self, status_report: bool = False) -> None:
        self.status_report = status_report
        self.fields = 0
        self.field_size = 0
        self.in_content_type = False
        self.content_type = b""  # the first bytes of the Content-Type's value

    def take(self, line: bytes) -> tuple[bytes, _HeaderSection | None]:
        """The line as kept (empty when dropped), and the header section the next line is in."""
        if not line.strip(b"\r\n"):
            return line, self._next()
        if line.startswith(b"--"):
            return line, _HeaderSection()
        if line[:1] in (b" ", b"\t"):  # a continuation of the field before
            self.field_size += len(line)
            if self.in_content_type and len(self.content_type) < 64:
                self.content_type += b" " + line[:64].strip()
            return (line if self.field_size <= MAX_FIELD and self.fields <= MAX_FIELDS else b""), self
        self.fields += 1
        self.field_size = len(line)
        self.in_content_type = line[: len(_CONTENT_TYPE)].lower() == _CONTENT_TYPE
        if self.in_content_type:
            self.content_type = line[len(_CONTENT_TYPE) : len(_CONTENT_TYPE) + 64].strip()
        if self.fields > MAX_FIELDS:
            return b"", self
        return _cut(line, 0, len(line), MAX_FIELD, line.endswith(b"\n")), self

    def _next(self) -> _HeaderSection | None:
        kind = self.content_type.split(b";", 1)[0].strip().lower()
        if self.status_report or kind in _STATUS_REPORT:
            return _HeaderSection(status_report=True)
        if kind.startswith(_ATTACHED_MESSAGE) or kind in _RETURNED_HEADERS:
            return _HeaderSection()
        return None
