"""``feedback-sla inbound``: mail that comes back (replies, automatic replies, bounces) and what it did.

``inbound receive`` is what a mail server's pipe runs for each message (Postfix ``pipe``, Exim's
pipe transport, procmail). Its exit status follows sysexits.h, which those servers read: 0 once the
message is recorded (or was recorded before), 75 (EX_TEMPFAIL) when it cannot be recorded now (the
database is unreachable, or anything else failed), so the server keeps it and tries again; 65
(EX_DATAERR) when the message passes ``INBOUND_MAX_BYTES``, so the server gives up on it.
"""

from __future__ import annotations

import sys
import traceback

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from feedback_sla.cli.common import committed
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.inbound import bounces, service
from feedback_sla.output import WRITERS
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import iso, utcnow

#: sysexits.h: the message is refused for good; try again later.
EX_DATAERR = 65
EX_TEMPFAIL = 75
CHUNK = 1 << 20

inbound = AppGroup("inbound", help="Mail that comes back: replies, automatic replies and bounces.")


def _config() -> EmailConfig:
    try:
        return EmailConfig.from_app(current_app)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _read_message(limit: int) -> tuple[bytes | None, int]:
    """Standard input's bytes, or None past ``limit`` (read to its end, to tell its size)."""
    stream = sys.stdin.buffer
    raw = stream.read(limit + 1)
    size = len(raw)
    if size <= limit:
        return raw, size
    while chunk := stream.read(CHUNK):  # the sender expects its pipe to be read to the end
        size += len(chunk)
    return None, size


@inbound.command("receive")
@click.pass_context
def receive_command(ctx: click.Context):
    """Record one message read from standard input (RFC 5322) and do what it means.

    Exits 0 once recorded, 75 (try again later) when the database cannot be reached, 65 when the
    message passes INBOUND_MAX_BYTES (refused).
    """
    config = _config()
    raw, size = _read_message(config.inbound_max_bytes)
    if raw is None:
        click.echo(
            f"inbound: refused: the message is {size:,} bytes; the limit is "
            f"{config.inbound_max_bytes:,} (INBOUND_MAX_BYTES)",
            err=True,
        )
        ctx.exit(EX_DATAERR)
    try:
        settings = settings_service.load(db.session)
        row = service.receive(db.session, raw, utcnow(), settings, config, source="pipe")
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        click.echo(
            f"inbound: the database cannot record the message now; try again later: {first_line}", err=True
        )
        ctx.exit(EX_TEMPFAIL)
    except Exception:  # never dropped: the mail server keeps the message and tries again
        db.session.rollback()
        click.echo("inbound: the message could not be recorded; try again later:", err=True)
        click.echo(traceback.format_exc(), err=True)
        ctx.exit(EX_TEMPFAIL)
    click.echo(f"inbound message {row.id} ({row.kind}): {row.outcome}")


LIST_COLUMNS = (
    "id",
    "received_at",
    "source",
    "sender",
    "subject",
    "kind",
    "outcome",
    "candidate_id",
    "candidate",
)


@inbound.command("list")
@click.option("--unmatched", is_flag=True, help="Only messages that matched no candidate.")
@click.option(
    "--unconfirmed",
    is_flag=True,
    help="Only delivery reports that named an email by its address alone, waiting for 'inbound apply'.",
)
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def list_command(unmatched: bool, unconfirmed: bool, fmt: str, limit: int):
    """List messages received, newest first, with what each did."""
    if unconfirmed:
        found = bounces.unconfirmed(db.session, limit)
    else:
        found = service.recent(db.session, limit, unmatched=unmatched)
    rows = [
        (
            m.id,
            iso(m.received_at),
            m.source,
            m.sender,
            m.subject,
            m.kind,
            m.outcome,
            m.candidate_id,
            m.candidate.name if m.candidate else "",
        )
        for m in found
    ]
    WRITERS[fmt](sys.stdout, LIST_COLUMNS, rows)


@inbound.command("apply")
@click.argument("inbound_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def apply_command(inbound_id: int, yes: bool):
    """Apply a delivery report kept unconfirmed (it named the email by its address alone): the
    email is marked bounced, the wait it answered opens again, the address is flagged."""
    if not yes:
        click.confirm(
            f"Apply report {inbound_id}? Anyone who knows the address can send one; apply it only "
            "when you know the address does not take mail",
            abort=True,
        )
    row = committed(lambda: bounces.apply(db.session, inbound_id, utcnow(), None))
    click.echo(f"inbound message {row.id} ({row.kind}): {row.outcome}")


# --- inbound imap -------------------------------------------------------------------------------
# The IMAP poller's command (feedback_sla/cli/inbound_imap.py) joins this group on the lines below.
from feedback_sla.cli.inbound_imap import imap as imap_command  # noqa: E402

inbound.add_command(imap_command)
