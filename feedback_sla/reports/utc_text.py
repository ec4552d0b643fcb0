"""Timestamps read as UTC text and shown as local ISO 8601 text, at export speed.

An export formats millions of timestamps. Letting the column type build an aware datetime for each,
then converting it to a zone and formatting it, costs several microseconds a value. Here the
database hands over the UTC instant as text (``2026-11-23 15:00:00.000000``: how SQLite stores it,
and what PostgreSQL's ``to_char`` writes), and the local form is the local hour, worked out once per
UTC hour and zone, followed by the minutes and seconds of the text (shifted for zones half or a
quarter of an hour off). Hours that contain an offset change take the exact, slower path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Numeric, String, cast, func, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from feedback_sla.timeutil import UTC

ONE_DAY = dt.timedelta(days=1)
ONE_HOUR = dt.timedelta(hours=1)
ONE_MINUTE = dt.timedelta(minutes=1)
ONE_MICROSECOND = dt.timedelta(microseconds=1)
_MISSING = object()


def utc_text(column, dialect: str, *, iso_date_style: bool = False) -> ColumnElement[str]:
    """A timestamp column as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``.

    On PostgreSQL, ``iso_date_style`` says the statement runs with DateStyle ISO (see
    ``use_iso_date_style``): then the timestamp is cast to text, a third of ``to_char``'s cost, which
    leaves out the fraction's trailing zeros (``2026-11-23 15:00:00``, ``... 15:00:00.5``).
    """
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        if iso_date_style:
            return cast(utc, String)
        return func.to_char(utc, "YYYY-MM-DD HH24:MI:SS.US")
    return type_coerce(column, String)  # SQLite stores exactly this text


def use_iso_date_style(connection: Connection) -> None:
    """PostgreSQL writes a timestamp cast to text in the style its DateStyle setting names: ISO
    (``2026-11-23 15:00:00``) until this connection's transaction ends, whatever the server's."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL DateStyle = ISO")


def date_text(column, dialect: str) -> ColumnElement[str]:
    """A date column as ``YYYY-MM-DD``."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return type_coerce(column, String)


def hours_between(start, end, dialect: str) -> ColumnElement[float]:
    """Hours elapsed from one timestamp to another to two decimals, computed by the database."""
    if dialect == "postgresql":
        return cast(func.round(cast(func.extract("epoch", end - start) / 3600, Numeric), 2), Float)
    return func.round((func.julianday(end) - func.julianday(start)) * 24, 2)


def text_of(instant: dt.datetime) -> str:
    """The UTC text of an aware datetime, as ``utc_text`` reads it from the database."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def instant(text: str) -> dt.datetime:
    """A naive UTC datetime from UTC text."""
    return dt.datetime.fromisoformat(text)


#: ":00" to ":59", for local minutes shifted by a zone's half or quarter hour.
_MINUTES = tuple(f":{m:02d}" for m in range(60))
_UTC_HOURS = tuple(f" {h:02d}" for h in range(24))
#: For a day whose UTC midnight is local hour ``h``: each of its 25 hours from then on, as which of
#: three local dates it falls on and its ``THH`` (so a day's entries are filled without arithmetic).
_LOCAL_DAY = tuple(tuple((i // 24, f"T{i % 24:02d}") for i in range(h, h + 25)) for h in range(24))

#: An entry of ``LocalClock.hours``: see the class.
Entry = tuple[str, str, int, str, object, object]


class LocalClock:
    """Local ISO 8601 text (seconds, with offset) for UTC text, in one zone.

    Remembers one entry per UTC hour, filled a whole UTC day at a time (exports are sparse: a
    few waits an hour). ``limit`` bounds that memory (about 3 MB for a year of hours): beyond it
    everything is forgotten at once. Exports read waits in the order they opened, so the hours in
    use are the recent ones, and they come back in one fill per day.

    Given ``day_number`` (a function of a local date written ``YYYY-MM-DD``, such as
    ``BusinessDays.number``), ``local`` also answers the number of the local day.

    An entry, ``hours[text[:13]]``, holds the local ``YYYY-MM-DDTHH`` at the start of the UTC hour
    and one hour later, the minutes local time is ahead of the hour (30 in India), the offset text,
    and the day numbers of the local dates at the start of the hour and one hour later; None when
    the offset changes within the hour or has seconds (some historical times). With no minutes
    ahead, the local text of any instant in the hour is ``entry[0] + text[13:19] + entry[3]`` and
    its day ``entry[4]``.
    """

    def __init__(self, tz: ZoneInfo, day_number: Callable[[str], object] = str, limit: int = 24 * 366):
        self.tz = tz
        self.day_number = day_number
        self.limit = limit
        self.hours: dict[str, Entry | None] = {}

    def iso(self, text: str) -> str:
        return self.local(text)[0]

    def local(self, text: str) -> tuple[str, object]:
        """The local text of ``text`` and the number of its local day."""
        hour = self.hours.get(text[:13], _MISSING)
        if hour is _MISSING:
            hour = self._fill(text[:13])
        if hour is None:
            local = instant(text).replace(tzinfo=UTC).astimezone(self.tz).isoformat(timespec="seconds")
            return local, self.day_number(local[:10])
        shift = hour[2]
        if not shift:
            return hour[0] + text[13:19] + hour[3], hour[4]
        minute = int(text[14:16]) + shift
        if minute < 60:
            return hour[0] + _MINUTES[minute] + text[16:19] + hour[3], hour[4]
        return hour[1] + _MINUTES[minute - 60] + text[16:19] + hour[3], hour[5]

    def _fill(self, key: str) -> Entry | None:
        """Remember the 24 hours of ``key``'s UTC day; the entry for ``key`` (``YYYY-MM-DD HH``)."""
        if len(self.hours) >= self.limit - 24:
            self.hours.clear()
        day = key[:10]
        start = dt.datetime.fromisoformat(day).replace(tzinfo=UTC)
        first = start.astimezone(self.tz)
        offset = first.utcoffset()
        # Offset changes come weeks apart at least: looking every six hours finds any in the day.
        offsets = {(start + ONE_HOUR * h).astimezone(self.tz).utcoffset() for h in (6, 12, 18)}
        offsets.add((start + ONE_DAY - ONE_MICROSECOND).astimezone(self.tz).utcoffset())
        if offsets == {offset} and not offset % ONE_MINUTE:
            # The usual day: one offset throughout; its 25 local hours from a table (isoformat and
            # date arithmetic per hour are slow), the entries made by zip.
            local = first.replace(tzinfo=None).date()
            dates = [(local + ONE_DAY * i).isoformat() for i in range(3)]
            numbers = [self.day_number(date) for date in dates]
            hours = _LOCAL_DAY[first.hour]
            texts = [dates[i] + hour for i, hour in hours]
            days = [numbers[i] for i, _ in hours]
            offset_text = first.isoformat(timespec="seconds")[19:]
            shifts, offsets_text = [first.minute] * 24, [offset_text] * 24
            entries = zip(texts[:-1], texts[1:], shifts, offsets_text, days[:-1], days[1:], strict=True)
            self.hours.update(zip([day + hour for hour in _UTC_HOURS], entries, strict=True))
        else:
            for h in range(24):
                self.hours[day + _UTC_HOURS[h]] = self._hour(start + ONE_HOUR * h)
        if key not in self.hours:  # not written the way SQLite and to_char write it
            self.hours[key] = self._hour(dt.datetime.fromisoformat(key + ":00").replace(tzinfo=UTC))
        return self.hours[key]

    def _hour(self, start: dt.datetime) -> Entry | None:
        offset = start.astimezone(self.tz).utcoffset()
        if offset != (start + ONE_HOUR - ONE_MICROSECOND).astimezone(self.tz).utcoffset() or (
            offset % ONE_MINUTE
        ):
            return None
        local = start.astimezone(self.tz)
        text = local.isoformat(timespec="seconds")
        next_hour = (local.replace(tzinfo=None) + ONE_HOUR).isoformat(timespec="seconds")
        numbers = self.day_number(text[:10]), self.day_number(next_hour[:10])
        return (text[:13], next_hour[:13], local.minute, text[19:], *numbers)
