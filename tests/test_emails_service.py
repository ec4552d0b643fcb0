import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import current_app

from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.database import db
from feedback_sla.emails import checks, queries
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.headers import HeaderError
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.waits import answers, emailing, promises
from feedback_sla.waits import service as waits
from feedback_sla.worker import run_worker

from .emails_support import ORG, T0, email_config, make_candidate, unfinished_by_candidate


def queue(session, candidate, kind, *, at=T0, key=None, config=None, **kwargs):
    if "reasons" in kwargs:
        kwargs["reasons"] = tuple(kwargs["reasons"])
    request = EmailRequest(
        candidate, kind, key or checks.new_idempotency_key(), at, candidate.position.manager, **kwargs
    )
    return answers.queue_email(session, request, config or email_config(current_app), ORG)


def events(session, candidate, kind=None):
    query = sa.select(Event).where(Event.candidate_id == candidate.id).order_by(Event.occurred_at, Event.id)
    rows = list(session.scalars(query))
    return [e for e in rows if kind is None or e.kind == kind]


def count(session, model=OutboxMessage):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_rejection_is_queued_with_its_status_change_and_timeline_event_and_the_wait_stays_open(session):
    candidate = make_candidate(session, name="Jane Doe")
    message = queue(
        session, candidate, "rejection", feedback="Strong code; we chose more on-call experience."
    )
    session.commit()

    assert candidate.status == Status.REJECTED
    assert session.scalar(sa.select(Candidate.status).where(Candidate.id == candidate.id)) == Status.REJECTED
    assert message.status == OutboxStatus.PENDING
    assert message.send_after == T0 + dt.timedelta(seconds=60) == message.next_attempt_at
    assert message.previous_status == "active"
    assert message.to_address == candidate.email and message.to_name == "Jane Doe"
    assert message.reply_to_address == candidate.position.manager.email
    assert message.message_id.startswith("<") and message.message_id.endswith("@example.com>")
    assert message.subject == "Your application for Backend Engineer at Example Company"
    assert "Dear Jane," in message.text_body and "we chose more on-call experience" in message.html_body
    queued = events(session, candidate, EventKind.EMAIL_QUEUED)
    assert len(queued) == 1
    assert queued[0].data["outbox_id"] == message.id
    assert queued[0].data["status"] == {"from": "active", "to": "rejected"}
    assert waits.open_wait_of(session, candidate) is not None


def test_nothing_is_saved_when_a_later_write_of_the_same_action_fails(session):
    candidate = make_candidate(session)
    # Someone else withdraws the candidate after this page loaded them as active.
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(Candidate.__table__).where(Candidate.id == candidate.id).values(status="withdrawn")
        )
    with pytest.raises(EmailError, match="was changed by someone else meanwhile"):
        queue(session, candidate, "rejection")
    session.rollback()
    assert count(session) == 0
    assert events(session, candidate, EventKind.EMAIL_QUEUED) == []
    assert session.get(Candidate, candidate.id).status == Status.WITHDRAWN


def test_the_same_key_twice_gives_one_row_and_changes_nothing_more(session):
    candidate = make_candidate(session)
    first = queue(session, candidate, "rejection", key="click-1")
    session.commit()
    second = queue(session, candidate, "rejection", key="click-1")
    session.commit()
    assert second.id == first.id
    assert count(session) == 1
    assert len(events(session, candidate, EventKind.EMAIL_QUEUED)) == 1

    other = make_candidate(session, name="Other Person")
    with pytest.raises(EmailError, match="idempotency key: already used for another email"):
        queue(session, other, "rejection", key="click-1")
    session.rollback()
    assert other.status == Status.ACTIVE


def _queue_in_thread(app, candidate_id, key, barrier, results):
    with app.app_context():
        try:
            candidate = db.session.get(Candidate, candidate_id)
            barrier.wait(timeout=10)
            message = queue(db.session, candidate, "rejection", key=key)
            db.session.commit()
            results.append(message.id)
        except Exception as exc:  # reported to the test below
            db.session.rollback()
            results.append(exc)
        finally:
            db.session.remove()


def test_two_concurrent_posts_with_the_same_key_give_one_row_and_one_message(app, session):
    candidate = make_candidate(session)
    barrier = threading.Barrier(2)
    results: list = []
    threads = [
        threading.Thread(target=_queue_in_thread, args=(app, candidate.id, "double-post", barrier, results))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2 and all(isinstance(r, int) for r in results), results
    assert results[0] == results[1]
    session.expire_all()
    assert count(session) == 1
    assert len(events(session, candidate, EventKind.EMAIL_QUEUED)) == 1

    report = run_worker(app, once=True, clock=lambda: T0 + dt.timedelta(minutes=5))
    assert report.sent == 1


def test_undo_inside_the_window_cancels_and_restores_and_nothing_is_ever_sent(app, session, tmp_path):
    app.config["OUTBOX_MAIL_DIR"] = str(tmp_path / "mail")
    candidate = make_candidate(session)
    message = queue(session, candidate, "rejection")
    session.commit()

    answers.undo_email(session, message, T0 + dt.timedelta(seconds=59), candidate.position.manager)
    session.commit()
    assert message.status == OutboxStatus.CANCELLED and message.cancelled_at == T0 + dt.timedelta(seconds=59)
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE
    cancelled = events(session, candidate, EventKind.EMAIL_CANCELLED)
    assert [e.body for e in cancelled] == ["Undone before sending"]
    assert cancelled[0].data["status_restored"] == "active"

    report = run_worker(app, once=True, clock=lambda: T0 + dt.timedelta(hours=2))
    assert report.sent == 0
    assert not (tmp_path / "mail").exists() or list((tmp_path / "mail").iterdir()) == []
    assert waits.open_wait_of(session, candidate) is not None
    with pytest.raises(EmailError, match="already cancelled"):
        answers.undo_email(session, message, T0 + dt.timedelta(seconds=61))


def test_undo_after_the_send_time_is_refused(session):
    candidate = make_candidate(session)
    message = queue(session, candidate, "rejection")
    session.commit()
    with pytest.raises(EmailError, match="too late to undo"):
        answers.undo_email(session, message, T0 + dt.timedelta(seconds=60))
    session.rollback()
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.PENDING
    assert session.get(Candidate, candidate.id).status == Status.REJECTED


def test_with_no_undo_window_the_email_is_due_at_once_and_cannot_be_undone(app, session):
    app.config["OUTBOX_UNDO_SECONDS"] = 0
    candidate = make_candidate(session)
    message = queue(session, candidate, "next_step")
    session.commit()
    assert message.send_after == T0
    with pytest.raises(EmailError, match="too late to undo"):
        answers.undo_email(session, message, T0)


def test_moving_a_candidate_back_to_interview_cancels_a_queued_rejection(session):
    candidate = make_candidate(session, name="Jane Doe")
    message = queue(session, candidate, "rejection")
    session.commit()

    waits.move_stage(
        session, candidate, "interview", T0 + dt.timedelta(seconds=20), candidate.position.manager
    )
    session.commit()
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.CANCELLED
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE
    [cancelled] = events(session, candidate, EventKind.EMAIL_CANCELLED)
    assert cancelled.body == "Cancelled: Jane Doe was moved to interview after the rejection was queued"
    assert cancelled.occurred_at == T0 + dt.timedelta(seconds=20)


def test_a_stage_move_cancels_a_queued_offer_unless_it_is_to_the_offer_stage(session):
    candidate = make_candidate(session)
    offer = queue(session, candidate, "offer")
    waits.move_stage(session, candidate, "offer", T0, None)
    session.commit()
    assert offer.status == OutboxStatus.PENDING
    waits.move_stage(session, candidate, "interview", T0, None)
    session.commit()
    assert session.get(OutboxMessage, offer.id).status == OutboxStatus.CANCELLED
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_an_offer_queued_after_a_queued_rejection_cancels_it_and_vice_versa(session):
    candidate = make_candidate(session, name="Jane Doe")
    rejection = queue(session, candidate, "rejection")
    session.commit()
    offer = queue(session, candidate, "offer", at=T0 + dt.timedelta(seconds=10))
    session.commit()
    assert session.get(OutboxMessage, rejection.id).status == OutboxStatus.CANCELLED
    assert rejection.cancel_reason == "Cancelled: an offer was queued after this rejection"
    assert candidate.status == Status.OFFERED
    assert offer.previous_status == "active"

    rejection_again = queue(session, candidate, "rejection", at=T0 + dt.timedelta(seconds=20))
    session.commit()
    assert session.get(OutboxMessage, offer.id).status == OutboxStatus.CANCELLED
    assert candidate.status == Status.REJECTED
    assert rejection_again.previous_status == "active"
    bodies = [e.body for e in events(session, candidate, EventKind.EMAIL_CANCELLED)]
    assert bodies == [
        "Cancelled: an offer was queued after this rejection",
        "Cancelled: a rejection was queued after this offer",
    ]
    # Undoing the last one brings the candidate back to where they were before any of it.
    answers.undo_email(session, rejection_again, T0 + dt.timedelta(seconds=30))
    session.commit()
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_an_offer_after_a_rejection_that_was_sent_is_refused(session):
    candidate = make_candidate(session)
    rejection = queue(session, candidate, "rejection")
    rejection.status = OutboxStatus.SENT
    session.commit()
    with pytest.raises(EmailError, match="cannot send .* an offer: they are rejected"):
        queue(session, candidate, "offer")
    session.rollback()
    assert count(session) == 1


def test_an_update_keeps_the_deadline_until_it_is_sent_and_undo_leaves_the_wait_as_it_was(session):
    candidate = make_candidate(session)
    wait = waits.open_wait_of(session, candidate)
    due_before = wait.due_at
    promised = dt.date(2026, 11, 19)
    message = queue(session, candidate, "update", promised_date=promised)
    session.commit()
    # The candidate has not read it yet: the wait still owes them the deadline they were given.
    assert wait.promised_date is None and wait.due_at == due_before
    assert message.promised_date == promised
    assert "by Thursday, 19 November 2026" in message.text_body
    assert events(session, candidate, EventKind.PROMISE_SET) == []

    answers.undo_email(session, message, T0 + dt.timedelta(seconds=5))
    session.commit()
    assert waits.open_wait_of(session, candidate) == wait and wait.due_at == due_before


def test_a_sent_update_opens_the_next_wait_due_on_its_date_even_past_the_policy(app, session):
    candidate = make_candidate(session)
    answered = waits.open_wait_of(session, candidate)
    promised = dt.date(2026, 12, 4)  # the policy's next deadline is days earlier
    message = queue(session, candidate, "update", promised_date=promised)
    session.commit()
    report = run_worker(app, once=True, clock=lambda: T0 + dt.timedelta(minutes=5))
    assert report.sent == 1
    session.expire_all()
    follow_on = waits.open_wait_of(session, candidate)
    assert follow_on.id != answered.id and follow_on.promised_date == promised
    assert follow_on.due_at.astimezone(ZoneInfo(candidate.position.time_zone)).date() == promised
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.SENT


@pytest.mark.parametrize(
    ("kind", "promised", "reason"),
    [
        ("rejection", dt.date(2026, 11, 20), "promised date: a rejection carries no promised date"),
        ("update", dt.date(2026, 11, 17), "promised date: 2026-11-17 is in the past"),
        ("update", dt.date(2027, 11, 20), "promised date: 2027-11-20 is more than a year ahead"),
    ],
)
def test_a_promise_that_makes_no_sense_is_refused(session, kind, promised, reason):
    candidate = make_candidate(session)
    with pytest.raises(EmailError, match=reason):
        queue(session, candidate, kind, promised_date=promised)
    session.rollback()
    assert count(session) == 0


def test_the_outbox_refuses_an_update_without_a_promised_date(session):
    candidate = make_candidate(session)
    wanted = EmailRequest(candidate, "update", "no-date", T0, waiting=True)
    with pytest.raises(EmailError, match="promised date: an update tells the candidate when they will hear"):
        emailing.queue_email(session, wanted, email_config(current_app))
    session.rollback()
    assert count(session) == 0


def test_a_one_click_update_without_a_date_promises_the_date_the_pages_offer(session):
    candidate = make_candidate(session)
    offered = promises.default_promise_date(session, candidate, T0, ORG)
    message = queue(session, candidate, "update", default_promise=True)
    assert message.promised_date == offered


def test_the_timeline_tells_an_update_and_its_undo_in_the_order_they_happened(session):
    candidate = make_candidate(session)
    message = queue(session, candidate, "update", promised_date=dt.date(2026, 11, 20))
    answers.undo_email(session, message, T0 + dt.timedelta(seconds=5))
    session.commit()
    kinds = session.scalars(
        sa.select(Event.kind).where(Event.candidate_id == candidate.id).order_by(Event.id)
    ).all()
    assert kinds == [EventKind.CREATED, EventKind.EMAIL_QUEUED, EventKind.EMAIL_CANCELLED]


def test_the_update_date_offered_is_the_existing_promise_while_it_is_ahead(session):
    candidate = make_candidate(session)
    policy = promises.default_promise_date(session, candidate, T0, ORG)
    waits.set_promise(session, candidate, dt.date(2026, 11, 30), T0, ORG)
    session.commit()
    assert promises.default_promise_date(session, candidate, T0, ORG) == dt.date(2026, 11, 30)
    # Once the promised day has passed, the policy's next deadline again.
    later = T0 + dt.timedelta(days=13)
    assert promises.default_promise_date(session, candidate, later, ORG) > dt.date(2026, 11, 30)
    assert policy != dt.date(2026, 11, 30)


def test_a_customised_update_whose_date_was_cleared_is_refused(session):
    candidate = make_candidate(session)
    with pytest.raises(EmailError, match="promised date: an update tells the candidate when they will hear"):
        queue(session, candidate, "update", text="We are still deciding.")
    session.rollback()
    assert count(session) == 0


def test_a_line_break_in_the_candidates_name_is_refused_before_anything_is_written(session):
    candidate = make_candidate(session, name="Jane Doe")
    candidate.name = "Jane\r\nBcc: everyone@example.com"
    session.commit()
    with pytest.raises(HeaderError, match="the candidate's name contains a line break"):
        queue(session, candidate, "rejection")
    session.rollback()
    assert count(session) == 0
    assert session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_a_customised_message_keeps_the_managers_words_and_its_html_is_escaped(session):
    candidate = make_candidate(session)
    message = queue(
        session,
        candidate,
        "rejection",
        subject="About your application",
        text="Dear Jane,\n\nThank you <b>so much</b>.\nMaria",
    )
    session.commit()
    assert message.subject == "About your application"
    assert message.text_body == "Dear Jane,\n\nThank you <b>so much</b>.\nMaria"
    assert '">Thank you &lt;b&gt;so much&lt;/b&gt;.<br>\nMaria</p>' in message.html_body
    with pytest.raises(HeaderError, match="the subject contains a line break"):
        queue(session, make_candidate(session), "rejection", subject="Hi\nBcc: x@example.com")


def test_internal_rejection_reasons_are_kept_and_never_written_to_the_candidate(session):
    candidate = make_candidate(session)
    message = queue(
        session, candidate, "rejection", reasons=["salary expectations", " ", "salary expectations"]
    )
    session.commit()
    assert message.reasons == ["salary expectations"]
    assert "salary" not in message.text_body + message.html_body + message.subject
    with pytest.raises(EmailError, match="reasons: only a rejection records rejection reasons"):
        queue(session, make_candidate(session), "offer", reasons=["budget"])


def test_a_candidate_who_withdraws_gets_no_pending_email(session):
    candidate = make_candidate(session, name="Jane Doe")
    message = queue(session, candidate, "next_step")
    session.commit()
    waits.withdraw(session, candidate, T0 + dt.timedelta(seconds=30), None, "took another job")
    session.commit()
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.CANCELLED
    assert message.cancel_reason == (
        "Cancelled: Jane Doe was marked withdrawn after the next-step invitation was queued"
    )
    assert session.get(Candidate, candidate.id).status == Status.WITHDRAWN


def test_the_suggested_promise_is_the_deadline_a_fresh_wait_would_have(session):
    candidate = make_candidate(session)  # application wait: 5 business days
    # Wednesday 18 November + 5 business days = Wednesday 25 November.
    assert promises.default_promise_date(session, candidate, T0, ORG) == dt.date(2026, 11, 25)


def test_unfinished_emails_are_grouped_by_candidate_for_the_triage_rows(session):
    first, second = make_candidate(session), make_candidate(session)
    pending = queue(session, first, "rejection")
    cancelled = queue(session, second, "next_step")
    answers.undo_email(session, cancelled, T0)
    session.commit()
    grouped = unfinished_by_candidate(session, [first.id, second.id])
    assert grouped == {first.id: [pending]}
    assert pending.can_undo(T0 + dt.timedelta(seconds=59))
    assert not pending.can_undo(T0 + dt.timedelta(seconds=60))
    assert [m.id for m in queries.history(session, second.id)] == [cancelled.id]
    assert pending.kind == EmailKind.REJECTION


def test_customize_starts_from_the_message_a_one_click_send_would_queue(session):
    candidate = make_candidate(session, name="Jane Doe")
    draft = checks.draft(session, candidate, "rejection", email_config(current_app), feedback="Kind words.")
    message = queue(session, candidate, "rejection", feedback="Kind words.")
    assert (draft.subject, draft.text, draft.html) == (message.subject, message.text_body, message.html_body)
