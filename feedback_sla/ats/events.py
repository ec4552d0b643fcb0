"""What a vendor's webhook means, in the product's words: a small list of neutral events.

Each vendor module (``greenhouse``, ``lever``, ``ashby``, ``workable``) turns its payload into these;
``service`` applies them through the wait's door. ATS ids are strings whatever the vendor sends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from feedback_sla.timeutil import FIRST_DAY, LAST_DAY, check_day


class PayloadError(ValueError):
    """The payload lacks a field its vendor documents: the delivery fails with this reason."""


class Unavailable(RuntimeError):
    """The details cannot be fetched now (the vendor's API is down): the delivery is retried later."""


@dataclass(frozen=True)
class NewApplication:
    application_id: str
    candidate_id: str
    name: str
    email: str
    job_id: str
    job_title: str
    manager_email: str | None
    applied_at: dt.datetime
    stage_name: str | None = None


@dataclass(frozen=True)
class StageChanged:
    application_id: str
    stage_name: str
    at: dt.datetime


@dataclass(frozen=True)
class _Outcome:
    """How an application ended, and when; the subclass says which."""

    application_id: str
    at: dt.datetime


class Rejected(_Outcome):
    pass


class Hired(_Outcome):
    pass


class Withdrawn(_Outcome):
    pass


@dataclass(frozen=True)
class Erased:
    """The person (every application of theirs), or only the applications named, was deleted or
    anonymized in the ATS: their personal data goes here too."""

    candidate_id: str | None = None
    application_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Merged:
    """Two ATS people are one: ``merged_id``'s applications now belong to ``kept_id``."""

    kept_id: str
    merged_id: str


AtsEvent = NewApplication | StageChanged | Rejected | Hired | Withdrawn | Erased | Merged


def parse_time(value, field: str) -> dt.datetime:
    """An ISO 8601 time (``Z`` or an offset) or epoch milliseconds, as UTC, within the dates the
    app takes (``timeutil.check_day``): Infinity, 1e30 or year 9999 is a payload error."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Compared as they are: an int past a float's range (10**400) is simply out of range.
        if not _EPOCH_MS_RANGE[0] <= value <= _EPOCH_MS_RANGE[1]:  # NaN compares false: refused too
            raise PayloadError(f"{field}: not a time within {FIRST_DAY.year} to {LAST_DAY.year}: {value!r}")
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{field}: missing time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        check_day(parsed)
    except ValueError as exc:
        raise PayloadError(f"{field}: not a time: {value[:40]!r} ({exc})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _epoch_ms(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000


#: Epoch milliseconds of the first and the last day the app takes.
_EPOCH_MS_RANGE = (_epoch_ms(FIRST_DAY), _epoch_ms(LAST_DAY))


def field(mapping, *path: str, required: bool = True):
    """``mapping[a][b]...``; PayloadError naming the path when a required one is missing."""
    value = mapping
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            if required:
                raise PayloadError(f"{'.'.join(path)}: missing")
            return None
    return value


def ident(mapping, *path: str) -> str:
    value = field(mapping, *path)
    if isinstance(value, bool) or not isinstance(value, str | int) or not _printable_id(value):
        raise PayloadError(f"{'.'.join(path)}: not an id")
    return str(value)


def _printable_id(value: str | int) -> bool:
    """An id is short printable text: no NUL, no control character, no half of a character."""
    text = str(value)
    return 0 < len(text) <= 255 and text.isprintable()


def idents(values, name: str) -> tuple[str, ...]:
    """A list of ids (none when the list is missing); PayloadError naming the list for one that is not."""
    if values is None:
        return ()
    if not isinstance(values, list) or any(
        isinstance(v, bool) or not isinstance(v, str | int) or not _printable_id(v) for v in values
    ):
        raise PayloadError(f"{name}: not a list of ids")
    return tuple(str(v) for v in values)


def first_time(mapping, *names: str, default: dt.datetime | None = None) -> dt.datetime:
    """The first of ``names`` (dotted paths) the mapping has as a time, else ``default`` (the time
    the delivery was received, for a vendor that dates nothing); PayloadError when neither."""
    for name in names:
        value = field(mapping, *name.split("."), required=False)
        if value is not None and value != "":
            return parse_time(value, name)
    if default is None:
        raise PayloadError(f"{names[0]}: missing time")
    return default
