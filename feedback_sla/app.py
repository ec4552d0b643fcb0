"""The application factory: settings, database, extensions and pages, bound in small steps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from feedback_sla import config as _config
from feedback_sla import logs
from feedback_sla.database import db

PACKAGE_DIR = Path(__file__).resolve().parent


def _template_folder() -> str:
    """Templates ship inside the wheel; a source checkout keeps them at the project's top level."""
    bundled = PACKAGE_DIR / "templates"
    return str(bundled if bundled.is_dir() else PACKAGE_DIR.parent / "templates")


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    app = create_data_app(config)
    configure_secret_key(app)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing or app.config["DEMO"])

    register_extensions(app)
    _check_email_settings(app)
    register_web(app)
    _start_outbox_thread(app)
    return app


def create_data_app(config: Mapping[str, object] | None = None) -> Flask:
    """The app as far as the database: settings loaded and checked, the models bound to the
    configured database. Commands that only read the database run on it without loading the
    pages, email or migrations; ``create_app`` builds the rest on top.
    """
    app = Flask(
        "feedback_sla",
        instance_path=_config.instance_path(),
        instance_relative_config=True,
        template_folder=_template_folder(),
    )
    app.config.from_mapping(_config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(_config.ENV_PREFIX)
    if config:
        app.config.from_mapping(config)
    _config.check(app.config)
    app.config["BASE_URL"] = _config.base_url(app.config.get("BASE_URL"))
    _configure_logging(app)

    uri = app.config.get("SQLALCHEMY_DATABASE_URI") or _config.database_uri(
        app.config["DATABASE_URL"], app.instance_path
    )
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        _config.engine_options(uri, app.config["SQLITE_BUSY_TIMEOUT"]),
    )
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        os.makedirs(app.instance_path, exist_ok=True)

    from feedback_sla import models  # noqa: F401  (registers the tables)

    db.init_app(app)
    return app


def _configure_logging(app: Flask) -> None:
    """``LOG_FORMAT=json``: the app's records and every command's go to standard error as JSON
    lines through the root logger, instead of Flask's own handler."""
    from flask.logging import default_handler

    if logs.configure(app.config["LOG_FORMAT"]):
        app.logger.removeHandler(default_handler)


def _check_email_settings(app: Flask) -> None:
    """A bad sender or mail setting stops the app at start, not at the first email."""
    from feedback_sla.emails.config import EmailConfig

    EmailConfig.from_app(app)


def _start_outbox_thread(app: Flask) -> None:
    """The development server delivers emails itself; production runs ``feedback-sla worker``."""
    mode = app.config.get("OUTBOX_BACKGROUND_WORKER")
    if mode is True or (mode == "reloader" and os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        from feedback_sla.worker import start_background_worker

        app.extensions["outbox_thread"] = start_background_worker(app)


def configure_secret_key(app: Flask) -> None:
    """Production needs a configured key shared by every worker; debug and demo keep one locally."""
    if app.config.get("SECRET_KEY"):
        return
    if app.debug or app.testing or app.config["DEMO"]:
        app.config["SECRET_KEY"] = _config.local_secret_key(app.instance_path)
        return
    if app.config.get("COMMAND_LINE"):
        return  # operator commands need no key; serving pages checks again below
    raise _config.ConfigurationError(
        "FEEDBACK_SLA_SECRET_KEY is not set: configure one long random value, the same for every "
        "worker (instance/config.py or the environment); see README, Configuration."
    )


def register_extensions(app: Flask) -> None:
    from feedback_sla.extensions import mail, migrate

    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    mail.init_app(app)


def register_web(app: Flask) -> None:
    from feedback_sla.web import init_app

    init_app(app)
