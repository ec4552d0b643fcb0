"""Talking to Slack and to Teams: one request per message, and what its answer means.

Slack's Web API through ``slack_sdk``'s ``WebClient`` (chat.postMessage, users.lookupByEmail),
with its own retries off: the queue retries, with backoff, after ``Retry-After`` on a 429. A
response_url and a Teams Workflows URL take a JSON POST (``slack_sdk``'s ``WebhookClient``, which
answers with the status instead of raising). An error that no retry can mend (``invalid_auth``,
``channel_not_found``, a 4xx from a webhook) fails the message for good, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from feedback_sla.chat.connection import ChatConfig

#: Slack's errors worth another try (with Retry-After, or backoff); any other ``ok: false`` is final.
SLACK_TEMPORARY = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class DeliveryError(Exception):
    """The message did not go: ``permanent`` when trying again cannot help; ``retry_after`` in
    seconds when the other side said when to come back (HTTP 429 Retry-After)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Posted:
    """Where Slack put a message (a direct message's channel and its ts); empty for a webhook."""

    channel: str | None = None
    ts: str | None = None


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def web_client(config: ChatConfig) -> WebClient:
    if not config.slack_bot_token:
        raise DeliveryError(
            "Slack is not connected: no bot token (FEEDBACK_SLA_SLACK_BOT_TOKEN or the chat page)",
            permanent=True,
        )
    return WebClient(
        token=config.slack_bot_token,
        base_url=config.slack_api_base,
        timeout=int(max(1, config.timeout)),
        retry_handlers=[],
    )


def slack_call(call):
    """Run a WebClient call; DeliveryError says what went wrong and whether to try again."""
    try:
        return call()
    except SlackApiError as exc:
        response = exc.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        error = data.get("error") or f"HTTP {status}"
        retry_after = _retry_after(getattr(response, "headers", None)) if status == 429 else None
        temporary = status == 429 or (status is not None and status >= 500) or error in SLACK_TEMPORARY
        raise DeliveryError(
            f"Slack answered {error}", permanent=not temporary, retry_after=retry_after
        ) from None
    except json.JSONDecodeError:
        raise DeliveryError("Slack answered with something that is not JSON (a server error)") from None
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, a broken answer
        raise DeliveryError(f"Slack could not be reached: {exc}") from None


def post_slack(config: ChatConfig, member_id: str, body: dict) -> Posted:
    """A direct message from the app's bot to the member (chat.postMessage with their id as channel)."""
    client = web_client(config)
    response = slack_call(
        lambda: client.chat_postMessage(channel=member_id, text=body["text"], blocks=body.get("blocks"))
    )
    return Posted(response.get("channel"), response.get("ts"))


def lookup_member(config: ChatConfig, email: str) -> str | None:
    """The Slack member id of the workspace's user with this address (users.lookupByEmail); None
    when Slack knows no such user."""
    client = web_client(config)
    try:
        response = slack_call(lambda: client.users_lookupByEmail(email=email))
    except DeliveryError as exc:
        if str(exc).endswith("users_not_found"):
            return None
        raise
    return (response.get("user") or {}).get("id")


def post_webhook(config: ChatConfig, url: str, body: dict, what: str) -> Posted:
    """POST JSON to a Teams Workflows URL or a Slack response_url; 2xx is delivered."""
    client = WebhookClient(url, timeout=int(max(1, config.timeout)), retry_handlers=[])
    try:
        response = client.send_dict(body)
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{what} could not be reached: {exc}") from None
    status = response.status_code
    if 200 <= status < 300:
        return Posted()
    said = (response.body or "").strip().replace("\n", " ")[:300]
    reason = f"{what} answered HTTP {status}" + (f": {said}" if said else "")
    if status == 429:
        raise DeliveryError(reason, retry_after=_retry_after(response.headers))
    raise DeliveryError(reason, permanent=400 <= status < 500 and status != 408)
