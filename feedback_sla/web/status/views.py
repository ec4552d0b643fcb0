"""The candidate's status page: where things stand, the emails we sent, Ask for news, Withdraw.

No login and no cookie: the link's token in the address is the key. Each form carries a token tied
to the link (``form_tokens``) instead of the session's CSRF token. Every answer, a 404 or an error
included, asks not to be cached, indexed or named in a Referer; the pages are throttled per address.
"""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for

from feedback_sla import languages
from feedback_sla.candidates.models import Candidate, Status, StatusLink
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.extensions import csrf, limiter
from feedback_sla.settings import service as settings_service
from feedback_sla.status_page import service
from feedback_sla.status_page.service import Situation
from feedback_sla.timeutil import utcnow
from feedback_sla.web import i18n
from feedback_sla.web.status import asking, bp, wording
from feedback_sla.web.status.form_tokens import check_form_token, form_token
from feedback_sla.web.transaction import Refused, one_transaction

HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}


@bp.after_app_request
def _private(response):
    """Every answer under /status/, those no page of ours made included (a 404 or 405 of the
    router): its address may hold a link's token."""
    if request.blueprint == bp.name or (request.path + "/").startswith("/status/"):
        response.headers.update(HEADERS)
    return response


def _limit() -> str:
    return current_app.config["STATUS_PAGE_LIMIT_PER_ADDRESS"]


throttled = limiter.shared_limit(
    _limit, scope="status-page", error_message="Too many requests from your address; wait a minute."
)


def _company() -> tuple[str, str]:
    """The company's name (as the admins set it) and the organisation's email address."""
    config = EmailConfig.from_app(current_app)
    return settings_service.company_name(db.session, config.organisation_name), config.organisation_email


def _language(candidate: Candidate | None = None) -> str:
    """The page's language: the one chosen on this link (``?lang=``, kept in its links and
    forms), else the candidate's, else the browser's; always one of the organisation's."""
    enabled = i18n.organisation_languages()
    asked = languages.normalize(request.args.get("lang"))
    g.status_chosen = asked if asked in enabled else None
    if g.status_chosen:
        language = asked
    elif candidate is not None:
        language = languages.effective(candidate.language, enabled, enabled[0])
    else:
        language = i18n.browser_language(enabled) or enabled[0]
    i18n.use(language)
    return language


def _words(language: str) -> dict:
    """What every status template needs to write in ``language``: its tag, the date in words, the
    switch to the organisation's other languages (on a page of a link) and the chosen one to keep."""
    chosen = g.get("status_chosen")
    token = (request.view_args or {}).get("token")
    others = []
    if token is not None:
        others = [
            (tag, languages.name_of(tag), url_for("status.page", token=token, lang=tag))
            for tag in i18n.organisation_languages()
            if tag != language
        ]
    return {
        "page_lang": language,
        "chosen_lang": chosen,
        "other_languages": others,
        "long_date": lambda day: languages.long_date(day, language),
    }


def _company_page(template: str, status: int, candidate: Candidate | None = None):
    """A page that only names the company and whom to write to."""
    company, email = _company()
    words = _words(_language(candidate))
    return render_template(template, company=company, contact=email, **words), status


def _gone():
    """Unknown, revoked or dead link, or the page is off: whom to write to instead."""
    return _company_page("status/gone.html", 404)


@bp.errorhandler(429)
def _throttled(error):
    """Too many requests from one address: the candidate's own page says so, nothing of the app's."""
    return _company_page("status/throttled.html", 429)


def _refused_form(candidate: Candidate):
    """A form without its token, or a withdrawal not confirmed."""
    return _company_page("status/refused.html", 400, candidate)


def _form_ok(link: StatusLink, purpose: str) -> bool:
    secret = current_app.config["SECRET_KEY"]
    return check_form_token(secret, link.token_hash, purpose, request.form.get("form_token"))


def _render(link: StatusLink, token: str, status: int = 200, *, refusal=None, survey_error=None):
    """The page; ``refusal``: why an action was refused, as a DomainError of the service;
    ``survey_error``: why the survey's answer was refused (the posted answer is shown again)."""
    now = utcnow()
    company, email = _company()
    words = _words(_language(link.candidate))
    shown = service.view(db.session, link.candidate, now, settings_service.load(db.session), company)
    headline, detail = wording.headline_and_detail(
        shown.standing, company, link.candidate.position.manager.name, words["long_date"]
    )
    secret = current_app.config["SECRET_KEY"]
    done = request.args.get("done") if request.method == "GET" else None
    return render_template(
        "status/page.html",
        view=shown,
        headline=headline,
        detail=detail,
        token=token,
        contact=email,
        news_token=form_token(secret, link.token_hash, "news"),
        refusal=_refusal(refusal, words["long_date"]) if refusal is not None else None,
        # The thanks show only when they are true: asked today, or withdrawn.
        asked=done == "asked" and shown.ask_again_on is not None,
        withdrew=done == "withdrawn" and link.candidate.status == Status.WITHDRAWN,
        surveyed=done == "surveyed" and link.survey_answered,
        survey_error=survey_error,
        survey_form=request.form if survey_error is not None else {},
        **asking.context(link, now, words["page_lang"], shown.standing.situation != Situation.ON_ITS_WAY),
        **words,
    ), status


def _refusal(error, day) -> str:
    if isinstance(error, service.TooSoon):
        return wording.too_soon(error.again, day)
    if isinstance(error, service.Decided):
        return wording.decided_already()
    return wording.link_gone()


@bp.get("/status/<token>")
@throttled
def page(token: str):
    link = service.find(db.session, token, utcnow())
    if link is None:
        return _gone()
    return _render(link, token)


@bp.post("/status/<token>/news")
@csrf.exempt
@throttled
def ask_for_news(token: str):
    now = utcnow()
    link = service.find(db.session, token, now)
    if link is None:
        return _gone()
    if not _form_ok(link, "news"):
        return _refused_form(link.candidate)
    asked = one_transaction(
        lambda: service.ask_for_news(db.session, link, now, settings_service.load(db.session))
    )
    if isinstance(asked, Refused):
        if isinstance(asked.error, service.LinkGone):
            return _gone()
        return _render(link, token, 409, refusal=asked.error)
    return redirect(url_for("status.page", token=token, done="asked", lang=_chosen()), 303)


@bp.route("/status/<token>/withdraw", methods=["GET", "POST"])
@csrf.exempt
@throttled
def withdraw(token: str):
    """GET asks to confirm; POST (with the confirmation) withdraws."""
    now = utcnow()
    link = service.find(db.session, token, now)
    if link is None:
        return _gone()
    if link.candidate.status != Status.ACTIVE:
        return redirect(url_for("status.page", token=token, lang=_chosen()), 303)
    if request.method == "POST":
        if not _form_ok(link, "withdraw") or request.form.get("confirm") != "yes":
            return _refused_form(link.candidate)
        withdrawn = one_transaction(lambda: service.withdraw(db.session, link, now))
        if isinstance(withdrawn, Refused):
            if isinstance(withdrawn.error, service.LinkGone):
                return _gone()
            if isinstance(withdrawn.error, service.Decided):  # a second click, after the first committed
                done = "withdrawn" if link.candidate.status == Status.WITHDRAWN else None
                return redirect(url_for("status.page", token=token, done=done, lang=_chosen()), 303)
            return _render(link, token, 409, refusal=withdrawn.error)
        return redirect(url_for("status.page", token=token, done="withdrawn", lang=_chosen()), 303)
    company, _ = _company()
    return render_template(
        "status/withdraw.html",
        candidate=link.candidate,
        company=company,
        token=token,
        withdraw_token=form_token(current_app.config["SECRET_KEY"], link.token_hash, "withdraw"),
        **_words(_language(link.candidate)),
    )


def _chosen() -> str | None:
    """The language chosen on this link, kept in the address the page sends the candidate to."""
    enabled = i18n.organisation_languages()
    asked = languages.normalize(request.args.get("lang"))
    return asked if asked in enabled else None
