import pytest

from feedback_sla.emails import composing as templates
from feedback_sla.emails.composing import TemplateError, TemplateSource
from feedback_sla.emails.models import CANDIDATE_KINDS, EmailKind, EmailTemplate

from .emails_support import T0
from .factories import UserFactory

HOSTILE = '"><img src=x onerror=alert(1)>'


def _context(**overrides):
    return {**templates.SAMPLE, **overrides}


@pytest.mark.parametrize("kind", CANDIDATE_KINDS)
def test_every_default_template_renders_its_placeholders(session, kind):
    rendered = templates.render(session, kind, _context())
    assert "Alex" in rendered.text and "Alex" in rendered.html
    assert "Backend Engineer" in rendered.text + rendered.subject
    assert "Maria Lopez" in rendered.text and "Maria Lopez" in rendered.html
    assert rendered.html.lstrip().lower().startswith("<!doctype html>")
    assert "\n" not in rendered.subject and rendered.subject == rendered.subject.strip()


def test_the_update_template_says_when_the_candidate_will_hear(session):
    rendered = templates.render(session, EmailKind.UPDATE, _context(promised_date="Friday, 27 November 2026"))
    assert "by Friday, 27 November 2026" in rendered.text
    assert "by Friday, 27 November 2026" in rendered.html


def test_feedback_appears_only_when_given(session):
    with_feedback = templates.render(session, EmailKind.REJECTION, _context(feedback="Great code sample."))
    without = templates.render(session, EmailKind.REJECTION, _context(feedback=""))
    assert "Great code sample." in with_feedback.text and "Great code sample." in with_feedback.html
    assert "A few words" in with_feedback.text and "A few words" not in without.text


def test_a_hostile_name_is_escaped_in_the_default_html_and_left_as_is_in_the_text(session):
    rendered = templates.render(
        session, EmailKind.REJECTION, _context(candidate_first_name=HOSTILE, candidate_name=HOSTILE)
    )
    assert "<img" not in rendered.html
    assert '"&gt;&lt;img src=x onerror=alert(1)&gt;' in rendered.html
    assert HOSTILE in rendered.text


def test_an_edited_template_is_stored_and_used_then_reset_to_the_file(session):
    admin = UserFactory()
    templates.save_template(
        session,
        "rejection",
        "Hello {{ candidate_first_name }}",
        "Dear {{ candidate_name }}, no.",
        "<p>Dear {{ candidate_name }}, no.</p>",
        admin,
        T0,
    )
    session.commit()
    source = templates.source_of(session, "rejection")
    assert source.edited and source.updated_by == admin.name and source.updated_at == T0
    rendered = templates.render(session, "rejection", _context(candidate_name=HOSTILE))
    assert rendered.subject == "Hello Alex"
    assert rendered.text == f"Dear {HOSTILE}, no."
    # Made a whole document with a viewport (the edit had none), the name still escaped.
    assert rendered.html == (
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        '</head><body><p>Dear "&gt;&lt;img src=x onerror=alert(1)&gt;, no.</p></body></html>'
    )

    assert templates.reset_template(session, "rejection") is True
    session.commit()
    assert templates.default_row(session, EmailKind.REJECTION) is None
    assert templates.source_of(session, "rejection") == templates.default_source("rejection")
    assert templates.reset_template(session, "rejection") is False


@pytest.mark.parametrize(
    ("field", "source", "reason"),
    [
        ("text", "Dear {{ candidate_name }", "text: line 1: unexpected '}'"),
        ("text", "{% if feedback %}unclosed", "text: line 1: Unexpected end of template"),
        (
            "html",
            "<p>{{ salary }}</p>",
            "html: unknown placeholder salary; placeholders: candidate_first_name",
        ),
        ("text", "{{ config }}", "text: unknown placeholder config"),
        ("text", "{{ range(10) }}", "text: unknown placeholder range"),
        (
            "text",
            "{{ candidate_name.__class__ }}",
            "text: attribute access (such as .center(...)) is not allowed",
        ),
        ("text", "{{ candidate_name.upper.__globals__ }}", "text: attribute access"),
        ("text", "{{ 'x' * 100000000 }}", "text: arithmetic is not allowed in an email template"),
        ("html", "{{ candidate_name|safe }}", "html: the filter safe is not allowed"),
        ("subject", "Hello\n{{ candidate_name }}", "subject: must be a single line"),
        ("subject", "  ", "subject: must not be empty"),
        ("html", "", "html: must not be empty"),
    ],
)
def test_a_template_that_is_broken_or_reaches_outside_its_placeholders_is_refused(
    session, field, source, reason
):
    parts = {"subject": "Your application", "text": "Dear {{ candidate_name }}", "html": "<p>Hi</p>"}
    parts[field] = source
    with pytest.raises(TemplateError) as caught:
        templates.save_template(session, "offer", parts["subject"], parts["text"], parts["html"], None, T0)
    assert str(caught.value).startswith(reason)
    assert caught.value.field == field
    session.rollback()
    assert templates.default_row(session, EmailKind.OFFER) is None


def test_the_shipped_defaults_pass_the_checks_an_edit_must_pass(app):
    for kind in CANDIDATE_KINDS:
        source = templates.default_source(kind)
        templates.validate(source.subject, source.text, source.html)


def test_preview_renders_the_template_in_use_or_an_unsaved_edit_for_a_sample_candidate(session):
    rendered = templates.preview(session, "offer")
    assert "Alex" in rendered.text and "Example Company" in rendered.text

    custom = templates.preview(session, "offer", sample={"candidate_first_name": "Sam"})
    assert "Dear Sam," in custom.text

    unsaved = TemplateSource(
        kind=EmailKind.OFFER, subject="Hi {{ candidate_first_name }}", text="T", html="<b>H</b>"
    )
    assert templates.preview(session, "offer", source=unsaved) == templates.RenderedEmail(
        "Hi Alex",
        "T",
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
        "</head><body><b>H</b></body></html>",
    )
    with pytest.raises(TemplateError, match="unknown placeholder salary"):
        templates.preview(
            session, "offer", source=TemplateSource(EmailKind.OFFER, "S", "{{ salary }}", "<p></p>")
        )


def test_an_unknown_kind_is_refused_with_the_list_of_kinds(session):
    with pytest.raises(templates.DomainError, match="unknown email kind 'welcome'; kinds: rejection, offer"):
        templates.source_of(session, "welcome")
    with pytest.raises(templates.DomainError, match="unknown email kind 'digest'"):
        templates.save_template(session, "digest", "S", "T", "H", None, T0)


def test_a_customised_text_becomes_escaped_html_with_its_paragraphs():
    html = str(templates.text_to_html("Dear <Sam>,\n\nLine one\nline two & more"))
    assert '">Dear &lt;Sam&gt;,</p>' in html  # each paragraph carries its style
    assert '">Line one<br>\nline two &amp; more</p>' in html


def test_dates_are_written_out_for_candidates():
    import datetime as dt

    assert templates.format_date(dt.date(2026, 11, 27)) == "Friday, 27 November 2026"
    assert templates.format_date(None) == ""


# --- what one template may cost -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ feedback.center(100000000) }}", "text: attribute access (such as .center(...)) is not allowed"),
        ("{{ feedback ~ feedback ~ feedback }}", "text: joining with ~ is not allowed"),
        ("{{ feedback + feedback }}", "text: arithmetic is not allowed"),
        ("{% set a = feedback %}{{ a }}", "text: {% set %} is not allowed"),
        ("{{ feedback|center(100000000) }}", "text: the filter center is not allowed"),
        ("{{ feedback|replace('a', feedback) }}", "text: the filter replace is not allowed"),
        (
            "{% for a in feedback %}{% for b in feedback %}x{% endfor %}{% endfor %}",
            "text: a loop inside a loop is not allowed",
        ),
        # Cheap on the preview's short sample, 25 million characters on a real feedback text.
        (
            "{% for c in feedback %}{{ feedback }}{% endfor %}",
            "text: renders more than 200,000 characters",
        ),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "text: macros and filter blocks are not allowed"),
    ],
)
def test_a_template_that_could_take_hundreds_of_megabytes_is_refused_on_save(app, session, text, message):
    with pytest.raises(TemplateError) as refused:
        templates.save_template(session, "rejection", "Your application", text, "<p>Hello</p>", None, T0)
    assert str(refused.value).startswith(message), str(refused.value)
    assert templates.default_row(session, EmailKind.REJECTION) is None


def test_a_loop_over_the_feedback_that_stays_small_is_fine(app, session):
    text = (
        "{% for word in feedback|wordwrap(60) %}{% endfor %}"
        "Dear {{ candidate_first_name|title }}, {{ feedback|truncate(300) }}"
    )
    templates.save_template(
        session, "rejection", "Your application", text, "<p>{{ feedback|e }}</p>", None, T0
    )
    assert templates.default_row(session, EmailKind.REJECTION) is not None


def test_a_stored_template_that_renders_too_much_stops_at_the_limit(app, session):
    """A template stored before the limits (or written to the database by hand) fails with the reason
    as soon as its text passes the limit, instead of taking the worker's memory."""
    session.add(
        EmailTemplate(
            kind=EmailKind.REJECTION,
            name="Rejection",
            is_default=True,
            subject="Your application",
            text_body="{% for c in feedback %}{{ feedback }}{% endfor %}",
            html_body="<p>Hello</p>",
            updated_at=T0,
        )
    )
    session.flush()
    with pytest.raises(TemplateError, match="renders more than 200,000 characters"):
        templates.render(session, "rejection", {"feedback": "x" * 5_000})
