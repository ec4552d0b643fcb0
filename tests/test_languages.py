"""The candidate's language: set on the add and edit pages, in the CSV and the API, shown on the
candidate page; their emails and their status page written in it, dates included; a named template
without a version in their language falls back whole to the organisation's default language."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.accounts.models import Role
from feedback_sla.database import db
from feedback_sla.emails import library
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.models import Candidate
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers, service

from .api_support import bearer, manager_with_token
from .factories import PositionFactory, UserFactory
from .helpers import berlin, field_errors, text
from .helpers import logged_in as login

#: Monday 14 December 2026, 10:00 in Berlin; the update promises Wednesday 16 December.
NOW = berlin(2026, 12, 14, 10, 0)
PROMISED = dt.date(2026, 12, 16)
TOKEN = re.compile(r"http://localhost/status/([A-Za-z0-9_-]{43})")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = "http://localhost"
    app_config["OUTBOX_UNDO_SECONDS"] = 0
    return app_config


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def maria(session):
    user = UserFactory(name="Maria Lopez", email="maria@example.com", time_zone="Europe/Berlin")
    session.commit()
    return user


@pytest.fixture
def backend(session, maria):
    position = PositionFactory(title="Backend Engineer", manager=maria, time_zone="Europe/Berlin")
    session.commit()
    return position


def add(session, position, name: str, email: str, language: str | None = None) -> Candidate:
    candidate = service.add_candidate(
        session,
        position,
        name,
        email,
        NOW - dt.timedelta(days=1),
        settings_service.load(session),
        language=language,
    )
    session.commit()
    return candidate


def queue(app, candidate: Candidate, kind: str, **extra) -> OutboxMessage:
    config = settings_service.email_config(db.session, EmailConfig.from_app(app))
    request = EmailRequest(
        db.session.get(Candidate, candidate.id),
        kind,
        new_idempotency_key(),
        NOW,
        candidate.position.manager,
        **extra,
    )
    message = answers.queue_email(db.session, request, config, settings_service.load(db.session))
    db.session.commit()
    return message


def deliver(runner) -> None:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output


def test_a_german_candidates_update_rejection_and_status_page_are_german_with_german_dates(
    app, client, runner, session, backend
):
    jonas = add(session, backend, "Jonas Weber", "jonas@example.org", "de")
    update = queue(app, jonas, "update", promised_date=PROMISED)
    deliver(runner)
    assert update.language == "de"
    assert update.subject == "Backend Engineer bei Example Company: der aktuelle Stand Ihrer Bewerbung"
    assert "Sie hören spätestens am Mittwoch, 16. Dezember 2026 von uns." in update.text_body
    assert "<strong>Sie hören spätestens am Mittwoch, 16. Dezember 2026 von uns.</strong>" in update.html_body
    assert 'lang="de"' in update.html_body and "Wednesday" not in update.text_body

    token = TOKEN.search(update.text_body).group(1)
    page = client.get(f"/status/{token}")
    words = page.get_data(as_text=True)
    assert '<html lang="de">' in words
    assert "Ihre Bewerbung als Backend Engineer" in words
    assert "Sie bekommen bis Mittwoch, 16. Dezember 2026 eine Antwort von uns." in words
    assert "Diesen Termin haben wir Ihnen zugesagt." in words
    assert "Where things stand" not in words

    rejection = queue(app, jonas, "rejection", feedback="Ihr Systementwurf war stark.")
    assert rejection.language == "de"
    assert rejection.text_body.startswith("Hallo Jonas,\n\nvielen Dank für Ihr Interesse an der Stelle")
    assert "Ein paar Worte von Maria Lopez:\n\nIhr Systementwurf war stark." in rejection.text_body
    assert "Viele Grüße\nMaria Lopez\nExample Company" in rejection.text_body


def test_the_status_page_switches_language_for_that_link_and_its_forms_keep_it(
    app, client, runner, session, backend
):
    jonas = add(session, backend, "Jonas Weber", "jonas@example.org", "de")
    token = TOKEN.search(queue(app, jonas, "update", promised_date=PROMISED).text_body).group(1)
    deliver(runner)
    german = client.get(f"/status/{token}").get_data(as_text=True)
    switch = re.findall(r'<a href="([^"]+)" lang="(\w+)"[^>]*data-language', german)
    assert [lang for _url, lang in switch] == ["en", "fr", "es", "nl"]
    english = client.get(dict((lang, url) for url, lang in switch)["en"].replace("&amp;", "&"))
    words = english.get_data(as_text=True)
    assert '<html lang="en">' in words and "We owe you an answer by Wednesday, 16 December 2026." in words
    assert f'action="/status/{token}/news?lang=en"' in words
    asked = client.post(f"/status/{token}/news?lang=en", data={"form_token": _form_token(words)})
    assert asked.status_code == 303 and asked.headers["Location"].endswith("lang=en")
    thanks = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Thank you: the team knows you asked for news." in thanks
    # Without ?lang= the same link is the candidate's own language again.
    again = client.get(f"/status/{token}").get_data(as_text=True)
    assert "Sie haben vor Kurzem nachgefragt. Am " in again
    assert client.get(f"/status/{token}?lang=it").get_data(as_text=True).count('<html lang="de">') == 1


def _form_token(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def test_a_link_that_opens_nothing_answers_in_the_browsers_language(client, session):
    gone = client.get("/status/" + "x" * 43, headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"})
    assert gone.status_code == 404
    words = gone.get_data(as_text=True)
    assert '<html lang="nl">' in words and "Deze link opent geen pagina" in words


def test_a_dutch_candidate_gets_an_edited_template_whole_in_the_default_language_without_a_dutch_version(
    app, client, session, maria, backend
):
    admin = UserFactory(role=Role.ADMIN)
    row = library.add(
        session,
        "rejection",
        "After the final interview",
        "Thank you, {{ candidate_first_name }}",
        "Dear {{ candidate_first_name }}, we chose another finalist for {{ position }}.",
        "<p>Dear {{ candidate_first_name }}, we chose another finalist for {{ position }}.</p>",
        admin,
        NOW,
    )
    library.make_default(session, "rejection", row.id)
    library.write_version(
        session,
        row,
        "de",
        "Danke, {{ candidate_first_name }}",
        "Hallo {{ candidate_first_name }}, wir haben uns für jemand anderen entschieden.",
        "<p>Hallo {{ candidate_first_name }}, wir haben uns für jemand anderen entschieden.</p>",
        admin,
        NOW,
    )
    session.commit()
    sanne = add(session, backend, "Sanne de Vries", "sanne@example.org", "nl")
    jonas = add(session, backend, "Jonas Weber", "jonas@example.org", "de")

    dutch = queue(app, sanne, "rejection")
    assert (dutch.subject, dutch.language) == ("Thank you, Sanne", "en")
    assert dutch.text_body == "Dear Sanne, we chose another finalist for Backend Engineer."
    german = queue(app, jonas, "rejection")
    assert (german.subject, german.language) == ("Danke, Jonas", "de")

    login(client, maria)
    page = client.get(f"/candidates/{sanne.id}").get_data(as_text=True)
    assert 'data-field="language" lang="nl">Dutch · Nederlands</dd>' in page
    assert 'data-email-language="en">English</dd>' in page


def test_admins_write_each_languages_version_with_the_same_checks(client, session, maria):
    admin = UserFactory(role=Role.ADMIN)
    row = library.add(
        session, "offer", "Offer", "Offer", "Dear {{ candidate_name }}", "<p>Hi</p>", admin, NOW
    )
    session.commit()
    login(client, admin)
    page = client.get(f"/admin/emails/templates/{row.id}?lang=fr").get_data(as_text=True)
    assert "data-no-version" in page and "Bonne nouvelle" in page  # starts from the shipped French
    form = {"name": "Offer", "subject": "Une offre", "text": "Bonjour {{ nom }}", "html": "<p>Bonjour</p>"}
    refused = client.post(f"/admin/emails/templates/{row.id}?lang=fr", data={**form, "action": "save"})
    assert refused.status_code == 422 and "unknown placeholder nom" in text(refused)
    form["text"] = "Bonjour {{ candidate_first_name }}"
    saved = client.post(f"/admin/emails/templates/{row.id}?lang=fr", data={**form, "action": "save"})
    assert saved.status_code == 302
    db.session.expire_all()
    [version] = db.session.get(type(row), row.id).versions
    assert (version.language, version.subject, version.text_body) == ("fr", "Une offre", form["text"])
    assert db.session.get(type(row), row.id).subject == "Offer"  # its own text is untouched
    deleted = client.post(f"/admin/emails/templates/{row.id}/versions/fr/delete")
    assert deleted.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(row), row.id).versions == []


def stored_language(email: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Candidate.language).where(Candidate.email == email))


def test_the_add_and_edit_pages_set_the_language_and_refuse_one_not_enabled(client, session, maria, backend):
    settings_service.store(session, "languages.enabled", "en, de, nl")
    session.commit()
    login(client, maria)
    form = {"name": "Ana Okafor", "email": "ana@example.org", "position": backend.id, "stage": "applied"}
    new_page = client.get("/candidates/new").get_data(as_text=True)
    assert '<option selected value="en">English</option>' in new_page
    assert "Français" not in new_page
    assert client.post("/candidates/new", data={**form, "language": "nl"}).status_code == 302
    assert stored_language("ana@example.org") == "nl"
    ana = db.session.scalar(sa.select(Candidate).where(Candidate.email == "ana@example.org"))
    details = {"name": ana.name, "email": ana.email, "language": "fr"}
    refused = client.post(f"/candidates/{ana.id}/edit", data=details)
    assert refused.status_code == 422 and field_errors(refused.get_data(as_text=True), "language")
    assert stored_language("ana@example.org") == "nl"
    assert client.post(f"/candidates/{ana.id}/edit", data={**details, "language": "de"}).status_code == 302
    assert stored_language("ana@example.org") == "de"


def test_a_candidate_nobody_chose_a_language_for_gets_the_organisations_default(session, backend):
    settings_service.store(session, "languages.default", "fr")
    session.commit()
    assert add(session, backend, "Léa Martin", "lea@example.org").language == "fr"


HEADER = "name,email,position,manager_email,stage,applied_at,language\n"


def test_a_csv_column_sets_the_language_and_a_bad_one_names_its_line_and_column(client, maria, backend):
    login(client, maria)
    good = f"Gil,gil@example.org,Backend Engineer,{maria.email},applied,2026-12-10T08:00,es\n"
    empty = f"Hana,hana@example.org,Backend Engineer,{maria.email},applied,2026-12-10T08:00,\n"
    bad = f"Ivy,ivy@example.org,Backend Engineer,{maria.email},applied,2026-12-10T08:00,klingon\n"

    def upload(rows: str):
        data = {"file": (io.BytesIO((HEADER + rows).encode()), "candidates.csv")}
        return client.post("/candidates/import", data=data, content_type="multipart/form-data")

    response = upload(good + empty + bad)
    assert response.status_code == 422
    assert "<td>4</td><td>language</td><td>&#39;klingon&#39; is not one of" in response.get_data(as_text=True)
    assert stored_language("gil@example.org") is None
    assert upload(good + empty).status_code == 302
    assert (stored_language("gil@example.org"), stored_language("hana@example.org")) == ("es", "en")


def test_the_api_reads_and_writes_the_language_and_documents_the_enabled_ones(client, session):
    settings_service.store(session, "languages.enabled", "de, nl")
    manager, secret = manager_with_token(session, time_zone="UTC")
    position = PositionFactory(manager=manager, time_zone="UTC")
    session.commit()
    body = {"position_id": position.id, "name": "Ben Larsen", "email": "ben@example.org", "language": "nl"}
    created = client.post("/api/v1/candidates", json=body, headers=bearer(secret))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["language"] == "nl"
    path = f"/api/v1/candidates/{created.get_json()['id']}"
    refused = client.patch(path, json={"language": "fr"}, headers=bearer(secret))
    assert refused.status_code == 422 and "language" in text(refused)
    assert client.patch(path, json={"language": "DE"}, headers=bearer(secret)).get_json()["language"] == "de"
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Candidate"]["properties"]["language"]["enum"] == ["en", "de", "nl"]
    assert schemas["NewCandidate"]["properties"]["language"]["enum"] == ["en", "de", "nl"]


def triggers() -> list[str]:
    if db.engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
    return list(db.session.execute(sa.text(query)).scalars())


def test_the_migration_keeps_every_candidate_and_their_triggers_and_goes_back(app, session, backend):
    """Upgrading gives existing candidates English; downgrading drops the language columns and the
    other languages' versions in place: the candidates table and the triggers of 0012 and 0015 stay."""
    import flask_migrate

    add(session, backend, "Ana Okafor", "ana@example.org", "de")
    with app.app_context():
        before = triggers()
        assert before
        flask_migrate.downgrade(revision="0018_chat")
        try:
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("candidates")}
            assert "language" not in columns
            assert db.session.execute(sa.text("SELECT name FROM candidates")).scalars().all() == [
                "Ana Okafor"
            ]
            db.session.commit()
            flask_migrate.upgrade()
            assert stored_language("ana@example.org") == "en"
            assert triggers() == before
        finally:
            db.session.rollback()
            flask_migrate.upgrade()
