"""Templates to choose: several named templates per kind, the organisation's default, defaults per
position or stage, a picker on the customize and bulk pages, the command line and the API."""

from __future__ import annotations

import datetime as dt
import re

import flask_migrate
import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.accounts.models import Role
from feedback_sla.database import db
from feedback_sla.emails import choosing, composing, library
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.composing import TemplateError
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, EmailTemplate, OutboxMessage
from feedback_sla.waits import answers, bulk
from feedback_sla.waits.clock import OrgSettings

from .api_support import manager_with_token
from .bulk_support import manager_with_position, waiting_candidates
from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text

#: A Wednesday morning: the tests' own clock, whatever the day they run.
NOW = dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
ORG = OrgSettings()
AFTER_FINAL = (
    "Rejection after final interview",
    "After all our talks, {{ candidate_first_name }}",
    "Final: sorry",
)
AFTER_APPLYING = (
    "Rejection after application",
    "Your application, {{ candidate_first_name }}",
    "Applied: sorry",
)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


def add(session, name, subject, text_body, kind="rejection"):
    row = library.add(session, kind, name, subject, text_body, f"<p>{text_body}</p>", None, NOW)
    session.commit()
    return row


def queue(session, app, candidate, **request):
    wanted = EmailRequest(candidate, "rejection", f"key-{candidate.id}", NOW, None, **request)
    message = answers.queue_email(session, wanted, EmailConfig.from_app(app), ORG)
    session.commit()
    return message


def test_the_shipped_files_stay_the_default_until_an_admin_chooses_another(app, session):
    _, position = manager_with_position(session)
    [ana] = waiting_candidates(session, position, ["Ana Okafor"])
    final = add(session, *AFTER_FINAL)
    assert choosing.choose(session, "rejection", ana).name == "Rejection as shipped"

    message = queue(session, app, ana)
    assert (message.template_id, message.template_name) == (None, "Rejection as shipped")

    chosen = library.make_default(session, "rejection", final.id)
    session.commit()
    assert chosen.name == AFTER_FINAL[0]
    assert choosing.choose(session, "rejection", ana).id == final.id
    assert composing.source_of(session, "rejection").name == AFTER_FINAL[0]
    # Back to the shipped files; the named template stays, to be picked.
    library.make_default(session, "rejection", choosing.SHIPPED)
    session.commit()
    assert choosing.choose(session, "rejection", ana).id is None
    assert session.get(EmailTemplate, final.id) is not None


def test_a_position_default_comes_before_a_stage_default_before_the_organisations(app, session):
    manager, position = manager_with_position(session)
    other = PositionFactory(manager=manager, title="Designer", time_zone="UTC")
    ana, ben = waiting_candidates(session, position, ["Ana Okafor", "Ben Ode"])
    [cleo] = waiting_candidates(session, other, ["Cleo Park"], prefix="o")
    final, applying = add(session, *AFTER_FINAL), add(session, *AFTER_APPLYING)
    library.make_default(session, "rejection", applying.id)
    library.set_scope_default(session, final, stage="final")
    session.commit()
    ben.stage = "final"
    session.commit()
    assert [choosing.choose(session, "rejection", c).name for c in (ana, ben, cleo)] == [
        AFTER_APPLYING[0],
        AFTER_FINAL[0],
        AFTER_APPLYING[0],
    ]
    library.set_scope_default(session, final, position_id=other.id)
    session.commit()
    assert choosing.choose(session, "rejection", cleo).name == AFTER_FINAL[0]
    # A bulk rejection gives each their own default, each written from it and saying so.
    done = bulk.answer_many(
        session,
        [ana.id, ben.id, cleo.id],
        bulk.Answer(EmailKind.REJECTION),
        EmailConfig.from_app(app),
        ORG,
        NOW,
        key="three",
        actor=manager,
        manager_id=manager.id,
    )
    session.commit()
    sent = {c.name: (m.template_name, m.subject) for c, m in done.queued}
    assert sent == {
        "Ana Okafor": (AFTER_APPLYING[0], "Your application, Ana"),
        "Ben Ode": (AFTER_FINAL[0], "After all our talks, Ben"),
        "Cleo Park": (AFTER_FINAL[0], "After all our talks, Cleo"),
    }


def test_a_picked_template_wins_and_one_of_another_kind_is_refused_naming_the_field(app, session):
    _, position = manager_with_position(session)
    ana, ben = waiting_candidates(session, position, ["Ana Okafor", "Ben Ode"])
    final = add(session, *AFTER_FINAL)
    offer = add(session, "Warm offer", "An offer, {{ candidate_first_name }}", "Offer text", kind="offer")
    message = queue(session, app, ana, template=final.id)
    assert (message.template_id, message.template_name, message.subject) == (
        final.id,
        AFTER_FINAL[0],
        "After all our talks, Ana",
    )
    with pytest.raises(Exception, match="template: there is no rejection template"):
        queue(session, app, ben, template=offer.id)
    session.rollback()
    # Renamed or deleted later, the email still says which template it was written from.
    library.edit(session, final, "Final round", *AFTER_FINAL[1:], "<p>x</p>", None, NOW)
    library.remove(session, final)
    session.commit()
    session.expire_all()
    assert session.get(OutboxMessage, message.id).template_name == AFTER_FINAL[0]


def test_names_are_unique_per_kind_and_templates_keep_the_sandbox_and_its_limits(session):
    add(session, *AFTER_FINAL)
    for name, field, reason in [
        ("rejection AFTER final interview", "name", "another rejection template is named"),
        ("Shipped", "name", "shipped template"),
        ("  ", "name", "must not be empty"),
        ("x" * 101, "name", "longer than 100"),
        ("Bad\x00name", "name", "control character"),
    ]:
        with pytest.raises(TemplateError, match=reason) as refused:
            library.add(session, "rejection", name, "Hi", "Text", "<p>x</p>", None, NOW)
        assert refused.value.field == field
    with pytest.raises(TemplateError, match="unknown placeholder salary") as refused:
        library.add(session, "rejection", "Salary", "Hi", "{{ salary }}", "<p>x</p>", None, NOW)
    assert refused.value.field == "text"
    with pytest.raises(TemplateError, match="string formatting"):
        library.add(session, "rejection", "Huge", "Hi", '{{ "%0999999999d" % 1 }}', "<p>x</p>", None, NOW)
    # The same name in another kind is fine.
    library.add(session, "offer", AFTER_FINAL[0], "Hi", "Text", "<p>x</p>", None, NOW)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 2


def test_deleting_the_default_makes_the_shipped_files_the_default_again(session):
    final = add(session, *AFTER_FINAL)
    library.make_default(session, "rejection", final.id)
    library.set_scope_default(session, final, stage="final")
    session.commit()
    assert library.remove(session, final) is True
    session.commit()
    assert composing.default_row(session, EmailKind.REJECTION) is None
    assert choosing.catalogue(session, ["rejection"]).by_stage == {}


@pytest.fixture
def admin(session):
    user = UserFactory(name="Hana Admin", role=Role.ADMIN)
    session.commit()
    return user


def _form(page: str, action: str) -> str:
    return page[page.index(f'action="{action}"') :]


def test_admins_add_rename_set_defaults_and_delete_templates_in_the_browser(client, admin, session):
    position = PositionFactory(title="Data Engineer", time_zone="UTC")
    session.commit()
    logged_in(client, admin)
    page = text(client.get("/admin/emails/rejection/new"))
    assert "New rejection template" in page and "Dear" in page  # starts from the default's text
    data = {
        "name": AFTER_FINAL[0],
        "subject": AFTER_FINAL[1],
        "text": "Hello {{ salary }}",
        "html": "<p>x</p>",
        "action": "save",
    }
    refused = client.post("/admin/emails/rejection/new", data=data)
    assert refused.status_code == 422 and "unknown placeholder salary" in text(refused)
    previewed = client.post(
        "/admin/emails/rejection/new",
        data={**data, "text": "Bye {{ candidate_first_name }}", "action": "preview"},
    )
    assert previewed.status_code == 200 and "Bye Alex" in text(previewed)
    assert session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0
    saved = client.post(
        "/admin/emails/rejection/new", data={**data, "text": "Bye {{ candidate_first_name }}"}
    )
    assert saved.status_code == 302
    row = session.scalar(sa.select(EmailTemplate))
    assert saved.location.endswith(f"/admin/emails/templates/{row.id}") and not row.is_default

    listing = text(client.get("/admin/emails"))
    assert AFTER_FINAL[0] in listing and "Rejection as shipped" in listing
    made = client.post("/admin/emails/rejection/default", data={"template": str(row.id)})
    assert made.status_code == 302
    renamed = client.post(
        f"/admin/emails/templates/{row.id}",
        data={**data, "name": "Final round", "text": "Bye", "action": "save"},
    )
    assert renamed.status_code == 302
    client.post(f"/admin/emails/templates/{row.id}/defaults", data={"position_id": str(position.id)})
    page = text(client.get(f"/admin/emails/templates/{row.id}"))
    assert "Position Data Engineer" in page and 'value="Final round"' in page
    session.expire_all()
    assert choosing.catalogue(session, ["rejection"]).by_position == {
        (EmailKind.REJECTION, position.id): row.id
    }
    assert composing.default_row(session, EmailKind.REJECTION).name == "Final round"

    deleted = client.post(f"/admin/emails/templates/{row.id}/delete")
    assert "Rejection as shipped is the default again" in text(client.get(deleted.location))
    assert session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


def test_managers_get_404_on_every_template_admin_route(client, session):
    manager, _ = manager_with_position(session)
    row = add(session, *AFTER_FINAL)
    logged_in(client, manager)
    for method, url in [
        ("GET", "/admin/emails/rejection/new"),
        ("POST", "/admin/emails/rejection/new"),
        ("GET", f"/admin/emails/templates/{row.id}"),
        ("POST", f"/admin/emails/templates/{row.id}"),
        ("POST", f"/admin/emails/templates/{row.id}/delete"),
        ("POST", f"/admin/emails/templates/{row.id}/defaults"),
        ("POST", "/admin/emails/rejection/default"),
    ]:
        assert (
            client.open(url, method=method, data={"template": str(row.id), "stage": "final"}).status_code
            == 404
        )
    session.expire_all()
    assert not session.get(EmailTemplate, row.id).is_default


def test_the_customize_page_picks_a_template_and_the_candidate_page_says_which(client, session):
    manager, position = manager_with_position(session)
    [ana] = waiting_candidates(session, position, ["Ana Okafor"])
    final = add(session, *AFTER_FINAL)
    logged_in(client, manager)
    url = f"/candidates/{ana.id}/emails/rejection/customize"
    page = text(client.get(url))
    assert "Default for this candidate: Rejection as shipped" in page
    assert f'<option value="{final.id}">{AFTER_FINAL[0]}</option>' in page
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    form = {
        "nonce": nonce,
        "template": str(final.id),
        "shown_template": "",
        "subject": "Edited before picking",
        "text": "Edited before picking",
        "shown_subject": "x",
        "shown_text": "x",
        "action": "preview",
    }
    previewed = text(client.post(url, data=form))
    assert "After all our talks, Ana" in previewed and "Final: sorry" in previewed
    response = client.post(url, data={**form, "action": "queue"})
    assert response.status_code == 302
    [message] = session.scalars(sa.select(OutboxMessage)).all()
    assert (message.template_name, message.subject) == (AFTER_FINAL[0], "After all our talks, Ana")
    candidate_page = text(client.get(f"/candidates/{ana.id}"))
    assert f"from “{AFTER_FINAL[0]}”" in candidate_page
    assert f"data-email-template>{AFTER_FINAL[0]}<" in candidate_page


def test_the_bulk_page_picks_one_template_for_all(client, session):
    manager, position = manager_with_position(session)
    people = waiting_candidates(session, position, ["Ana Okafor", "Ben Ode"])
    applying = add(session, *AFTER_APPLYING)
    logged_in(client, manager)
    ids = [p.id for p in people]
    page = text(
        client.get(
            "/emails/bulk", query_string={"candidate": ids, "kind": "rejection", "template": applying.id}
        )
    )
    assert "Each candidate&#39;s default: Rejection as shipped" in page or "Each candidate's default" in page
    assert "Your application, Ana" in page  # the preview follows the picked template
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    posted = client.post(
        "/emails/bulk",
        data={
            "nonce": nonce,
            "kind": "rejection",
            "candidate": ids,
            "template": str(applying.id),
            "action": "queue",
        },
    )
    assert posted.status_code == 302
    subjects = sorted(session.scalars(sa.select(OutboxMessage.subject)))
    assert subjects == ["Your application, Ana", "Your application, Ben"]
    missing = client.post(
        "/emails/bulk",
        data={
            "nonce": nonce[:-4] + "abcd",
            "kind": "rejection",
            "candidate": ids,
            "template": "999",
            "action": "queue",
        },
    )
    assert missing.status_code == 409 and "template: there is no rejection template 999" in text(missing)


def test_the_command_line_takes_a_template_by_name_or_id(app, session):
    _, position = manager_with_position(session)
    ana, ben, cleo = waiting_candidates(session, position, ["Ana Okafor", "Ben Ode", "Cleo Park"])
    final = add(session, *AFTER_FINAL)
    runner = app.test_cli_runner()
    one = runner.invoke(
        args=["emails", "queue", str(ana.id), "rejection", "--template", "rejection after FINAL interview"]
    )
    assert one.exit_code == 0, one.output
    many = runner.invoke(
        args=[
            "emails",
            "queue",
            "rejection",
            "--candidate",
            str(ben.id),
            "--candidate",
            str(cleo.id),
            "--template",
            str(final.id),
        ]
    )
    assert many.exit_code == 0, many.output
    session.expire_all()
    assert set(session.scalars(sa.select(OutboxMessage.template_name))) == {AFTER_FINAL[0]}
    listed = runner.invoke(args=["emails", "template", "list", "rejection"])
    assert listed.output.splitlines() == [
        "0\trejection\tRejection as shipped\torganisation",
        f"{final.id}\trejection\t{AFTER_FINAL[0]}\t-",
    ]
    wrong = runner.invoke(args=["emails", "queue", str(ana.id), "offer", "--template", "Nope"])
    assert wrong.exit_code == 2 and "'--template'" in wrong.output and "Offer as shipped" in wrong.output


def test_the_api_takes_a_template_for_one_email_and_for_a_batch(client, session):
    manager, secret = manager_with_token(session)
    position = PositionFactory(manager=manager, time_zone="UTC")
    ana, ben = waiting_candidates(session, position, ["Ana Okafor", "Ben Ode"])
    final = add(session, *AFTER_FINAL)
    headers = {"Authorization": f"Bearer {secret}"}
    one = client.post(
        f"/api/v1/candidates/{ana.id}/emails",
        json={"kind": "rejection", "template": AFTER_FINAL[0]},
        headers={**headers, "Idempotency-Key": "one"},
    )
    assert one.status_code == 201 and one.json["template"] == AFTER_FINAL[0]
    batch = client.post(
        "/api/v1/emails/batches",
        json={"kind": "rejection", "candidate_ids": [ben.id], "template": "shipped"},
        headers={**headers, "Idempotency-Key": "batch"},
    )
    assert batch.status_code == 201
    assert batch.json["queued"][0]["email"]["template"] == "Rejection as shipped"
    wrong = client.post(
        "/api/v1/emails/batches",
        json={"kind": "rejection", "candidate_ids": [ben.id], "template": str(final.id + 50)},
        headers={**headers, "Idempotency-Key": "wrong"},
    )
    assert wrong.status_code == 409 and wrong.json["detail"].startswith("template:")


def test_an_existing_edit_is_kept_as_the_kinds_default_when_upgrading(app):
    """The migration keeps each edit as its kind's default, named after the kind; downgrading
    keeps the defaults as the edits."""
    with app.app_context():
        flask_migrate.downgrade(revision="0016_answer_batches")
        try:
            db.session.execute(
                sa.text(
                    "INSERT INTO email_templates (kind, subject, text_body, html_body, updated_at) "
                    "VALUES ('rejection', 'Edited', 'Edited text', '<p>Edited</p>', :at)"
                ),
                {"at": NOW.replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else NOW},
            )
            db.session.commit()
            flask_migrate.upgrade()
            row = composing.default_row(db.session, EmailKind.REJECTION)
            assert (row.name, row.subject, row.is_default, row.updated_at) == (
                "Rejection",
                "Edited",
                True,
                NOW,
            )
            assert composing.default_row(db.session, EmailKind.OFFER) is None
            db.session.commit()
            flask_migrate.downgrade(revision="0016_answer_batches")
            kept = db.session.execute(sa.text("SELECT kind, subject FROM email_templates")).all()
            assert [tuple(r) for r in kept] == [("rejection", "Edited")]
            db.session.execute(sa.text("DELETE FROM email_templates"))
            db.session.commit()
        finally:
            db.session.rollback()
            flask_migrate.upgrade()
