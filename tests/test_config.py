"""Configuration, the database it selects, SQLite's connection settings, and the migrations."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
import warnings

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError, OperationalError, SAWarning

from feedback_sla import create_app
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.waits.queries import waiting

from .conftest import TEST_DATABASE_URL

SECRET = "a-test-secret-key-of-some-length"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An instance folder of its own, chosen the way an operator does."""
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(folder))
    return folder


def sqlite_app(path, **config):
    return create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **config})


# --- precedence ----------------------------------------------------------------------------------


def test_each_configuration_layer_overrides_the_one_before(instance, monkeypatch):
    (instance / "config.py").write_text(
        'SECRET_KEY = "from-the-instance-file"\n'
        'BASE_URL = "https://file.example.com"\n'
        "SQLITE_BUSY_TIMEOUT = 20\n"
    )
    monkeypatch.setenv("FEEDBACK_SLA_BASE_URL", "https://env.example.com")
    monkeypatch.setenv("FEEDBACK_SLA_SQLITE_BUSY_TIMEOUT", "25")

    app = create_app({"SQLITE_BUSY_TIMEOUT": 30})

    assert app.config["DEMO"] is False  # default
    assert app.config["SECRET_KEY"] == "from-the-instance-file"  # file over default
    assert app.config["BASE_URL"] == "https://env.example.com"  # environment over file
    assert app.config["SQLITE_BUSY_TIMEOUT"] == 30  # mapping over environment
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["timeout"] == 30.0


def test_environment_values_are_typed_and_win_over_the_file(instance, monkeypatch):
    (instance / "config.py").write_text('SECRET_KEY = "from-the-instance-file"\nSQLITE_BUSY_TIMEOUT = 20\n')
    monkeypatch.setenv("FEEDBACK_SLA_SQLITE_BUSY_TIMEOUT", "25")
    monkeypatch.setenv("FEEDBACK_SLA_DEMO", "true")

    app = create_app()

    assert app.config["SQLITE_BUSY_TIMEOUT"] == 25
    assert app.config["DEMO"] is True
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["timeout"] == 25.0


def test_the_instance_folder_comes_from_the_environment(instance):
    app = create_app({"SECRET_KEY": SECRET})
    assert app.instance_path == str(instance)


# --- the database --------------------------------------------------------------------------------


def test_the_default_database_is_a_sqlite_file_in_the_instance_folder(instance):
    app = create_app({"SECRET_KEY": SECRET})

    expected = instance / "feedback_sla.sqlite3"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{expected}"
    with app.app_context():
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    assert expected.is_file()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgresql_url_goes_through_psycopg_3(instance, monkeypatch, scheme):
    monkeypatch.setenv("FEEDBACK_SLA_DATABASE_URL", f"{scheme}://hiring:secret@db.example.com:5433/hiring")

    app = create_app({"SECRET_KEY": SECRET})

    assert (
        app.config["SQLALCHEMY_DATABASE_URI"]
        == "postgresql+psycopg://hiring:secret@db.example.com:5433/hiring"
    )
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg"
        db.engine.dispose()


def test_the_database_url_selects_the_database_it_connects_to(instance, monkeypatch, tmp_path):
    """The database this suite runs on (PostgreSQL when configured), or a SQLite file elsewhere."""
    chosen = tmp_path / "elsewhere" / "chosen.sqlite3"
    chosen.parent.mkdir()
    url = TEST_DATABASE_URL or f"sqlite:///{chosen}"
    monkeypatch.setenv("FEEDBACK_SLA_DATABASE_URL", url)

    app = create_app({"SECRET_KEY": SECRET})

    with app.app_context():
        with db.engine.connect() as conn:
            if TEST_DATABASE_URL:
                assert db.engine.dialect.driver == "psycopg"
                expected = sa.engine.make_url(TEST_DATABASE_URL).database
                assert conn.scalar(sa.text("SELECT current_database()")) == expected
            else:
                conn.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    assert chosen.is_file() != bool(TEST_DATABASE_URL)
    assert not (instance / "feedback_sla.sqlite3").exists()


# --- SQLite connections --------------------------------------------------------------------------


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path, instance):
    app = sqlite_app(tmp_path / "app.sqlite3", SQLITE_BUSY_TIMEOUT=7)
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(sa.text("PRAGMA foreign_keys")) == 1
            assert conn.scalar(sa.text("PRAGMA busy_timeout")) == 7000
        db.engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path, instance):
    app = sqlite_app(tmp_path / "app.sqlite3")
    with app.app_context():
        flask_migrate.upgrade()
        with pytest.raises(IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO positions (title, manager_id, time_zone, policy_overrides, is_open,"
                        " created_at) VALUES ('Orphan', 999, 'UTC', '{}', 1, '2026-11-16 09:00:00')"
                    )
                )
        db.engine.dispose()


def test_a_sqlite_writer_waits_for_the_lock_before_giving_up(tmp_path, instance):
    path = tmp_path / "app.sqlite3"
    app = sqlite_app(path, SQLITE_BUSY_TIMEOUT=0.4)
    with app.app_context():
        flask_migrate.upgrade()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another worker holds the write lock
            started = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                with db.engine.begin() as conn:
                    conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('time_zone', 'UTC')"))
            assert time.monotonic() - started >= 0.3
            other.execute("ROLLBACK")
            with db.engine.begin() as conn:  # once it is free, the write goes through
                conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('time_zone', 'UTC')"))
        finally:
            other.close()
        db.engine.dispose()


# --- migrations ----------------------------------------------------------------------------------

FIRST_REVISION = "0001"
STAMP = "2026-11-16 14:00:00.000000"

#: Rows as the first revision's schema holds them; later revisions must keep every one.
FIRST_REVISION_ROWS = {
    "settings": [{"key": "policy.application", "value": "7"}, {"key": "holiday_calendar", "value": "US"}],
    "users": [
        {
            "id": 1,
            "email": "maria@example.com",
            "name": "Maria Lopez",
            "password_hash": "scrypt:not-a-real-hash",
            "role": "manager",
            "time_zone": "America/New_York",
            "digest_hour": 8,
            "active": 1,
            "session_version": 3,
            "created_at": STAMP,
        }
    ],
    "positions": [
        {
            "id": 1,
            "title": "Backend Engineer",
            "manager_id": 1,
            "time_zone": "America/Chicago",
            "policy_overrides": '{"decision": 2}',
            "is_open": 1,
            "created_at": STAMP,
        }
    ],
    "candidates": [
        {
            "id": 1,
            "name": "Ana Okafor",
            "email": "ana@example.com",
            "position_id": 1,
            "stage": "interview",
            "status": "active",
            "created_at": STAMP,
        },
        {
            "id": 2,
            "name": "Ben Schmidt",
            "email": "ben@example.com",
            "position_id": 1,
            "stage": "applied",
            "status": "rejected",
            "created_at": STAMP,
        },
    ],
    "events": [
        {
            "id": 1,
            "candidate_id": 1,
            "kind": "created",
            "channel": None,
            "body": None,
            "data": '{"stage": "applied"}',
            "actor_id": None,
            "occurred_at": STAMP,
            "recorded_at": STAMP,
        },
        {
            "id": 2,
            "candidate_id": 1,
            "kind": "contact_logged",
            "channel": "phone",
            "body": "Invited to interview.",
            "data": "{}",
            "actor_id": 1,
            "occurred_at": "2026-11-17 15:00:00.000000",
            "recorded_at": "2026-11-17 15:00:00.000000",
        },
    ],
    "waits": [
        {
            "id": 1,
            "candidate_id": 1,
            "reason": "application",
            "opened_at": STAMP,
            "warn_at": "2026-11-24 00:00:00.000000",
            "due_at": "2026-11-25 00:00:00.000000",
            "escalate_at": "2026-11-30 14:00:00.000000",
            "policy_days": 7,
            "promised_date": None,
            "follow_ups": 1,
            "closed_at": "2026-11-17 15:00:00.000000",
            "opened_by_event_id": 1,
            "closed_by_event_id": 2,
        },
        {
            "id": 2,
            "candidate_id": 1,
            "reason": "decision",
            "opened_at": "2026-11-19 16:00:00.000000",
            "warn_at": "2026-11-23 00:00:00.000000",
            "due_at": "2026-11-24 00:00:00.000000",
            "escalate_at": "2026-12-03 16:00:00.000000",
            "policy_days": 2,
            "promised_date": "2026-11-23",
            "follow_ups": 0,
            "closed_at": None,
            "opened_by_event_id": None,
            "closed_by_event_id": None,
        },
    ],
}


def _snapshot(conn, tables: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    """The first revision's columns of every table, row by row."""
    snapshot = {}
    for table, rows in tables.items():
        columns = ", ".join(rows[0])
        snapshot[table] = [
            tuple(r) for r in conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY 1"))
        ]
    return snapshot


def _copy_row(conn, table: str, row_id: int, changes: dict[str, str]) -> None:
    """Insert a copy of a row, every column of today's schema but its id, some as SQL expressions."""
    columns = [c["name"] for c in sa.inspect(conn).get_columns(table) if c["name"] != "id"]
    chosen = ", ".join(changes.get(c, c) for c in columns)
    conn.execute(
        sa.text(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {chosen} FROM {table} WHERE id = {row_id}"
        )
    )


def test_upgrading_a_database_that_holds_data_keeps_every_row(tmp_path, instance):
    app = sqlite_app(tmp_path / "old.sqlite3")
    with app.app_context():
        flask_migrate.upgrade(revision=FIRST_REVISION)
        with db.engine.begin() as conn:
            for table, rows in FIRST_REVISION_ROWS.items():
                columns = list(rows[0])
                names = ", ".join(columns)
                values = ", ".join(f":{c}" for c in columns)
                conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"), rows)
            before = _snapshot(conn, FIRST_REVISION_ROWS)
        assert [len(before[t]) for t in FIRST_REVISION_ROWS] == [2, 1, 1, 2, 2, 2]

        flask_migrate.upgrade()

        with db.engine.connect() as conn:
            assert _snapshot(conn, FIRST_REVISION_ROWS) == before
        # The constraints the first revision created still hold.
        for table, row_id, changes, index in [
            ("users", 1, {"email": "upper(email)"}, "index 'uq_users_email_lower'"),
            ("candidates", 1, {"email": "upper(email)"}, "index 'uq_candidates_position_email'"),
            ("waits", 2, {}, "waits.candidate_id"),
        ]:
            with pytest.raises(IntegrityError, match=f"UNIQUE constraint failed: {index}"):
                with db.engine.begin() as conn:
                    _copy_row(conn, table, row_id, changes)
        # The upgraded rows read back through today's code.
        settings = settings_service.load(db.session)
        assert (settings.policy_application, settings.holiday_calendar) == (7, "US")
        (row,) = waiting(db.session, dt.datetime(2026, 11, 20, tzinfo=dt.UTC), settings)
        assert (row.candidate, row.reason.value, row.promised_date) == (
            "Ana Okafor",
            "decision",
            dt.date(2026, 11, 23),
        )
        assert row.due_at == dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
        db.session.remove()
        db.engine.dispose()


def test_downgrade_to_base_and_upgrade_again(tmp_path, instance):
    app = sqlite_app(tmp_path / "fresh.sqlite3")
    with app.app_context():
        flask_migrate.upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert tables == set(db.metadata.tables) | {"alembic_version"}

        flask_migrate.downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}

        flask_migrate.upgrade()
        assert set(sa.inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()


def test_the_migrations_build_exactly_the_models_schema(app):
    """A model changed without a migration shows up here, on SQLite and on PostgreSQL."""
    with db.engine.connect() as conn, warnings.catch_warnings():
        # Neither side can compare indexes on lower(email): they are left out of the comparison.
        warnings.filterwarnings("ignore", message=".*expression-based index", category=SAWarning)
        warnings.filterwarnings("ignore", message=".*expression-based index", category=UserWarning)
        # An index made for one database only (``ddl_if``) is compared on that database only.
        options = {"include_object": lambda obj, *_: _made_on(obj, conn.dialect.name)}
        differences = compare_metadata(MigrationContext.configure(conn, opts=options), db.metadata)
    assert differences == []


def _made_on(obj, dialect: str) -> bool:
    only = getattr(obj, "_ddl_if", None)
    return only is None or only.dialect in (None, dialect)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("SESSION_IDLE_MINUTES", "soon", "FEEDBACK_SLA_SESSION_IDLE_MINUTES"),
        ("SQLITE_BUSY_TIMEOUT", "-1", "FEEDBACK_SLA_SQLITE_BUSY_TIMEOUT"),
        ("MAX_CONTENT_LENGTH", "0", "FEEDBACK_SLA_MAX_CONTENT_LENGTH"),
        ("ORGANISATION_EMAIL", "jobs", "ORGANISATION_EMAIL"),
        ("MAIL_TIMEOUT", "never", "MAIL_TIMEOUT"),
    ],
)
def test_a_bad_setting_stops_the_app_with_its_name(monkeypatch, tmp_path, key, value, named):
    monkeypatch.setenv("FEEDBACK_SLA_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(f"FEEDBACK_SLA_{key}", value)
    with pytest.raises(ConfigurationError, match=named):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_a_bad_setting_makes_a_command_exit_non_zero(tmp_path):
    env = {
        **os.environ,
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path),
        "FEEDBACK_SLA_SESSION_IDLE_MINUTES": "soon",
    }
    result = subprocess.run(
        [sys.executable, "-m", "feedback_sla", "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "FEEDBACK_SLA_SESSION_IDLE_MINUTES" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["users", "list"], ["export", "response-times"], ["report"]])
def test_a_database_without_tables_gets_the_command_that_creates_them(tmp_path, command):
    env = {**os.environ, "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "feedback_sla", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no such table" in result.stderr
    assert "feedback-sla db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_named_without_a_traceback(tmp_path):
    env = {
        **os.environ,
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path),
        "FEEDBACK_SLA_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/feedback_sla",
    }
    result = subprocess.run(
        [sys.executable, "-m", "feedback_sla", "report"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Error: the database could not run the command: connection failed" in result.stderr
    assert "Traceback" not in result.stderr
