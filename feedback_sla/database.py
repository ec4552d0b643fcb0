"""The database: the models' base, the Flask-SQLAlchemy handle, and connection behaviour that must
hold for every engine the app opens.

Kept apart from the other extensions so that the models, and the commands that only read the
database, load without the web stack.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import sys
from collections.abc import Sequence
from typing import TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import Pool


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

_Row = TypeVar("_Row", bound=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: write-ahead log so readers never block the writer, foreign keys enforced, and what a
    statement deletes or overwrites zeroed in the file (an erasure leaves no copy in free space)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


#: How long a checkpoint after an erasure waits for readers to leave the log.
_CHECKPOINT_WAIT_MS = 1000


def checkpoint_after_commit(session: Session) -> None:
    """On SQLite, once this session's transaction commits, copy the write-ahead log into the
    database file and empty it: the log keeps the pages as they were before until a checkpoint,
    so an erasure's overwritten values would otherwise stay on disk there."""
    session.info["checkpoint"] = True


@event.listens_for(Session, "after_commit")
def _checkpoint(session: Session) -> None:
    if not session.info.pop("checkpoint", False):
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    try:
        with bind.connect() as conn:  # the session's own connection is done with its transaction
            # It holds the write lock while it waits for readers: a second at most, not the full
            # busy timeout, so a long read (an export) does not hold up every writer.
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={min(int(timeout), _CHECKPOINT_WAIT_MS)}")
            try:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout)}")
    except DBAPIError as exc:  # what was committed stays committed
        busy = str(exc)
    if busy:  # a reader still in the log: SQLite's next checkpoint empties it
        logging.getLogger(__name__).warning("the write-ahead log was not emptied after an erasure: %s", busy)


@event.listens_for(Session, "after_rollback")
def _no_checkpoint(session: Session) -> None:
    session.info.pop("checkpoint", None)


# --- PostgreSQL: reads outside a transaction, as PostgreSQL runs them inside one ----------------
#
# A request that only reads (most pages) would pay a BEGIN and a ROLLBACK for nothing: two more
# round trips to the server, and psycopg forgets its prepared statements at each ROLLBACK, so
# PostgreSQL would plan every statement of every page again. So a transaction runs in autocommit
# mode until its first statement that is not a plain read: from there on (that statement
# included) it is an ordinary transaction, committed or rolled back as a whole. Under READ
# COMMITTED, PostgreSQL's default, the reads before it see just what they would inside: each
# statement takes a fresh snapshot either way, and a plain SELECT takes no lock.

# psycopg and SQLAlchemy's PostgreSQL dialect are imported where they are used: a command on
# SQLite (the embedded default) starts without loading them.

#: Marks a connection this module put in autocommit for its reads (not one made for AUTOCOMMIT).
_READING = "feedback_sla.reading"

#: What makes a SELECT more than a read: it locks the rows until the transaction ends.
_LOCKS = re.compile(r"\bFOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def _reads_only(statement: str) -> bool:
    """A SELECT that locks nothing (a statement's text is the same at every execution: read once)."""
    return statement.lstrip()[:6].upper() == "SELECT" and not _LOCKS.search(statement)


@event.listens_for(Engine, "begin")
def _read_in_autocommit(conn) -> None:
    if conn.dialect.driver == "psycopg":
        import psycopg

        dbapi_connection = conn.connection.dbapi_connection
        idle = psycopg.pq.TransactionStatus.IDLE
        if not dbapi_connection.autocommit and dbapi_connection.info.transaction_status == idle:
            dbapi_connection.autocommit = True
            conn.info[_READING] = True  # an engine made for AUTOCOMMIT stays in it


@event.listens_for(Engine, "before_cursor_execute")
def _begin_at_first_write(conn, cursor, statement: str, *_args) -> None:
    if conn.dialect.driver == "psycopg":
        import psycopg

        dbapi_connection = conn.connection.dbapi_connection
        if conn.info.get(_READING) and (
            not _reads_only(statement) or isinstance(cursor, psycopg.ServerCursor)  # which needs one
        ):
            del conn.info[_READING]
            dbapi_connection.autocommit = False  # psycopg sends BEGIN before this statement


@event.listens_for(Pool, "checkin")
def _transactions_by_default(dbapi_connection, record) -> None:
    """A connection goes back to the pool as psycopg makes it: transactions on."""
    if record is not None and record.info.pop(_READING, False):  # only ever set on psycopg's
        import psycopg

        if isinstance(dbapi_connection, psycopg.Connection) and dbapi_connection.autocommit:
            if dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                dbapi_connection.autocommit = False


def unavailable(error: BaseException) -> bool:
    """The database cannot answer now but may in a moment, so the request is worth retrying: SQLite
    busy past its timeout, or PostgreSQL out of reach (a connection lost mid-request, a restart,
    a statement cancelled). A lost connection is invalidated with the rest of the pool, so the next
    request opens a new one (and pool_pre_ping tests every connection it is handed)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    cause = getattr(error, "orig", None) or error
    psycopg = sys.modules.get("psycopg")  # not loaded: not a PostgreSQL error
    if psycopg is not None and isinstance(cause, psycopg.OperationalError):
        return True
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause).lower()


def insert_once(
    session: Session, model: type[_Row], values: dict, *, conflict: Sequence[str] | None = None
) -> _Row | None:
    """Insert a row of ``model`` once: the new row, or None when a row with the same key exists.

    The key is the ``conflict`` columns (a unique constraint of ``model``), or with None any of its
    unique constraints. ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to
    commit and then does nothing, on PostgreSQL and SQLite alike: of two callers inserting the same
    key at once, one gets the row and the other None (it reads the winner's row after). No
    savepoint is needed (with Python's sqlite3 a SAVEPOINT opened first in a transaction commits on
    release, which would break atomicity), and the caller's transaction stays usable.
    """
    statement = _insert_unless_key_exists(session, model, conflict).values(**values)
    return session.scalars(statement.returning(model)).one_or_none()


def insert_many_once(
    session: Session, model: type[_Row], rows: Sequence[dict], *, conflict: Sequence[str]
) -> None:
    """``insert_once`` for many rows: one statement executed for all of them (the driver sends them
    together), a row whose key exists left out. It returns nothing: RETURNING would make the
    database plan one statement with every row's parameters, many times slower than the insert.
    The caller reads the rows back by key and tells its own by a value only it wrote (a random
    token, a Message-ID). Every row gives the same columns.
    """
    if rows:
        session.execute(_insert_unless_key_exists(session, model, conflict, table=True), list(rows))


def add_to_rows(
    session: Session, model: type[_Row], rows: Sequence[dict], *, key: Sequence[str], counts: Sequence[str]
) -> None:
    """Add each row's ``counts`` to the row of ``model`` with its ``key``, inserting it with those
    counts when there is none: one statement for every row (INSERT … ON CONFLICT DO UPDATE, so two
    transactions adding to the same new row both add, on PostgreSQL and SQLite alike)."""
    if rows:
        dialect = session.get_bind(mapper=model.__mapper__).dialect.name
        session.execute(_adding(model.__table__, tuple(key), tuple(counts), dialect), list(rows))


@functools.cache
def _adding(table, key: tuple[str, ...], counts: tuple[str, ...], dialect: str):
    """``add_to_rows``'s statement, built once per table."""
    insert = _dialect_insert(dialect, table)
    return insert.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + insert.excluded[name] for name in counts}
    )


def _dialect_insert(dialect: str, into):
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(into)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(into)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover - only these two


def _insert_unless_key_exists(
    session: Session, model: type[_Row], conflict: Sequence[str] | None, *, table: bool = False
):
    """INSERT … ON CONFLICT DO NOTHING into ``model`` (or, with ``table``, its table: plain rows, no
    objects), for the session's database (the one dialect switch)."""
    dialect = session.get_bind(mapper=model.__mapper__).dialect.name
    statement = _dialect_insert(dialect, model.__table__ if table else model)
    return statement.on_conflict_do_nothing(index_elements=list(conflict) if conflict is not None else None)
