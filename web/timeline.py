"""A recommendation's timeline in words: who did what, when, and every email sent about it.

Decisions and timers come from the workflow's own timeline; emails from the sent log, which the
delivery activity writes after each message goes (or bounces). The words are ``models.wording``'s
(one table for every event and message kind, which emails and the board pack use too); times
stay UTC here and are shown in London time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models.payloads import RecommendationStatus
from models.wording import event_detail, event_words, message_name
from store.read_model import as_utc
from store.tables import SentMail

SYSTEM_ACTORS = {"assure": "Assure (on time)"}


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    what: str
    detail: str
    email: bool = False


def timeline_entries(status: RecommendationStatus, mail: Sequence[SentMail]) -> list[Entry]:
    """Every event and every email, oldest first."""
    entries = [
        Entry(
            at=as_utc(e.at),
            who=SYSTEM_ACTORS.get(e.actor, e.actor),
            what=event_words(e.kind),
            detail=event_detail(e.kind, e.detail),
        )
        for e in status.timeline
    ]
    for message in mail:
        name = message_name(message.kind)
        verb = "Email sent" if message.status == "sent" else "Email bounced"
        detail = f"to {message.recipient}"
        entries.append(Entry(at=as_utc(message.at), who="Assure", what=f"{verb}: {name}", detail=detail, email=True))
    return sorted(entries, key=lambda entry: entry.at)
