"""The ``feedback-sla`` command: Flask's CLI plus every operator action."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def _create_app():
    from . import create_app

    # Operator commands run without a secret key; serving pages still requires one.
    return create_app({"COMMAND_LINE": True})


cli = FlaskGroup(
    name="feedback-sla",
    create_app=_create_app,
    add_version_option=False,
    help="feedback-sla: response deadlines for hiring teams. Every operator action lives here.",
)


def register_commands(app: Flask) -> None:
    from .accounts.cli import users
    from .candidates.cli import candidates
    from .demo import demo
    from .digest.cli import digest
    from .emails.cli import emails, worker
    from .positions.cli import positions
    from .reports.cli import export, report_command
    from .settings.cli import settings

    for command in (users, positions, candidates, settings, demo, export, report_command, digest):
        app.cli.add_command(command)
    app.cli.add_command(emails)
    app.cli.add_command(worker)


def main() -> None:
    cli.main(prog_name="feedback-sla")
