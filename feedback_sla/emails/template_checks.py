"""Whether an edited template may be saved: it parses, uses only the documented placeholders, and
renders within bounds on a sample, on empty values and on the longest real ones (``validate``).
Edited templates are compiled here once each, in Jinja's sandbox (``compiled``).
"""

from __future__ import annotations

import functools

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from feedback_sla.emails import html as mail_html
from feedback_sla.emails import sandbox
from feedback_sla.errors import DomainError

#: The placeholders a template may use, with what each holds (shown to admins on the edit page).
PLACEHOLDERS: dict[str, str] = {
    "candidate_first_name": "the candidate's first name",
    "candidate_name": "the candidate's full name",
    "position": "the position's title",
    "manager": "the hiring manager's name",
    "company": "the company name (an organisation setting)",
    "promised_date": "the date the candidate will hear by, written out (empty if none)",
    "feedback": "feedback the manager wrote for this candidate (empty if none)",
    "status_url": "the candidate's private status page link (empty when the status page is off)",
}


#: The sample candidate a preview is rendered for.
SAMPLE: dict[str, str] = {
    "candidate_first_name": "Alex",
    "candidate_name": "Alex Example",
    "position": "Backend Engineer",
    "manager": "Maria Lopez",
    "company": "Example Company",
    "promised_date": "Friday, 27 November 2026",
    "feedback": "Your system design answers were strong; we chose someone with more on-call experience.",
    "status_url": "https://feedback.example.com/status/an-example-link-that-opens-nothing",
}

#: The longest values a real candidate email can carry: an edited template is rendered with these
#: on save, so one that is cheap on the short sample but explodes on real feedback is refused.
WORST_CASE: dict[str, str] = {
    "candidate_first_name": "Maximilianë" * 9,
    "candidate_name": ("Maximilianë Alexandra-Josefine " * 7)[:200],
    "position": ("Principal Site Reliability Engineer, Platform " * 5)[:200],
    "manager": ("Anna-Katharina von Hohenberg-Lindqvist " * 6)[:200],
    "company": ("Northwind Trading & Logistics Worldwide GmbH " * 5)[:200],
    "promised_date": "Wednesday, 30 September 2026",
    "feedback": ("Thank you for the time you gave us; your answers were thoughtful and clear. " * 70)[:5_000],
    "status_url": ("https://careers.northwind-logistics.example" * 5)[:200] + "/status/" + "x" * 43,
}


MAX_SUBJECT = 300
MAX_BODY = 50_000


class TemplateError(DomainError):
    """A template refused on save; ``field`` names the part (subject, text or html)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_TEXT_ENV = sandbox.environment(autoescape=False)
_HTML_ENV = sandbox.environment(autoescape=True)


def _env(field: str) -> SandboxedEnvironment:
    return _HTML_ENV if field == "html" else _TEXT_ENV


def validate(subject: str, text: str, html: str) -> None:
    """Refuse a template that does not parse, uses an unknown placeholder or fails on a sample."""
    if not subject.strip():
        raise TemplateError("subject", "must not be empty")
    if "\r" in subject or "\n" in subject:
        raise TemplateError("subject", "must be a single line")
    if len(subject) > MAX_SUBJECT:
        raise TemplateError("subject", f"is longer than {MAX_SUBJECT} characters")
    for field, source in (("text", text), ("html", html)):
        if not source.strip():
            raise TemplateError(field, "must not be empty")
        if len(source) > MAX_BODY:
            raise TemplateError(field, f"is longer than {MAX_BODY} characters")
    for field, source in (("subject", subject), ("text", text), ("html", html)):
        _check_source(field, source)


def _check_source(field: str, source: str) -> None:
    env = _env(field)
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(field, f"line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # such as a RecursionError on thousands of nested brackets
        raise TemplateError(field, f"cannot be read: {reason(exc)}") from None
    try:
        unknown = sorted(meta.find_undeclared_variables(tree) - PLACEHOLDERS.keys())
    except jinja2.TemplateError:  # a filter that does not exist here: refused below
        unknown = []
    if unknown:
        raise TemplateError(
            field,
            f"unknown placeholder {', '.join(unknown)}; placeholders: {', '.join(PLACEHOLDERS)}",
        )
    why = sandbox.refusal(tree)  # before compiling: Jinja evaluates constant expressions then
    if why is not None:
        raise TemplateError(field, why)
    _check_renders(field, source)


def _check_renders(field: str, source: str) -> None:
    """Render on the sample, on empty values and on the longest real ones: any error is a refusal."""
    for sample in (SAMPLE, dict.fromkeys(PLACEHOLDERS, ""), WORST_CASE):
        try:
            template = compiled(field, source)  # compiling also refuses an unknown filter or test
            rendered = sandbox.render(template, sample)
            if field == "html":
                mail_html.finish_edited(rendered)  # inlining its styles must stay bounded too
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(field, f"line {exc.lineno}: {exc.message}") from None
        except sandbox.Refused as exc:
            raise TemplateError(field, str(exc)) from None
        except Exception as exc:  # any error of a render is a refusal with its reason
            raise TemplateError(field, f"cannot be rendered: {reason(exc)}") from None


def reason(exc: BaseException) -> str:
    """An error in words, bounded (a message may quote what the template built)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


@functools.lru_cache(maxsize=64)
def compiled(field: str, source: str) -> jinja2.Template:
    """The template compiled, once its constructs are checked (compiling evaluates constants)."""
    env = _env(field)
    why = sandbox.refusal(env.parse(source))
    if why is not None:
        raise sandbox.Refused(f"{field}: {why}")
    return env.from_string(source)
