"""``feedback-sla demo``: a demo organisation on the embedded defaults, served at once."""

from __future__ import annotations

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext

from feedback_sla import demo as demo_data
from feedback_sla.database import db
from feedback_sla.demo import DEMO_PASSPHRASE, demo_logins
from feedback_sla.timeutil import utcnow


def print_logins() -> None:
    click.echo(f"Demo logins (password: {DEMO_PASSPHRASE}):")
    for login in demo_logins():
        click.echo(f"  {login.role:8} {login.email}  ({login.name})")


@click.command("demo")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Start the app after seeding.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reset", is_flag=True, help="Delete the demo data and seed it again, dated from today.")
@with_appcontext
def demo(serve: bool, host: str, port: int, reset: bool):
    """Create or upgrade the database, seed a demo organisation (once), and start the app.

    Only on the demo's own database: one that holds other users is refused, unchanged. The address
    it serves on is recorded there, so ``digest send`` links to it without FEEDBACK_SLA_BASE_URL.
    """
    flask_migrate.upgrade()
    address = demo_data.address(host, port)
    try:
        if reset:
            demo_data.reset(db.session)
        added = demo_data.seed(db.session, utcnow())
        demo_data.record_address(db.session, address)  # digest links point here
        db.session.commit()
    except demo_data.NotADemoDatabase as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    click.echo("Seeded the demo organisation." if added else "Demo data already present.")
    if not serve:
        print_logins()
        return
    from werkzeug.serving import run_simple

    from feedback_sla.app import create_app
    from feedback_sla.emails.config import EmailConfig
    from feedback_sla.worker import start_background_worker

    # Links in emails (the candidates' status pages) point at the demo unless an address is set.
    app = create_app({"DEMO": True, "BASE_URL": current_app.config.get("BASE_URL") or address})
    worker = start_background_worker(app)  # emails appear as .eml files in the instance folder
    click.echo(f"\nfeedback-sla demo running at {address}/  (Ctrl+C to stop)")
    click.echo(f"Emails are written as .eml files to {EmailConfig.from_app(app).mail_dir}")
    print_logins()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        worker.stop(5)
