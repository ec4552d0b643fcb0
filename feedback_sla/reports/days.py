"""Business days between local dates, remembered: a report meets the same few pairs again and again."""

from __future__ import annotations

import datetime as dt

from .. import clock


class BusinessDays:
    """``clock.business_days_between`` for dates written ``YYYY-MM-DD``, with a bounded memory."""

    #: Distinct (start, end) pairs remembered; forgotten all at once beyond this, so memory stays flat.
    LIMIT = 100_000

    def __init__(self, calendar: str):
        self.calendar = calendar
        self.known: dict[tuple[str, str], int] = {}

    def __call__(self, key: tuple[str, str]) -> int:
        days = self.known.get(key)
        if days is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            start, end = key
            days = self.known[key] = clock.business_days_between(
                dt.date.fromisoformat(start), dt.date.fromisoformat(end), self.calendar
            )
        return days
