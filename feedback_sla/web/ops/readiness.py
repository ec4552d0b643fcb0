"""Is this process ready for traffic: the database answers and its schema is the code's."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError


@dataclass(frozen=True)
class Readiness:
    """``database``: ok or unavailable; ``migrations``: current, behind (``feedback-sla db
    upgrade`` has not run), missing (never run) or unknown (the database is newer than this code)."""

    database: str
    migrations: str | None = None
    revisions: tuple[str, ...] = field(default=())
    heads: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "current"

    def as_json(self) -> dict:
        answer = {"database": self.database}
        if self.migrations is not None:
            answer["migrations"] = self.migrations
        if self.migrations not in (None, "current"):
            answer["database_revision"] = list(self.revisions)
            answer["code_revision"] = list(self.heads)
        return answer


def check(engine: sa.Engine, scripts: ScriptDirectory) -> tuple[Readiness, Exception | None]:
    """One connection: ``SELECT 1``, then the revision alembic recorded; the error if it failed."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            revisions = tuple(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.SQLAlchemyError as exc:
        return Readiness("unavailable"), exc
    heads = tuple(scripts.get_heads())
    return Readiness("ok", migration_state(revisions, heads, scripts), revisions, heads), None


def migration_state(revisions: tuple[str, ...], heads: tuple[str, ...], scripts: ScriptDirectory) -> str:
    if set(revisions) == set(heads):
        return "current"
    if not revisions:
        return "missing"
    try:
        for revision in revisions:
            scripts.get_revision(revision)
    except CommandError:
        return "unknown"  # the database was upgraded by newer code than this process runs
    return "behind"
