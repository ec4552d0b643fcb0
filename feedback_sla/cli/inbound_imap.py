"""``feedback-sla inbound imap``: read replies from a mailbox, once or until stopped."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import exc as sa_exc

from feedback_sla.cli import database_problem
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.inbound import imap as imap_poller
from feedback_sla.inbound import service
from feedback_sla.inbound.imap_settings import ImapSettings
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow

#: Errors that say the database cannot take a message now (down, unreachable, locked, no free
#: connection): the message stays in the folder. Any other failure is the message's, and it moves
#: to the failed folder, so one message that always fails never holds back the ones after it.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


@click.command("imap")
@click.option("--once", is_flag=True, help="Process the messages in the folder now, then exit.")
@with_appcontext
def imap(once: bool):
    """Read replies from an IMAP mailbox.

    Every message in INBOUND_IMAP_FOLDER is processed once, then moved to INBOUND_IMAP_DONE_FOLDER
    (one that cannot be read to INBOUND_IMAP_FAILED_FOLDER). Polls every INBOUND_IMAP_INTERVAL
    seconds until SIGTERM or Ctrl-C, which finish the current message first.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = ImapSettings.from_mapping(current_app.config)
        config = EmailConfig.from_app(current_app)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    process = _processor(config)
    stop = threading.Event()
    try:
        with _stopped_by_signals(stop):
            if not once:
                every = f"every {settings.interval:g} s"
                click.echo(f"reading {settings.folder} on {settings.server} {every}; stop with Ctrl-C")
            report = imap_poller.run(settings, process, once=once, stop=stop)
    except imap_poller.ImapError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary(settings))
    if once and report.left:
        raise click.ClickException(
            f"{report.left} message(s) were left in {settings.folder}: {report.reason}"
        )


def _processor(config: EmailConfig) -> imap_poller.Process:
    """Record one message and commit; a database that cannot take it now raises TryLater."""

    def process(raw: bytes, imap_key: str) -> None:
        try:
            org = settings_service.load(db.session)
            service.receive(db.session, raw, utcnow(), org, config, source="imap", imap_key=imap_key)
            db.session.commit()
        except DATABASE_UNAVAILABLE as exc:
            db.session.rollback()
            raise imap_poller.TryLater(f"the database could not take it: {database_problem(exc)}") from exc
        except Exception:
            db.session.rollback()
            raise

    return process


class _stopped_by_signals:
    """SIGTERM and the first Ctrl-C set ``stop``: the poll finishes its message, then the command ends."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, object] = {}

    def _request_stop(self, signum, _frame) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping after the current message", err=True)
        self.stop.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._request_stop)
        return self

    def __exit__(self, *_exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
