"""A cycle's Temporal Schedule on the dev server (the time-skipping test server has no Schedules):
importing a cycle makes its Schedule on the first day of each period at 08:00 in London, a changed
cadence updates it, firing it starts the period and asks each agency's lead once; and raising a
recommendation from a standard not met, on the time-skipping server."""

from __future__ import annotations

import email
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

from temporalio.client import ScheduleActionStartWorkflow
from temporalio.service import RPCError

from gateway.cycles import ensure_cycle_schedules, raise_recommendation, run_cycle
from gateway.workflows import recommendation_status
from models.cycles import agency_key, cycle_workflow_id, period_of, return_workflow_id
from store.cycle_returns import cycle_returns
from store.cycles import write_cycles
from store.db import session_scope
from store.read_model import caught_mail
from tests import factories as f
from tests.helpers import eventually, seed_registry, worker_maker
from tests.models.test_cycles import section_11


def store_cycle(database_url: str, **changes) -> str:
    cycle = section_11(board="Review Board", **changes)
    with session_scope(database_url) as session:
        write_cycles(session=session, cycles=[cycle], now=datetime.now(UTC))
    return cycle.cycle_id


def leads_asked(database_url: str, recipient: str) -> list[str]:
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    return [email.message_from_string(raw, policy=default_policy)["Subject"] for raw in raws]


async def test_the_schedule_follows_the_cadence(dev_env, settings, database_url):
    cycle_id = store_cycle(database_url, cycle_id="S11-SPEC", cadence="quarterly")
    assert {} == await ensure_cycle_schedules(dev_env.client, database_url, settings.task_queue, [cycle_id])
    handle = dev_env.client.get_schedule_handle(cycle_workflow_id(cycle_id))
    try:
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert described.schedule.spec.time_zone_name == "Europe/London"
        assert [r.start for r in calendar.month] == [1, 4, 7, 10]
        assert (calendar.day_of_month[0].start, calendar.hour[0].start, calendar.minute[0].start) == (1, 8, 0)
        local = described.info.next_action_times[0].astimezone(ZoneInfo("Europe/London"))
        assert (local.month in (1, 4, 7, 10), local.day, local.hour) == (True, 1, 8)
        store_cycle(database_url, cycle_id="S11-SPEC", cadence="yearly on 1 April")
        await ensure_cycle_schedules(dev_env.client, database_url, settings.task_queue, [cycle_id])  # updated
        [calendar] = (await handle.describe()).schedule.spec.calendars
        assert [r.start for r in calendar.month] == [4]
        action = (await handle.describe()).schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "CyclePeriodWorkflow"
    finally:
        await handle.delete()


async def test_the_schedule_starts_a_period_that_asks_each_lead_once(dev_env, settings, executor, database_url):
    """Fired as its calendar would fire it, the Schedule starts the period holding today: each
    agency's lead is asked for its return; a second period start (``assure cycle run``) asks
    nobody again."""
    seed_registry(database_url)
    cycle_id = store_cycle(database_url, cycle_id="S11-FIRE")
    await ensure_cycle_schedules(dev_env.client, database_url, settings.task_queue, [cycle_id])
    handle = dev_env.client.get_schedule_handle(cycle_workflow_id(cycle_id))
    period = period_of(section_11(), datetime.now(ZoneInfo("Europe/London")).date()).name
    ids = [return_workflow_id(cycle_id, period, agency_key(a)) for a in (f.ICB, f.POLICE)]
    try:
        async with worker_maker(dev_env.client, settings=settings, executor=executor)():
            await handle.trigger()
            subjects = await eventually(lambda: requests(database_url, f.ICB_LEAD), timeout=30)
            assert subjects == [f"[S11-FIRE {period}] BLMK Integrated Care Board's return for {period} is due by "
                                f"{subjects[0].rsplit(' by ', 1)[1]}"]  # fmt: skip
            assert await eventually(lambda: leads_asked(database_url, f.POLICE_LEAD), timeout=30)
            rows = await eventually(lambda: len(r := returns(database_url, cycle_id)) == 2 and r, timeout=30)
            assert sorted(r.workflow_id for r in rows) == sorted(ids)
            assert {r.stage for r in rows} == {"awaiting"}
            assert (await handle.describe()).info.num_actions == 1

            again = await run_cycle(dev_env.client, database_url, settings.task_queue, cycle_id)
            assert (again.period, again.started, sorted(again.already)) == (period, [], sorted(ids))
            assert len(requests(database_url, f.ICB_LEAD)) == 1
            for workflow_id in ids:
                with suppress(RPCError):
                    await dev_env.client.get_workflow_handle(workflow_id).terminate(reason="the test is over")
    finally:
        await handle.delete()


def requests(database_url: str, recipient: str) -> list[str]:
    """The requests for a return a lead was sent (this period began months ago here, so its late
    ladder's mail comes too)."""
    return [s for s in leads_asked(database_url, recipient) if " is due by " in s]


def returns(database_url: str, cycle_id: str):
    with session_scope(database_url) as session:
        rows = cycle_returns(session=session, cycle_id=cycle_id)
        for row in rows:
            session.expunge(row)
        return rows


async def test_an_assurance_member_raises_a_recommendation_from_a_standard_not_met(env, worker, settings, database_url):
    """From a not-met standard of a submitted return, an Assurance Board member raises a
    recommendation: its action is the agency's committed one, its source the cycle and period;
    it runs the normal lifecycle, and the return's row links to it. A sponsor may not raise one,
    nor anyone from a standard met."""
    from gateway.cycles import ReturnNotTaken, decide_return
    from gateway.workflows import workflow_id_for
    from models.cycle_lifecycle import CyclePeriodInput
    from tests.helpers import end_when_idle
    from tests.workflows.test_cycle_return_workflow import period

    seed_registry(database_url)
    cycle_id = store_cycle(database_url, cycle_id="S11-RAISE")
    # Not ``run_cycle``: its wait would let the time-skipping clock leap to the returns' timers.
    started = await period(
        env, CyclePeriodInput(cycle_id=cycle_id, period="2040-41"), "raise-period", settings.task_queue
    )
    icb = return_workflow_id(cycle_id, "2040-41", agency_key(f.ICB))
    assert icb in started.started
    handles = [env.client.get_workflow_handle(w) for w in started.started]
    ref = None
    try:
        # After the shared server's today, however far on earlier tests have moved it.
        action_due = (await env.get_current_time()).date() + timedelta(days=400)
        action = {"description": "Train every ward manager", "owner": f.OWNER, "due": action_due.isoformat()}
        answers = [
            {"standard_id": "1", "rating": "met", "evidence": "Minutes"},
            {"standard_id": "2", "rating": "not_met", "evidence": "61% trained", "action": action},
        ]
        await decide_return(env.client, database_url, icb, "submit_return", {"by": f.ICB_LEAD, "answers": answers})
        await eventually(lambda: [r for r in returns(database_url, cycle_id) if r.stage == "submitted"])

        for by, standard, reason in (
            (f.SPONSOR, "2", "only a member of the Assurance Board may raise a recommendation from a return"),
            (f.ASSURANCE, "1", "standard 1 is not rated not met in this return"),
        ):
            try:
                await raise_recommendation(env.client, database_url, settings.task_queue, icb, standard, by=by)
            except ReturnNotTaken as refused:
                assert refused.message == reason
            else:
                raise AssertionError("raised")

        ref = await raise_recommendation(env.client, database_url, settings.task_queue, icb, "2", by=f.ASSURANCE)
        status = await recommendation_status(env.client, ref)
        assert (status.title, status.board, status.source.kind.value) == ("Staff trained to their role", "Review Board",
                                                                            "audit")  # fmt: skip
        assert status.source.title == f"Section 11 audit 2040-41: {f.ICB}"
        [owned] = status.actions
        assert (owned.description, owned.owner, owned.due) == ("Train every ward manager", f.OWNER, action_due)
        [row] = [r for r in returns(database_url, cycle_id) if r.workflow_id == icb]
        assert row.raised == {"2": ref}
        again = await raise_recommendation(env.client, database_url, settings.task_queue, icb, "2", by=f.ASSURANCE)
        assert again == ref  # raised once: the same recommendation
    finally:
        if ref is not None:
            handles.append(env.client.get_workflow_handle(workflow_id_for(ref)))
        for handle in handles:
            await end_when_idle(handle)


async def test_the_worker_puts_back_a_schedule_that_is_gone(dev_env, settings, database_url):
    """As it starts, the worker makes every stored cycle's Schedule that Temporal does not have
    (its state lost, or a Schedule deleted by hand)."""
    from gateway.cycles import ensure_all_cycle_schedules

    cycle_id = store_cycle(database_url, cycle_id="S11-BACK", cadence="half-yearly from 1 October")
    assert {} == await ensure_all_cycle_schedules(dev_env.client, database_url, settings.task_queue)
    handle = dev_env.client.get_schedule_handle(cycle_workflow_id(cycle_id))
    await handle.delete()
    await ensure_all_cycle_schedules(dev_env.client, database_url, settings.task_queue)
    try:
        [calendar] = (await handle.describe()).schedule.spec.calendars
        assert [r.start for r in calendar.month] == [4, 10]
    finally:
        await handle.delete()
