"""The candidate's status page, opened from the link in an email the worker really delivered.

Each test reads the token from the .eml file the file backend wrote (as the app does by default),
opens the page with the test client, and acts as the candidate would: Ask for news, Withdraw. The
clock is frozen in Berlin's winter; a weekend sits between Thursday 3 and Monday 7 December 2026.
"""

from __future__ import annotations

import datetime as dt
import email
import re
import threading
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.candidates.models import Candidate, Event, EventKind, Status, StatusLink
from feedback_sla.database import db
from feedback_sla.digest import service as digest
from feedback_sla.emails import checks, composing
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.settings import service as settings_service
from feedback_sla.status_page import service as status_page
from feedback_sla.waits import answers
from feedback_sla.waits import clock as wait_clock
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory
from .helpers import berlin, csrf_token, logged_in, text

#: Monday 30 November 2026, 09:00 in Berlin: the candidate applies.
APPLIED = berlin(2026, 11, 30, 9, 0)
#: Tuesday 1 December: the manager sends an update promising an answer by Friday 4 December.
TUESDAY = berlin(2026, 12, 1, 10, 0)
FRIDAY = dt.date(2026, 12, 4)
BASE = "http://localhost"
TOKEN = re.compile(r"http://localhost/status/([A-Za-z0-9_-]{43})")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE
    app_config["OUTBOX_UNDO_SECONDS"] = 0
    return app_config


@pytest.fixture
def clock():
    with time_machine.travel(TUESDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(session):
    return UserFactory(name="Maria Lopez", email="maria@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def candidate(session, manager, clock):
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")
    candidate = waits.add_candidate(
        session, position, "Jane Doe", "jane@example.com", APPLIED, settings_service.load(session)
    )
    session.commit()
    return candidate


def config(app) -> EmailConfig:
    return settings_service.email_config(db.session, EmailConfig.from_app(app))


def queue(app, candidate, kind: str, promised: dt.date | None = None, when: dt.datetime | None = None):
    request = EmailRequest(
        db.session.get(Candidate, candidate.id),
        kind,
        new_idempotency_key(),
        when or dt.datetime.now(dt.UTC),
        candidate.position.manager,
        promised_date=promised,
    )
    message = answers.queue_email(db.session, request, config(app), settings_service.load(db.session))
    db.session.commit()
    return message


def deliver(runner) -> None:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def mail_files(app) -> list[Path]:
    return sorted(Path(app.instance_path).rglob("*.eml"))


def link_in_mail(path: Path) -> str:
    """The status page's path from a delivered message: the same in its text and HTML parts."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [token] = TOKEN.findall(plain)
    assert TOKEN.findall(html) == [token]
    return f"/status/{token}"


def update_delivered(app, runner, candidate) -> str:
    """An update promising Friday 4 December, delivered; the path of the link it carried."""
    queue(app, candidate, "update", promised=FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    return link_in_mail(written)


def words(response) -> str:
    """A page's text without its tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text(response)))


def form_token(page: str, action: str) -> str:
    form = page.split(f'action="{action}"', 1)[1]
    return re.search(r'name="form_token" value="([0-9a-f]+)"', form).group(1)


def open_wait(candidate_id: int) -> Wait | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(Wait).where(Wait.candidate_id == candidate_id, Wait.closed_at.is_(None))
    )


def events(candidate_id: int, kind: EventKind) -> list[Event]:
    db.session.expire_all()
    query = sa.select(Event).where(Event.candidate_id == candidate_id, Event.kind == kind).order_by(Event.id)
    return list(db.session.scalars(query))


def ask(client, path: str):
    page = client.get(path).get_data(as_text=True)
    return client.post(f"{path}/news", data={"form_token": form_token(page, f"{path}/news")})


# --- the acceptance path ------------------------------------------------------------------------


def test_the_link_in_a_delivered_update_shows_the_promised_date_and_ask_for_news_counts_once(
    app, client, runner, candidate, clock
):
    path = update_delivered(app, runner, candidate)
    response = client.get(path)
    assert response.status_code == 200
    page = text(response)
    assert "Your application for Backend Engineer" in page
    assert "Example Company" in page
    assert "We owe you an answer by Friday, 4 December 2026." in page
    assert "That is the date we promised you." in page
    assert "Backend Engineer at Example Company: an update on your application" in page  # sent emails
    assert "Tuesday, 1 December 2026" in page
    assert open_wait(candidate.id).follow_ups == 0

    clock.move_to(berlin(2026, 12, 2, 11, 0))  # Wednesday
    asked = ask(client, path)
    assert asked.status_code == 303
    after = text(client.get(asked.location))
    assert (
        "Thank you: the team knows you asked for news. You will hear from us by Friday, 4 December 2026."
        in after
    )
    assert open_wait(candidate.id).follow_ups == 1
    [followed] = events(candidate.id, EventKind.FOLLOWED_UP)
    assert followed.channel == "status page"

    clock.move_to(berlin(2026, 12, 3, 17, 0))  # Thursday: one business day later
    waiting = client.get(path).get_data(as_text=True)
    assert "You can ask again on Friday, 4 December 2026." in waiting
    assert f'action="{path}/news"' not in waiting  # no form while asking is refused
    refused = client.post(f"{path}/news", data={"form_token": _news_token(app, path)})
    assert refused.status_code == 409
    assert "You asked for news recently. You can ask again on Friday, 4 December 2026." in text(refused)
    assert open_wait(candidate.id).follow_ups == 1
    assert len(events(candidate.id, EventKind.FOLLOWED_UP)) == 1


def _news_token(app, path: str) -> str:
    """The form token the page would carry for Ask for news (the page hides the form while refused)."""
    from feedback_sla.candidates.status_links import hash_token
    from feedback_sla.web.status.form_tokens import form_token as make

    return make(app.config["SECRET_KEY"], hash_token(path.rsplit("/", 1)[1]), "news")


def test_asking_again_is_allowed_two_business_days_later_across_a_weekend(
    app, client, runner, candidate, clock
):
    path = update_delivered(app, runner, candidate)
    clock.move_to(berlin(2026, 12, 3, 16, 0))  # Thursday
    assert ask(client, path).status_code == 303
    clock.move_to(berlin(2026, 12, 6, 20, 0))  # Sunday: Friday was business day 1
    refused = client.post(f"{path}/news", data={"form_token": _news_token(app, path)})
    assert refused.status_code == 409
    assert "You can ask again on Monday, 7 December 2026." in text(refused)
    clock.move_to(berlin(2026, 12, 7, 0, 30))  # Monday just after midnight in Berlin (Sunday in UTC)
    assert ask(client, path).status_code == 303
    assert len(events(candidate.id, EventKind.FOLLOWED_UP)) == 2


def test_asking_with_no_open_wait_opens_a_follow_up_wait_and_says_when_they_will_hear(
    app, client, runner, candidate, clock
):
    queue(app, candidate, "next_step")
    deliver(runner)
    assert open_wait(candidate.id) is None  # the next-step email answered the application
    path = link_in_mail(mail_files(app)[0])
    assert "Nobody owes you an answer right now" in text(client.get(path))
    asked = ask(client, path)
    wait = open_wait(candidate.id)
    assert wait is not None and wait.reason.value == "follow_up"
    # Two business days from Tuesday 1 December: Thursday 3 December.
    assert "You will hear from us by Thursday, 3 December 2026." in text(client.get(asked.location))


def test_repeated_asks_escalate_the_wait_like_other_follow_ups(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    for day in (2, 4, 8):  # Wednesday, Friday, Tuesday: two business days apart each time
        clock.move_to(berlin(2026, 12, day, 9, 0))
        assert ask(client, path).status_code == 303
    wait = open_wait(candidate.id)
    assert wait.follow_ups == 3
    state = wait_clock.state(wait, dt.datetime.now(dt.UTC), settings_service.load(db.session))
    assert state == wait_clock.State.ESCALATED  # escalate_after_followups (2) reached


def test_two_concurrent_clicks_on_ask_for_news_count_once(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    data = {"form_token": _news_token(app, path)}
    start = threading.Barrier(2)
    answered: list[int] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                answered.append(app.test_client().post(f"{path}/news", data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert 303 in answered and len(answered) == 2
    assert sorted(answered)[1] in (409, 503)  # refused: asked already (or, on SQLite, busy)
    assert len(events(candidate.id, EventKind.FOLLOWED_UP)) == 1
    assert open_wait(candidate.id).follow_ups == 1


# --- after a decision ----------------------------------------------------------------------------


def test_after_a_rejection_the_page_says_so_kindly_and_offers_no_buttons(
    app, client, runner, candidate, clock
):
    path = update_delivered(app, runner, candidate)
    before = text(client.get(path))
    assert "Ask for news" in before and "Withdraw my application" in before
    queue(app, candidate, "rejection")
    deliver(runner)
    page = text(client.get(path))
    assert "We have decided not to move forward with your application." in page
    assert "Ask for news</button>" not in page
    assert "Withdraw my application" not in page
    refused = client.post(f"{path}/news", data={"form_token": _news_token(app, path)})
    assert refused.status_code == 409
    assert "Your application is decided" in text(refused)
    assert len(events(candidate.id, EventKind.FOLLOWED_UP)) == 0
    # The rejection carried a link of its own, to the same page.
    rejection = link_in_mail(mail_files(app)[-1])
    assert rejection != path and "not to move forward" in text(client.get(rejection))


@pytest.mark.parametrize(
    ("kind", "decision"),
    [("rejection", "not to move forward"), ("offer", "We would like to make you an offer")],
)
def test_a_decision_still_in_its_undo_window_is_not_on_the_page_before_its_email(
    app, client, runner, manager, candidate, clock, kind, decision
):
    path = update_delivered(app, runner, candidate)
    app.config["OUTBOX_UNDO_SECONDS"] = 600
    pending = queue(app, candidate, kind)
    page = words(client.get(path))
    assert decision not in page
    assert "An email about your application is on its way to you." in page
    assert "Ask for news</button>" not in text(client.get(path))
    # Undone: as if it had never been queued.
    logged_in(client, manager)
    assert client.post(f"/emails/{pending.id}/undo").status_code == 302
    client.post("/logout")
    assert "We owe you an answer by Friday, 4 December 2026." in words(client.get(path))
    # Queued again and sent: now the page tells the decision, as the email did.
    queue(app, candidate, kind)
    clock.shift(dt.timedelta(minutes=11))
    deliver(runner)
    assert decision in words(client.get(path))


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (Status.OFFERED, "We would like to make you an offer."),
        (Status.HIRED, "You are hired. Welcome!"),
        (Status.REJECTED, "We have decided not to move forward"),
    ],
)
def test_each_decision_in_kind_words(app, client, runner, candidate, clock, status, words):
    path = update_delivered(app, runner, candidate)
    waits.close_with_status(
        db.session, db.session.get(Candidate, candidate.id), status, dt.datetime.now(dt.UTC)
    )
    db.session.commit()
    assert words in text(client.get(path))


# --- withdrawing ---------------------------------------------------------------------------------


def test_withdrawing_asks_to_confirm_then_closes_the_wait_and_tells_the_manager(
    app, client, runner, candidate, manager, clock
):
    path = update_delivered(app, runner, candidate)
    app.config["OUTBOX_UNDO_SECONDS"] = 3600
    pending = queue(app, candidate, "next_step")  # still in its undo window
    confirm = client.get(f"{path}/withdraw")
    assert confirm.status_code == 200
    page = text(confirm)
    assert "Withdraw your application for Backend Engineer?" in page
    token = form_token(confirm.get_data(as_text=True), f"{path}/withdraw")

    unconfirmed = client.post(f"{path}/withdraw", data={"form_token": token})
    assert unconfirmed.status_code == 400
    assert db.session.get(Candidate, candidate.id).status == Status.ACTIVE

    done = client.post(f"{path}/withdraw", data={"form_token": token, "confirm": "yes"})
    assert done.status_code == 303
    assert "Your application is withdrawn. Thank you for letting us know." in text(client.get(done.location))
    db.session.expire_all()
    assert db.session.get(Candidate, candidate.id).status == Status.WITHDRAWN
    assert open_wait(candidate.id) is None
    assert db.session.get(OutboxMessage, pending.id).status == OutboxStatus.CANCELLED
    [changed] = events(candidate.id, EventKind.STATUS_CHANGED)
    assert changed.channel == "status page"
    assert changed.body == "Withdrawn by the candidate on their status page"

    # The manager's candidate page shows it; the next digest names the candidate.
    logged_in(client, manager)
    candidate_page = text(client.get(f"/candidates/{candidate.id}"))
    assert "Withdrawn by the candidate on their status page" in candidate_page
    assert "status page" in candidate_page
    clock.move_to(berlin(2026, 12, 2, 9, 0))
    settings = settings_service.load(db.session)
    day = dt.date(2026, 12, 2)
    made = digest.digest_for(db.session, dt.datetime.now(dt.UTC), settings, manager, day, BASE)
    assert [row.name for row in made.withdrew] == ["Jane Doe"]
    plain, html = digest.render(made)
    assert "Candidates who withdrew on their status page:" in plain and "Jane Doe · Backend Engineer" in plain
    assert "Jane Doe" in html


def test_a_second_withdraw_click_that_loses_the_race_shows_the_withdrawal(
    app, client, runner, candidate, clock, monkeypatch
):
    path = update_delivered(app, runner, candidate)
    confirm = client.get(f"{path}/withdraw")
    token = form_token(confirm.get_data(as_text=True), f"{path}/withdraw")
    find = status_page.find

    def other_click_commits_first(session, *args):
        link = find(session, *args)
        with sa.orm.Session(db.engine) as other:  # the first click, committed meanwhile
            waits.withdraw(other, other.get(Candidate, candidate.id), dt.datetime.now(dt.UTC))
            other.commit()
        return link

    monkeypatch.setattr(status_page, "find", other_click_commits_first)
    second = client.post(f"{path}/withdraw", data={"form_token": token, "confirm": "yes"})
    monkeypatch.undo()
    assert second.status_code == 303
    page = text(client.get(second.location))
    assert "Your application is withdrawn. Thank you for letting us know." in page
    assert "nothing to withdraw" not in page
    assert len(events(candidate.id, EventKind.STATUS_CHANGED)) == 1


def test_a_digest_names_withdrawals_since_the_last_digest_it_sent(
    app, client, runner, candidate, manager, clock
):
    path = update_delivered(app, runner, candidate)
    page = client.get(f"{path}/withdraw").get_data(as_text=True)
    client.post(
        f"{path}/withdraw", data={"form_token": form_token(page, f"{path}/withdraw"), "confirm": "yes"}
    )
    settings = settings_service.load(db.session)
    clock.move_to(berlin(2026, 12, 2, 9, 0))
    first = digest.digest_for(
        db.session, dt.datetime.now(dt.UTC), settings, manager, dt.date(2026, 12, 2), BASE
    )
    assert len(first.withdrew) == 1
    quiet = digest.claim(db.session, manager, dt.date(2026, 12, 2), 0)  # claimed, nothing sent
    db.session.commit()
    clock.move_to(berlin(2026, 12, 3, 9, 0))
    second = digest.digest_for(
        db.session, dt.datetime.now(dt.UTC), settings, manager, dt.date(2026, 12, 3), BASE
    )
    assert len(second.withdrew) == 1  # not told yet: the quiet day sent no digest
    manager.digest_empty = True
    assert digest.queue(db.session, second, dt.datetime.now(dt.UTC), config(app)) is not None
    db.session.commit()
    clock.move_to(berlin(2026, 12, 4, 9, 0))
    third = digest.digest_for(
        db.session, dt.datetime.now(dt.UTC), settings, manager, dt.date(2026, 12, 4), BASE
    )
    assert quiet is not None and third.withdrew == ()


# --- links that do not open the page ------------------------------------------------------------


def test_an_unknown_token_answers_404_saying_whom_to_contact(client, candidate):
    response = client.get("/status/" + "A" * 43)
    assert response.status_code == 404
    page = text(response)
    assert "This link does not open a page" in page
    assert "write to Example Company at jobs@example.com" in words(response)
    assert "Jane Doe" not in page


def test_a_link_dies_days_after_decision_days_after_the_decision(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    queue(app, candidate, "rejection")
    deliver(runner)
    decided = db.session.get(Candidate, candidate.id).decided_at
    clock.move_to(decided + dt.timedelta(days=90) - dt.timedelta(minutes=1))
    assert client.get(path).status_code == 200
    clock.move_to(decided + dt.timedelta(days=90))
    gone = client.get(path)
    assert gone.status_code == 404
    assert "write to Example Company at jobs@example.com" in words(gone)
    settings_service.store(db.session, "status_page.days_after_decision", "120")
    db.session.commit()
    assert client.get(path).status_code == 200


def test_the_manager_revokes_the_links_from_the_candidate_page(
    app, client, runner, candidate, manager, clock
):
    path = update_delivered(app, runner, candidate)
    logged_in(client, manager)
    page = text(client.get(f"/candidates/{candidate.id}"))
    assert "An email gave Jane Doe a link to their status page that still works." in page
    revoked = client.post(f"/candidates/{candidate.id}/status-links/revoke")
    assert revoked.status_code == 302
    after = text(client.get(revoked.location))
    assert "Revoked Jane Doe's status page link" in after
    assert "Status page links revoked" in after  # on the timeline
    assert "No link to Jane Doe's status page works now." in after
    client.post("/logout")
    gone = client.get(path)
    assert gone.status_code == 404
    assert db.session.scalar(sa.select(StatusLink.revoked_at)) is not None


def test_an_undone_email_leaves_no_link_that_opens_the_page(app, client, candidate, manager, clock):
    app.config["OUTBOX_UNDO_SECONDS"] = 60
    message = queue(app, candidate, "update", promised=FRIDAY)
    [token] = TOKEN.findall(message.text_body)  # the link the email would have carried
    assert client.get(f"/status/{token}").status_code == 200
    logged_in(client, manager)
    undone = client.post(f"/emails/{message.id}/undo")
    assert undone.status_code == 302
    page = text(client.get(f"/candidates/{candidate.id}"))
    assert "No link to Jane Doe's status page works now." in page
    client.post("/logout")
    gone = client.get(f"/status/{token}")
    assert gone.status_code == 404
    assert "Backend Engineer" not in text(gone)


@pytest.mark.parametrize("action", ["news", "withdraw"])
def test_a_link_revoked_while_the_candidate_clicks_does_nothing_and_shows_nothing(
    app, client, runner, candidate, clock, monkeypatch, action
):
    path = update_delivered(app, runner, candidate)
    page = client.get(path if action == "news" else f"{path}/withdraw").get_data(as_text=True)
    data = {"form_token": form_token(page, f"{path}/{action}"), "confirm": "yes"}
    before = db.session.scalar(sa.select(sa.func.count(Event.id)))
    find = status_page.find

    def revoked_meanwhile(session, *args):
        link = find(session, *args)
        with sa.orm.Session(db.engine) as other:  # the manager's revoke, committed meanwhile
            status_page.revoke(other, other.get(Candidate, candidate.id), dt.datetime.now(dt.UTC), None)
            other.commit()
        return link

    monkeypatch.setattr(status_page, "find", revoked_meanwhile)
    answered = client.post(f"{path}/{action}", data=data)
    monkeypatch.undo()
    assert answered.status_code == 404
    assert "This link does not open a page" in text(answered)
    assert "Backend Engineer" not in text(answered)
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == before + 1  # the revocation only
    db.session.expire_all()
    assert db.session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_manager_b_cannot_revoke_manager_as_links(app, client, runner, candidate, clock):
    update_delivered(app, runner, candidate)
    other = UserFactory(name="Bo Other")
    logged_in(client, other)
    assert client.post(f"/candidates/{candidate.id}/status-links/revoke").status_code == 404
    assert db.session.scalar(sa.select(StatusLink.revoked_at)) is None


def test_turned_off_no_email_carries_a_link_and_existing_links_answer_404(
    app, client, runner, candidate, clock
):
    path = update_delivered(app, runner, candidate)
    settings_service.store(db.session, "status_page.enabled", "off")
    db.session.commit()
    assert client.get(path).status_code == 404
    queue(app, candidate, "next_step")
    deliver(runner)
    latest = mail_files(app)[-1].read_text()
    assert "/status/" not in latest
    assert db.session.scalar(sa.select(sa.func.count(StatusLink.id))) == 1


def test_without_a_base_url_emails_carry_no_link(app, client, runner, candidate, clock):
    app.config["BASE_URL"] = None
    queue(app, candidate, "update", promised=FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    assert "/status/" not in written.read_text()
    assert "status page" not in written.read_text().lower()
    assert db.session.scalar(sa.select(sa.func.count(StatusLink.id))) == 0


# --- the page's defences -------------------------------------------------------------------------


def test_every_answer_asks_not_to_be_cached_indexed_or_referred(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    answers_ = [
        client.get(path),
        client.get("/status/unknown"),
        client.get(f"{path}/withdraw"),
        client.post(f"{path}/news", data={"form_token": "forged"}),
    ]
    assert [r.status_code for r in answers_] == [200, 404, 200, 400]
    for response in answers_:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Robots-Tag"] == "noindex"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers


def test_addresses_under_status_that_match_no_page_ask_the_same(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    answers_ = [client.get(f"{path}/news"), client.get(f"{path}/elsewhere"), client.get("/status/")]
    assert [r.status_code for r in answers_] == [405, 404, 404]
    for response in answers_:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Robots-Tag"] == "noindex"
        assert response.headers["Cache-Control"] == "no-store"


def test_a_forged_form_token_is_refused_and_nothing_is_written(app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    other = queue(app, candidate, "next_step")  # a second email: a second link of the same candidate
    deliver(runner)
    second = link_in_mail(mail_files(app)[-1])
    assert other is not None and second != path
    before = db.session.scalar(sa.select(sa.func.count(Event.id)))
    for data in ({}, {"form_token": "0" * 64}, {"form_token": _news_token(app, second)}):
        refused = client.post(f"{path}/news", data=data)  # the second link's token does not fit the first
        assert refused.status_code == 400
        assert "Nothing was changed" in text(refused)
    forged = client.post(f"{path}/withdraw", data={"form_token": "0" * 64, "confirm": "yes"})
    assert forged.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == before
    assert db.session.get(Candidate, candidate.id).status == Status.ACTIVE


def test_with_cookie_csrf_on_the_page_forms_still_work(csrf_on, app, client, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    assert ask(client, path).status_code == 303
    # The manager's revoke button still needs the session's CSRF token.
    manager = candidate.position.manager
    logged_in(client, manager)
    assert client.post(f"/candidates/{candidate.id}/status-links/revoke").status_code == 400
    token = csrf_token(client, f"/candidates/{candidate.id}")
    revoked = client.post(f"/candidates/{candidate.id}/status-links/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302


def test_status_pages_are_throttled_per_address(make_app, app, runner, candidate, clock):
    path = update_delivered(app, runner, candidate)
    limited = make_app(RATELIMIT_ENABLED=True, STATUS_PAGE_LIMIT_PER_ADDRESS="3 per minute", BASE_URL=BASE)
    with limited.app_context():
        client = limited.test_client()
        codes = [client.get(path).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        throttled = client.get("/status/unknown")
        assert throttled.status_code == 429
        assert throttled.headers["Cache-Control"] == "no-store"
        elsewhere = client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert elsewhere.status_code == 200


def test_a_throttled_candidate_reads_a_page_of_the_company_not_of_the_managers_app(
    make_app, app, runner, candidate, clock
):
    path = update_delivered(app, runner, candidate)
    limited = make_app(RATELIMIT_ENABLED=True, STATUS_PAGE_LIMIT_PER_ADDRESS="1 per minute", BASE_URL=BASE)
    with limited.app_context():
        client = limited.test_client()
        assert client.get(path).status_code == 200
        throttled = client.post(f"{path}/news", data={})
        assert throttled.status_code == 429
        page = words(throttled)
        assert "Please wait a minute" in page and "Nothing was changed" in page
        assert "write to Example Company at jobs@example.com" in page
        assert "triage" not in page.lower() and "/login" not in text(throttled)
        assert throttled.headers["Referrer-Policy"] == "no-referrer"


def test_names_with_accents_and_markup_are_escaped(app, client, runner, manager, clock):
    settings_service.store(db.session, "company_name", 'Café "Zürich" & Söhne')
    position = PositionFactory(
        manager=manager, title='Ingénieure <b>"Plateforme"</b>', time_zone="Europe/Berlin"
    )
    hostile = waits.add_candidate(
        db.session, position, "Zoë O'Brien", "zoe@example.com", APPLIED, settings_service.load(db.session)
    )
    db.session.commit()
    queue(app, hostile, "update", promised=FRIDAY)
    deliver(runner)
    path = link_in_mail(mail_files(app)[0])
    raw = client.get(path).get_data(as_text=True)
    assert "<b>" not in raw
    assert "Ingénieure &lt;b&gt;&#34;Plateforme&#34;&lt;/b&gt;" in raw
    assert "Café &#34;Zürich&#34; &amp; Söhne" in raw


# --- templates ----------------------------------------------------------------------------------


def test_a_rewritten_message_gets_the_real_link_where_the_draft_showed_its_mark(
    app, client, runner, candidate, clock
):
    draft = checks.draft(db.session, candidate, "next_step", config(app))
    assert checks.STATUS_LINK_MARK in draft.text  # the Customize page shows where the link goes
    rewritten = "Dear Jane, see you Thursday.\n\nYour page: " + checks.STATUS_LINK_MARK + "\n"
    request = EmailRequest(
        candidate, "next_step", new_idempotency_key(), dt.datetime.now(dt.UTC), text=rewritten
    )
    answers.queue_email(db.session, request, config(app), settings_service.load(db.session))
    db.session.commit()
    deliver(runner)
    path = link_in_mail(mail_files(app)[0])
    assert checks.STATUS_LINK_MARK not in mail_files(app)[0].read_text()
    assert client.get(path).status_code == 200


def test_the_default_templates_show_the_link_only_when_there_is_one(app):
    for kind in ("rejection", "offer", "update", "next_step", "acknowledgement"):
        with_link = composing.render(
            db.session, kind, {**composing.SAMPLE, "status_url": "https://x.test/status/t"}
        )
        assert "https://x.test/status/t" in with_link.text
        assert 'href="https://x.test/status/t"' in with_link.html
        without = composing.render(db.session, kind, {**composing.SAMPLE, "status_url": ""})
        assert "/status/" not in without.text + without.html


def test_an_edited_template_may_use_status_url_and_its_preview_creates_no_link(app):
    composing.save_template(
        db.session,
        "update",
        "News about {{ position }}",
        "Hello {{ candidate_first_name }}, see {{ status_url }}",
        '<p>See <a href="{{ status_url }}">your page</a></p>',
        None,
        dt.datetime.now(dt.UTC),
    )
    preview = composing.preview(db.session, "update")
    assert composing.SAMPLE["status_url"] in preview.text
    assert db.session.scalar(sa.select(sa.func.count(StatusLink.id))) == 0
