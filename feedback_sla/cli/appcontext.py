"""The app a command runs in."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click
from flask import current_app

#: Settings every command runs with: operator commands need no secret key (serving pages does).
COMMAND_LINE_CONFIG = {"COMMAND_LINE": True}


def with_data_app(command: Callable) -> Callable:
    """Run ``command`` in an app context: the current app's if there is one (as Flask's
    ``with_appcontext``), otherwise one of ``create_data_app``: settings and database, no pages.
    """

    @click.pass_context
    @functools.wraps(command)
    def run(ctx: click.Context, /, *args, **kwargs):
        if not current_app:
            from feedback_sla.app import create_data_app

            ctx.with_resource(create_data_app(COMMAND_LINE_CONFIG).app_context())
        return command(*args, **kwargs)

    return run
