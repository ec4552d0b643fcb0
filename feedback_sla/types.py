"""Column types shared by the models."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import DateTime, Enum
from sqlalchemy.types import TypeDecorator

from feedback_sla.timeutil import UTC


class UTCDateTime(TypeDecorator):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            # SQLite returns text: parse it as UTC in one call (``replace(tzinfo=...)`` afterwards
            # costs several times the parse, and pages read thousands of these).
            def parse(value: str | None, _parse=dt.datetime.fromisoformat):
                return None if value is None else _parse(value + "+00:00")

            return parse
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: dt.datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A string enum stored as its values in a VARCHAR (no native database enum to migrate)."""
    return Enum(cls, name=name, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])
