"""A deadline in words: "due tomorrow", "2 business days overdue"."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext, ngettext

from feedback_sla.timeutil import as_utc, local_time_in, zone
from feedback_sla.waits import clock
from feedback_sla.waits.clock import OrgSettings


def due_phrase(due_at: dt.datetime, now: dt.datetime, time_zone: str, settings: OrgSettings) -> str:
    """'due today', 'due tomorrow', 'due in 3 business days', '2 business days overdue'."""
    tz = zone(time_zone)
    today = as_utc(now).astimezone(tz).date()
    due_day = as_utc(due_at).astimezone(tz).date()
    if now < due_at:
        if due_day == today:
            return gettext("due today")
        if due_day == today + dt.timedelta(days=1):
            return gettext("due tomorrow")
        days = clock.business_days_between(today, due_day, settings.holiday_calendar)
        return ngettext("due in %(num)d business day", "due in %(num)d business days", days)
    late = clock.business_days_between(due_day, today, settings.holiday_calendar)
    if late == 0:
        return gettext("overdue since today")
    return ngettext("%(num)d business day overdue", "%(num)d business days overdue", late)


class DueWords:
    """A deadline in words ("due tomorrow") and as a date in the viewer's zone, worded once per date.

    Deadlines fall at the end of a business day, so the rows of a page share a few dozen of them.
    """

    def __init__(self, now: dt.datetime, settings: OrgSettings, viewer_zone: str):
        self.now, self.settings, self.viewer_zone = now, settings, viewer_zone
        self._phrases: dict[tuple[dt.datetime, str], str] = {}
        self._titles: dict[dt.datetime, str] = {}

    def phrase(self, due_at: dt.datetime, time_zone: str) -> str:
        key = (due_at, time_zone)
        found = self._phrases.get(key)
        if found is None:
            found = self._phrases[key] = due_phrase(due_at, self.now, time_zone, self.settings)
        return found

    def title(self, due_at: dt.datetime) -> str:
        found = self._titles.get(due_at)
        if found is None:
            found = self._titles[due_at] = local_time_in(due_at, self.viewer_zone)
        return found
