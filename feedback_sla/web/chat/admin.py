"""Admin page: the organisation's chat connection (Slack's bot token and signing secret, the team's
Teams workflow), each user's links, and the chat messages that failed for good, with the reason.

A secret is entered once and never shown again: the page says only where each comes from
(configuration, or entered here on a date); a field left empty keeps what is stored.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import Length

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts.models import User
from feedback_sla.chat import connection, linking, preferences, queue
from feedback_sla.chat.models import ChatPreference
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import admin_required
from feedback_sla.web.chat import bp
from feedback_sla.web.forms import stripped
from feedback_sla.web.transaction import Refused, one_transaction

#: Failed messages the page lists.
SHOWN = 50


class ConnectionForm(FlaskForm):
    slack_bot_token = PasswordField("Slack bot token", filters=[stripped], validators=[Length(max=2000)])
    slack_signing_secret = PasswordField(
        "Slack signing secret", filters=[stripped], validators=[Length(max=2000)]
    )
    teams_webhook_url = PasswordField(
        "The team's Teams workflow URL", filters=[stripped], validators=[Length(max=2000)]
    )
    forget_slack_bot_token = BooleanField("Forget the stored bot token")
    forget_slack_signing_secret = BooleanField("Forget the stored signing secret")
    forget_teams_webhook_url = BooleanField("Forget the stored Teams workflow URL")


class SlackMemberForm(FlaskForm):
    member_id = StringField(_l("Slack member ID"), filters=[stripped], validators=[Length(max=32)])


class ActionForm(FlaskForm):
    """Only its CSRF token."""


def _config():
    return connection.load(db.session, current_app.config)


def _render(status: int = 200, form: ConnectionForm | None = None):
    config = _config()
    users = accounts.everyone(db.session)
    prefs = {p.user_id: p for p in db.session.scalars(select(ChatPreference))}
    return render_template(
        "chat/admin.html",
        config=config,
        form=form or ConnectionForm(formdata=None),
        member_form=SlackMemberForm(formdata=None),
        action_form=ActionForm(),
        users=[(u, prefs.get(u.id)) for u in users],
        failures=queue.failures(db.session, SHOWN),
        names={u.id: u for u in users},
        secrets=connection.SECRETS,
    ), status


@bp.get("")
@admin_required
def page():
    return _render()


@bp.post("/connection")
@admin_required
def save_connection():
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _render(422, form)
    config, now = _config(), utcnow()

    def save() -> list[str]:
        changed = []
        for name in connection.SECRETS:
            value = getattr(form, name).data
            if value:
                connection.store_secret(db.session, config, name, value, now)
                changed.append(f"{name.replace('_', ' ')} stored")
            elif getattr(form, f"forget_{name}").data:
                connection.store_secret(db.session, config, name, None, now)
                changed.append(f"{name.replace('_', ' ')} forgotten")
        return changed

    saved = one_transaction(save)
    if isinstance(saved, Refused):
        form.form_errors.append(gettext("Nothing was saved: %(reason)s", reason=saved.reason))
        return _render(422, form)
    flash(
        ("Saved: " + ", ".join(saved) + ".") if saved else "Nothing to save: every field was empty.",
        "success",
    )
    return redirect(url_for("chat.page"))


@bp.post("/users/<int:user_id>/slack")
@admin_required
def link_member(user_id: int):
    user = db.get_or_404(User, user_id)
    form = SlackMemberForm()
    member = form.member_id.data if form.validate_on_submit() else None
    linked = one_transaction(lambda: preferences.link_slack(db.session, user, member, utcnow()))
    if isinstance(linked, Refused):
        flash(gettext("Not linked: %(reason)s.", reason=linked.reason), "danger")
    elif member:
        flash(
            gettext(
                "%(name)s is linked to Slack member %(slack_user_id)s.",
                name=user.name,
                slack_user_id=linked.slack_user_id,
            ),
            "success",
        )
    else:
        flash(gettext("%(name)s is no longer linked to Slack.", name=user.name), "success")
    return redirect(url_for("chat.page"))


@bp.post("/link")
@admin_required
def link_everyone():
    """Every active user not linked yet, looked up in Slack by their address."""
    found = one_transaction(lambda: linking.link_by_address(db.session, _config(), utcnow()))
    if isinstance(found, Refused):
        flash(gettext("Nobody was linked: %(reason)s.", reason=found.reason), "danger")
    else:
        flash(found.sentence, "success" if not found.errors else "warning")
    return redirect(url_for("chat.page"))


@bp.post("/messages/<int:chat_message_id>/retry")
@admin_required
def retry(chat_message_id: int):
    again = one_transaction(lambda: queue.retry(db.session, chat_message_id, utcnow()))
    if isinstance(again, Refused):
        flash(gettext("Not retried: %(reason)s.", reason=again.reason), "danger")
    else:
        flash(
            gettext("Chat message %(chat_message_id)s will be sent again.", chat_message_id=chat_message_id),
            "success",
        )
    return redirect(url_for("chat.page"))
