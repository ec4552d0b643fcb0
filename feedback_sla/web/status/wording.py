"""Where things stand, in the words of the candidate's status page, in the page's language."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from feedback_sla.status_page.service import Situation, Standing


def headline_and_detail(
    standing: Standing, company: str, manager: str, day: Callable[[object], str]
) -> tuple[str, str]:
    """The page's headline and the line that explains it; ``day`` writes a date out."""
    situation = standing.situation
    if situation == Situation.ON_ITS_WAY:
        return _("Your application is in progress."), _(
            "An email about your application is on its way to you."
        )
    if situation == Situation.NOTHING_OWED:
        return _("Your application is in progress."), _(
            "Nobody owes you an answer right now: we will write when there is news. "
            "If you are waiting for something, ask for news."
        )
    if situation == Situation.DUE:
        detail = _("That is the date we promised you.") if standing.promised else _("It is our deadline.")
        return _("We owe you an answer by %(date)s.", date=day(standing.answer_by)), detail
    if situation == Situation.LATE:
        return (
            _("We owed you an answer by %(date)s.", date=day(standing.answer_by)),
            _("We are late, and we are sorry. Asking for news reminds the team."),
        )
    return _decided(standing, company, manager, day)


def _decided(standing: Standing, company: str, manager: str, day) -> tuple[str, str]:
    situation = standing.situation
    if situation == Situation.REJECTED:
        return (
            _("We have decided not to move forward with your application."),
            _("Thank you for the time you gave %(company)s. We wish you every success.", company=company),
        )
    if situation == Situation.OFFERED:
        return _("We would like to make you an offer."), _(
            "%(manager)s will talk it through with you.", manager=manager
        )
    if situation == Situation.HIRED:
        return (
            _("You are hired. Welcome!"),
            _("%(manager)s will be in touch about your first days.", manager=manager),
        )
    headline = _("You withdrew your application.")
    if standing.withdrawn_on is not None:
        headline = _("Your application was withdrawn on %(date)s.", date=day(standing.withdrawn_on))
    return headline, _("Nobody will contact you about it any more. Thank you for your interest.")


def too_soon(again, day) -> str:
    return _("You asked for news recently. You can ask again on %(date)s.", date=day(again))


def decided_already() -> str:
    return _("Your application is decided: there is nothing to ask for or withdraw any more.")


def link_gone() -> str:
    return _("This link no longer works.")
