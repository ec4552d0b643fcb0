"""Fixtures: a fresh app per test on SQLite, or on PostgreSQL with FEEDBACK_SLA_TEST_DATABASE_URL.

The schema is built once per run through the migrations; each test starts from empty tables.
"""

from __future__ import annotations

import datetime as dt
import os

import flask_migrate
import pytest
import sqlalchemy as sa
import time_machine
from flask import g
from flask.testing import FlaskClient, FlaskCliRunner

from feedback_sla import create_app
from feedback_sla.cli import cli as feedback_sla_command
from feedback_sla.database import db

TEST_DATABASE_URL = os.environ.get("FEEDBACK_SLA_TEST_DATABASE_URL", "")


#: The suite's own switches, kept: the database URL (the parallel workers, pytest-xdist, inherit this
#: environment and read it again) and the one that rewrites the documentation's screenshots.
SUITE_VARIABLES = {"FEEDBACK_SLA_TEST_DATABASE_URL", "FEEDBACK_SLA_WRITE_SCREENSHOTS"}


def _clean_environment() -> None:
    """The suite must not pick up an operator's FEEDBACK_SLA_* settings; its own switches stay."""
    for key in list(os.environ):
        if key.startswith("FEEDBACK_SLA_") and key not in SUITE_VARIABLES:
            del os.environ[key]


_clean_environment()


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--clock-ahead",
        type=int,
        default=0,
        metavar="DAYS",
        help="Run every test with the clock moved DAYS days ahead (still ticking), so that a test that "
        "reads today's date without controlling it shows itself. A test's own time travel still wins.",
    )


def pytest_xdist_auto_num_workers(config) -> int | None:
    """``-n auto``: one worker more than the machine has CPUs. The browser tests spend most of their
    time waiting for Chromium and the pages it loads, and the mail and worker tests for sockets and
    processes; the extra worker runs other tests meanwhile. PYTEST_XDIST_AUTO_NUM_WORKERS still wins.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True, scope="session")
def _clock_ahead(request):
    """For the whole run, so the module-wide demo of the browser tests is seeded on the moved clock
    too; a test's own travel nests inside it."""
    days = request.config.getoption("--clock-ahead")
    if not days:
        yield
        return
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=days), tick=True):
        yield


def _worker_database(url: str) -> str:
    """Each parallel worker (pytest-xdist) gets a database of its own beside the one named."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        from feedback_sla.config import database_uri

        return _worker_database(database_uri(TEST_DATABASE_URL, ""))
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def _schema(database_uri, tmp_path_factory):
    """Build the schema once, through the migrations, on a database emptied first."""
    app = create_app(_test_config(database_uri, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        if TEST_DATABASE_URL:
            # A PostgreSQL that cannot be reached fails here, loudly: never a skip.
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        flask_migrate.upgrade()
        db.engine.dispose()
    return database_uri


def _test_config(database_uri: str, instance_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "localhost",
        "INSTANCE_FOR_TESTS": str(instance_path),
    }


def _empty_tables() -> None:
    """DELETE, children first: on tables this small it is far quicker than TRUNCATE."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app_config(_schema, tmp_path) -> dict:
    """Override keys in a test with ``@pytest.mark.parametrize`` or by editing this dict."""
    return _test_config(_schema, tmp_path)


@pytest.fixture
def app(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config)
    app.test_client_class = Client
    app.test_cli_runner_class = Runner
    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


class Client(FlaskClient):
    """Each request starts with fresh request globals and leaves behind only what it committed.

    Tests hold one app context, so ``g`` and the session would otherwise carry over between
    requests (a cached logged-in user, an uncommitted change a view forgot to commit).
    """

    def open(self, *args, **kwargs):
        for key in list(g):
            g.pop(key)
        try:
            return super().open(*args, **kwargs)
        finally:
            db.session.rollback()


class Runner(FlaskCliRunner):
    """Invokes the ``feedback-sla`` command (its commands live on the group, not on ``app.cli``)."""

    def invoke(self, cli=None, args=None, **kwargs):
        return super().invoke(cli or feedback_sla_command, args, **kwargs)


@pytest.fixture
def csrf_on(app_config):
    """CSRF protection as in production (the other tests post forms without tokens)."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.fixture
def make_app(app_config):
    """Another app with some settings changed; its connections are closed after the test."""
    made = []

    def make(**overrides):
        new = create_app({**app_config, **overrides})
        new.test_cli_runner_class = Runner
        made.append(new)
        return new

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    return db.session
