"""``feedback-sla sources``: connect an ATS (Greenhouse, Lever, Ashby, Workable), list the sources
with their latest deliveries, and retry the deliveries that could not be processed."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla.ats import service, sources
from feedback_sla.ats.models import Kind
from feedback_sla.cli.common import committed, user_named_by
from feedback_sla.database import db
from feedback_sla.output import WRITERS
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import iso, utcnow

sources_group = AppGroup("sources", help="ATS webhook sources: connect, list, retry failed deliveries.")


def _url(source) -> str:
    base = current_app.config["BASE_URL"] or ""
    return f"{base}{sources.webhook_path(source)}"


@sources_group.command("create")
@click.argument("kind", type=click.Choice([k.value for k in Kind]))
@click.option("--name", required=True, help="What admins call this source.")
@click.option("--manager", "manager_email", required=True, help="Default hiring manager's email.")
@click.option(
    "--secret", help="The vendor's secret, when it generates one (Lever, Workable); else a new one."
)
@click.option("--api-key", help="Lever: the API key the details are fetched with.")
@click.option(
    "--stage", "stages", multiple=True, metavar="ATS_NAME=STAGE", help="Map an ATS stage name; repeatable."
)
def create_command(kind, name, manager_email, secret, api_key, stages):
    """Connect an ATS; prints its webhook URL and its secret (shown this once)."""
    manager = user_named_by(manager_email, "--manager")
    stage_map = {}
    for item in stages:
        ats_name, sep, stage = item.rpartition("=")
        if not sep or not ats_name.strip():
            raise click.BadParameter(f"{item!r}: expected ATS_NAME=STAGE", param_hint="'--stage'")
        stage_map[ats_name] = stage.strip()
    new = sources.NewSource(kind, name, manager, secret, api_key, stage_map)
    source = committed(lambda: sources.create_source(db.session, new, utcnow()))
    click.echo(f"created source {source.id} {source.name!r} ({source.kind})")
    click.echo(f"webhook URL: {_url(source)}")
    click.echo(f"secret: {source.secret}")
    click.echo("The secret is shown this once.")


@sources_group.command("list")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def list_command(fmt):
    """Every source, its URL, and its latest delivery."""
    columns = ("id", "kind", "name", "url", "default_manager", "latest_delivery", "latest_status")
    rows = []
    for source in sources.all_sources(db.session):
        latest = sources.recent_deliveries(db.session, source, 1)
        rows.append(
            (
                source.id,
                source.kind,
                source.name,
                _url(source),
                source.default_manager.email,
                iso(latest[0].received_at) if latest else "",
                latest[0].status if latest else "",
            )
        )
    WRITERS[fmt](sys.stdout, columns, rows)


@sources_group.command("retry")
def retry_command():
    """Process again every delivery that failed (e.g. while the Lever API was down); exits 1 when
    some still fail."""
    result = service.retry(
        db.session,
        utcnow(),
        settings_service.load(db.session),
        service.LeverConfig.from_config(current_app.config),
    )
    db.session.commit()
    click.echo(f"processed {result.processed}, still failing {result.failed}")
    for delivery in sources.failed_deliveries(db.session):
        click.echo(
            f"  delivery {delivery.id} ({delivery.source.name}, {delivery.event_type}): {delivery.error}"
        )
    if result.failed:
        raise SystemExit(1)
