"""Render a review clock's message (``models.review_lifecycle``): a reminder before a review's
milestone is due, a note that it was missed, and the Assurance Board's escalation.

These are about a review, not a recommendation, so they share the email base but not the
recommendation's facts: the review's kind, board, the clock and its source, and the milestones
recorded so far. The link opens the review's page on the dashboard (behind sign-in), so it is the
same for every reader and carries no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from activities.mail.render import RenderedEmail, acting_for, header_safe, render_standalone
from models.kinds import MessageKind
from models.wording import SOURCE_KINDS, uk_date

M = MessageKind
REVIEW_KINDS = (M.review_clock_reminder, M.review_clock_missed, M.review_clock_escalated)
_HEADLINES = {
    M.review_clock_reminder: ("reminder", "{milestone} is due on {due}"),
    M.review_clock_missed: ("overdue", "{milestone} was due on {due} and is not recorded"),
    M.review_clock_escalated: ("escalated", "{milestone} is late: escalated to the Assurance Board"),
}
MILESTONE_WORDS = {
    "notified": "The notification",
    "decided": "The decision to review",
    "commissioned": "The commissioning",
    "concluded": "The final report",
    "published": "Publication",
}


def is_review_kind(kind: str) -> bool:
    return kind in REVIEW_KINDS


def review_page_link(base_url: str, context: Mapping[str, Any]) -> str:
    """The review's dashboard page: ``path`` is made by the lifecycle, already quoted."""
    return f"{base_url.rstrip('/')}{context['path']}"


def _within_words(clock: Mapping[str, Any]) -> str:
    within = str(clock.get("within", ""))
    unit = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}.get(within[-1:], "")
    count = within[1:-1]
    if count == "1":
        unit = unit.removesuffix("s")
    working = "working " if clock.get("working_days") and unit.startswith("day") else ""
    return f"{count} {working}{unit}" if unit else within


def render_review(kind: str, context: Mapping[str, Any], *, recipient: str, link: str, sent_on: date) -> RenderedEmail:
    """One reader's message about a review's clock; ``KeyError`` for a kind that is not one."""
    tag, headline_words = _HEADLINES[MessageKind(kind)]
    clock = context["clock"]
    ends, starts = str(clock["ends"]), str(clock["starts"])
    milestone = MILESTONE_WORDS.get(ends, ends.capitalize())
    headline = header_safe(headline_words.format(milestone=milestone, due=uk_date(context["due_on"])), 300)
    subject = header_safe(f"[{context['ref']}] {headline} — {context['title']}")
    role = str(context.get("roles", {}).get(recipient, ""))
    board = str(context["board"])
    the_board = board if board.lower().startswith("the ") else f"the {board}"
    why = {
        "board_chair": f"You are getting this as the chair of {the_board}, which leads this review.",
        "board_sponsor": f"You are getting this as a sponsor of {the_board}, which leads this review.",
    }.get(role, "You are getting this as a member of the Assurance Board, which hears of reviews' missed deadlines.")
    acting = acting_for(context, recipient)
    if acting:
        # A deputy standing in for someone away (``models.cover``): said first, in the subject too.
        headline = header_safe(f"For {acting['person']}: {headline}", 300)
        subject = header_safe(f"[{context['ref']}] {headline} — {context['title']}")
        why = (
            f"You are getting this in place of {acting['person']}, who is away until {uk_date(acting.get('until'))}: "
            + why.replace("You are getting this as", "it was meant for them as", 1)
        )
    milestones = [(MILESTONE_WORDS.get(m, m), uk_date(d)) for m, d in context.get("milestones", {}).items()]
    return render_standalone(
        kind, context, recipient=recipient, role=role, link=link, sent_on=sent_on, headline=headline, subject=subject,
        tag=tag, button="Open the review", why=why, sentences=_sentences, milestone_words=milestone,
        milestone_name=ends, start_words=MILESTONE_WORDS.get(starts, starts).lower(),
        within_words=_within_words(clock),
        kind_words=SOURCE_KINDS.get(str(context.get("review_kind")), str(context.get("review_kind"))),
        the_board=the_board, recorded=milestones, refs=[context["ref"]],
    )  # fmt: skip


def _sentences(v: Mapping[str, Any]) -> dict[str, Any]:
    """What the message asks and says will happen, the same in both parts."""
    due, milestone = uk_date(v["due_on"]), v["milestone_words"].lower()
    deciders = v["role"] in ("board_sponsor", "board_chair")
    if deciders:
        ask = (
            f"When {milestone} is reached, record its day on the review's page. If it has been reached "
            "already, record the day it was."
        )
    else:
        ask = (
            f"Ask {v['the_board']} what is holding up {milestone} of this review, and when it will be "
            "reached. Its sponsors and chair record the day on the review's page."
        )
    clock = (
        f"{v['milestone_words']} is due within {v['within_words']} of {v['start_words']} "
        f"(recorded {uk_date(v['started_on'])}): {v['clock'].get('basis') or 'a local deadline'}."
    )
    escalates_on = v.get("escalates_on")
    if v["kind"] == M.review_clock_reminder:
        consequence = f"If it is not recorded by {due}, {v['the_board']} is told the next day"
        consequence += f", and the Assurance Board on {uk_date(escalates_on)}." if escalates_on else "."
    elif v["kind"] == M.review_clock_missed:
        consequence = (
            f"If it is still not recorded, the Assurance Board is told on {uk_date(escalates_on)}."
            if escalates_on
            else "If it is still not recorded, the Assurance Board is told."
        )
    else:
        consequence = "It stays on the Assurance Board's agenda, and in its monthly board pack, until it is recorded."
    if v.get("skipped_levels"):
        consequence = (
            "Earlier steps of this deadline's ladder had already passed when Assure measured it, "
            "so everyone up to this step is told at once. " + consequence
        )
    return {"ask": ask, "clock_line": clock, "consequence": consequence}
