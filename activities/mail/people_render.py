"""Render the messages of people changing (``gateway.people``): a successor's one summary of what
passed to them from a leaver, and an agency lead's notice that someone of theirs is away with no
deputy, so that what is meant for them comes to the lead meanwhile.

Neither is about one recommendation: they share the email base, and the link opens the dashboard
(behind sign-in), the same for every reader, with no token in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from activities.mail.render import RenderedEmail, header_safe, render_standalone
from models.kinds import MessageKind
from models.wording import uk_date

M = MessageKind
PEOPLE_KINDS = (M.hand_over_summary, M.absence_uncovered)


def is_people_kind(kind: str) -> bool:
    return kind in PEOPLE_KINDS


def dashboard_link(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/dashboard"


def render_people(kind: str, context: Mapping[str, Any], *, recipient: str, link: str, sent_on: date) -> RenderedEmail:
    """One reader's message; ``KeyError`` for a kind that is not one of these."""
    if MessageKind(kind) is M.hand_over_summary:
        moved = list(context.get("moved") or ())
        count = len(moved)
        headline = header_safe(
            f"{context['leaver']} has left: {count} recommendation{'s' * (count != 1)} passed to you", 300
        )
        why = f"You are getting this because you were named as {context['leaver']}'s successor."
        tag, button, role = "action", "Open your dashboard", "successor"
    elif MessageKind(kind) is M.absence_uncovered:
        headline = header_safe(
            f"{context['person']} is away from {uk_date(context['first_day'])} to "
            f"{uk_date(context['last_day'])} with no deputy",
            300,
        )
        why = f"You are getting this because you are the safeguarding lead for {context['agency']}."
        tag, button, role = "info", "Open the dashboard", "agency_lead"
    else:
        raise KeyError(kind)
    return render_standalone(
        kind, context, recipient=recipient, role=role, link=link, sent_on=sent_on, headline=headline,
        subject=headline, tag=tag, button=button, why=why, sentences=_sentences, refs=[],
    )  # fmt: skip


def _sentences(v: Mapping[str, Any]) -> dict[str, Any]:
    """What the message asks and says will happen, the same in both parts."""
    if v["kind"] == M.hand_over_summary:
        ask = (
            "Each recommendation below is now yours where it was theirs: its actions, plans, audit, "
            "measures or cascade, as listed. Open your dashboard to see where each stands and what is due."
        )
        consequence = (
            "Reminders and escalations now come to you, on the same deadlines as before. Links sent to "
            f"{v['leaver']} no longer work."
        )
    else:
        ask = (
            f"While {v['person']} is away, tasks, reminders and escalations meant for them come to you, "
            "marked as acting for them. Ask them to name a deputy, or reassign their actions, if someone "
            "else should take them."
        )
        consequence = f"From {uk_date(v['last_day'])} onward their mail goes to them again."
    return {"ask": ask, "consequence": consequence}
