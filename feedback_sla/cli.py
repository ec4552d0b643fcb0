"""The ``feedback-sla`` command: Flask's CLI plus every operator action."""

from __future__ import annotations

import gc
import os

import click
from flask import Flask
from flask.cli import FlaskGroup, get_debug_flag, run_command

from .appcontext import COMMAND_LINE_CONFIG
from .reports.cli import export, report_command


def _create_app():
    from . import create_app

    return create_app(COMMAND_LINE_CONFIG)


class Cli(FlaskGroup):
    """Flask's command group, where the commands registered on the group itself (the reports)
    start without the whole app: they are found before the app and Flask's plugin commands load.
    """

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self.commands.get(name) or super().get_command(ctx, name)


cli = Cli(
    name="feedback-sla",
    create_app=_create_app,
    add_version_option=False,
    help="feedback-sla: response deadlines for hiring teams. Every operator action lives here.",
)


@click.command("run", params=run_command.params, help=run_command.help)
@click.pass_context
def run_with_outbox(ctx: click.Context, **options):
    """Flask's development server, with the outbox worker on a background thread."""
    reload = options.get("reload")
    if reload is None:
        reload = get_debug_flag()
    # With the reloader only the serving child process runs the worker.
    os.environ.setdefault("FEEDBACK_SLA_OUTBOX_BACKGROUND_WORKER", "reloader" if reload else "true")
    ctx.invoke(run_command, **options)


cli.add_command(run_with_outbox)


def register_commands(app: Flask) -> None:
    from .accounts.cli import users
    from .candidates.cli import candidates
    from .demo import demo
    from .digest.cli import digest
    from .emails.cli import emails, worker
    from .positions.cli import positions
    from .settings.cli import settings

    for command in (users, positions, candidates, settings, demo, digest):
        app.cli.add_command(command)
    app.cli.add_command(emails)
    app.cli.add_command(worker)


cli.add_command(export)
cli.add_command(report_command)


#: How the drivers say a table is missing: the schema was never created (or is behind).
_MISSING_TABLE = ("no such table", "does not exist")


def main() -> None:
    from sqlalchemy.exc import DBAPIError

    from .config import ConfigurationError

    # Everything loaded so far, and everything left when the command ends, lives until the process
    # exits: keeping it out of the garbage collector's scans saves a tenth of a second or more,
    # during the command and at exit, which short commands notice.
    gc.freeze()
    try:
        cli.main(prog_name="feedback-sla")
    except ConfigurationError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    except DBAPIError as exc:
        click.echo(f"Error: the database could not run the command: {database_problem(exc)}", err=True)
        raise SystemExit(1) from None
    finally:
        gc.freeze()


def database_problem(exc: Exception) -> str:
    """The driver's first line, and what to do when the tables are missing."""
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if any(words in message for words in _MISSING_TABLE):
        message += "; create or update the tables with: feedback-sla db upgrade"
    return message
