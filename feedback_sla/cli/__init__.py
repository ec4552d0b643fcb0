"""The ``feedback-sla`` command: Flask's CLI plus every operator action."""

from __future__ import annotations

import importlib
import os

import click
from flask.cli import FlaskGroup, get_debug_flag, run_command

from feedback_sla.cli.appcontext import COMMAND_LINE_CONFIG


def _create_app():
    from feedback_sla.app import create_app

    return create_app(COMMAND_LINE_CONFIG)


#: Every operator command: its name, and where it lives. Each module is imported when its command
#: runs, so ``export`` and ``report`` start without the pages, email or migrations.
COMMANDS = {
    "users": "feedback_sla.cli.accounts:users",
    "positions": "feedback_sla.cli.positions:positions",
    "candidates": "feedback_sla.cli.candidates:candidates",
    "settings": "feedback_sla.cli.settings:settings",
    "emails": "feedback_sla.cli.emails:emails",
    "worker": "feedback_sla.cli.worker:worker",
    "digest": "feedback_sla.cli.digest:digest",
    "autopilot": "feedback_sla.cli.autopilot:autopilot",
    "inbound": "feedback_sla.cli.inbound:inbound",
    "demo": "feedback_sla.cli.demo:demo",
    "export": "feedback_sla.cli.reports:export",
    "report": "feedback_sla.cli.reports:report_command",
    "metrics": "feedback_sla.cli.metrics:metrics",
    "sources": "feedback_sla.cli.sources:sources_group",
    "tokens": "feedback_sla.cli.tokens:tokens",
    "retention": "feedback_sla.cli.retention:retention",
    "chat": "feedback_sla.cli.chat:chat",
    "survey": "feedback_sla.cli.survey:survey_group",
}


class Cli(FlaskGroup):
    """Flask's command group with the operator commands of ``COMMANDS`` on the group itself: they
    are found before the app and Flask's plugin commands (``db``) load."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attribute = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attribute)
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


#: How the drivers say a table is missing: the schema was never created (or is behind).
_MISSING_TABLE = ("no such table", "does not exist")


def main() -> None:
    from sqlalchemy.exc import DBAPIError

    from feedback_sla.config import ConfigurationError

    try:
        cli.main(prog_name="feedback-sla")
    except ConfigurationError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    except DBAPIError as exc:
        click.echo(f"Error: the database could not run the command: {database_problem(exc)}", err=True)
        raise SystemExit(1) from None


def database_problem(exc: Exception) -> str:
    """The driver's first line, and what to do when the tables are missing."""
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if any(words in message for words in _MISSING_TABLE):
        message += "; create or update the tables with: feedback-sla db upgrade"
    return message
