"""On PostgreSQL a session reads outside a transaction until its first write (see
``feedback_sla.database``): what it writes is still all or nothing, and what locks rows still
locks them until the end."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db

from .conftest import TEST_DATABASE_URL
from .factories import CandidateFactory

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's transactions only")

IDLE, IN_TRANSACTION = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS


def server_status(session) -> psycopg.pq.TransactionStatus:
    return session.connection().connection.dbapi_connection.info.transaction_status


def test_reads_leave_no_transaction_open(session):
    CandidateFactory(name="Ana Okafor")
    session.commit()

    assert session.scalar(sa.select(Candidate.name)) == "Ana Okafor"

    assert server_status(session) == IDLE


def test_a_write_after_reads_is_undone_by_a_rollback(session):
    candidate = CandidateFactory(name="Ana Okafor")
    session.commit()
    session.scalar(sa.select(Candidate.name))

    session.execute(sa.update(Candidate).where(Candidate.id == candidate.id).values(name="Zoë Brandt"))
    assert server_status(session) == IN_TRANSACTION
    session.rollback()

    assert session.scalar(sa.select(Candidate.name).where(Candidate.id == candidate.id)) == "Ana Okafor"


def test_a_locking_read_holds_its_lock_until_the_end(session, app):
    candidate = CandidateFactory(name="Ana Okafor")
    session.commit()

    session.execute(sa.select(Candidate).where(Candidate.id == candidate.id).with_for_update())
    assert server_status(session) == IN_TRANSACTION
    with db.engine.connect() as other:
        other.execute(sa.text("SET lock_timeout = '200ms'"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            other.execute(sa.text("SELECT 1 FROM candidates WHERE id = :id FOR UPDATE"), {"id": candidate.id})
    session.rollback()


def test_a_connection_goes_back_to_the_pool_with_transactions_on(session):
    session.scalar(sa.select(sa.func.count()).select_from(Candidate))
    dbapi_connection = session.connection().connection.dbapi_connection
    session.close()

    assert dbapi_connection.autocommit is False
