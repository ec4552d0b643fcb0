"""The metrics page reads answered waits from a rollup kept as they change; its figures must be the
ones counted from the waits themselves, whichever door answered, reopened or erased them.

Also: the summary comes a page of groups at a time with totals over everyone, and an admin picks
a hiring manager by typing (an id, an email, the start of a name), never from a list of everyone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import threading
import time

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate
from feedback_sla.cli.metrics import metrics as metrics_command
from feedback_sla.database import db
from feedback_sla.metrics import counts, rollup, service
from feedback_sla.metrics.models import AnsweredByDay, AnsweredByPosition
from feedback_sla.models import ContactChannel, Role
from feedback_sla.positions.service import PositionChange
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import erasure, undo
from feedback_sla.waits import service as waits

from .factories import PositionFactory, UserFactory
from .helpers import berlin, ny
from .helpers import logged_in as login
from .inbound_support import INBOUND_CONFIG, about, mail, pipe, send
from .organisations import answering_org


def db_kind() -> str:
    return "postgresql" if os.environ.get("FEEDBACK_SLA_TEST_DATABASE_URL") else "sqlite"


#: Friday 13 November 2026, noon in New York; the default period is the 12 weeks up to it.
NOW = ny(2026, 11, 13, 12)
SINCE, UNTIL = dt.date(2026, 8, 24), dt.date(2026, 11, 13)


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(INBOUND_CONFIG, OUTBOX_MAIL_DIR=str(tmp_path / "mail"))
    return app_config


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(session, frozen):
    """The report's organisation, its answers counted as they happen (the rollup built first)."""
    settings_service.store(session, "holiday_calendar", "US")
    rollup.rebuild(session, settings_service.load(session))
    org = answering_org(session)
    session.commit()
    return org


def rows(session) -> tuple[set, set]:
    """Every row of the rollup, per position and per day."""
    return tuple(
        set(session.execute(sa.select(model.__table__)).all())
        for model in (AnsweredByPosition, AnsweredByDay)
    )


def every_page(session, settings, filters: service.MetricsFilters) -> service.Metrics:
    """The page's figures with the lines of all its pages."""
    first = service.metrics(session, NOW, settings, filters)
    lines = list(first.groups)
    for page in range(2, first.pages + 1):
        lines += service.metrics(session, NOW, settings, dataclasses.replace(filters, page=page)).groups
    return dataclasses.replace(first, groups=lines, page=1, pages=1)


def assert_the_page_counts_what_the_waits_say(session, manager_id: int | None = None) -> None:
    session.commit()
    settings = settings_service.load(session)
    assert rollup.built_basis(session) == rollup.basis_of(settings)  # kept, not counted again
    for by in GroupBy:
        filters = service.MetricsFilters(SINCE, UNTIL, by, manager_id)
        shown = every_page(session, settings, filters)
        assert shown == service.from_scratch(session, NOW, settings, filters)
    kept = rows(session)
    rollup.rebuild(session, settings)
    assert rows(session) == kept  # the answers counted one at a time are those a rebuild counts
    session.commit()


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(counts, "GROUPS_PER_PAGE", 2)


def test_the_page_follows_every_door_that_answers_reopens_or_erases(runner, session, org, small_pages):
    settings = org["settings"]
    assert_the_page_counts_what_the_waits_say(session)

    # A rejection sent closes Zoë's wait; the mail server's permanent bounce opens it again.
    zoe = waits.add_candidate(
        session, org["backend"], "Zoë", "zoe.obrien@example.net", ny(2026, 11, 2, 9), settings
    )
    rejection = send(session, zoe, "rejection", ny(2026, 11, 5, 10))
    assert_the_page_counts_what_the_waits_say(session)
    assert pipe(runner, mail("postfix_dsn", **about(rejection)), ny(2026, 11, 6, 9)).exit_code == 0
    session.expire_all()
    assert zoe.status.value == "active"
    assert_the_page_counts_what_the_waits_say(session)

    # A contact logged by mistake and taken back; an update autopilot sent (it promises a date:
    # a new wait opens).
    yan = waits.add_candidate(
        session, org["analyst"], "Yan", "yan@example.com", berlin(2026, 11, 3, 9), settings
    )
    contact = waits.log_contact(session, yan, ContactChannel.PHONE, berlin(2026, 11, 4, 9), org["jonas"])
    assert_the_page_counts_what_the_waits_say(session)
    undo.undo(session, yan, contact.id, NOW, dt.timedelta(minutes=5))
    xia = waits.add_candidate(
        session, org["designer"], "Xia", "xia@example.com", ny(2026, 11, 9, 9), settings
    )
    send(session, xia, "update", ny(2026, 11, 10, 10), autopilot=True)
    assert_the_page_counts_what_the_waits_say(session)

    # Erasing a waiting candidate withdraws them (their wait closes); an answered one keeps counting.
    request = erasure.Request(by="admin", reason="asked to be forgotten")
    for name in ("Gil", "Ana"):
        candidate = next(c for c in _candidates(session) if c.name == name)
        erasure.erase(session, candidate, ny(2026, 11, 12, 15), request)
    assert_the_page_counts_what_the_waits_say(session)
    assert_the_page_counts_what_the_waits_say(session, manager_id=org["maria"].id)

    # A position moving to another zone counts its answers again in its new local days.
    analyst = org["analyst"]
    change = PositionChange(analyst.title, analyst.manager, "Pacific/Auckland")
    waits.update_position(session, analyst, change, settings)
    assert_the_page_counts_what_the_waits_say(session)


def _candidates(session) -> list[Candidate]:
    return session.scalars(sa.select(Candidate)).all()


def test_a_new_holiday_calendar_or_zone_is_counted_again_by_the_page(session, org):
    before = rows(session)
    settings_service.update(session, {"holiday_calendar": "", "time_zone": "Asia/Tokyo"})
    session.commit()
    settings = settings_service.load(session)
    assert rollup.built_basis(session) != rollup.basis_of(settings)

    filters = service.MetricsFilters(SINCE, UNTIL)
    shown = service.metrics(session, NOW, settings, filters)
    assert shown == service.from_scratch(session, NOW, settings, filters)
    assert rollup.built_basis(session) == rollup.basis_of(settings)
    assert rows(session) != before  # Eve's 7 business days skipped Veterans Day; now 8


def test_the_command_counts_everything_again(runner, session, org):
    session.execute(sa.delete(AnsweredByPosition))
    session.execute(sa.delete(AnsweredByDay))
    session.commit()

    result = runner.invoke(metrics_command, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output == "7 answered wait(s) counted, 3 open\n"
    assert_the_page_counts_what_the_waits_say(session)


def test_an_unknown_zone_of_an_answered_wait_is_named(client, session, org):
    session.execute(
        sa.text("UPDATE positions SET time_zone = 'Mars/Olympus_Mons' WHERE title = 'Data Analyst'")
    )
    rollup.rebuild(session, settings_service.load(session))
    session.commit()
    login(client, UserFactory(role=Role.ADMIN))

    response = client.get("/metrics")
    assert response.status_code == 409
    assert "a position has an unknown time zone &#39;Mars/Olympus_Mons&#39;" in response.get_data(
        as_text=True
    )
    # A period without its answers shows.
    assert client.get("/metrics?since=2026-11-09").status_code == 200


# --- a page of the summary at a time -------------------------------------------------------------


def _managers_with_a_wait(session, count: int) -> list:
    settings = settings_service.load(session)
    managers = []
    for i in range(count):
        manager = UserFactory(name=f"Manager {i:03d}", email=f"m{i:03d}@example.com")
        position = PositionFactory(manager=manager, title=f"Role {i:03d}")
        candidate = waits.add_candidate(
            session, position, f"C{i}", f"c{i}@example.com", NOW - dt.timedelta(days=3), settings
        )
        if i % 2:
            waits.log_contact(session, candidate, ContactChannel.PHONE, NOW - dt.timedelta(days=1))
        managers.append(manager)
    session.commit()
    return managers


def _summary_rows(html: str) -> list[str]:
    table = re.search(r"<tbody>(.*?)</tbody>", html, re.DOTALL).group(1)
    return re.findall(r'<tr data-group="(\d+)"', table)


def test_the_summary_shows_fifty_groups_a_page_with_totals_over_everyone(client, session, frozen):
    managers = _managers_with_a_wait(session, 53)
    login(client, UserFactory(role=Role.ADMIN))

    first = client.get("/metrics").get_data(as_text=True)
    assert _summary_rows(first) == [str(m.id) for m in managers[:50]]
    assert 'data-total="53"' in first and "Page 1 of 2" in first
    totals = re.search(r'<tr data-group="all".*?</tr>', first, re.DOTALL).group(0)
    assert 'data-figure="waits">53<' in totals and 'data-figure="answered">26<' in totals

    second = client.get("/metrics?page=2").get_data(as_text=True)
    assert _summary_rows(second) == [str(m.id) for m in managers[50:]]
    assert client.get("/metrics?page=9").get_data(as_text=True).count('<tr data-group="') == 4  # the last
    assert client.get("/metrics?page=0").status_code == 400


def test_the_page_does_not_grow_with_the_managers(client, session, frozen):
    _managers_with_a_wait(session, 60)
    login(client, UserFactory(role=Role.ADMIN))
    small = len(client.get("/metrics").get_data())
    _managers_with_a_wait_more(session, 60, 240)
    large = len(client.get("/metrics").get_data())
    assert large < small * 1.02, (small, large)


def _managers_with_a_wait_more(session, start: int, count: int) -> None:
    settings = settings_service.load(session)
    for i in range(start, start + count):
        position = PositionFactory(manager=UserFactory(email=f"z{i:04d}@example.com"))
        waits.add_candidate(
            session, position, f"D{i}", f"d{i}@example.com", NOW - dt.timedelta(days=2), settings
        )
    session.commit()


# --- the manager picker ---------------------------------------------------------------------------


@pytest.fixture
def picker(client, session, org):
    admin = UserFactory(name="Anna Admin", role=Role.ADMIN, email="anna@example.com")
    for name, email in (("Annika Holm", "annika@example.com"), ("Anne Berg", "anne.b@example.com")):
        PositionFactory(manager=UserFactory(name=name, email=email))
    session.commit()
    login(client, admin)
    return client


@pytest.mark.parametrize("typed", ["jon", "Jonas Berg", "JONAS@example.com", "jonas@", "{jonas}"])
def test_a_typed_name_email_or_id_finds_the_manager(picker, org, typed):
    typed = typed.replace("{jonas}", str(org["jonas"].id))
    response = picker.get("/metrics", query_string={"manager": typed})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _summary_rows(html) == [str(org["jonas"].id)]
    assert 'value="jonas@example.com"' in html and "on the positions of Jonas Berg" in html


def test_a_text_that_several_managers_start_offers_them(picker):
    response = picker.get("/metrics?manager=Ann")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-error-field="manager"' in html
    assert "manager: 2 hiring managers have a name or email starting with &#39;Ann&#39;" in html
    choices = re.search(r'<ul class="mb-0 mt-2" id="m-choices">(.*?)</ul>', html, re.DOTALL).group(1)
    assert re.findall(r">([^<]+)</a>", choices) == ["Anne Berg", "Annika Holm"]  # not the admin
    assert "manager=" in choices and "<svg" not in html


def test_nobody_found_names_the_field(picker):
    response = picker.get("/metrics?manager=Zelda")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-error-field="manager"' in html and 'aria-describedby="m-manager-help m-error"' in html
    assert (
        "manager: no hiring manager with id &#39;Zelda&#39;, nor one whose name or email starts with it"
        in html
    )


def test_the_picker_offers_at_most_twenty_managers_and_lists_nobody_else(client, session, frozen):
    for i in range(30):
        PositionFactory(manager=UserFactory(name=f"Manager {i:02d}"))
    session.commit()
    login(client, UserFactory(role=Role.ADMIN))
    html = client.get("/metrics").get_data(as_text=True)

    datalist = re.search(r'<datalist id="m-managers">(.*?)</datalist>', html, re.DOTALL).group(1)
    assert datalist.count("<option") == service.MANAGER_MATCHES
    assert "<select" not in html.split('id="m-manager"')[1].split("</form>")[0]


# --- answers at the same time (PostgreSQL: SQLite writes one transaction at a time) ---------------


def _contact(candidate_id: int, hour: int):
    """Log a phone call to the candidate on Tuesday 10 November at ``hour``, in a given session."""

    def work(other):
        candidate = other.get(Candidate, candidate_id)
        waits.log_contact(other, candidate, ContactChannel.PHONE, ny(2026, 11, 10, hour))
        other.flush()

    return work


def _in_thread(app, work):
    """Run ``work(session)`` in a transaction of its own on another thread; join() waits for it."""
    failures = []

    def run():
        with app.app_context(), Session(db.engine) as session:
            try:
                work(session)
                session.commit()
            except Exception as exc:  # handed to the test
                failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


@pytest.mark.skipif(db_kind() != "postgresql", reason="concurrent writers: PostgreSQL")
def test_answers_at_the_same_time_all_count(app, session, org):
    """Two answers of one position and day, and one wait answered twice at once, count once each."""
    settings = org["settings"]
    monday = ny(2026, 11, 9, 9)
    kit, lou = (
        waits.add_candidate(session, org["backend"], name, f"{name}@example.com", monday, settings).id
        for name in ("kit", "lou")
    )
    session.commit()

    with Session(db.engine) as first:
        _contact(kit, 9)(first)  # flushed, not committed: its counts and the wait are locked
        threads = [_in_thread(app, _contact(lou, 10)), _in_thread(app, _contact(kit, 11))]
        time.sleep(0.5)
        first.commit()
    for thread, failures in threads:
        thread.join(timeout=30)
        assert not failures, failures
    session.expire_all()
    assert_the_page_counts_what_the_waits_say(session)
    counted = session.scalar(sa.select(sa.func.sum(AnsweredByPosition.answered)))
    assert counted == 7 + 2


@pytest.mark.skipif(db_kind() != "postgresql", reason="concurrent writers: PostgreSQL")
def test_an_answer_during_a_rebuild_counts_once(app, session, org):
    mia = waits.add_candidate(
        session, org["backend"], "Mia", "mia@example.com", ny(2026, 11, 9, 9), org["settings"]
    )
    session.commit()

    with Session(db.engine) as first:
        rollup.rebuild(first, settings_service.load(first))  # not committed: it holds the rollup
        thread, failures = _in_thread(app, _contact(mia.id, 9))
        time.sleep(0.5)
        first.commit()
    thread.join(timeout=30)
    assert not failures, failures
    session.expire_all()
    assert_the_page_counts_what_the_waits_say(session)
