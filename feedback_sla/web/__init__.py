"""The browser application: extensions, security, error pages and every blueprint."""

from __future__ import annotations

import datetime as dt

from flask import Flask, has_request_context, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from feedback_sla.database import db
from feedback_sla.extensions import bootstrap, csrf, limiter, login_manager
from feedback_sla.web import filters, flashes, i18n

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    if app.config["BEHIND_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are ended by their version instead
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    filters.init_app(app)
    i18n.init_app(app)
    flashes.init_app(app)

    from feedback_sla.web.auth.views import bp as auth_bp

    app.register_blueprint(auth_bp)
    for blueprint in _feature_blueprints():
        app.register_blueprint(blueprint)
    from feedback_sla.web import api  # /api/v1: registered through flask-smorest for its document

    api.init_app(app)

    app.before_request(_enforce_session_timeouts)
    app.before_request(_require_secret_key)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    app.context_processor(_navigation)


#: (endpoint, label): the main menu, in order.
NAV_ITEMS = (
    ("triage.index", _l("Triage")),
    ("candidates.index", _l("Candidates")),
    ("candidates.new", _l("Add candidate")),
    ("candidates.import_csv", _l("Import")),
    ("positions.index", _l("Positions")),
    ("metrics.index", _l("Metrics")),
)

#: The admin menu: the organisation's users, settings and email templates.
ADMIN_ITEMS = (
    ("admin.users", _l("Users")),
    ("admin.settings", _l("Settings")),
    ("emails.templates", _l("Email templates")),
    ("admin.inbound", _l("Inbound mail")),
    ("admin.sources", _l("ATS sources")),
    ("chat.page", _l("Chat")),
)


def _navigation():
    """The menus' (endpoint, label, address) items and the layout's other addresses: routed once
    for each root the app is served under, not on every page (every page shows them)."""
    from flask import current_app

    if not has_request_context():  # an email, rendered without a page around it
        return {"nav_items": [], "admin_items": [], "layout": {}}
    menus = current_app.extensions.setdefault("feedback_sla.menus", {})
    found = menus.get(request.script_root)
    if found is None:
        found = menus[request.script_root] = _menus(current_app)
    return found


def _menus(app: Flask) -> dict:
    from feedback_sla.extensions import bootstrap

    known = app.view_functions
    return {
        "nav_items": [(e, label, url_for(e)) for e, label in NAV_ITEMS if e in known],
        "admin_items": [(e, label, url_for(e)) for e, label in ADMIN_ITEMS if e in known],
        "layout": {
            "home": url_for("triage.index"),
            "login": url_for("auth.login"),
            "search": url_for("candidates.index"),
            "settings": url_for("account.settings"),
            "password": url_for("auth.change_password"),
            "logout": url_for("auth.logout"),
            "bootstrap_css": bootstrap.load_css(),
            "bootstrap_js": bootstrap.load_js(),
            "app_css": url_for("static", filename="app.css"),
            "app_js": url_for("static", filename="app.js"),
        },
    }


def _feature_blueprints():
    """Each feature's pages; imported here so a reader finds every URL prefix in one place."""
    from feedback_sla.web.accounts.views import bp as account_bp  # /account
    from feedback_sla.web.admin import erase as _admin_erase  # noqa: F401  (/admin/candidates/<id>/erase)
    from feedback_sla.web.admin import inbound as _admin_inbound  # noqa: F401  (/admin/inbound)
    from feedback_sla.web.admin import sources as _admin_sources  # noqa: F401  (/admin/sources)
    from feedback_sla.web.admin import survey as _admin_survey  # noqa: F401  (/admin/survey)
    from feedback_sla.web.admin.views import bp as admin_bp  # /admin
    from feedback_sla.web.calendar import bp as calendar_bp  # /calendar/<token>.ics: no login
    from feedback_sla.web.candidates import bp as candidates_bp  # /candidates
    from feedback_sla.web.chat import bp as chat_bp  # /admin/chat
    from feedback_sla.web.chat import slack_bp  # /chat/slack/interactivity: signed by Slack, no login
    from feedback_sla.web.digest import bp as digest_bp  # /digest/unsubscribe/<token>: no login
    from feedback_sla.web.emails.views import (
        bp as emails_bp,  # /candidates/<id>/emails, /emails, /admin/emails
    )
    from feedback_sla.web.hooks.views import bp as hooks_bp  # /hooks/<kind>/<id>: ATS webhooks
    from feedback_sla.web.metrics.views import bp as metrics_bp  # /metrics
    from feedback_sla.web.ops.views import bp as ops_bp  # /healthz, /readyz, /ops/metrics
    from feedback_sla.web.positions.views import bp as positions_bp  # /positions
    from feedback_sla.web.status import bp as status_bp  # /status/<token>: the candidate's own page
    from feedback_sla.web.triage.views import bp as triage_bp

    return [
        triage_bp,
        positions_bp,
        admin_bp,
        account_bp,
        candidates_bp,
        metrics_bp,
        emails_bp,
        ops_bp,
        hooks_bp,
        calendar_bp,
        status_bp,
        digest_bp,
        chat_bp,
        slack_bp,
    ]


def _require_secret_key():
    from flask import abort, current_app

    if not current_app.config.get("SECRET_KEY"):
        current_app.logger.error("refusing requests: FEEDBACK_SLA_SECRET_KEY is not set")
        abort(503)


#: Probes and scrapers carry no session, and answering them must not load a user; the API's viewer,
#: the calendar feed's owner, the candidate on their status page and the manager stopping their
#: digest come from their token, never from a session.
UNSESSIONED = frozenset({"ops", "api", "calendar", "status", "digest", "slack"})


def _enforce_session_timeouts():
    """Idle and absolute session lifetimes, counted from the login and the last request."""
    from flask import current_app

    if request.blueprint in UNSESSIONED or not current_user.is_authenticated:
        return
    now = dt.datetime.now(dt.UTC).timestamp()
    started = session.get("login_at", 0)
    seen = session.get("seen_at", started)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    if now - seen > idle or now - started > absolute:
        logout_user()
        session.clear()
        return
    if now - seen > 60:
        session["seen_at"] = now


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if "Cache-Control" not in headers and current_user.is_authenticated:
        headers["Cache-Control"] = "no-store"
    return response


def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    db.session.rollback()
    if request.path.startswith("/api/"):  # no route matched there: answered as the API answers
        from feedback_sla.web.api.problems import from_http_error

        return from_http_error(error)
    return render_template("errors/error.html", error=error), error.code


#: Answers to a request the database could not serve now: busy, restarting, or a lost connection.
RETRY_LATER = {"Retry-After": "5"}


def _server_error(error: Exception):
    """Roll back whatever the request half wrote; show no trace."""
    from flask import current_app, jsonify

    from feedback_sla.database import unavailable

    db.session.rollback()
    if unavailable(error):
        current_app.logger.warning("database unavailable: %s", error)
        if request.blueprint == "hooks":  # the vendor retries a delivery answered 5xx
            return jsonify(error="the database is unavailable; try again"), 503, RETRY_LATER
        return render_template("errors/busy.html"), 503, RETRY_LATER
    current_app.logger.exception("unhandled error")
    return render_template("errors/error.html", error=None), 500
