"""Configuration: defaults in code, then ``instance/config.py``, then ``FEEDBACK_SLA_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "FEEDBACK_SLA"

#: Every setting an operator may change, with its default. README's configuration table mirrors it.
DEFAULTS: dict[str, object] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "SQLITE_BUSY_TIMEOUT": 15,  # seconds a writer waits for SQLite's lock
    "BASE_URL": None,
    "DEMO": False,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
}


def instance_path() -> str | None:
    """The instance folder chosen by ``FEEDBACK_SLA_INSTANCE_PATH``, or None for Flask's default."""
    path = os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def database_uri(url: str | None, instance_folder: str) -> str:
    """The SQLAlchemy URL for a configured database URL; PostgreSQL always goes through psycopg 3."""
    if not url:
        return "sqlite:///" + str(Path(instance_folder) / "feedback_sla.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(uri: str, busy_timeout: float) -> dict:
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": float(busy_timeout)}}
    return {"pool_pre_ping": True}
