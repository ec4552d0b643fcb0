"""An erasure leaves nothing on disk: on SQLite neither the database file's free space nor its
write-ahead log keeps an erased candidate's name, address or notes (RELIABILITY 34).

SQLite's log keeps every page a transaction wrote until a checkpoint copies it into the file, and
a value overwritten in the file stays in free space unless ``secure_delete`` zeroes it (some
builds of SQLite, Debian's among them, turn it on by default; the app turns it on everywhere).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory

NAME = "Wilhelmina Quarternoxe"
EMAIL = "w.quarternoxe.5521@example.org"
#: A feedback paragraph as managers write them: long, without a line break.
NOTE = "Plays the zanfaraphone in a band called Thixotropic; " * 25
#: What would name them, as bytes on disk (the search key holds the name folded to lower case).
NEEDLES = ("Quarternoxe", "quarternoxe", "Wilhelmina", "wilhelmina", "zanfaraphone", "Thixotropic")


#: The clock of these tests, ticking (requests, tokens and the served app read it alike).
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def sqlite_file(app) -> Path:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("reads SQLite's database file and write-ahead log; PostgreSQL keeps no such file")
    return Path(url.database)


def on_disk(path: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_an_erased_candidate_is_nowhere_in_the_database_file_or_its_log(sqlite_file, runner, session):
    manager = UserFactory()
    position = PositionFactory(manager=manager)
    applied = NOW - dt.timedelta(days=3)
    candidate = waits.add_candidate(session, position, NAME, EMAIL, applied, OrgSettings())
    waits.add_note(session, candidate, NOTE, applied + dt.timedelta(days=1), manager)
    session.commit()
    before = on_disk(sqlite_file)
    assert all(needle.encode() in before for needle in ("Quarternoxe", "zanfaraphone")), "test data"

    result = runner.invoke(args=["candidates", "erase", str(candidate.id), "--yes"])
    assert result.exit_code == 0, result.output

    after = on_disk(sqlite_file)
    assert session.connection().exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    for needle in NEEDLES + (EMAIL,):
        assert needle.encode() not in after, needle


def test_an_erasure_commits_while_a_reader_holds_the_log(sqlite_file, runner, session, caplog):
    """The checkpoint cannot empty a log another connection still reads: the erasure stands, and
    the log is emptied by a later checkpoint."""
    position = PositionFactory(manager=UserFactory())
    applied = NOW - dt.timedelta(days=3)
    candidate = waits.add_candidate(session, position, NAME, EMAIL, applied, OrgSettings())
    session.commit()
    reader = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM candidates").fetchone()
        result = runner.invoke(args=["candidates", "erase", str(candidate.id), "--yes"])
    finally:
        reader.rollback()
        reader.close()
    assert result.exit_code == 0, result.output
    assert "write-ahead log was not emptied" in caplog.text
    session.expire_all()
    assert session.get(type(candidate), candidate.id).erased_at is not None
