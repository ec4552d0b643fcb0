"""The load benchmark's servers on the clock of the organisation they serve.

An organisation built once and kept (``benchmarks.scale_data``) was built for one time: its waits'
deadlines, follow-ups and autopilot updates are those of that moment. Served a day later on the
wall clock, overdue waits would have turned escalated and due-soon ones overdue, and the pages would
show another organisation than the one built. So the load benchmark serves such an organisation
with each gunicorn worker's clock (time.time, datetime.now: time_machine) set to the build time
plus the seconds since the run started, ticking: the app and the floor both see the build time as
the run's start. Timeouts and gunicorn's heartbeat read the monotonic clock, which is left alone.

    gunicorn 'benchmarks.load_clock:app()'     (LOAD_CLOCK_AT, LOAD_CLOCK_SINCE, FEEDBACK_SLA_*)
    gunicorn 'benchmarks.load_clock:floor()'   (LOAD_CLOCK_AT, LOAD_CLOCK_SINCE, FLOOR_*)
"""

from __future__ import annotations

import datetime as dt
import os
import time

import time_machine

#: The environment: the time the run's start stands for, and the run's start on the wall clock.
AT, SINCE = "LOAD_CLOCK_AT", "LOAD_CLOCK_SINCE"


def environment(at: dt.datetime, since: float) -> dict[str, str]:
    """What a server needs to see ``at`` when the wall clock shows ``since`` (time.time())."""
    return {AT: at.isoformat(), SINCE: repr(since)}


def _travel() -> None:
    at = dt.datetime.fromisoformat(os.environ[AT])
    elapsed = time.time() - float(os.environ[SINCE])
    time_machine.travel(at + dt.timedelta(seconds=elapsed), tick=True).start()
    time.time()  # time_machine's clock ticks from its first reading: every worker's from now


def app():
    _travel()
    from feedback_sla import create_app

    return create_app()


def floor():
    _travel()
    from benchmarks.load_floor import create_floor_app

    return create_floor_app()
