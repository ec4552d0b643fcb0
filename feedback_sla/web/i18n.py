"""Pages in their reader's language (Flask-Babel): the catalogs in ``feedback_sla/translations``
and the one rule that picks a page's language.

Two catalogs (Babel domains), read as one: ``messages``, what candidates read (the status page),
shipped in every language of ``languages.SHIPPED``; ``app``, the app's own pages, messages, form
errors and the digest, shipped in ``languages.APP``.

A candidate's status page is in the candidate's language, or the one they switched to on that
link (``?lang=``): its view sets it (``use``) before writing anything. Any other page is in the
user's language when they chose one (My settings), else the first of the browser's
(Accept-Language) the organisation has, else the organisation's default; of these only a language
the ``app`` catalog ships in, English otherwise. Only the organisation's languages are ever used.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import Domain, get_locale, refresh
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from feedback_sla import languages
from feedback_sla.database import db
from feedback_sla.extensions import babel
from feedback_sla.settings import service as settings_service

#: Where the catalogs are: ``<language>/LC_MESSAGES/<domain>.po`` and its compiled ``.mo``.
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
#: The catalogs (Babel domains) and the languages each ships in: what candidates read, and the app's.
DOMAINS: dict[str, tuple[str, ...]] = {"messages": languages.SHIPPED, "app": languages.APP}


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        default_locale=languages.DEFAULT,
        default_domain=";".join(DOMAINS),
        default_translation_directories=";".join(str(TRANSLATIONS) for _ in DOMAINS),
        locale_selector=select_locale,
    )
    babel.domain_instance = DOMAIN  # what Flask-Babel's gettext and lazy strings read
    # Flask-Babel's callables go through Jinja's wrappers, which copy the template's whole context
    # at every string written inside a loop; these take the escaping setting alone (the same
    # rule: in an escaping template the words are safe and what fills them in is escaped).
    app.jinja_env.newstyle_gettext = True
    app.jinja_env.globals.update(
        _=gettext, gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext
    )
    app.jinja_env.globals["page_language"] = page_language


@pass_eval_context
def gettext(eval_ctx: EvalContext, string: str, /, **variables) -> str:
    """A template's ``_()``: the page language's words for ``string``, filled in with ``variables``."""
    return _filled(eval_ctx, translations().ugettext(string), variables)


@pass_eval_context
def ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables) -> str:
    variables.setdefault("num", num)
    return _filled(eval_ctx, translations().ungettext(singular, plural, num), variables)


@pass_eval_context
def pgettext(eval_ctx: EvalContext, context: str, string: str, /, **variables) -> str:
    variables.setdefault("context", context)
    return _filled(eval_ctx, translations().upgettext(context, string), variables)


@pass_eval_context
def npgettext(
    eval_ctx: EvalContext, context: str, singular: str, plural: str, num: int, /, **variables
) -> str:
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    return _filled(eval_ctx, translations().unpgettext(context, singular, plural, num), variables)


def _filled(eval_ctx: EvalContext, words: str, variables: dict) -> str:
    """Always a format string, as Jinja's own gettext: in an escaping template the words are markup
    and each value is escaped as it is put in."""
    if eval_ctx.autoescape:
        words = Markup(words)  # noqa: S704 (the words of our own catalogs)
    return words % variables


class KeptDomain(Domain):
    """Flask-Babel's domain with the catalog of the page's language found once for as long as that
    language holds: a page writes hundreds of strings, and Flask-Babel looks the catalog up anew
    for each (its locale, written out, then its cache). Kept beside the locale Flask-Babel settled
    on, so a change of language (``use``, ``force_locale``) is followed at once."""

    def get_translations(self):
        context = g.get("_flask_babel") if has_app_context() else None
        locale = getattr(context, "babel_locale", None)
        if locale is None:  # not settled yet: Flask-Babel settles it now
            return super().get_translations()
        kept = getattr(context, "page_translations", None)
        if kept is None or kept[0] is not locale:
            kept = context.page_translations = (locale, super().get_translations())
        return kept[1]


#: The one domain of both catalogs, for the pages' templates and for the code's strings alike.
DOMAIN = KeptDomain(domain=";".join(DOMAINS))


def translations():
    """The catalog of the page's language (``KeptDomain``)."""
    return DOMAIN.get_translations()


def page_language() -> str:
    """The language the page is written in, for its ``<html lang>``."""
    locale = get_locale()
    return locale.language if locale is not None else languages.DEFAULT


def app_language(tag: str | None) -> str:
    """``tag`` when the app's pages ship in it, else English."""
    found = languages.normalize(tag)
    return found if found in languages.APP else languages.DEFAULT


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
        return app_language(mine)
    pages = tuple(tag for tag in enabled if tag in languages.APP)
    return browser_language(pages) or app_language(enabled[0])


def _signed_in_user():
    """The signed-in user, when the page has loaded one (Flask-Login keeps it in ``g``): a page
    reached by a token (the status page, the API) never loads one for its language."""
    user = g.get("_login_user")
    return user if user is not None and user.is_authenticated else None
