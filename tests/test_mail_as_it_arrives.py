"""Mail as servers and clients see it: Auto-Submitted on what no person sent, the digest's one-click
unsubscribe (RFC 8058), styles written on the elements, and DKIM signatures a verifier accepts.

Messages go through the real worker to an SMTP server on loopback; what it received is what is read.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
import unicodedata

import dkim
import pytest
import time_machine
from flask import current_app

from feedback_sla import create_app
from feedback_sla.autopilot import service as autopilot
from feedback_sla.config import ConfigurationError
from feedback_sla.digest import service as digest_service
from feedback_sla.emails import automatic, checks, composing
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.composing import TemplateError
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import CANDIDATE_KINDS, OutboxMessage
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.worker import run_worker

from .emails_support import Recorder, SmtpSink, free_port
from .factories import PositionFactory, UserFactory
from .helpers import login

BASE_URL = "https://feedback.example.com"
#: Wednesday 18 November 2026, 15:00 UTC: three business hours before the day's close.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
#: Applied then, a wait is due (5 business days) at the end of NOW's day: autopilot writes to it.
APPLIED = dt.datetime(2026, 11, 11, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)  # past every undo window
NAME_WITH_ACCENTS = "Zoë Brontë"


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(app_config, port):
    app_config.update(
        BASE_URL=BASE_URL, MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2
    )
    return app_config


def received(app, port: int) -> Recorder:
    """Everything due at ``LATER``, delivered by the worker to a server on ``port``."""
    with SmtpSink(port=port) as sink:
        run_worker(app, once=True, clock=lambda: LATER)
    return sink


def org(session):
    return settings_service.load(session)


def waiting_candidate(session, *, autopilot_on: bool = False, name: str = "Zoë Brontë", manager=None):
    manager = manager or UserFactory(name="Maria Lopez", email="maria@example.com")
    position = PositionFactory(
        manager=manager, title="Backend Engineer", time_zone="UTC", autopilot=autopilot_on
    )
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    address = plain.lower().replace(" ", ".") + "@example.org"
    candidate = waits.add_candidate(session, position, name, address, APPLIED, org(session))
    session.commit()
    return manager, candidate


def queue_digest(session, manager, *, config: EmailConfig | None = None):
    config = config or EmailConfig.from_app(current_app)
    digest = digest_service.digest_for(session, NOW, org(session), manager, NOW.date(), BASE_URL)
    day = digest_service.queue(session, digest, NOW, config)
    session.commit()
    return day


# --- Auto-Submitted -------------------------------------------------------------------------------


def test_a_persons_one_click_email_carries_no_auto_submitted_but_autopilots_update_and_the_digest_do(
    app, client, session, port
):
    manager, person = waiting_candidate(session)
    _, robot = waiting_candidate(session, autopilot_on=True, name="Ana Núñez", manager=manager)
    with time_machine.travel(NOW, tick=False):
        login(client, manager)
        response = client.post(f"/candidates/{person.id}/emails/rejection", data={"nonce": "one-click-0001"})
        assert response.status_code == 302
        outcome = autopilot.run(session, NOW, org(session), EmailConfig.from_app(app))
        assert len(outcome.queued) == 1 and outcome.queued[0].owed.candidate_id == robot.id
    queue_digest(session, manager)

    by_subject = {m["Subject"]: m for m in received(app, port).messages}
    rejection = next(m for s, m in by_subject.items() if s.startswith("Your application"))
    update = next(m for s, m in by_subject.items() if "an update" in s)
    digest = next(m for s, m in by_subject.items() if s.startswith("Candidates waiting"))
    assert rejection["Auto-Submitted"] is None
    assert rejection["List-Unsubscribe"] is None
    assert update["Auto-Submitted"] == "auto-generated"
    assert update["List-Unsubscribe"] is None  # a candidate's email has nothing to unsubscribe from
    assert digest["Auto-Submitted"] == "auto-generated"


# --- the digest's one-click unsubscribe -------------------------------------------------------------


def unsubscribe_link(message) -> str:
    [value] = message.get_all("List-Unsubscribe")
    assert value.startswith("<https://") and value.endswith(">")
    return value[1:-1]


def test_the_digest_carries_a_one_click_unsubscribe_link_that_a_cookieless_post_follows(
    csrf_on, app, session, port
):
    assert app.config["WTF_CSRF_ENABLED"]
    manager, _ = waiting_candidate(session)
    queue_digest(session, manager)
    [message] = received(app, port).messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = unsubscribe_link(message)
    assert link.startswith(f"{BASE_URL}/digest/unsubscribe/")
    # The same link sits in the digest's footer, where a reader finds it.
    assert link in message.get_body(("plain",)).get_content()
    assert f'href="{link}"' in message.get_body(("html",)).get_content()

    path = link.removeprefix(BASE_URL)
    stranger = app.test_client()  # no session, no cookie, no CSRF token (CSRF is on)
    page = stranger.get(path)
    assert page.status_code == 200 and "Stop the daily digest?" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    session.refresh(manager)
    assert manager.digest_enabled  # a mail scanner's GET changes nothing

    done = stranger.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Your daily digest is off" in done.get_data(as_text=True)
    assert "Set-Cookie" not in done.headers
    session.refresh(manager)
    assert not manager.digest_enabled
    again = stranger.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "It was already off" in again.get_data(as_text=True)
    # Off means off: the next day's run queues nothing for this manager.
    assert digest_service.due_digests(session, NOW + dt.timedelta(days=1)) == []


@pytest.mark.parametrize("forged", ["MQ.not-a-signature", "nothing", ""])
def test_an_unsubscribe_link_not_signed_with_the_apps_secret_opens_nothing_and_changes_nothing(
    app, client, session, forged
):
    manager, _ = waiting_candidate(session)
    other_secret = automatic.unsubscribe_token("another-apps-secret-key-0123456789", manager.id)
    for token in (forged, other_secret):
        assert client.get(f"/digest/unsubscribe/{token}").status_code == 404
        assert client.post(f"/digest/unsubscribe/{token}").status_code == 404
    session.refresh(manager)
    assert manager.digest_enabled


def test_a_token_names_one_manager_and_only_their_digest_stops(app, client, session):
    maria, _ = waiting_candidate(session)
    jonas = UserFactory(name="Jonas Berg", email="jonas@example.com")
    session.commit()
    token = automatic.unsubscribe_token(app.config["SECRET_KEY"], jonas.id)
    assert client.post(f"/digest/unsubscribe/{token}").status_code == 200
    session.refresh(maria)
    session.refresh(jonas)
    assert maria.digest_enabled and not jonas.digest_enabled


def test_without_an_https_base_url_the_digest_has_no_list_unsubscribe_but_still_says_it_is_automatic(
    make_app, session, port
):
    other = make_app(BASE_URL="http://localhost:5000")
    with other.app_context():
        manager, _ = waiting_candidate(session)
        queue_digest(session, manager, config=EmailConfig.from_app(other))
        [message] = received(other, port).messages
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None


# --- styles on the elements ------------------------------------------------------------------------


def _finished(html: str) -> None:
    """An HTML part as every client reads it: no <style> left, a viewport, styled paragraphs."""
    assert "<style" not in html and "<link" not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert re.search(r'<div class="page" style="[^"]*padding: 16px 8px', html)
    paragraphs = re.findall(r"<p\b[^>]*>", html)
    assert paragraphs and all(
        "font-family: Arial" in p and "overflow-wrap: break-word" in p for p in paragraphs
    )


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_every_candidate_email_comes_out_with_its_styles_on_the_elements(session, kind):
    _finished(composing.render(session, kind, composing.SAMPLE).html)


def test_the_digest_and_a_managers_rewritten_text_come_out_styled_on_the_elements(session):
    manager, _ = waiting_candidate(session)
    day = queue_digest(session, manager)
    _finished(session.get(OutboxMessage, day.outbox_message_id).html_body)
    _finished(str(composing.text_to_html("Dear Zoë,\n\nThank you.")))


def test_an_admins_edited_template_is_inlined_and_can_load_nothing(app, session, tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("p { color: #123456; }")
    edited = (
        "<html><head><style>p.lead { color: #654321; font-size: 18px; }</style>"
        f'<link rel="stylesheet" href="{secret}"><link rel="stylesheet" href="file://{secret}">'
        "<style>@import url('http://127.0.0.1:9/x.css');</style></head>"
        '<body><p class="lead">Dear {{ candidate_first_name }},</p><p>No.</p></body></html>'
    )
    composing.save_template(
        session, "rejection", "Hello", "Dear {{ candidate_first_name }}", edited, None, NOW
    )
    session.commit()
    html = composing.render(session, "rejection", composing.SAMPLE).html
    assert '<p class="lead" style="color: #654321;font-size: 18px;">Dear Alex,</p>' in html
    assert "#123456" not in html and "<link" not in html and "<style" not in html
    assert 'name="viewport"' in html


def test_an_edited_template_whose_inlined_styles_would_grow_past_the_limit_is_refused_on_save(session):
    # Short on the sample; on the longest feedback, 5,000 paragraphs each given the whole style.
    style = "p { " + " ".join(f"margin-{i % 4}: {i}px;" for i in range(200)) + " }"
    bloated = f"<style>{style}</style>{{% for letter in feedback %}}<p>{{{{ letter }}}}</p>{{% endfor %}}"
    with pytest.raises(TemplateError, match="html: cannot be rendered: longer than 1,000,000 characters"):
        composing.save_template(session, "rejection", "Hello", "Text", bloated, None, NOW)


# --- DKIM ------------------------------------------------------------------------------------------


def _openssl(*args: str) -> bytes:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make a test key (apt-get install openssl)")
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    """A fresh 2048-bit key and its DNS TXT record (v=DKIM1; k=rsa; p=<public key>)."""
    folder = tmp_path_factory.mktemp("dkim")
    private = folder / "dkim.pem"
    _openssl("genrsa", "-out", str(private), "2048")
    public = _openssl("rsa", "-in", str(private), "-pubout", "-outform", "DER")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return private, record


def dns_for(name: str, record: bytes):
    def dnsfunc(asked, timeout=5):
        return record if asked.decode().rstrip(".") == name else None

    return dnsfunc


def test_a_dkim_signed_digest_verifies_against_the_published_key_and_a_changed_byte_does_not(
    make_app, session, port, rsa_key
):
    private, record = rsa_key
    signing = make_app(DKIM_KEY_FILE=str(private), DKIM_SELECTOR="fsla2026", DKIM_DOMAIN="example.com")
    with signing.app_context():
        manager, candidate = waiting_candidate(session)
        queue_digest(session, manager, config=EmailConfig.from_app(signing))
        sink = received(signing, port)
    [raw] = sink.raw
    dnsfunc = dns_for("fsla2026._domainkey.example.com", record)
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    signature = sink.messages[0]["DKIM-Signature"]
    assert "d=example.com" in signature and "s=fsla2026" in signature
    signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", "")).group(1).lower()
    for header in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert header in signed.split(":"), header
    tampered = raw.replace(b"Hello Maria", b"Hello Mario")
    assert tampered != raw and not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_without_dkim_settings_nothing_is_signed(app, session, port):
    manager, _ = waiting_candidate(session)
    queue_digest(session, manager)
    [message] = received(app, port).messages
    assert message["DKIM-Signature"] is None


def _config_error(app_config, **settings) -> str:
    with pytest.raises(ConfigurationError) as refused:
        create_app({**app_config, **settings})
    return str(refused.value)


def test_bad_dkim_settings_stop_the_app_with_the_setting_named(app_config, make_app, rsa_key, tmp_path):
    private, _ = rsa_key
    good = {"DKIM_KEY_FILE": str(private), "DKIM_SELECTOR": "fsla2026", "DKIM_DOMAIN": "example.com"}
    assert "DKIM_SELECTOR (FEEDBACK_SLA_DKIM_SELECTOR), DKIM_DOMAIN (FEEDBACK_SLA_DKIM_DOMAIN): DKIM " in (
        _config_error(app_config, DKIM_KEY_FILE=str(private))
    )
    assert "DKIM_SELECTOR (FEEDBACK_SLA_DKIM_SELECTOR): 'fsla 2026' is not a DNS name" in _config_error(
        app_config, **{**good, "DKIM_SELECTOR": "fsla 2026"}
    )
    assert "'mail.example.org' is neither the domain of ORGANISATION_EMAIL ('example.com')" in _config_error(
        app_config, **{**good, "DKIM_DOMAIN": "mail.example.org"}
    )
    missing = tmp_path / "missing.pem"
    assert f"DKIM_KEY_FILE (FEEDBACK_SLA_DKIM_KEY_FILE): cannot read '{missing}'" in _config_error(
        app_config, **{**good, "DKIM_KEY_FILE": str(missing)}
    )
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    assert "is not an unencrypted PEM RSA private key" in _config_error(
        app_config, **{**good, "DKIM_KEY_FILE": str(not_a_key)}
    )
    short = tmp_path / "short.pem"
    _openssl("genrsa", "-out", str(short), "512")
    assert "the key has 512 bits; receivers need at least 1024" in _config_error(
        app_config, **{**good, "DKIM_KEY_FILE": str(short)}
    )
    # A parent of the sender's domain aligns under DMARC's relaxed rule.
    parent = make_app(**good, ORGANISATION_EMAIL="jobs@mail.example.com")
    assert EmailConfig.from_app(parent).dkim.dns_name == "fsla2026._domainkey.example.com"


def test_a_dkim_signed_email_to_an_internationalised_address_verifies_as_the_server_received_it(
    make_app, session, port, rsa_key
):
    private, record = rsa_key
    signing = make_app(DKIM_KEY_FILE=str(private), DKIM_SELECTOR="fsla2026", DKIM_DOMAIN="example.com")
    with signing.app_context():
        manager = UserFactory(name="Maria Lopez", email="maria@example.com")
        position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="UTC")
        candidate = waits.add_candidate(
            session, position, NAME_WITH_ACCENTS, "zoë@example.org", APPLIED, org(session)
        )
        request = EmailRequest(candidate, "rejection", checks.new_idempotency_key(), NOW, manager)
        answers.queue_email(session, request, EmailConfig.from_app(signing), org(session))
        session.commit()
        with SmtpSink(port=port, smtputf8=True) as sink:
            run_worker(signing, once=True, clock=lambda: LATER)
    [raw] = sink.raw
    assert "zoë@example.org".encode() in raw  # a UTF-8 header (RFC 6532), signed as sent
    assert dkim.verify(raw, dnsfunc=dns_for("fsla2026._domainkey.example.com", record))
