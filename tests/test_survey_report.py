"""The candidates' verdict on the metrics page, in the export and in the API: candidate NPS, the
share who said we answered when promised and the comments, only for groups of at least the floor
of answers; beside them the group's time to a decision in business days."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from feedback_sla.accounts.models import Role
from feedback_sla.database import db
from feedback_sla.emails.models import EmailKind, OutboxMessage, OutboxStatus
from feedback_sla.metrics import verdict
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.survey.models import Kept, Outcome, SurveyAnswer
from feedback_sla.waits import service as waits

from . import test_api_client as api_client
from .factories import PositionFactory, UserFactory
from .helpers import logged_in, ny, text

# A client generated from the app's document, and the app served on loopback.
live_api, generated = api_client.live_api, api_client.generated

#: Wednesday 9 December 2026, New York: the page looks at November and December.
NOW = ny(2026, 12, 9, 12, 0)
PERIOD = "since=2026-11-02&until=2026-12-09"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def answers(position, count: int, scores, kept=Kept.YES, comment: str | None = None) -> None:
    for i in range(count):
        db.session.add(
            SurveyAnswer(
                position_id=position.id,
                manager_id=position.manager_id,
                outcome=Outcome.REJECTED,
                week=dt.date(2026, 11, 30),
                score=scores[i % len(scores)],
                kept=kept,
                comment=comment if i == 0 else None,
            )
        )


@pytest.fixture
def org(session, frozen):
    admin = UserFactory(role=Role.ADMIN, email="admin@example.com", name="Ada Admin")
    five = UserFactory(name="Fiona Five", email="fiona@example.com")
    four = UserFactory(name="Frank Four", email="frank@example.com")
    backend = PositionFactory(manager=five, title="Backend Engineer", time_zone="America/New_York")
    design = PositionFactory(manager=four, title="Designer", time_zone="America/New_York")
    # Fiona's five: two promoters, two passives, one detractor: NPS (2 - 1) / 5 = 20.
    answers(backend, 5, [10, 9, 8, 7, 3], comment="Clear <b>and</b> kind")
    answers(design, 4, [0], kept=Kept.NO, comment="Never heard back about Frank's team")
    settings = settings_service.load(session)
    # One of Fiona's candidates: applied Monday 2 November, one update, rejected Monday 16 November:
    # ten business days.
    jane = waits.add_candidate(session, backend, "Jane Doe", "jane@example.com", ny(2026, 11, 2, 9), settings)
    session.add(
        OutboxMessage(
            candidate_id=jane.id,
            kind=EmailKind.UPDATE,
            to_name="Jane",
            to_address="jane@example.com",
            subject="s",
            text_body="t",
            html_body="h",
            message_id="<m1@example.com>",
            idempotency_key="k1",
            status=OutboxStatus.SENT,
            queued_at=ny(2026, 11, 9, 9),
            send_after=ny(2026, 11, 9, 9),
            next_attempt_at=ny(2026, 11, 9, 9),
            sent_at=ny(2026, 11, 9, 9),
        )
    )
    waits.withdraw(session, jane, ny(2026, 11, 16, 10), reason="found another job", channel="email")
    # Frank's team has an applicant in the period too: the page's groups are those with a wait in it.
    waits.add_candidate(session, design, "Sam Lee", "sam@example.com", ny(2026, 11, 3, 9), settings)
    session.commit()
    return admin, five, four


def test_the_metrics_page_shows_nps_for_five_answers_and_hides_four(client, org):
    admin, five, four = org
    logged_in(client, admin)
    page = text(client.get(f"/metrics?{PERIOD}&by=manager"))
    fiona = page.split(f'data-verdict-group="{five.id}"', 1)[1].split("</tr>", 1)[0]
    frank = page.split(f'data-verdict-group="{four.id}"', 1)[1].split("</tr>", 1)[0]
    assert "20" in fiona.split("data-nps>", 1)[1].split("<", 1)[0]
    assert "(answers: 5)" in fiona and "100%" in fiona
    assert "10 / 10" in fiona and "(decisions: 1)" in fiona  # time to a decision, median / p90
    assert "data-nps" not in frank and "Fewer than 5 answers" in frank
    assert "Clear <b>and</b> kind" in page  # escaped in the HTML, unescaped by text()
    assert "<b>and</b>" not in client.get(f"/metrics?{PERIOD}").get_data(as_text=True)
    assert "Never heard back" not in page


def test_a_manager_sees_only_their_own_verdict(client, org):
    _admin, five, four = org
    logged_in(client, four)
    page = text(client.get(f"/metrics?{PERIOD}"))
    assert "Fiona Five" not in page and "Clear" not in page
    assert "Fewer than 5 answers" in page


def test_the_floor_is_a_setting_never_below_three(runner, org, session):
    refused = runner.invoke(args=["settings", "set", "survey.report_floor", "2"])
    assert refused.exit_code != 0
    assert "survey.report_floor" in refused.output and "below 3" in refused.output
    assert runner.invoke(args=["settings", "set", "survey.report_floor", "4"]).exit_code == 0
    found = verdict.verdicts(
        db.session,
        settings_service.load(db.session),
        4,
        dt.date(2026, 11, 2),
        dt.date(2026, 12, 9),
        GroupBy.MANAGER,
    )
    shown = {line.group: line for line in found.groups}
    assert shown["Frank Four"].shown and shown["Frank Four"].nps == -100


def test_the_export_gives_the_same_figures_with_the_same_floor(runner, org):
    result = runner.invoke(
        args=["survey", "report", "--since", "2026-11-02", "--until", "2026-12-09", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in json.loads(result.output)}
    assert rows["Fiona Five"]["candidate_nps"] == 20
    assert rows["Fiona Five"]["answered_when_promised"] == 1.0
    assert rows["Fiona Five"]["decision_median_business_days"] == 10
    assert rows["Fiona Five"]["updates_before_decision"] == 1
    assert rows["Frank Four"]["candidate_nps"] is None and rows["Frank Four"]["comments"] == []
    assert rows["Frank Four"]["answers"] is None


def test_the_api_gives_the_same_figures_with_the_same_floor(client, org, session):
    from feedback_sla.accounts import tokens

    from .api_support import bearer

    admin, five, four = org
    admin_secret = tokens.create_token(session, admin, "report", NOW).secret
    frank_secret = tokens.create_token(session, four, "report", NOW).secret
    session.commit()
    answer = client.get(f"/api/v1/reports/survey?{PERIOD}", headers=bearer(admin_secret))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["floor"] == 5
    groups = {group["group"]: group for group in body["groups"]}
    assert groups["Fiona Five"]["candidate_nps"] == 20
    assert groups["Fiona Five"]["comments"] == ["Clear <b>and</b> kind"]
    assert groups["Frank Four"]["shown"] is False and groups["Frank Four"]["comments"] == []
    own = client.get(f"/api/v1/reports/survey?{PERIOD}", headers=bearer(frank_secret)).get_json()
    assert [group["group"] for group in own["groups"]] == ["Frank Four"]
    bad = client.get("/api/v1/reports/survey?since=2026-12-09&until=2026-11-01", headers=bearer(admin_secret))
    assert bad.status_code == 409  # the API's answer to a refused value, as a problem naming it
    assert "until" in bad.get_json()["detail"]


def test_a_generated_client_reads_the_survey_report(session, org, live_api, generated):
    """The client openapi-python-client writes from the app's own document reads the verdict."""
    from feedback_sla_client.api.api import survey_report
    from feedback_sla_client.models import SurveyReportBy

    from feedback_sla.accounts import tokens

    admin, _five, _four = org
    secret = tokens.create_token(session, admin, "report", NOW).secret
    session.commit()
    api = generated.AuthenticatedClient(base_url=live_api, token=secret)
    report = survey_report.sync(
        client=api, since=dt.date(2026, 11, 2), until=dt.date(2026, 12, 9), by=SurveyReportBy.POSITION
    )
    groups = {group.group: group for group in report.groups}
    assert groups["Backend Engineer"].candidate_nps == 20
    assert groups["Designer"].shown is False and groups["Designer"].candidate_nps is None


def test_the_survey_commands_refuse_bad_input_and_write_nothing(runner, org):
    from feedback_sla.survey.models import SurveyWording

    backwards = runner.invoke(args=["survey", "report", "--since", "2026-12-09", "--until", "2026-11-01"])
    assert backwards.exit_code != 0 and "--until" in backwards.output
    not_a_day = runner.invoke(args=["survey", "report", "--since", "yesterday"])
    assert not_a_day.exit_code != 0 and "--since" in not_a_day.output
    unknown = runner.invoke(args=["survey", "wording", "--language", "xx", "--question", "kept", "Hi"])
    assert unknown.exit_code != 0 and "--language" in unknown.output
    control = runner.invoke(args=["survey", "wording", "--language", "de", "--question", "kept", "Gut\x07"])
    assert control.exit_code == 1 and "control character" in control.output
    assert db.session.query(SurveyWording).count() == 0
    done = runner.invoke(args=["survey", "wording", "--language", "de", "--question", "kept", "Pünktlich?"])
    assert done.exit_code == 0, done.output
    assert db.session.get(SurveyWording, ("de", "kept")).text == "Pünktlich?"


def test_the_decision_indexes_migration_goes_down_and_up_keeping_the_candidates(session, org):
    import flask_migrate
    import sqlalchemy as sa

    def indexes(table: str) -> set[str]:
        if db.engine.dialect.name == "postgresql":
            query = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
        found = set(db.session.execute(sa.text(query), {"t": table}).scalars())
        db.session.rollback()
        return found

    assert {"ix_candidates_position_decided"} <= indexes("candidates")
    assert "ix_waits_candidate_opened" in indexes("waits") and "ix_waits_candidate" not in indexes("waits")
    flask_migrate.downgrade(revision="0022_user_language")
    try:
        assert "ix_waits_candidate" in indexes("waits") and "ix_waits_candidate_opened" not in indexes(
            "waits"
        )
        assert "ix_candidates_position_decided" not in indexes("candidates")
    finally:
        db.session.rollback()
        flask_migrate.upgrade()
    assert "ix_waits_candidate_opened" in indexes("waits")
    assert db.session.execute(sa.text("SELECT count(*) FROM candidates")).scalar() == 2
