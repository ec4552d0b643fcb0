"""The export at a real size: rows stream from the database, so its memory does not grow with them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from feedback_sla.models import Candidate, Event, EventKind, Status, Wait, WaitReason

from .factories import PositionFactory, UserFactory

#: Far above the ids the other rows of a test get from their sequences.
FIRST_ID = 10_000_000
#: Every size's waits open over the same days, so what the export remembers per day is the same.
START = dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=60)
TIME_ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata")

#: Runs the real command, then prints the process's peak resident memory (Linux's VmHWM, in kB).
PROBE = """
import sys
from feedback_sla.cli import main
try:
    main()
finally:
    status = open("/proc/self/status").read().splitlines()
    print(next(line for line in status if line.startswith("VmHWM:")).split()[1], file=sys.stderr)
"""


def add_waits(session, count: int) -> None:
    """``count`` waits in bulk, two per candidate: an application answered by phone, then a
    decision answered by email, still open, or closed with no closing event."""
    manager = UserFactory()
    positions = [PositionFactory(manager=manager, time_zone=zone).id for zone in TIME_ZONES]
    session.commit()
    people, events, waits = [], [], []
    for c in range(count // 2):
        key, opened = FIRST_ID + c, START + SPAN * c / (count // 2)
        answered, decided = opened + dt.timedelta(days=2), opened + dt.timedelta(days=5)
        people.append(
            {
                "id": key,
                "name": f"Candidate {c}",
                "email": f"candidate{c}@example.com",
                "position_id": positions[c % len(positions)],
                "stage": "interview",
                "status": Status.ACTIVE,
                "created_at": opened,
            }
        )
        events.append(_event(2 * key, key, EventKind.CONTACT_LOGGED, answered, channel="phone"))
        waits.append(_wait(2 * key, key, WaitReason.APPLICATION, opened, answered, 2 * key))
        closing = None
        if c % 3 == 0:
            closing = 2 * key + 1
            events.append(_event(closing, key, EventKind.EMAIL_SENT, decided, data={"email_kind": "offer"}))
        closed = decided if c % 3 != 1 else None
        waits.append(_wait(2 * key + 1, key, WaitReason.DECISION, answered, closed, closing))
    with session.get_bind().begin() as conn:
        conn.execute(sa.insert(Candidate), people)
        conn.execute(sa.insert(Event), events)
        conn.execute(sa.insert(Wait), waits)


def _event(event_id, candidate_id, kind, at, channel=None, data=None) -> dict:
    return {
        "id": event_id,
        "candidate_id": candidate_id,
        "kind": kind,
        "channel": channel,
        "data": data or {},
        "occurred_at": at,
        "recorded_at": at,
    }


def _wait(wait_id, candidate_id, reason, opened, closed, closing) -> dict:
    due = opened + dt.timedelta(days=7)
    return {
        "id": wait_id,
        "candidate_id": candidate_id,
        "reason": reason,
        "opened_at": opened,
        "warn_at": due - dt.timedelta(days=1),
        "due_at": due,
        "escalate_at": opened + dt.timedelta(days=14),
        "policy_days": 5,
        "follow_ups": 0,
        "closed_at": closed,
        "closed_by_event_id": closing,
    }


def export_peak_kb(app, tmp_path, count: int) -> int:
    """The command's peak memory exporting the ``count`` waits there are, checking it wrote them."""
    env = {
        **os.environ,
        "FEEDBACK_SLA_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    output = tmp_path / f"waits-{count}.csv"
    args = ["export", "response-times", "--jobs", "1", "--output", str(output)]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    with output.open(encoding="utf-8") as written:
        assert sum(1 for _ in written) == count + 1
    return int(result.stderr.split()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_exporting_many_more_waits_takes_no_more_memory(app, session, tmp_path):
    """Four times the waits, over the same days (and both several times what the database hands
    over at once): the peak stays within a few megabytes."""
    add_waits(session, 10_000)
    few = export_peak_kb(app, tmp_path, 10_000)
    session.execute(sa.delete(Wait))
    session.execute(sa.delete(Event))
    session.execute(sa.delete(Candidate))
    session.commit()
    add_waits(session, 40_000)

    many = export_peak_kb(app, tmp_path, 40_000)

    assert many - few < 6 * 1024, (few, many)
