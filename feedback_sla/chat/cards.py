"""What a chat message says, as Slack's Block Kit (with its ``text`` fallback) and as a Teams
Adaptive Card in the Workflows envelope.

Slack: chat.postMessage takes ``text`` and ``blocks`` (a section of mrkdwn, an actions block of
buttons); in mrkdwn ``&``, ``<`` and ``>`` are escaped as Slack documents, so a name cannot make a
link or a mention. Teams: a Workflows webhook takes ``{"type": "message", "attachments":
[{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]}``;
its cards cannot post back, so every button is a link (Send update opens the digest's signed
confirmation page).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext

from feedback_sla.chat.models import About

#: Slack's interactivity ``action_id`` of each button that posts back.
SEND_UPDATE = "send_update"
UNDO = "undo"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"


@dataclass(frozen=True)
class Nudge:
    """One candidate, told to their manager: what happened, and the wait as it stands."""

    about: About
    candidate_id: int
    candidate: str
    position: str
    days_waited: int | None = None
    deadline: str | None = None  # in the manager's zone: "Wed 25 Nov 2026, 18:00 Europe/Berlin"
    due_phrase: str | None = None  # "2 business days overdue"
    open_url: str = ""
    rejection_url: str = ""
    #: The signed confirmation page of "Send update" (Teams; Slack's button posts back instead).
    update_url: str = ""
    #: Names this rendering of the Send update button: pressing it twice queues one update.
    nonce: str = ""

    @property
    def headline(self) -> str:
        name = self.candidate
        return {
            About.DUE_SOON: f"{name}: an answer is due soon",
            About.OVERDUE: f"{name} is overdue for an answer",
            About.ESCALATED: f"{name} is escalated: waiting too long for an answer",
            About.REPLIED: f"{name} replied to our email",
            About.ASKED: f"{name} asked for news on their status page",
            About.WITHDREW: f"{name} withdrew their application",
            About.BOUNCED: f"An email to {name} bounced: they never got it",
            About.TEST: f"{name}",
        }.get(self.about, name)

    @property
    def waiting(self) -> bool:
        """Whether the candidate is waiting for an answer (the nudge offers to send one)."""
        return self.deadline is not None and self.about not in (About.WITHDREW, About.BOUNCED)

    def facts(self) -> list[tuple[str, str]]:
        facts = [("Position", self.position)]
        if self.days_waited is not None:
            facts.append(("Waiting", _days(self.days_waited)))
        if self.deadline:
            facts.append(
                ("Deadline", f"{self.deadline} ({self.due_phrase})" if self.due_phrase else self.deadline)
            )
        return facts

    @property
    def text(self) -> str:
        """The one line every channel carries (Slack's notification and fallback)."""
        return f"{self.headline}. " + "; ".join(f"{title}: {value}" for title, value in self.facts()) + "."


def _days(count: int) -> str:
    return f"{count} business day{'s' if count != 1 else ''}"


def mrkdwn(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally: &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def card_text(text: str) -> str:
    """Text as a Teams card shows it literally: the characters of its Markdown (a link, emphasis)
    escaped with a backslash, so a name cannot make a link."""
    escaped = re.sub(r"([\\`*_\[\]()~])", r"\\\1", text)
    escaped = re.sub(r"^(\s*)([-+#>])", r"\1\\\2", escaped)  # not a list, a heading or a quote
    return re.sub(r"^(\s*\d+)\.", r"\1\\.", escaped)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(
    label: str, action_id: str, *, value: str | None = None, url: str | None = None, style=None
) -> dict:
    button = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}}
    if value is not None:
        button["value"] = value
    if url:
        button["url"] = url
    if style:
        button["style"] = style
    return button


def _nudge_section(nudge: Nudge) -> dict:
    lines = [f"*{mrkdwn(nudge.headline)}*"] + [f"{title}: {mrkdwn(value)}" for title, value in nudge.facts()]
    return _section("\n".join(lines))


def nudge_buttons(nudge: Nudge) -> list[dict]:
    buttons = []
    if nudge.waiting:
        value = f"{nudge.candidate_id}:{nudge.nonce}"
        buttons.append(_button("Send update", SEND_UPDATE, value=value, style="primary"))
        if nudge.rejection_url:
            buttons.append(_button("Write a rejection", "write_rejection", url=nudge.rejection_url))
    if nudge.open_url:
        buttons.append(_button("Open", "open", url=nudge.open_url))
    return buttons


def _actions(nudge: Nudge, buttons: list[dict], suffix: str) -> list[dict]:
    return (
        [{"type": "actions", "block_id": f"candidate-{nudge.candidate_id}-{suffix}", "elements": buttons}]
        if buttons
        else []
    )


def slack_nudge(nudge: Nudge) -> dict:
    """chat.postMessage's ``text`` and ``blocks`` for a nudge (the caller adds ``channel``)."""
    return {
        "text": mrkdwn(nudge.text),
        "blocks": [_nudge_section(nudge), *_actions(nudge, nudge_buttons(nudge), "nudge")],
    }


def slack_answered(nudge: Nudge, said: str, undo_message_id: int | None) -> dict:
    """The body posted to a pressed button's response_url: the nudge again, what the button did,
    and Undo while the email can be taken back (else the nudge's buttons)."""
    if undo_message_id is not None:
        buttons = [_button("Undo", UNDO, value=str(undo_message_id), style="danger")]
        if nudge.open_url:
            buttons.append(_button("Open", "open", url=nudge.open_url))
    else:
        buttons = nudge_buttons(nudge)
    blocks = [_nudge_section(nudge), _section(mrkdwn(said)), *_actions(nudge, buttons, "answered")]
    return {"replace_original": True, "text": mrkdwn(f"{said} ({nudge.headline})"), "blocks": blocks}


def slack_ephemeral(said: str) -> dict:
    """A reply only the person who pressed the button sees; the message stays as it was."""
    return {"response_type": "ephemeral", "replace_original": False, "text": said}


def teams_envelope(card: dict) -> dict:
    """The Workflows webhook's documented envelope around an Adaptive Card."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def _card(title: str, facts: Sequence[tuple[str, str]], links: Sequence[tuple[str, str]], lines=()) -> dict:
    body = [
        {"type": "TextBlock", "text": card_text(title), "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    body += [{"type": "TextBlock", "text": card_text(line), "wrap": True} for line in lines]
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": t, "value": card_text(v)} for t, v in facts]})
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in links if url],
    }


def teams_nudge(nudge: Nudge) -> dict:
    links = []
    if nudge.waiting:
        links += [("Send update", nudge.update_url), ("Write a rejection", nudge.rejection_url)]
    links.append(("Open", nudge.open_url))
    return teams_envelope(_card(nudge.headline, nudge.facts(), links))


@dataclass(frozen=True)
class DigestLine:
    candidate: str
    position: str
    due_phrase: str
    url: str


@dataclass(frozen=True)
class ChatDigest:
    """The digest as a chat message: its subject, the most urgent lines, how many more."""

    subject: str
    lines: tuple[DigestLine, ...]
    more: int
    triage_url: str
    day: dt.date

    @property
    def text(self) -> str:
        return self.subject + "."


def slack_digest(digest: ChatDigest) -> dict:
    rows = [
        f"• <{line.url}|{mrkdwn(line.candidate)}> ({mrkdwn(line.position)}): {line.due_phrase}"
        for line in digest.lines
    ]
    if digest.more:
        rows.append(gettext("…and %(more)s more on the triage page", more=digest.more))
    blocks = [_section(f"*{mrkdwn(digest.subject)}*")]
    if rows:
        blocks.append(_section("\n".join(rows)))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"digest-{digest.day.isoformat()}",
            "elements": [_button(gettext("Open triage"), "open_triage", url=digest.triage_url)],
        }
    )
    return {"text": digest.text, "blocks": blocks}


def teams_digest(digest: ChatDigest) -> dict:
    lines = [f"{line.candidate} ({line.position}): {line.due_phrase}" for line in digest.lines]
    if digest.more:
        lines.append(gettext("…and %(more)s more on the triage page", more=digest.more))
    return teams_envelope(_card(digest.subject, [], [(gettext("Open triage"), digest.triage_url)], lines))


def connected_message(name: str, base_url: str) -> tuple[str, dict, dict]:
    """The text, Slack body and Teams body of ``chat test``."""
    said = f"feedback-sla can reach {name} here: nudges and the digest will come to this chat."
    slack = {"text": said, "blocks": [_section(mrkdwn(said))]}
    return (
        said,
        slack,
        teams_envelope(_card("feedback-sla is connected", [], [("Open", base_url + "/")], [said])),
    )
