"""Edited templates cannot build a huge text: string formatting and every other growth trick is
refused with its reason (or stays within the output limit), fast and without memory growth, through
the admin's preview and save; any error of a render is a refusal, never a 500."""

import time
import tracemalloc

import pytest
import sqlalchemy as sa

from feedback_sla.accounts.models import Role
from feedback_sla.database import db
from feedback_sla.emails import composing, sandbox
from feedback_sla.emails.composing import TemplateError
from feedback_sla.emails.models import EmailKind, EmailTemplate

from .emails_support import T0
from .factories import UserFactory
from .helpers import logged_in as login

FORMATTING = ['{{ "%0999999999d" % 1 }}', '{{ "%c" % 1114112 }}']


@pytest.fixture
def admin(session):
    user = UserFactory(name="Hana Admin", role=Role.ADMIN)
    session.commit()
    return user


def _cost(action) -> tuple[float, float]:
    """Seconds and peak megabytes allocated while ``action`` runs."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        action()
    finally:
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return seconds, peak


@pytest.mark.parametrize("action", ["preview", "save"])
@pytest.mark.parametrize("text", FORMATTING)
def test_string_formatting_is_refused_at_once_through_the_admin_page(client, admin, action, text):
    login(client, admin)
    data = {"subject": "Your application", "text": text, "html": "<p>Hello</p>", "action": action}
    started = time.monotonic()
    response = client.post("/admin/emails/rejection", data=data)
    seconds = time.monotonic() - started
    _, peak = _cost(lambda: client.post("/admin/emails/rejection", data=data))  # traced: slower
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "text: the operator % (string formatting) is not allowed in an email template" in page
    assert seconds < 1 and peak < 50, (seconds, peak)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


GROWTH = [
    ('{{ "%s" % feedback }}', "the operator % (string formatting) is not allowed"),
    ("{{ '{:>999999999}'.format(1) }}", "attribute access (such as .center(...)) is not allowed"),
    ("{{ '{x:>999999999}'.format_map(feedback) }}", "attribute access"),
    ("{{ '%0999999999d'|format(1) }}", "the filter format is not allowed"),
    ("{{ 'x'|center(1000000000) }}", "the filter center is not allowed"),
    ("{{ feedback|center(10 ** 9) }}", "arithmetic is not allowed"),
    ("{{ feedback|indent(1000000000, true) }}", "the filter indent is not allowed"),
    ("{{ feedback|wordwrap(1, wrapstring=feedback) }}", "the filter wordwrap could make a text longer"),
    ("{{ 'x'|wordwrap(1, wrapstring='y') }}{{ feedback|wordwrap(1, true, feedback) }}", "wordwrap could"),
    ("{{ range(1000000000) }}", "unknown placeholder range"),
    ("{{ 'x'|join(feedback) }}", "the filter join is not allowed"),
    ("{{ feedback|replace('', feedback) }}", "the filter replace is not allowed"),
    ("{{ [feedback] * 1000000000 }}", "arithmetic is not allowed"),
    ("{{ 1000000000 // 1 }}", "the operator // is not allowed"),
    ("{{ feedback ~ feedback }}", "joining with ~ is not allowed"),
    ("{% for a in feedback %}{% for b in feedback %}x{% endfor %}{% endfor %}", "a loop inside a loop"),
    ("{% for a in feedback recursive %}{{ loop(feedback) }}{% endfor %}", "calling is not allowed"),
    ("{% for a in feedback %}{{ feedback|e|e }}{% endfor %}", "renders more than 200,000 characters"),
    ("{% include 'mail/rejection.txt' %}", "including other templates is not allowed"),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macros and filter blocks are not allowed"),
    ("{{ feedback|truncate(-5) }}", "cannot be rendered"),
    ("{{ 10 / 0 }}", "cannot be rendered: division by zero"),
    ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "text:"),
]


@pytest.mark.parametrize(("text", "reason"), GROWTH, ids=[t[:40] for t, _ in GROWTH])
def test_every_growth_trick_is_refused_with_its_reason(app, session, text, reason):
    feedback = "&" * 5_000  # a real feedback text may be all ampersands
    refused = []

    def save():
        with pytest.raises(TemplateError) as caught:
            composing.save_template(session, "rejection", "Your application", text, "<p>Hi</p>", None, T0)
        refused.append(caught.value)
        with pytest.raises(TemplateError) as rendered:
            composing._render_source("S", text, "<p>Hi</p>", {**composing.WORST_CASE, "feedback": feedback})
        refused.append(rendered.value)

    seconds, peak = _cost(save)
    assert str(refused[0]).startswith("text: ") and reason in str(refused[0]), str(refused[0])
    assert str(refused[1]).startswith("template: cannot be rendered ("), str(refused[1])
    assert seconds < 2 * sandbox.MAX_RENDER_SECONDS and peak < 50, (seconds, peak)
    assert composing.default_row(session, EmailKind.REJECTION) is None


@pytest.mark.parametrize(
    "text",
    [
        "{{ feedback|truncate(1000000000) }}",
        "{{ feedback|striptags|wordwrap(60) }}",
        "{{ feedback|upper|title|e }}",
        "{{ feedback|default(feedback) }}{{ feedback|truncate(300, end='…') }}",
    ],
)
def test_what_stays_within_the_limit_is_saved(app, session, text):
    seconds, peak = _cost(
        lambda: composing.save_template(session, "rejection", "Hi", text, "<p>Hi</p>", None, T0)
    )
    assert composing.default_row(session, EmailKind.REJECTION) is not None
    assert seconds < 2 and peak < 50, (seconds, peak)


def test_a_stored_template_that_formats_is_refused_when_sent_not_a_500(app, session):
    """Stored before the rule (or written to the database by hand): refused with the reason."""
    session.add(
        EmailTemplate(
            kind=EmailKind.REJECTION,
            name="Rejection",
            is_default=True,
            subject="Your application",
            text_body=FORMATTING[0],
            html_body='<p>{{ "%c" % 1114112 }}</p>',
            updated_at=T0,
        )
    )
    session.flush()
    seconds, peak = _cost(
        lambda: pytest.raises(TemplateError, composing.render, session, "rejection", composing.SAMPLE)
    )
    assert seconds < 1 and peak < 50
    with pytest.raises(
        TemplateError, match=r"cannot be rendered \(text: the operator % \(string formatting\)"
    ):
        composing.render(session, "rejection", composing.SAMPLE)
