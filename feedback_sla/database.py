"""The database: the models' base, the Flask-SQLAlchemy handle, and connection behaviour that must
hold for every engine the app opens.

Kept apart from the other extensions so that the models, and the commands that only read the
database, load without the web stack.
"""

from __future__ import annotations

import sqlite3

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: write-ahead log so readers never block the writer, and foreign keys enforced."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def insert_unless_exists(session: Session, model: type[Base], *, conflict: list[str]):
    """An INSERT of ``model`` that does nothing when a row with the same ``conflict`` key exists.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit and then does
    nothing, on PostgreSQL and SQLite alike, without a savepoint (with Python's sqlite3 a
    SAVEPOINT opened first in a transaction commits on release, which would break atomicity).
    Chain ``.values(...)`` and ``.returning(...)`` onto it.
    """
    dialect = session.get_bind(mapper=model.__mapper__).dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(model)
    elif dialect == "sqlite":
        statement = sqlite.insert(model)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    return statement.on_conflict_do_nothing(index_elements=conflict)
