"""Receiving a message costs no more than a page of text, whatever its shape (RELIABILITY 36): one
line of 9 MB, 100,000 parts, parts nested 1,000 deep and header sections of a megabyte are parsed
only as far as ``inbound.limits`` allows, and a person's reply or a server's report still reads as
it should. benchmarks/inbound.py measures the time and memory.
"""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest

from feedback_sla.inbound import limits, reading

from .emails_support import T0, make_candidate
from .inbound_support import INBOUND_CONFIG, NOT_OURS, ZOE, about, inbound_rows, mail, pipe, send

LATER = T0 + dt.timedelta(hours=1)
HEAD = (
    b"From: Zoe <zoe.obrien@example.net>\r\nTo: replies+" + NOT_OURS.encode() + b"@acme.example\r\n"
    b"Subject: Re: Your application\r\nMessage-ID: <%s@example.net>\r\nMIME-Version: 1.0\r\n"
)


def one_line(size: int = 9_000_000) -> bytes:
    return HEAD % b"line" + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b"word " * (size // 5)


def many_parts(count: int = 100_000) -> bytes:
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * count
    return HEAD % b"parts" + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def nested(depth: int = 1_000) -> bytes:
    opening = [
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i - 1, i)
        for i in range(1, depth)
    ]
    closing = [b"--n%d--\r\n" % i for i in reversed(range(depth))]
    inner = b"--n%d\r\nContent-Type: text/plain\r\n\r\nhello\r\n" % (depth - 1)
    top = HEAD % b"nested" + b'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n'
    return top + b"".join(opening) + inner + b"".join(closing)


def nested_messages(depth: int = 1_000) -> bytes:
    return (
        HEAD % b"messages" + b"Content-Type: message/rfc822\r\n\r\n" * depth + b"Subject: x\r\n\r\nhello\r\n"
    )


def header_bomb() -> bytes:
    """A megabyte of one header, folded over 200,000 lines; its parameters too."""
    to = b"To: " + b",\r\n a@b.example" * 200_000 + b"\r\n"
    content_type = b"Content-Type: text/plain;" + b"\r\n a=b;" * 100_000 + b"\r\n"
    return b"From: z@example.net\r\nMessage-ID: <bomb@example.net>\r\n" + to + content_type + b"\r\nhello\r\n"


def slow_charset() -> bytes:
    """300 KB of text in punycode, whose decoding takes time that grows with its square."""
    body = (b"1" * 1_000 + b"\r\n") * 300
    return HEAD % b"punycode" + b"Content-Type: text/plain; charset=punycode\r\n\r\n" + body


HOSTILE = {
    "one line of 9 MB": one_line,
    "100,000 parts": many_parts,
    "nested 1,000 deep": nested,
    "messages nested 1,000 deep": nested_messages,
    "a header of a megabyte": header_bomb,
    "text in punycode": slow_charset,
}


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_what_is_parsed_is_bounded_whatever_the_shape(make):
    raw = make()
    assert len(raw) < 10 * 1024 * 1024
    parsed = limits.parsed_part(raw)
    lines = parsed.split(b"\n")
    assert len(parsed) <= limits.PARSED_BYTES + limits.MAX_LINE and len(lines) <= limits.MAX_LINES + 1
    assert max(len(line) for line in lines) <= limits.MAX_LINE
    structure = [
        line for line in lines if line.startswith(b"--") or line.lower().startswith(b"content-type:")
    ]
    assert len(structure) <= limits.MAX_STRUCTURE
    reading.read(raw)  # no RecursionError, no error at all


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_message_is_received_in_seconds_and_kept(runner, session, make):
    started = time.perf_counter()
    result = pipe(runner, make(), LATER)
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 10  # about a tenth of a second; it took minutes
    [row] = inbound_rows(session)
    assert row.size > 30_000 and row.kind in ("reply", "auto_reply", "unreadable")


def test_a_long_paragraph_is_kept_whole_and_the_quote_after_it_left_out():
    paragraph = "I would love to hear back. " * 50  # 1,350 characters without a line break
    quote = (
        "On Mon, 16 Nov 2026 at 10:00, Acme Jobs <jobs@acme.example> wrote:\n> Dear Zoe,\n> Still deciding."
    )
    text = f"Hi Maria,\n\n{paragraph}\n\nBest,\nZoe\n\n{quote}"
    raw = HEAD % b"long" + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode()
    incoming = reading.read(raw)
    assert paragraph.strip() in incoming.text and incoming.text.endswith("Zoe")
    assert "wrote:" not in incoming.text and "Still deciding" not in incoming.text


def test_a_reply_with_a_big_attachment_after_its_text_still_reads():
    attachment = base64.encodebytes(bytes(range(256)) * 24_000)  # 6 MB of base64
    raw = (
        HEAD % b"attached"
        + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\n'
        + b"Here is my portfolio.\r\n--m\r\nContent-Type: application/pdf\r\n"
        + b'Content-Disposition: attachment; filename="portfolio.pdf"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + attachment.replace(b"\n", b"\r\n")
        + b"--m--\r\n"
    )
    assert 8_000_000 < len(raw) < 10 * 1024 * 1024
    incoming = reading.read(raw)
    assert incoming.kind == reading.Kind.REPLY and incoming.text == "Here is my portfolio."


def test_a_bounce_returning_a_big_original_still_proves_itself(runner, session):
    zoe = make_candidate(session, name="Zoë O'Brien", email_address=ZOE)
    rejection = send(session, zoe, "rejection", T0)
    report = mail("exim_bounce", **{**about(rejection), "token": NOT_OURS})
    big = report.replace(b"Thank you for applying.", b"Thank you for applying.\r\n" + b"x" * 76 * 100_000)
    assert len(big) > 7_000_000
    result = pipe(runner, big, LATER)
    assert "marked bounced" in result.output
    [row] = inbound_rows(session)
    assert row.outbox_message_id == rejection.id and row.confirmation is None
