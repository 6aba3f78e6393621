"""People change on the command line: ``assure person show`` (what the registry holds about
someone), ``assure person deputy`` (their standing deputy), ``assure person absent`` (an absence
and who covers it) and ``assure person left`` (a leaver and their successor).

The store checks and records each edit (``store.people``); a refusal prints its reasons, each by
the option it concerns, and exits 2 with nothing written. Once recorded, the edit is delivered
to the running workflows through the gateway (``gateway.people``): if Temporal cannot be reached
then, the edit stays recorded, the command says so and exits 1, and each recommendation still
gets it before its next decision and all of them with the next registry change.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from cli import _exit, app
from settings import settings_or_exit

if TYPE_CHECKING:
    from store.people import RegistryEditRefused

person_app = typer.Typer(help="One person in the registry: their deputy, absences and leaving.", no_args_is_help=True)
app.add_typer(person_app, name="person")

# Who an edit made here is recorded as, unless --by names the person making it: never a made-up
# address that could be mistaken for someone registered.
OPERATOR = "operator (command line)"
# The option each field of a refusal comes from.
OPTION_OF = {
    "person": "EMAIL",
    "leaver": "EMAIL",
    "first_day": "--from",
    "last_day": "--to",
    "deputy": "--deputy",
    "successor": "--successor",
    "by": "--by",
}
# How often `person left` says how far the hand-over has gone while it waits (seconds).
PROGRESS_EVERY = 2.0
# HandOverStart.registry_moved holds at most this many lines.
REGISTRY_MOVED_LINES = 200

BY_HELP = "Who is making the change (an email), recorded with it"


def _today() -> date:
    """London's date now: the day the partnership's staff mean by "today"."""
    from models.measure_decisions import today_in_london

    return today_in_london(datetime.now(UTC))


def _refused(refused: RegistryEditRefused) -> NoReturn:
    """The refusal on stderr, each reason by its option; exit 2."""
    reasons = "; ".join(refused.fields.values())
    heading = refused.message.removesuffix(reasons).rstrip(": ") if refused.message.endswith(reasons) else ""
    if heading and refused.fields:
        typer.echo(f"{heading}:", err=True)
    else:
        typer.echo(refused.message, err=True)
    for field, reason in refused.fields.items():
        typer.echo(f"  {OPTION_OF.get(field, field)}: {reason}", err=True)
    _exit(2)


def _day(value: str, option: str, field: str) -> date:
    """``value`` as a date, or a refusal located at ``option``."""
    from store.people import RegistryEditRefused

    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        reason = f"{value.strip()[:40]!r} is not a date: write it as YYYY-MM-DD"
        _refused(RegistryEditRefused(f"the absence cannot be recorded: {reason}", {field: reason}))


def _log_to_stderr(settings: Any) -> None:
    """The gateway's log lines on stderr (``logs``), so stdout holds only what the command says."""
    from logs import configure_logging

    configure_logging(fmt=settings.log_format)


UNDELIVERED = "Each recommendation gets it before its next decision, and all of them with the next registry change."
HAND_OVER_NOT_STARTED = "Run this command again, with the same successor, to hand their running workflows over."


def _undelivered(settings: Any, exc: BaseException, then: str = UNDELIVERED) -> NoReturn:
    """The change is committed but Temporal could not be reached: say so, and what happens next; exit 1."""
    typer.echo(
        f"The change is recorded in the registry, but not yet delivered to the running workflows: cannot reach "
        f"Temporal at {settings.temporal_address} ({exc}). {then}",
        err=True,
    )
    _exit(1)


@person_app.command("show")
def show(
    email: str = typer.Argument(..., metavar="EMAIL"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """What the registry holds about someone: roles, agency, deputy, leaving, absences, recent changes."""
    from models.wording import in_london, uk_date
    from store.db import init_db, session_scope
    from store.people import person_record

    settings = settings_or_exit()
    init_db(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            record = person_record(session, email, _today())
    except LookupError as missing:
        typer.echo(str(missing), err=True)
        _exit(2)
    if as_json:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=2))
        _exit(0)
    typer.echo(f"{record.email}" + (f" ({record.name})" if record.name else ""))
    typer.echo(f"Agency: {record.agency or 'none registered'}")
    typer.echo(f"Roles: {', '.join(record.roles) or 'none'}")
    typer.echo(f"Standing deputy: {record.deputy or 'none (their agency lead covers their absences)'}")
    if record.left_on is not None:
        typer.echo(f"Left on {uk_date(record.left_on)}; successor {record.successor or 'none named'}")
    typer.echo("Absences not yet over:" if record.absences else "Absences not yet over: none")
    for absence in record.absences:
        if absence.deputy:
            cover = f"covered by {absence.deputy}"
        elif record.deputy:
            cover = f"covered by their standing deputy {record.deputy}"
        else:
            cover = "nobody named to cover it (their agency lead does)"
        typer.echo(f"  {uk_date(absence.first_day)} to {uk_date(absence.last_day)}, {cover} (absence {absence.id})")
    typer.echo("Recent changes:" if record.changes else "Recent changes: none")
    for change in record.changes:
        typer.echo(f"  {in_london(change.at):%d %b %Y %H:%M} {change.what}, by {change.by}: {change.detail}")
    _exit(0)


@person_app.command("deputy")
def deputy(
    email: str = typer.Argument(..., metavar="EMAIL"),
    deputy: str = typer.Option(
        ..., "--deputy", metavar="EMAIL", help='Their standing deputy, of the same agency ("" for none)'
    ),
    by: str = typer.Option(OPERATOR, "--by", metavar="EMAIL", help=BY_HELP),
) -> None:
    """Name someone's standing deputy, who covers their absences unless an absence names another."""
    from store.db import init_db, session_scope
    from store.people import RegistryEditRefused, set_deputy

    settings = settings_or_exit()
    init_db(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            changed = set_deputy(session, person=email, deputy=deputy, by=by, now=datetime.now(UTC))
    except RegistryEditRefused as refused:
        _refused(refused)
    who, chosen = email.strip().lower(), deputy.strip().lower()
    if not changed:
        typer.echo(f"Unchanged: {who}'s standing deputy is {chosen or 'none'} already")
    elif chosen:
        typer.echo(f"Recorded: {who}'s standing deputy is now {chosen}")
    else:
        typer.echo(f"Recorded: {who} has no standing deputy now")
    _deliver(settings)
    _exit(0)


@person_app.command("absent")
def absent(
    email: str = typer.Argument(..., metavar="EMAIL"),
    first: str = typer.Option(..., "--from", metavar="YYYY-MM-DD", help="Their first day away"),
    last: str = typer.Option(..., "--to", metavar="YYYY-MM-DD", help="Their last day away"),
    deputy: str = typer.Option(
        "", "--deputy", metavar="EMAIL", help="Who covers this absence (default: their standing deputy)"
    ),
    by: str = typer.Option(OPERATOR, "--by", metavar="EMAIL", help=BY_HELP),
) -> None:
    """Record an absence: meanwhile, what is meant for them goes to their deputy, marked as acting for them."""
    from models.wording import uk_date
    from store.db import init_db, session_scope
    from store.people import RegistryEditRefused, person_record, record_absence, uncovered

    settings = settings_or_exit()
    first_day, last_day = _day(first, "--from", "first_day"), _day(last, "--to", "last_day")
    init_db(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            row = record_absence(session, person=email, first_day=first_day, last_day=last_day, deputy=deputy,
                                 by=by, today=_today(), now=datetime.now(UTC))  # fmt: skip
            absence_id, who, named = row.id, row.person, row.deputy
            nobody = uncovered(session, row)
            standing = person_record(session, who, _today()).deputy
    except RegistryEditRefused as refused:
        _refused(refused)
    if named:
        cover = f"covered by {named}"
    elif standing:
        cover = f"covered by their standing deputy {standing}"
    else:
        cover = "nobody is named to cover it, so their agency's safeguarding lead receives what is meant for them"
    typer.echo(f"Recorded: {who} away from {uk_date(first_day)} to {uk_date(last_day)}; {cover}")
    told = _deliver(settings, uncovered_absence=absence_id if nobody else None)
    if told is True:
        typer.echo("Their agency's safeguarding lead has been told")
    elif told is False:
        typer.echo("Their agency has no safeguarding lead to tell: name a deputy for the absence", err=True)
    _exit(0)


def _deliver(settings: Any, *, uncovered_absence: int | None = None) -> bool | None:
    """Send the registry as it is now to the running workflows; with an uncovered absence, tell
    the agency lead too and return whether there was one to tell. Exits 1 without Temporal."""
    from gateway.workflows import connect

    _log_to_stderr(settings)

    async def go() -> bool | None:
        from gateway.people import registry_changed

        client = await connect(settings)
        await registry_changed(client, settings.database_url)
        if uncovered_absence is None:
            return None
        from gateway.people import tell_agency_lead_of_uncovered_absence

        return await tell_agency_lead_of_uncovered_absence(client, settings, uncovered_absence)

    try:
        return asyncio.run(go())
    except RuntimeError as exc:  # the SDK's "Failed client connect"
        _undelivered(settings, exc)


@person_app.command("left")
def left(
    email: str = typer.Argument(..., metavar="EMAIL"),
    successor: str = typer.Option(..., "--successor", metavar="EMAIL", help="Who takes over what they held"),
    by: str = typer.Option(OPERATOR, "--by", metavar="EMAIL", help=BY_HELP),
    no_wait: bool = typer.Option(False, "--no-wait", help="Start the hand-over and return without following it"),
) -> None:
    """Record that someone has left, and hand everything they held over to their successor.

    Run again with the same successor, it resumes an interrupted hand-over."""
    from models.wording import uk_date
    from store.db import init_db, session_scope
    from store.people import RegistryEditRefused, record_leaving

    settings = settings_or_exit()
    today = _today()
    init_db(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            record = record_leaving(session, leaver=email, successor=successor, by=by, today=today,
                                    now=datetime.now(UTC))  # fmt: skip
    except RegistryEditRefused as refused:
        _refused(refused)
    if record.already_left:
        typer.echo(f"{record.leaver} has left already, handing over to {record.successor}: "
                   "resuming the hand-over of their running workflows")  # fmt: skip
    else:
        typer.echo(f"Recorded: {record.leaver} left on {uk_date(today)}; {record.successor} succeeds them")
        typer.echo("Moved in the registry:" if record.moved else "Moved in the registry: nothing they held")
        for line in record.moved:
            typer.echo(f"  - {line}")
    _log_to_stderr(settings)
    try:
        actor = by.strip().lower() if "@" in by else by.strip()
        progress = asyncio.run(_hand_over(settings, record.leaver, record.successor, actor, record.moved, no_wait))
    except RuntimeError as exc:
        _undelivered(settings, exc, HAND_OVER_NOT_STARTED)
    if progress is None:
        _exit(0)
    typer.echo(f"Handed over: {progress.done} of {progress.total} open recommendation(s) asked; "
               f"{len(progress.moved)} moved to {record.successor}")  # fmt: skip
    for item in progress.moved:
        typer.echo(f"  - {_moved_words(item)}")
    for problem in progress.failed:
        typer.echo(f"  could not be handed over: {problem}", err=True)
    if getattr(progress, "summary_sent", False):
        typer.echo(f"{record.successor} has been sent one summary of it all")
    _exit(1 if progress.failed else 0)


async def _hand_over(settings: Any, leaver: str, successor: str, by: str, moved: list[str], no_wait: bool) -> Any:
    """Start (or find) the leaver's hand-over; unless ``no_wait``, follow it to the end, saying
    how far it has gone as it goes. Returns its final progress, or None when not waiting."""
    from gateway.people import hand_over_progress, start_hand_over
    from gateway.workflows import connect

    client = await connect(settings)
    workflow_id = await start_hand_over(client, settings, leaver=leaver, successor=successor, by=by,
                                        registry_moved=moved[:REGISTRY_MOVED_LINES])  # fmt: skip
    if no_wait:
        typer.echo(f"Hand-over started: workflow {workflow_id} (run this command again to follow it)")
        return None
    typer.echo(f"Hand-over under way: workflow {workflow_id}")
    final = asyncio.ensure_future(hand_over_progress(client, workflow_id, wait=True))
    shown: tuple[int, int] | None = None
    while True:
        finished, _ = await asyncio.wait({final}, timeout=PROGRESS_EVERY)
        if finished:
            return final.result()
        try:
            now = await asyncio.wait_for(hand_over_progress(client, workflow_id), timeout=PROGRESS_EVERY)
        except Exception:  # a progress line is a courtesy: the result still comes
            continue
        if (now.done, now.total) != shown:
            shown = (now.done, now.total)
            typer.echo(f"  {now.done} of {now.total} open recommendation(s) asked so far")


def _moved_words(item: Any) -> str:
    """One recommendation's hand-over in words: its ref and the parts that moved."""
    ref, parts = getattr(item, "ref", None), getattr(item, "parts", None)
    if ref is None:
        return str(item)
    return f"{ref}: {', '.join(parts)}" if parts else str(ref)
