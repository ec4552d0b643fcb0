"""Pages in their reader's language (Flask-Babel): the catalogs in ``feedback_sla/translations``
and the one rule that picks a page's language.

A candidate's status page is in the candidate's language, or the one they switched to on that
link (``?lang=``): its view sets it (``use``) before writing anything. A signed-in page is in the
user's language when they chose one, else the first of the browser's (Accept-Language) the
organisation has, else the organisation's default. Only the organisation's languages are ever used.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context, request
from flask_babel import refresh

from feedback_sla import languages
from feedback_sla.database import db
from feedback_sla.extensions import babel
from feedback_sla.settings import service as settings_service

#: Where the catalogs are: ``<language>/LC_MESSAGES/messages.po`` and its compiled ``.mo``.
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        default_locale=languages.DEFAULT,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )


def organisation_languages() -> tuple[str, ...]:
    """The organisation's languages, its default first, read once per request."""
    found = g.get("organisation_languages") if has_request_context() else None
    if found is None:
        found = tuple(settings_service.load(db.session).languages)
        if has_request_context():
            g.organisation_languages = found
    return found


def use(language: str) -> None:
    """This request's pages are in ``language`` (set by a view before it writes anything)."""
    g.page_language = language
    refresh()


def browser_language(enabled: tuple[str, ...]) -> str | None:
    """The first of the browser's languages (Accept-Language, by quality) the organisation has."""
    accepted = [tag for tag, _quality in request.accept_languages]
    return languages.best_match(accepted, enabled)


def select_locale() -> str:
    """The language of this request's page (the module's rule)."""
    if not has_request_context():
        return languages.DEFAULT
    chosen = g.get("page_language")
    if chosen:
        return chosen
    enabled = organisation_languages()
    user = _signed_in_user()
    mine = languages.normalize(getattr(user, "language", None)) if user is not None else ""
    if mine in enabled:
        return mine
    return browser_language(enabled) or enabled[0]


def _signed_in_user():
    """The signed-in user, when the page has loaded one (Flask-Login keeps it in ``g``): a page
    reached by a token (the status page, the API) never loads one for its language."""
    user = g.get("_login_user")
    return user if user is not None and user.is_authenticated else None
