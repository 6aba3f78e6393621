"""Render a message about an agency's return to a cycle of assurance (``models.cycle_lifecycle``):
the request, its reminder and overdue notice, the board's and the Assurance Board's escalations,
a submission to review, a challenge and an acceptance.

They share the email base but not a recommendation's facts: the cycle, its board, the period, the
agency and the day the return is due. The agency's lead gets a personal link to the return
(``links.return_links``); the board's reviewers and the Assurance Board get the return's
dashboard page, behind sign-in, the same for every reader. A message never carries the return's
answers or a challenge's words: the reader opens the return to see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from activities.mail.render import RenderedEmail, header_safe, render_standalone
from links.return_links import ReturnLinkClaims, ReturnLinkSigner
from models.kinds import MessageKind
from models.wording import uk_date

M = MessageKind
RETURN_KINDS = (
    M.return_requested, M.return_reminder, M.return_overdue, M.return_board_escalation,
    M.return_assurance_escalation, M.return_submitted, M.return_challenged, M.return_accepted,
)  # fmt: skip
# (tag, headline, button) per kind; the headline also makes the subject.
_KINDS = {
    M.return_requested: ("action", "{agency}'s return for {period} is due by {due}", "Open the return"),
    M.return_reminder: ("reminder", "{agency}'s return for {period} is due on {owed}", "Open the return"),
    M.return_overdue: ("overdue", "{agency}'s return for {period} was due on {owed}", "Open the return"),
    M.return_board_escalation: ("escalated", "{agency}'s return for {period} is late", "Open the return"),
    M.return_assurance_escalation: (
        "escalated",
        "{agency}'s return for {period} is late: escalated to the Assurance Board",
        "Open the return",
    ),
    M.return_submitted: ("decision", "{agency}'s return for {period} is ready to review", "Review the return"),
    M.return_challenged: ("action", "{agency}'s return for {period} is challenged", "Answer the challenge"),
    M.return_accepted: ("closed", "{agency}'s return for {period} is accepted", "Open the return"),
}


def is_return_kind(kind: str) -> bool:
    return kind in RETURN_KINDS


def return_link(signer: ReturnLinkSigner, base_url: str, context: Mapping[str, Any], recipient: str) -> str:
    """The lead's personal link to the return; everyone else's is the return's dashboard page."""
    if context.get("roles", {}).get(recipient) == "agency_lead":
        return signer.url(base_url, ReturnLinkClaims(person=recipient, return_id=str(context["return_id"])))
    return f"{base_url.rstrip('/')}{context['path']}"


def render_return(kind: str, context: Mapping[str, Any], *, recipient: str, link: str, sent_on: date) -> RenderedEmail:
    """One reader's message about a return; ``KeyError`` for a kind that is not one."""
    tag, headline_words, button = _KINDS[MessageKind(kind)]
    words = {
        "agency": context["agency"], "period": context["period"], "due": uk_date(context["due_on"]),
        "owed": uk_date(context.get("owed_on") or context["due_on"]),
    }  # fmt: skip
    headline = header_safe(headline_words.format(**words), 300)
    subject = header_safe(f"[{context['cycle_id']} {context['period']}] {headline}")
    role = str(context.get("roles", {}).get(recipient, ""))
    board = str(context["board"])
    the_board = board if board.lower().startswith("the ") else f"the {board}"
    why = {
        "agency_lead": f"You are getting this as {context['agency']}'s safeguarding lead.",
        "board_reviewer": f"You are getting this as a sponsor or the chair of {the_board}, which reviews this return.",
    }.get(role, "You are getting this as a member of the Assurance Board, which hears of late returns.")
    return render_standalone(
        kind, context, recipient=recipient, role=role, link=link, sent_on=sent_on, headline=headline, subject=subject,
        tag=tag, button=button if role == "agency_lead" or kind == M.return_submitted else "Open the return",
        why=why, sentences=_sentences, the_board=the_board,
        when_label="Due" if kind in (M.return_requested, M.return_reminder, M.return_challenged) else "Was due",
        when_day=context.get("owed_on") or context["due_on"], refs=[f"{context['cycle_id']} {context['period']}"],
    )  # fmt: skip


def _sentences(v: Mapping[str, Any]) -> dict[str, Any]:
    """What the message asks and says will happen next, the same in both parts."""
    kind, lead = v["kind"], v["role"] == "agency_lead"
    agency, cycle, the_board = v["agency"], v["cycle_name"], v["the_board"]
    The_board = the_board[:1].upper() + the_board[1:]  # noqa: N806 (the board's name, to start a sentence)
    count = v["standards"]
    standards = f"{count} standard" + ("" if count == 1 else "s")
    next_on = uk_date(v["next_on"]) if v.get("next_on") else ""
    no_lead = "" if v.get("has_lead") else (
        f" {agency} has no safeguarding lead in the registry: until one is named, nobody can submit "
        "its return. Ask the partnership's business unit to name one."
    )  # fmt: skip
    if kind == M.return_requested:
        ask = (
            (
                f"Please give {agency}'s return to {cycle} for {v['period']}: rate each of its {standards} as met, "
                "partly met or not met, with your evidence, and for any not fully met, the action your agency "
                "will take, who owns it and by when."
            )
            if lead
            else f"{agency}'s return to {cycle} is asked for."
        )
        consequence = f"{The_board} reviews each return once it is submitted."
    elif kind in (M.return_reminder, M.return_overdue, M.return_board_escalation, M.return_assurance_escalation):
        owed = "its answer to the board's challenge" if str(v.get("owed", "")).startswith("challenge") else "its return"
        ask = (
            f"Please give {agency}'s {owed.removeprefix('its ')} from the link below."
            if lead
            else f"Ask {agency}'s safeguarding lead when {agency} will give {owed}."
        )
        steps = {"overdue": f"it is overdue from {next_on}", "board": f"{the_board} is told on {next_on}",
                 "assurance": f"the Assurance Board is told on {next_on}"}  # fmt: skip
        consequence = (f"If it is still not given, {steps[v['next_rung']]}." if v.get("next_rung") in steps and next_on
                       else "It stays on the Assurance Board's agenda until it is given.")  # fmt: skip
        if v.get("skipped_levels"):
            consequence = ("Earlier steps of this return's ladder had already passed when Assure measured it, so "
                           "everyone up to this step is told at once. " + consequence)  # fmt: skip
    elif kind == M.return_submitted:
        answered = " It answers your challenge." if v.get("answered_challenge") else ""
        ask = f"{agency} has submitted its return to {cycle} for {v['period']}.{answered} Accept it, or challenge it."
        consequence = "The return stays open until it is accepted."
    elif kind == M.return_challenged:
        ask = (f"{The_board} has challenged {agency}'s return. Open it to read the challenge, then change "
               "what needs changing and say what you changed and why.")  # fmt: skip
        consequence = f"If it is not answered by {uk_date(v['owed_on'])}, you are reminded, then the board is told."
    else:
        ask = f"{The_board} has accepted {agency}'s return to {cycle} for {v['period']}."
        consequence = "Any action your agency committed to stays yours to deliver; the next period asks again."
    return {"ask": ask + (no_lead if kind != M.return_accepted else ""), "consequence": consequence}
