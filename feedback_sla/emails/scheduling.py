"""Send later: an email sent at a time the manager chose rather than after the undo window.

A time is chosen as the candidate reads a clock: in their own time zone when it is known, else in
their position's. Until then the email stays queued (its ``send_after``): undone, cancelled by a
contradicting change, or sent by the worker once it is due, like any queued email.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from feedback_sla.candidates.models import Candidate
from feedback_sla.emails.errors import EmailError
from feedback_sla.timeutil import UTC, as_utc, zone

#: The furthest ahead an email may be scheduled.
MAX_AHEAD = dt.timedelta(days=30)
#: "Tomorrow morning": the hour offered first.
MORNING = dt.time(9, 0)


def zone_of(candidate: Candidate) -> str:
    """The time zone a candidate's send time is chosen and shown in."""
    return candidate.time_zone or candidate.position.time_zone


def whose(candidate_zone: str | None, chosen_zone: str) -> str:
    """Whose clock a send time was chosen on, in words."""
    return "candidate's time" if candidate_zone and candidate_zone == chosen_zone else "position's time"


@dataclass(frozen=True)
class SendAt:
    """A chosen send time: ``at``, a wall-clock time in each candidate's zone (naive) or an instant
    (aware); or ``tomorrow``, a time of the day after today in each candidate's zone."""

    at: dt.datetime | None = None
    tomorrow: dt.time | None = None

    def instant(self, time_zone: str, now: dt.datetime) -> dt.datetime:
        """The moment it means for a candidate in ``time_zone`` (a time a change of clocks skips
        is taken with the offset before the change, so it falls just after it)."""
        if self.tomorrow is not None:
            day = as_utc(now).astimezone(zone(time_zone)).date() + dt.timedelta(days=1)
            local = dt.datetime.combine(day, self.tomorrow)
        elif self.at is not None:
            local = self.at
        else:
            raise EmailError("send at: choose a date and time")
        try:
            if local.tzinfo is not None:
                return local.astimezone(UTC)
            return local.replace(tzinfo=zone(time_zone)).astimezone(UTC)
        except OverflowError:  # the last day a datetime holds, read in a zone behind UTC
            raise EmailError(
                f"send at: {local:%Y-%m-%d %H:%M} is more than {MAX_AHEAD.days} days ahead"
            ) from None


def parse(text: str) -> SendAt:
    """A send time as a command or a form writes it: ``2026-12-08 09:00`` (the candidate's local
    time) or with an offset (``2026-12-08T09:00+01:00``); ValueError naming what is wrong."""
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time such as 2026-12-08 09:00") from None
    return SendAt(at=value.replace(second=0, microsecond=0))


def check(instant: dt.datetime, now: dt.datetime, time_zone: str) -> dt.datetime:
    """``instant`` when it lies after ``now`` and at most ``MAX_AHEAD`` from it; EmailError naming
    the field, with the time as the candidate reads it, otherwise."""
    local = as_utc(instant).astimezone(zone(time_zone))
    words = f"{local:%Y-%m-%d %H:%M} ({time_zone})"
    if instant <= now:
        raise EmailError(f"send at: {words} has passed; choose a later time")
    if instant > now + MAX_AHEAD:
        raise EmailError(f"send at: {words} is more than {MAX_AHEAD.days} days ahead")
    return instant


@dataclass(frozen=True)
class Scheduled:
    """When a candidate's email goes (``send_after``) and the zone it was chosen in."""

    send_after: dt.datetime
    time_zone: str


def schedule(send_at: SendAt, candidate: Candidate, now: dt.datetime) -> Scheduled:
    """The checked send time for this candidate."""
    time_zone = zone_of(candidate)
    return Scheduled(check(send_at.instant(time_zone, now), now, time_zone), time_zone)


def describe(instant: dt.datetime, time_zone: str, candidate_zone: str | None) -> str:
    """A send time as pages write it: "Tue 8 Dec 09:00 (candidate's time)"."""
    local = as_utc(instant).astimezone(zone(time_zone))
    return f"{local:%a} {local.day} {local:%b %H:%M} ({whose(candidate_zone, time_zone)})"
