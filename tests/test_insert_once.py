"""``database.insert_once``: the one "insert unless the key exists", on SQLite and PostgreSQL."""

import datetime as dt
import threading
import time

import sqlalchemy as sa

from feedback_sla.database import db, insert_once
from feedback_sla.inbound.models import InboundMessage

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def _values(fingerprint: str, **changes) -> dict:
    values = {
        "received_at": T0,
        "source": "stdin",
        "fingerprint": fingerprint,
        "sender": "someone@example.org",
        "subject": "Re: your application",
        "kind": "reply",
        "outcome": "",
        "size": 10,
    }
    return {**values, **changes}


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(InboundMessage))


def test_the_first_insert_gets_the_row_and_the_second_none(session):
    first = insert_once(session, InboundMessage, _values("a" * 64), conflict=["fingerprint"])
    assert isinstance(first, InboundMessage) and first.id is not None
    assert insert_once(session, InboundMessage, _values("a" * 64, size=99), conflict=["fingerprint"]) is None
    session.commit()
    assert _count(session) == 1 and session.get(InboundMessage, first.id).size == 10


def test_without_a_target_any_unique_key_counts_and_the_transaction_goes_on(session):
    insert_once(session, InboundMessage, _values("b" * 64, message_id="<m1@example.org>"))
    assert insert_once(session, InboundMessage, _values("c" * 64, message_id="<m1@example.org>")) is None
    assert insert_once(session, InboundMessage, _values("c" * 64)) is not None
    session.commit()
    assert _count(session) == 2


def _insert_in_thread(app, barrier, results, hold: float):
    with app.app_context():
        try:
            barrier.wait(timeout=10)
            row = insert_once(db.session, InboundMessage, _values("d" * 64), conflict=["fingerprint"])
            results.append(row.id if row is not None else None)
            time.sleep(hold)  # the winner keeps its transaction open while the other one waits
            db.session.commit()
        except Exception as exc:  # reported to the test below
            db.session.rollback()
            results.append(exc)
        finally:
            db.session.remove()


def test_two_connections_inserting_the_same_key_at_once_make_one_row_and_both_know_who_won(app, session):
    barrier = threading.Barrier(2)
    results: list = []
    threads = [
        threading.Thread(target=_insert_in_thread, args=(app, barrier, results, hold)) for hold in (0.3, 0.3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2 and not any(isinstance(r, Exception) for r in results), results
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and results.count(None) == 1, results
    session.expire_all()
    assert _count(session) == 1
    [row] = session.scalars(sa.select(InboundMessage))
    assert row.id == winners[0]
