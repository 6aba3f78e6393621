"""A recommendation's timeline in words: who did what, when, and every email sent about it.

Decisions and timers come from the workflow's own timeline; emails from the sent log, which the
delivery activity writes after each message goes (or bounces).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from activities.mail.render import MESSAGE_NAMES
from models.payloads import EscalationLevel, RecommendationStatus, TimelineEvent
from models.store import as_utc
from models.tables import SentMail
from web import wording

EVENT_WORDS = {
    "received": "Recommendation received",
    "action_assigned": "Action assigned",
    "actions_agreed": "Actions agreed",
    "actions_added": "Actions added",
    "acknowledged": "Action taken on by its owner",
    "progress_reported": "Progress reported",
    "progress_requested": "Progress update asked for",
    "due_reminder": "Reminder before the due date",
    "extension_requested": "More time asked for",
    "extension_approved": "More time agreed",
    "extension_declined": "More time refused",
    "action_completed": "Action reported complete",
    "owner_reassigned": "Action reassigned",
    "due_date_changed": "Due date changed",
    "plans_submitted": "Dissemination and audit plans submitted",
    "signed_off": "Signed off by the Assurance Board",
    "audit_embedded": "Audit: the change is embedded",
    "audit_partially_embedded": "Audit: the change is partly embedded",
    "audit_not_embedded": "Audit: the change is not embedded",
    "mail_bounced": "An email could not be delivered",
}
SYSTEM_ACTORS = {"assure": "Assure (on time)"}


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    what: str
    detail: str
    email: bool = False


def event_words(kind: str) -> str:
    if kind.startswith("stage:"):
        return f"Now at: {wording.STAGES.get(kind.removeprefix('stage:'), kind)}"
    if kind.startswith("escalation:"):
        level = kind.removeprefix("escalation:")
        try:
            return wording.LEVEL_WORDS[EscalationLevel(level)]
        except ValueError:
            return f"Escalated ({level})"
    return EVENT_WORDS.get(kind, kind.replace("_", " ").capitalize())


def _detail(event: TimelineEvent) -> str:
    if event.kind == "received":  # "from cspr": the source's kind, in words
        kind = event.detail.removeprefix("from ")
        return f"From {wording.SOURCE_KINDS.get(kind, kind)}"
    return event.detail


def timeline_entries(status: RecommendationStatus, mail: Sequence[SentMail]) -> list[Entry]:
    """Every event and every email, oldest first."""
    entries = [
        Entry(at=as_utc(e.at), who=SYSTEM_ACTORS.get(e.actor, e.actor), what=event_words(e.kind), detail=_detail(e))
        for e in status.timeline
    ]
    for message in mail:
        name = MESSAGE_NAMES.get(message.kind, message.kind.replace("_", " "))
        verb = "Email sent" if message.status == "sent" else "Email bounced"
        detail = f"to {message.recipient}"
        entries.append(Entry(at=as_utc(message.at), who="Assure", what=f"{verb}: {name}", detail=detail, email=True))
    return sorted(entries, key=lambda entry: entry.at)
