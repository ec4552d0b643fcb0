"""A user's own settings: name, time zone, the daily digest, personal API tokens and the private
calendar feed link."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext, refresh
from flask_login import current_user, login_required

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts import tokens
from feedback_sla.accounts.models import ApiToken
from feedback_sla.calendar_feed import service as calendar_feed
from feedback_sla.chat import connection as chat_connection
from feedback_sla.chat import preferences as chat_preferences
from feedback_sla.chat.models import Channel
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.web.accounts.forms import (
    CalendarForm,
    ChatForm,
    PersonalSettingsForm,
    RevokeTokenForm,
    TokenForm,
)
from feedback_sla.web.transaction import Refused, one_transaction

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    user = current_user._get_current_object()
    form = PersonalSettingsForm(obj=user)
    if form.validate_on_submit():
        wanted = accounts.Preferences(
            name=form.name.data,
            time_zone=form.time_zone.data,
            digest_enabled=form.digest_enabled.data,
            digest_hour=form.digest_hour.data,
            digest_empty=form.digest_empty.data,
            language=form.language.data or None,
        )
        saved = one_transaction(lambda: accounts.update_preferences(user, wanted))
        if isinstance(saved, Refused):
            flash(gettext("Nothing was saved: %(reason)s", reason=saved.reason), "danger")
            return _render(422, form=form)
        refresh()  # the message is in the language just chosen
        flash(gettext("Your settings are saved."), "success")
        return redirect(url_for("account.settings"))
    return _render(form=form)


def _render(status: int = 200, **forms):
    user = current_user._get_current_object()
    forms.setdefault("form", PersonalSettingsForm(obj=user))
    forms.setdefault("token_form", TokenForm(formdata=None))
    chat_config = chat_connection.load(db.session, current_app.config)
    preference = chat_preferences.preference_of(db.session, user)
    forms.setdefault("chat_form", _chat_form(preference))
    context = dict(
        forms,
        chat=preference,
        chat_config=chat_config,
        api_tokens=tokens.tokens_of(db.session, user),
        revoke_form=RevokeTokenForm(),
        calendar_form=CalendarForm(),
    )
    return render_template("account/settings.html", **context), status


@bp.post("/tokens")
@login_required
def create_token():
    """The new token is shown on this one page and never again (not kept in a message either)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(422, token_form=form)
    user = current_user._get_current_object()
    new = one_transaction(lambda: tokens.create_token(db.session, user, form.token_name.data, utcnow()))
    if isinstance(new, Refused):
        form.token_name.errors.append(gettext("Token name: %(reason)s", reason=new.reason))
        return _render(422, token_form=form)
    return _render(201, new_token=new.secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    tokens.revoke(db.session, token, utcnow())
    db.session.commit()
    flash(
        gettext("Token %(name)s is revoked: requests carrying it are refused.", name=repr(token.name)),
        "success",
    )
    return redirect(url_for("account.settings"))


@bp.post("/calendar")
@login_required
def create_calendar():
    """A new private feed link, shown on this one page; an earlier link stops working."""
    secret = one_transaction(lambda: calendar_feed.create_token(current_user._get_current_object()))
    if isinstance(secret, Refused):
        flash(gettext("No calendar link was created: %(reason)s", reason=secret.reason), "danger")
        return redirect(url_for("account.settings"))
    return _render(201, new_calendar_url=_calendar_url(secret))


def _calendar_url(secret: str) -> str:
    """At FEEDBACK_SLA_BASE_URL when it is set (the address calendars reach), else this host."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base + url_for("calendar.feed", token=secret)
    return url_for("calendar.feed", token=secret, _external=True)


@bp.post("/calendar/revoke")
@login_required
def revoke_calendar():
    calendar_feed.revoke(current_user._get_current_object())
    db.session.commit()
    flash(gettext("Your calendar link is revoked: calendars using it get nothing more."), "success")
    return redirect(url_for("account.settings"))


def _chat_form(preference) -> ChatForm:
    digest, nudges = preference.channels("digest"), preference.channels("nudge")
    form = ChatForm(formdata=None)
    form.digest_slack.data, form.digest_teams.data = Channel.SLACK in digest, Channel.TEAMS in digest
    form.nudge_slack.data, form.nudge_teams.data = Channel.SLACK in nudges, Channel.TEAMS in nudges
    form.nudge_email.data = Channel.EMAIL in nudges
    form.quiet_from.data = "" if preference.quiet_from is None else str(preference.quiet_from)
    form.quiet_until.data = "" if preference.quiet_until is None else str(preference.quiet_until)
    form.daily_cap.data = preference.daily_cap
    return form


@bp.post("/chat")
@login_required
def save_chat():
    """Where the digest and the nudges go besides email; a Teams URL is stored, never shown again."""
    form = ChatForm()
    if not form.validate_on_submit():
        return _render(422, chat_form=form)
    user = current_user._get_current_object()

    def channels(slack: bool, teams: bool, email: bool = False) -> list[Channel]:
        chosen = ((Channel.EMAIL, email), (Channel.SLACK, slack), (Channel.TEAMS, teams))
        return [c for c, on in chosen if on]

    choices = chat_preferences.Choices(
        digest=channels(form.digest_slack.data, form.digest_teams.data),
        nudges=channels(form.nudge_slack.data, form.nudge_teams.data, form.nudge_email.data),
        quiet_from=int(form.quiet_from.data) if form.quiet_from.data else None,
        quiet_until=int(form.quiet_until.data) if form.quiet_until.data else None,
        daily_cap=form.daily_cap.data,
        teams_webhook=form.teams_webhook.data or None,
        forget_teams_webhook=form.forget_teams_webhook.data,
    )
    config = chat_connection.load(db.session, current_app.config)
    saved = one_transaction(
        lambda: chat_preferences.save_choices(db.session, user, choices, config, utcnow())
    )
    if isinstance(saved, Refused):
        form.form_errors.append(gettext("Nothing was saved: %(reason)s", reason=saved.reason))
        return _render(422, chat_form=form)
    flash(gettext("Your chat settings are saved."), "success")
    return redirect(url_for("account.settings", _anchor="chat"))
