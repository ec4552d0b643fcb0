"""``feedback-sla worker``: deliver the outbox, and the chat queue beside it."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from feedback_sla.config import ConfigurationError
from feedback_sla.emails.config import EmailConfig


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@with_appcontext
def worker(once: bool):
    """Deliver queued emails and chat messages until stopped (SIGTERM or Ctrl-C finish the current
    message first)."""
    app = current_app._get_current_object()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = EmailConfig.from_app(app)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    previous = {}

    def request_stop(signum, _frame):
        click.echo(f"{signal.Signals(signum).name}: stopping after the current message", err=True)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        if not once:
            where = config.mail_dir if config.backend == "file" else f"{app.config['MAIL_SERVER']}"
            click.echo(f"outbox worker delivering by {config.backend} to {where}; stop with Ctrl-C")
        from feedback_sla.worker import run_worker  # the SMTP machinery, only for this command

        with _chat_beside(app, once=once, stop=stop) as chat_report:
            report = run_worker(app, once=once, stop=stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(report.summary())
    if chat_report:
        click.echo(f"chat: {chat_report[0].summary()}")


@contextlib.contextmanager
def _chat_beside(app, *, once: bool, stop: threading.Event):
    """The chat queue delivered by the same command: on its own thread while the emails go (each
    waits for its own server), or once before them with ``--once`` (a nudge by email it hands to
    the outbox goes in the same run). Yields a list that holds the chat report when there is one
    to tell."""
    from feedback_sla.chat import delivery

    reports: list = []

    def deliver() -> None:
        report = delivery.run_worker(app, once=once, stop=stop)
        if report:
            reports.append(report)

    if once:
        deliver()
        yield reports
        return
    thread = threading.Thread(target=deliver, name="feedback-sla-chat", daemon=True)
    thread.start()
    try:
        yield reports
    finally:
        stop.set()
        thread.join()
