"""The Prometheus side: request latency observed around every request, and the database figures
computed when Prometheus scrapes (a custom collector, so nothing is counted between scrapes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.web.ops import figures

#: Methods labelled by name; anything else a client invents is "other", so labels stay few.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabaseCollector:
    """Counts read at scrape time, each family one grouped statement."""

    def describe(self):
        return []  # nothing to read at registration: the figures need a request's database session

    def collect(self):
        session = db.session
        now = utcnow()
        outbox = GaugeMetricFamily(
            "feedback_sla_outbox_messages", "Outbox messages by status.", labels=["status"]
        )
        for status, count in figures.outbox_by_status(session).items():
            outbox.add_metric([status], count)
        yield outbox
        yield GaugeMetricFamily(
            "feedback_sla_outbox_oldest_pending_seconds",
            "Seconds since the oldest pending outbox message was queued (0: none pending).",
            value=figures.oldest_pending_seconds(session, now),
        )
        waits = GaugeMetricFamily(
            "feedback_sla_open_waits", "Candidates waiting for an answer, by state.", labels=["state"]
        )
        counts = figures.open_waits_by_state(session, now, settings_service.load(session))
        for state, count in counts.items():
            waits.add_metric([state], count)
        yield waits
        deliveries = GaugeMetricFamily(
            "feedback_sla_webhook_deliveries",
            "Webhook deliveries received, by source kind and outcome.",
            labels=["source", "outcome"],
        )
        for (source, outcome), count in sorted(figures.webhook_deliveries(session).items()):
            deliveries.add_metric([source, outcome], count)
        yield deliveries


@dataclass(frozen=True)
class Instruments:
    """One app's registry: its latency histogram and the database collector."""

    registry: CollectorRegistry
    request_seconds: Histogram
    database: DatabaseCollector


def init_app(app: Flask) -> None:
    registry = CollectorRegistry(auto_describe=False)
    histogram = Histogram(
        "feedback_sla_request_seconds",
        "Time to answer a request, by endpoint (the view's name, not the path), method and status.",
        ["endpoint", "method", "status"],
        registry=registry,
    )
    collector = DatabaseCollector()
    registry.register(collector)
    app.extensions["feedback_sla_prometheus"] = Instruments(registry, histogram, collector)


def start_timer() -> None:
    g.request_started = time.perf_counter()


def observe(response):
    started = g.pop("request_started", None)
    if started is not None:
        method = request.method if request.method in METHODS else "other"
        instruments(current_app).request_seconds.labels(
            request.endpoint or "none", method, str(response.status_code)
        ).observe(time.perf_counter() - started)
    return response


def instruments(app: Flask) -> Instruments:
    return app.extensions["feedback_sla_prometheus"]


def exposition(app: Flask) -> bytes:
    """The text Prometheus reads. With ``PROMETHEUS_MULTIPROC_DIR`` set (several gunicorn
    workers) the latency comes from every worker's files, the library's multiprocess mode;
    without it, from this process only."""
    own = instruments(app)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(own.registry)
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)
    registry.register(own.database)
    return generate_latest(registry)
