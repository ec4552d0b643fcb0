"""The app in its user's language: each user picks English or German in My settings (the browser's
language by default); the triage page, its messages, form errors and the digest follow it, and
every signed-in page in German holds no English sentence of the catalog."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
import time_machine
from babel.messages.pofile import read_po

from feedback_sla import demo
from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import find_by_email
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.positions.models import Position
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.web.i18n import TRANSLATIONS

from .factories import PositionFactory, UserFactory
from .helpers import logged_in, login, text
from .test_catalogs import extract
from .test_every_page import NOT_PAGES, SKIPPED

BASE_URL = "https://feedback.example.com"
#: Wednesday 25 November 2026, 09:00 UTC: the candidate below applied three weeks before.
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
#: A placeholder left as written, in any syntax.
LEFTOVER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture
def app_config(app_config):
    app_config["BASE_URL"] = BASE_URL
    return app_config


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def overdue(session, manager, name="Jonas Becker") -> Candidate:
    position = PositionFactory(manager=manager, title="Backend Engineer")
    opened = NOW - dt.timedelta(days=21)
    candidate = service.add_candidate(session, position, name, "jonas@example.org", opened, OrgSettings())
    session.commit()
    return candidate


def settings_form(**changes) -> dict:
    return {"name": "Ada Manager", "time_zone": "Europe/Berlin", "digest_hour": "8", **changes}


def test_a_manager_with_german_chosen_sees_the_triage_page_messages_and_form_errors_in_german(
    client, session, clock
):
    manager = UserFactory(time_zone="Europe/Berlin", language="de")
    overdue(session, manager)
    logged_in(client, manager)
    page = text(client.get("/", headers={"Accept-Language": "en"}))
    assert '<html lang="de">' in page
    assert "Wer auf eine Antwort wartet" in page
    assert "Who is waiting for an answer" not in page
    assert "Überfällig" in page and "Arbeitstage überfällig" in page
    assert "Zwischenstand senden" in page and "Meine Einstellungen" in page

    saved = client.post("/account/settings", data=settings_form(language="de"), follow_redirects=True)
    assert "Ihre Einstellungen sind gespeichert." in text(saved)

    refused = client.post("/account/settings", data=settings_form(name="", language="de"))
    page = text(refused)
    assert refused.status_code == 200 or refused.status_code == 422
    assert "Es gibt ein Problem" in page and "Nichts wurde gespeichert." in page
    assert "There is a problem" not in page
    assert "Dieses Feld wird benötigt." in page  # the form library's own message, in German too


def test_the_language_is_chosen_in_my_settings_with_the_browsers_as_the_default(client, session, clock):
    manager = UserFactory(time_zone="UTC")
    logged_in(client, manager)
    assert '<html lang="de">' in client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    # No app catalog in French: a French browser reads the pages in English.
    assert "Who is waiting for an answer" in client.get("/", headers={"Accept-Language": "fr"}).text

    page = client.get("/account/settings", headers={"Accept-Language": "en"}).text
    options = re.findall(
        r'<option (?:selected )?value="(\w*)"', page.split('name="language"')[1].split("</select>")[0]
    )
    assert options == ["", "en", "de"]
    assert "Browser&#39;s language" in page or "Browser's language" in page

    response = client.post("/account/settings", data=settings_form(language="de"))
    assert response.status_code == 302
    assert db.session.get(User, manager.id).language == "de"
    followed = client.get(response.location, headers={"Accept-Language": "en"})
    assert "Ihre Einstellungen sind gespeichert." in text(followed)
    assert "Meine Einstellungen" in followed.text

    refused = client.post("/account/settings", data=settings_form(language="fr"))
    assert refused.status_code in (200, 422)
    assert db.session.get(User, manager.id).language == "de"
    assert "Sprache" in text(refused)

    client.post("/account/settings", data=settings_form(language=""))
    assert db.session.get(User, manager.id).language is None
    assert "Who is waiting for an answer" in client.get("/", headers={"Accept-Language": "en"}).text


def test_the_digest_goes_out_in_its_managers_language(runner, session):
    german = UserFactory(email="jonas.manager@example.com", time_zone="UTC", digest_hour=8, language="de")
    english = UserFactory(email="ada.manager@example.com", time_zone="UTC", digest_hour=8)
    overdue(session, german, "Lena Fischer")
    overdue(session, english, "Olga Smith")
    result = runner.invoke(args=["digest", "send", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    sent = {
        m.to_address: m
        for m in session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.DIGEST))
    }
    mail = sent["jonas.manager@example.com"]
    assert mail.subject == "Bewerber/innen warten auf Sie: 1 eskaliert"
    assert "Hallo" in mail.text_body and "Arbeitstage überfällig" in mail.text_body
    assert "Ihre Triage-Seite" in mail.text_body and "Your triage page" not in mail.text_body
    assert '<html lang="de">' in mail.html_body and "Ihre Triage-Seite öffnen" in mail.html_body
    assert "Mittwoch" not in mail.text_body or "2026" in mail.text_body
    assert not LEFTOVER.search(mail.text_body) and not LEFTOVER.search(mail.html_body)
    assert sent["ada.manager@example.com"].subject == "Candidates waiting on you: 1 escalated"
    assert "Your triage page" in sent["ada.manager@example.com"].text_body


def english_sentences() -> set[str]:
    """The app catalog's English sentences (three words or more, no placeholder) that German says
    otherwise: words a German page must not show."""
    with open(TRANSLATIONS / "de" / "LC_MESSAGES" / "app.po", "rb") as stream:
        german = {m.id: m.string for m in read_po(stream, locale="de") if isinstance(m.id, str)}
    return {
        msgid
        for msgid in extract(domain="app")
        if len(msgid.split()) > 2 and "%" not in msgid and german.get(msgid) != msgid
    }


def shown_whole(sentence: str, page: str) -> bool:
    """The sentence as a text or attribute of its own on the page (not inside a longer one)."""
    return re.search(r'[>"]\s*' + re.escape(sentence) + r'\s*[<"]', page) is not None


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_every_signed_in_page_in_german_holds_no_english_sentence_of_the_catalog(
    app, client, session, who, clock
):
    demo.seed(session, NOW)  # on a fixed day: the pages hold the same waits whatever the date
    session.commit()
    user = find_by_email(session, demo.ADMIN[0] if who == "admin" else demo.MANAGERS[0][0])
    user.language = "de"
    session.commit()
    assert login(client, user, password=demo.DEMO_PASSPHRASE).status_code == 302
    manager = find_by_email(session, demo.MANAGERS[0][0])
    position = session.scalar(sa.select(Position).where(Position.manager_id == manager.id))
    candidate = session.scalar(sa.select(Candidate).where(Candidate.position_id == position.id))
    values = {"candidate_id": candidate.id, "position_id": position.id, "kind": "rejection", "template_id": 1}
    english = english_sentences()
    opened, left = 0, {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED or rule.endpoint == "auth.login":
            continue
        if rule.endpoint.startswith(NOT_PAGES) or "template_id" in rule.arguments:
            continue
        url = app.url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
        response = client.get(url, headers={"Accept-Language": "en"})
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = text(response)
        assert '<html lang="de">' in page, url
        found = sorted(sentence for sentence in english if shown_whole(sentence, page))
        found += LEFTOVER.findall(page.split("<body", 1)[1])
        if found:
            left[rule.rule] = found
        opened += 1
    assert left == {}, "\n".join(f"{url}: {found}" for url, found in left.items())
    assert opened >= 8


def test_the_migration_keeps_every_user_and_goes_back(app, session):
    """Upgrading gives existing users no language (the browser's); downgrading drops the column and
    keeps every user."""
    import flask_migrate

    UserFactory(email="lena@example.com", language="de")
    session.commit()
    with app.app_context():
        flask_migrate.downgrade(revision="0021_survey")
        try:
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
            assert "language" not in columns
            emails = db.session.execute(sa.text("SELECT email FROM users")).scalars().all()
            assert emails == ["lena@example.com"]
            db.session.commit()
            flask_migrate.upgrade()
            assert db.session.scalar(sa.select(User.language).where(User.email == "lena@example.com")) is None
        finally:
            db.session.rollback()
            flask_migrate.upgrade()


def test_a_change_of_language_within_one_request_is_followed_at_once(app):
    """A page's catalog is found once per language, not once per string: a digest written for a
    German manager, then an English one, then a German one again in the same context, each reads in
    its own language."""
    from flask_babel import force_locale

    template = app.jinja_env.from_string(
        '{{ _("Send update") }} · {{ ngettext("%(num)d day", "%(num)d days", 2) }}'
    )
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        with force_locale("de"):
            first = template.render()
        english = template.render()
        with force_locale("de"):
            again = template.render()
    assert first == again
    assert first.startswith("Zwischenstand senden · ")
    assert english.startswith("Send update · ")
