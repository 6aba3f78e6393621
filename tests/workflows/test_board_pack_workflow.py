"""BoardPackWorkflow emails the month's pack to each Assurance Board member once; the monthly
Schedule that starts it is kept in line with the settings, and firing it sends the pack."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

from temporalio.client import ScheduleActionStartWorkflow

from gateway.workflows import BOARD_PACK_SCHEDULE_ID, ensure_board_pack_schedule
from models.payloads import BoardPackInput, BoardPackResult
from store.db import session_scope
from store.read_model import caught_mail, upsert_registry
from store.tables import Board, Person
from tests import factories as f
from tests.helpers import eventually, today, worker_maker
from workflows.board_pack import BoardPackWorkflow


def board_registry(database_url: str) -> None:
    """One Assurance Board member and one owner, who must not get the pack."""
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[],
            people=[Person(email=f.ASSURANCE, roles="assurance_member"), Person(email=f.OWNER, roles="owner")],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
        )


async def test_the_pack_reaches_each_member_once(env, settings, worker, database_url):
    board_registry(database_url)
    month = (await today(env)).replace(day=1)

    async def run() -> BoardPackResult:
        return await env.client.execute_workflow(
            BoardPackWorkflow.run, BoardPackInput(month=month), id=f"pack-{uuid.uuid4()}",
            task_queue=settings.task_queue, result_type=BoardPackResult,
        )  # fmt: skip

    first = await run()
    assert (first.recipients, first.sent) == ([f.ASSURANCE], 1)
    assert (await run()).sent == 0  # already sent this month: not again
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session)]
    assert len(raws) == 1
    message = email.message_from_string(raws[0], policy=default_policy)
    assert message["To"] == f.ASSURANCE and message["Subject"] == f"Assurance Board pack: {month:%B %Y}"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"board-pack-{month:%B-%Y}.html"
    assert f"Assurance Board pack: {month:%B %Y}" in attachment.get_content()


async def test_the_monthly_schedule_follows_the_settings(dev_env, settings):
    await ensure_board_pack_schedule(dev_env.client, settings)
    handle = dev_env.client.get_schedule_handle(BOARD_PACK_SCHEDULE_ID)
    try:
        spec = (await handle.describe()).schedule.spec
        [calendar] = spec.calendars
        assert spec.time_zone_name == "Europe/London"
        assert (calendar.day_of_month[0].start, calendar.hour[0].start, calendar.minute[0].start) == (25, 9, 0)
        moved = settings.model_copy(update={"board_pack_day": 3, "board_pack_time": "17:30"})
        await ensure_board_pack_schedule(dev_env.client, moved)  # again: updated, not duplicated
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert (calendar.day_of_month[0].start, calendar.hour[0].start, calendar.minute[0].start) == (3, 17, 30)
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "BoardPackWorkflow"
    finally:
        await handle.delete()


async def test_the_schedule_fires_and_the_pack_reaches_the_board(dev_env, settings, executor, database_url):
    """On the dev server: the time-skipping test server does not implement Schedules at all
    (CreateSchedule answers "unimplemented"), so the Schedule is triggered here as its calendar
    would fire it, and its next firing is read from the server."""
    board_registry(database_url)
    await ensure_board_pack_schedule(dev_env.client, settings)
    handle = dev_env.client.get_schedule_handle(BOARD_PACK_SCHEDULE_ID)
    try:
        async with worker_maker(dev_env.client, settings=settings, executor=executor)():
            described = await handle.describe()
            [next_fire, *_] = described.info.next_action_times
            local = next_fire.astimezone(ZoneInfo("Europe/London"))
            assert (local.day, local.hour, local.minute) == (25, 9, 0) and local > datetime.now(UTC)

            await handle.trigger()
            packs = await eventually(lambda: pack_mail(database_url, f.ASSURANCE), timeout=30)
            month = datetime.now(UTC).date().replace(day=1)  # the workflow reads its month from workflow time
            assert [m["Subject"] for m in packs] == [f"Assurance Board pack: {month:%B %Y}"]
            assert pack_mail(database_url, f.OWNER) == []  # for the Assurance Board only
            assert (await handle.describe()).info.num_actions == 1
    finally:
        await handle.delete()


def pack_mail(database_url: str, recipient: str) -> list[email.message.EmailMessage]:
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    return [email.message_from_string(raw, policy=default_policy) for raw in raws]
