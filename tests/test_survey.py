"""The candidate's survey after the decision, answered on the status page the rejection's link opens.

The clock is frozen in Berlin's winter (``test_status_page``'s candidate, applied Monday 30
November 2026). The answer is kept without the candidate: the test reads the table's columns and
rows as the database holds them.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from feedback_sla.candidates.models import StatusLink
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.survey.models import SurveyAnswer

from . import test_status_page as status
from .helpers import berlin, text
from .test_status_page import deliver, form_token, link_in_mail, mail_files, queue

# The status page's fixtures: its app (links to http://localhost), clock, manager and candidate.
app_config, clock, manager, candidate = status.app_config, status.clock, status.manager, status.candidate


def survey_on(days_open: str = "30") -> None:
    settings_service.update(db.session, {"survey.enabled": "on", "survey.days_open": days_open})
    db.session.commit()


def rejected_link(app, runner, candidate) -> str:
    """The rejection, delivered; the path of the status link it carried."""
    queue(app, candidate, "rejection")
    deliver(runner)
    [written] = mail_files(app)
    return link_in_mail(written)


def answers() -> list[dict]:
    """Every row of survey_answers, every column, as the database holds it."""
    db.session.expire_all()
    with db.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text("SELECT * FROM survey_answers"))]


def answer(client, path: str, **fields):
    page = client.get(path).get_data(as_text=True)
    token = form_token(page, f"{path}/survey")
    return client.post(f"{path}/survey", data={"form_token": token, **fields})


GOOD = {"score": "9", "kept": "yes", "comment": "Quick and kind, thank you."}


def test_a_rejected_candidate_answers_once_and_the_answer_holds_nothing_of_them(
    app, client, runner, candidate, clock
):
    survey_on()
    path = rejected_link(app, runner, candidate)
    clock.move_to(berlin(2026, 12, 2, 10, 0))
    page = client.get(path)
    assert page.status_code == 200
    assert "How likely are you to recommend applying here?" in text(page)
    assert "Did we answer you when we said we would?" in text(page)

    answered = answer(client, path, **GOOD)
    assert answered.status_code == 303
    thanks = text(client.get(answered.location))
    assert "Thank you for your answer." in thanks
    assert f'action="{path}/survey"' not in thanks  # the form is gone

    [row] = answers()
    assert set(row) == {"id", "position_id", "manager_id", "outcome", "week", "score", "kept", "comment"}
    assert row["score"] == 9 and row["kept"] == "yes" and row["outcome"] == "rejected"
    assert str(row["week"]) == "2026-11-30"  # the Monday of the decision's week
    values = " ".join(str(value) for value in row.values())
    for personal in ("Jane", "Doe", "jane@example.com", str(candidate.id) + "x"):
        assert personal not in values
    assert row["comment"] == "Quick and kind, thank you."

    # A second answer through the same link is refused, and nothing more is written.
    secret_token = _survey_token(app, path)
    again = client.post(f"{path}/survey", data={"form_token": secret_token, **GOOD})
    assert again.status_code == 409
    assert "You have answered this survey already." in text(again)
    assert len(answers()) == 1


def _survey_token(app, path: str) -> str:
    from feedback_sla.candidates.status_links import hash_token
    from feedback_sla.web.status.form_tokens import form_token as make

    return make(app.config["SECRET_KEY"], hash_token(path.rsplit("/", 1)[1]), "survey")


def test_the_survey_is_off_until_an_admin_turns_it_on(app, client, runner, candidate, clock):
    path = rejected_link(app, runner, candidate)
    page = client.get(path).get_data(as_text=True)
    assert "data-survey" not in page.replace("data-survey-", "")
    refused = client.post(f"{path}/survey", data={"form_token": _survey_token(app, path), **GOOD})
    assert refused.status_code == 409
    assert "This survey is closed." in text(refused)
    assert answers() == []


def test_the_survey_closes_after_its_days(app, client, runner, candidate, clock):
    survey_on(days_open="3")
    path = rejected_link(app, runner, candidate)
    clock.move_to(berlin(2026, 12, 5, 10, 0))  # four days after Tuesday's rejection
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}/survey"' not in page
    refused = client.post(f"{path}/survey", data={"form_token": _survey_token(app, path), **GOOD})
    assert refused.status_code == 409
    assert answers() == []


def test_an_active_candidate_is_not_asked(app, client, runner, candidate, clock):
    survey_on()
    queue(app, candidate, "update", promised=status.FRIDAY)
    deliver(runner)
    [written] = mail_files(app)
    path = link_in_mail(written)
    assert f'action="{path}/survey"' not in client.get(path).get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"score": "11", "kept": "yes"}, "The score must be a whole number from 0 to 10."),
        ({"score": "-1", "kept": "yes"}, "The score must be a whole number from 0 to 10."),
        ({"score": "abc", "kept": "yes"}, "The score must be a whole number from 0 to 10."),
        ({"score": "", "kept": "yes"}, "Choose how likely you are to recommend applying"),
        ({"score": "5", "kept": "maybe"}, "Answer whether we answered you when we said we would."),
        ({"score": "5", "kept": "no", "comment": "x" * 100_000}, "The comment must be at most 2000"),
        ({"score": "5", "kept": "no", "comment": "a\x00b"}, "no control characters"),
    ],
)
def test_hostile_answers_are_refused_and_nothing_is_written(
    app, client, runner, candidate, clock, fields, message
):
    survey_on()
    path = rejected_link(app, runner, candidate)
    refused = answer(client, path, **fields)
    assert refused.status_code == 400
    assert message in text(refused)
    assert answers() == []
    db.session.expire_all()
    assert not db.session.scalar(sa.select(StatusLink.survey_answered))
    # The form is offered again, with what was chosen, and an answer then goes through.
    assert answer(client, path, **GOOD).status_code == 303


def test_an_answer_without_the_form_token_is_refused(app, client, runner, candidate, clock):
    survey_on()
    path = rejected_link(app, runner, candidate)
    refused = client.post(f"{path}/survey", data=GOOD)
    assert refused.status_code == 400
    forged = client.post(f"{path}/survey", data={"form_token": "0" * 64, **GOOD})
    assert forged.status_code == 400
    assert answers() == []


def test_the_answer_is_kept_in_the_candidate_s_language_wording(app, client, runner, candidate, clock):
    from feedback_sla.survey import service as survey

    survey_on()
    survey.set_wording(db.session, "en", "recommend", "Would you tell a friend to apply here?")
    db.session.commit()
    path = rejected_link(app, runner, candidate)
    page = text(client.get(path))
    assert "Would you tell a friend to apply here?" in page
    german = text(client.get(f"{path}?lang=de"))
    assert "Wie wahrscheinlich" in german


def test_retention_erases_comments_after_the_period(app, runner, candidate, clock, session):
    import datetime as dt

    from feedback_sla.survey.models import Kept, Outcome

    old = SurveyAnswer(
        outcome=Outcome.REJECTED, week=dt.date(2026, 6, 1), score=3, kept=Kept.NO, comment="slow"
    )
    new = SurveyAnswer(
        outcome=Outcome.REJECTED, week=dt.date(2026, 11, 30), score=9, kept=Kept.YES, comment="ok"
    )
    db.session.add_all([old, new])
    settings_service.update(db.session, {"retention.days_after_decision": "90"})
    db.session.commit()
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "erased 1 survey comment(s)" in result.output
    rows = {
        row["week"].isoformat() if hasattr(row["week"], "isoformat") else row["week"]: row
        for row in answers()
    }
    assert rows["2026-06-01"]["comment"] is None and rows["2026-06-01"]["score"] == 3
    assert rows["2026-11-30"]["comment"] == "ok"
    assert re.search(r"erased 0 candidate", result.output)


def _triggers() -> list[str]:
    if db.engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
    return list(db.session.execute(sa.text(query)).scalars())


def test_the_migration_keeps_every_link_and_goes_back(app, client, runner, candidate, clock):
    """Downgrading drops the survey's tables and the links' flag, keeping every link and candidate;
    upgrading again gives each existing link an unanswered survey. The triggers of 0012 and 0015 stay."""
    import flask_migrate

    survey_on()
    path = rejected_link(app, runner, candidate)
    assert answer(client, path, **GOOD).status_code == 303
    before = _triggers()
    with app.app_context():
        db.session.commit()
        flask_migrate.downgrade(revision="0020_unrecorded_sends")
        try:
            inspector = sa.inspect(db.engine)
            assert "survey_answers" not in inspector.get_table_names()
            assert "survey_answered" not in {c["name"] for c in inspector.get_columns("status_links")}
            assert db.session.execute(sa.text("SELECT count(*) FROM status_links")).scalar() == 1
            db.session.commit()
            flask_migrate.upgrade()
            assert db.session.execute(sa.text("SELECT count(*) FROM survey_answers")).scalar() == 0
            flags = db.session.execute(sa.text("SELECT survey_answered FROM status_links")).scalars().all()
            assert [bool(flag) for flag in flags] == [False]
            assert db.session.execute(sa.text("SELECT name FROM candidates")).scalars().all() == ["Jane Doe"]
            assert _triggers() == before
        finally:
            db.session.rollback()
            flask_migrate.upgrade()


def test_an_admin_words_the_questions_per_language_and_a_bad_text_changes_nothing(
    app, client, runner, candidate, clock, session
):
    from feedback_sla.accounts.models import Role
    from feedback_sla.survey.models import SurveyWording

    from .factories import UserFactory
    from .helpers import csrf_token, logged_in

    admin = UserFactory(role=Role.ADMIN, email="admin@example.com")
    session.commit()
    logged_in(client, admin)
    page = text(client.get("/admin/survey"))
    assert "Wie wahrscheinlich ist es" in page  # German's shipped wording, shown under its box
    token = csrf_token(client, "/admin/survey")
    refused = client.post(
        "/admin/survey",
        data={"csrf_token": token, "de-recommend": "Gut\x00", "en-kept": "Did we keep our word?"},
    )
    assert refused.status_code == 400
    assert "control character" in text(refused)
    db.session.expire_all()
    assert db.session.query(SurveyWording).count() == 0
    saved = client.post(
        "/admin/survey", data={"csrf_token": token, "de-recommend": "Würden Sie uns empfehlen?"}
    )
    assert saved.status_code == 302
    survey_on()
    path = rejected_link(app, runner, candidate)
    assert "Würden Sie uns empfehlen?" in text(client.get(f"{path}?lang=de"))


def test_two_answers_posted_at_once_keep_one(app, client, runner, candidate, clock):
    import threading

    survey_on()
    path = rejected_link(app, runner, candidate)
    data = {"form_token": _survey_token(app, path), **GOOD}
    start = threading.Barrier(2)
    answered: list[int] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                answered.append(app.test_client().post(f"{path}/survey", data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert 303 in answered and len(answered) == 2
    assert sorted(answered)[1] in (409, 503)  # refused: answered already (or, on SQLite, busy)
    assert len(answers()) == 1
