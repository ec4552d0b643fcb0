"""One answer to many candidates at once (``waits.bulk``): each email its candidate's own, one Undo
for the batch, ineligible rows skipped and named, never half sent."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import bulk, erasure
from feedback_sla.waits import service as waits_service
from feedback_sla.worker import run_worker

from .bulk_support import NAMES, manager_with_position, waiting_candidates
from .emails_support import ORG, T0
from .factories import PositionFactory, UserFactory

T1 = T0 + dt.timedelta(minutes=5)  # past the undo window


@pytest.fixture
def config(app, session):
    return settings_service.email_config(session, EmailConfig.from_app(app))


def answer(session, config, ids, kind=EmailKind.REJECTION, *, at=T0, key="k1", manager_id=None, **kw):
    confirm = {k: kw.pop(k) for k in ("confirm_above", "typed") if k in kw}
    done = bulk.answer_many(
        session,
        ids,
        bulk.Answer(kind, **kw),
        config,
        ORG,
        at,
        key=key,
        actor=None,
        manager_id=manager_id,
        **confirm,
    )
    session.commit()
    return done


def messages(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_thirty_accented_candidates_are_rejected_at_once_each_by_name_and_one_undo_cancels_all(
    app, session, config, tmp_path
):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, at=T0)
    done = answer(session, config, [p.id for p in people], feedback="Thank you for your time.")

    assert done.skipped == [] and len(done.queued) == 30 and done.batch_id
    sent = messages(session)
    assert [m.to_name for m in sent] == list(NAMES)
    for message, name in zip(sent, NAMES, strict=True):
        first = name.split()[0]
        assert first in message.text_body and first in message.html_body
        assert all(other.split()[0] not in message.text_body for other in NAMES if other.split()[0] != first)
        assert message.batch_id == done.batch_id and message.status == OutboxStatus.PENDING
    assert {c.status for c in session.scalars(sa.select(Candidate))} == {Status.REJECTED}
    queued_events = session.scalars(sa.select(Event).where(Event.kind == EventKind.EMAIL_QUEUED)).all()
    assert len(queued_events) == 30

    undone = bulk.undo_batch(session, done.batch_id, T0 + dt.timedelta(seconds=30), None, manager_id=None)
    session.commit()
    assert len(undone.undone) == 30 and undone.not_undone == []
    assert {m.status for m in messages(session)} == {OutboxStatus.CANCELLED}
    assert {c.status for c in session.scalars(sa.select(Candidate))} == {Status.ACTIVE}
    app.config.update(MAIL_BACKEND="file", OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    assert run_worker(app, once=True, clock=lambda: T1).sent == 0


def test_each_sent_email_carries_its_own_candidates_name(app, session, config, tmp_path):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:5], at=T0)
    answer(session, config, [p.id for p in people])
    app.config.update(MAIL_BACKEND="file", OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    assert run_worker(app, once=True, clock=lambda: T1).sent == 5

    written = {}
    for path in (tmp_path / "mail").iterdir():
        parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        written[parsed["To"].addresses[0].display_name] = parsed.get_body(("plain",)).get_content()
    assert sorted(written) == sorted(NAMES[:5])
    for name, body in written.items():
        assert name.split()[0] in body


def test_updates_promise_each_candidate_their_own_date(session, config):
    _, position = manager_with_position(session)
    promised, plain = waiting_candidates(session, position, NAMES[:2], at=T0)
    waits_service.set_promise(session, promised, dt.date(2026, 12, 10), T0, ORG)
    session.commit()
    done = answer(session, config, [promised.id, plain.id], EmailKind.UPDATE)

    dates = {c.name: m.promised_date for c, m in done.queued}
    assert dates == {NAMES[0]: dt.date(2026, 12, 10), NAMES[1]: dt.date(2026, 11, 25)}
    for _, message in done.queued:
        assert message.promised_date.strftime("%d %B") in message.text_body


def test_one_ineligible_row_is_skipped_and_named_and_the_others_are_queued(session, config):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:6], at=T0)
    erasure.erase(session, people[1], T0, erasure.Request("admin", "asked by the candidate"))
    session.commit()
    other = PositionFactory(manager=UserFactory(), title="Designer")
    stranger = waiting_candidates(session, other, ["Ana Stranger"], at=T0, prefix="s")[0]
    answer(session, config, [people[2].id], EmailKind.UPDATE, key="earlier")  # an update on its way
    people[3].email_undeliverable_at = T0
    session.commit()

    done = answer(
        session,
        config,
        [p.id for p in people] + [stranger.id, 999_999],
        EmailKind.UPDATE,
        key="k2",
        manager_id=manager.id,
    )
    skipped = {s.candidate_id: s.reason for s in done.skipped}
    assert skipped[people[2].id] == bulk.SkipReason.ON_ITS_WAY
    assert skipped[people[3].id] == bulk.SkipReason.UNDELIVERABLE
    assert skipped[stranger.id] == skipped[999_999] == bulk.SkipReason.NOT_FOUND
    assert [s.name for s in done.skipped if s.candidate_id == stranger.id] == [None]
    assert skipped[people[1].id] == bulk.SkipReason.ERASED
    assert {c.id for c, _ in done.queued} == {people[0].id, people[4].id, people[5].id}
    words = bulk.skip_text(next(s for s in done.skipped if s.candidate_id == people[2].id), EmailKind.UPDATE)
    assert words == "a status update is already on its way to them"


def test_a_rejected_candidate_is_skipped_with_their_status(session, config):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3], at=T0)
    answer(session, config, [people[0].id], key="first")
    done = answer(session, config, [p.id for p in people], key="second")
    (skipped,) = done.skipped
    assert skipped.name == NAMES[0] and skipped.reason == bulk.SkipReason.STATUS
    assert bulk.skip_text(skipped, EmailKind.REJECTION) == "they are rejected, so they cannot get a rejection"
    assert len(done.queued) == 2


def test_the_same_request_twice_queues_once_and_answers_with_its_batch(session, config):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:4], at=T0)
    first = answer(session, config, [p.id for p in people])
    again = answer(session, config, [p.id for p in people])
    assert again.batch_id == first.batch_id and again.skipped == []
    assert len(messages(session)) == 4
    # Repeated with one more candidate, the request still queues nothing new: one batch, one Undo.
    late = waiting_candidates(session, position, ["Zoë Late"], at=T0, prefix="late")[0]
    widened = answer(session, config, [p.id for p in people] + [late.id])
    assert widened.batch_id == first.batch_id and len(widened.queued) == 4
    assert [(s.candidate_id, s.reason) for s in widened.skipped] == [(late.id, bulk.SkipReason.REPEATED)]
    assert len(messages(session)) == 4


def test_above_the_threshold_the_number_must_be_typed(session, config):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:4], at=T0)
    ids = [p.id for p in people]
    with pytest.raises(bulk.ConfirmationNeeded, match="type 4, the number of candidates"):
        answer(session, config, ids, confirm_above=3)
    session.rollback()
    with pytest.raises(bulk.ConfirmationNeeded, match="you typed 40, but 4 candidates"):
        answer(session, config, ids, confirm_above=3, typed=40)
    session.rollback()
    assert messages(session) == []
    assert len(answer(session, config, ids[:3], EmailKind.NEXT_STEP, key="k5", confirm_above=3).queued) == 3
    assert len(answer(session, config, ids, confirm_above=3, typed=4).queued) == 4


def test_a_manager_cannot_undo_another_managers_batch(session, config):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:2], at=T0)
    done = answer(session, config, [p.id for p in people])
    with pytest.raises(bulk.NoSuchBatch):
        bulk.undo_batch(session, done.batch_id, T0, None, manager_id=UserFactory().id)


def test_an_email_past_its_window_is_reported_and_the_others_are_undone(session, config):
    _, position = manager_with_position(session)
    people = waiting_candidates(session, position, NAMES[:3], at=T0)
    done = answer(session, config, [p.id for p in people])
    late = session.get(OutboxMessage, done.queued[0][1].id)
    late.send_after = T0  # its window is over: the worker may be sending it
    session.commit()

    undone = bulk.undo_batch(session, done.batch_id, T0 + dt.timedelta(seconds=1), None, manager_id=None)
    session.commit()
    assert len(undone.undone) == 2
    [(message, reason)] = undone.not_undone
    assert message.id == late.id and reason.startswith("too late to undo")


def test_an_unknown_kind_or_too_many_candidates_are_refused_naming_the_field(session, config):
    with pytest.raises(DomainError, match="^kind: one of update, rejection, next_step"):
        answer(session, config, [1], EmailKind.OFFER)
    with pytest.raises(DomainError, match="^candidates: at most 1000"):
        answer(session, config, list(range(1, 1002)))
