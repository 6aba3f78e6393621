"""Agencies' returns to a cycle of assurance on the time-skipping server: a return walked through
submit, challenge, the answer and acceptance, each decision refused from the wrong person or
stage; silence climbing the board's ladder to the Assurance Board; a period starting one return
per agency from the store and the registry, once; and the lead's email with a personal link."""

from __future__ import annotations

import email
import email.policy
from datetime import date

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from links.return_links import ReturnLinkSigner
from models.cycle_lifecycle import (
    AcceptReturnInput,
    ChallengeReturnInput,
    CyclePeriodInput,
    ReturnInput,
    SubmitReturnInput,
)
from models.cycle_returns import CommittedAction, Rating, ReturnParties, ReturnStage, StandardAnswer
from models.cycles import agency_key, return_workflow_id
from models.payloads import EscalationPolicy
from store.cycle_returns import cycle_returns
from store.cycles import write_cycles
from store.db import session_scope
from store.read_model import caught_mail
from tests import factories as f
from tests.helpers import days, end_when_idle, eventually, eventually_async, sent, skip_to, today
from tests.models.test_cycles import section_11
from workflows.cycle_return import CyclePeriodWorkflow, CycleReturnWorkflow

POLICY = EscalationPolicy(remind_before_due="P5D", agency_lead_after="P1D", board_after="P7D", assurance_after="P14D")
REVIEWERS = [f.SPONSOR, f.CHAIR]
PARTIES = ReturnParties(lead=f.ICB_LEAD, reviewers=REVIEWERS, assurance_members=[f.ASSURANCE])


@pytest_asyncio.fixture
async def a_return(env, task_queue, worker):
    """Start one agency's return on this test's queue, due ``due_in`` days from today; any still
    running at the end are ended, so the shared clock is free of their ladders."""
    handles: list[WorkflowHandle] = []

    async def start_one(period: str, *, due_in: int = 30, parties: ReturnParties = PARTIES):
        now = await today(env)
        start = ReturnInput(cycle=section_11(board="Review Board"), period=period, starts_on=now,
                            due_on=now + days(due_in), agency=f.ICB, policy=POLICY, parties=parties)  # fmt: skip
        workflow_id = return_workflow_id("S11", period, agency_key(f.ICB))
        handle = await env.client.start_workflow(CycleReturnWorkflow.run, start, id=workflow_id, task_queue=task_queue)
        handles.append(handle)
        return handle

    yield start_one
    for handle in handles:
        await end_when_idle(handle)


def answers(first: Rating = Rating.met, second: Rating = Rating.not_met, *, due: date) -> list[StandardAnswer]:
    action = CommittedAction(description="Train every ward manager", owner=f.OWNER, due=due)
    return [
        StandardAnswer(standard_id="1", rating=first, evidence="The board minutes of March",
                       action=action if first is not Rating.met else None),
        StandardAnswer(standard_id="2", rating=second, evidence="Training records show 61%",
                       action=action if second is not Rating.met else None),
    ]  # fmt: skip


async def refused(update, decision) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await update(decision)
    assert isinstance(caught.value.cause, ApplicationError)
    return caught.value.cause.message


def told(database_url: str, kind: str) -> list[list[str]]:
    return [sorted(row.recipients) for row in sent(database_url, "S11") if row.kind == kind]


async def told_eventually(database_url: str, kind: str, count: int = 1) -> list[list[str]]:
    return await eventually(lambda: (found := told(database_url, kind)) and len(found) >= count and found)


class TestTheDecisions:
    async def test_submit_challenge_answer_and_accept(self, env, a_return, database_url):
        """The lead submits; the board's chair challenges; the lead answers, saying what changed;
        the sponsor accepts and the workflow ends. Each decision from the wrong person or in the
        wrong stage is refused with the reason, before it reaches history."""
        handle = await a_return("2026-27")
        assert [[f.ICB_LEAD]] == await told_eventually(database_url, "return_requested")
        due = (await today(env)) + days(60)

        def submit(decision):
            return handle.execute_update(CycleReturnWorkflow.submit_return, decision)

        def challenge(decision):
            return handle.execute_update(CycleReturnWorkflow.challenge_return, decision)

        def accept(decision):
            return handle.execute_update(CycleReturnWorkflow.accept_return, decision)

        assert "only BLMK Integrated Care Board's safeguarding lead may submit its return" == await refused(
            submit, SubmitReturnInput(by=f.STRANGER, answers=answers(due=due))
        )
        one_missing = answers(due=due)[:1]
        assert "not answered: 2" == await refused(submit, SubmitReturnInput(by=f.ICB_LEAD, answers=one_missing))
        unowned = [answers(due=due)[0], StandardAnswer(standard_id="2", rating=Rating.not_met, evidence="None yet")]
        assert "2: not met: say what the agency will do about it, who owns it and by when" == await refused(
            submit, SubmitReturnInput(by=f.ICB_LEAD, answers=unowned)
        )
        too_early = "the return is awaiting: only a submitted return is accepted or challenged"
        assert too_early == await refused(accept, AcceptReturnInput(by=f.SPONSOR))

        status = await submit(SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due)))
        assert ReturnStage.submitted == status.state.stage and status.owed is None
        assert [sorted(REVIEWERS)] == await told_eventually(database_url, "return_submitted")
        assert "only the board's sponsor or chair may accept or challenge a return" == await refused(
            accept, AcceptReturnInput(by=f.ICB_LEAD)
        )
        assert "the return is submitted: there is nothing to submit" == await refused(
            submit, SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due))
        )

        status = await challenge(ChallengeReturnInput(by=f.CHAIR, challenge="61% is not every ward: which are left?"))
        assert ReturnStage.challenged == status.state.stage
        assert status.owed is not None and status.owed.due_on == (await today(env)) + days(14)
        assert [[f.ICB_LEAD]] == await told_eventually(database_url, "return_challenged")
        assert "answer the challenge: say what changed in the return, and why" == await refused(
            submit, SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due))
        )
        answer = "Wards 3 and 7 train in May; standard 2 is now partly met"
        status = await submit(SubmitReturnInput(by=f.ICB_LEAD, answers=answers(second=Rating.partly_met, due=due),
                                                response=answer))  # fmt: skip
        assert answer == status.state.challenges[-1].response
        assert 2 == len(await told_eventually(database_url, "return_submitted", 2))

        status = await accept(AcceptReturnInput(by=f.SPONSOR, note="Assured"))
        assert (ReturnStage.accepted, f.SPONSOR) == (status.state.stage, status.state.accepted_by)
        final = await WorkflowHandle.result(handle)
        assert final.closed and [e.kind for e in final.timeline] == [
            "requested", "submitted", "challenged", "submitted", "accepted",
        ]  # fmt: skip
        assert [[f.ICB_LEAD]] == await told_eventually(database_url, "return_accepted")
        with session_scope(database_url) as session:
            [row] = cycle_returns(session=session, cycle_id="S11")
            assert ("accepted", {"1": "met", "2": "partly_met"}) == (row.stage, row.ratings)
            assert row.accepted_at is not None and row.workflow_id == handle.id


class TestSilence:
    async def test_the_ladder_climbs_from_the_lead_to_the_assurance_board(self, env, a_return, database_url):
        """Unanswered, the lead is reminded five days before the due day and told the day after;
        the board's sponsor and chair a week after it, the lead copied; the Assurance Board a
        fortnight after, the board's reviewers copied. A submission stops the ladder."""
        handle = await a_return("2027-28", due_in=30)
        due = (await today(env)) + days(30)
        await told_eventually(database_url, "return_requested")

        await skip_to(env, due - days(6))
        assert [] == told(database_url, "return_reminder")
        await skip_to(env, due - days(5))
        assert [[f.ICB_LEAD]] == await told_eventually(database_url, "return_reminder")
        await skip_to(env, due + days(1))
        assert [[f.ICB_LEAD]] == await told_eventually(database_url, "return_overdue")
        await skip_to(env, due + days(7))
        assert [sorted([*REVIEWERS, f.ICB_LEAD])] == await told_eventually(database_url, "return_board_escalation")
        await skip_to(env, due + days(13))
        assert [] == told(database_url, "return_assurance_escalation")
        await skip_to(env, due + days(14))
        assert [sorted([f.ASSURANCE, *REVIEWERS])] == await told_eventually(database_url, "return_assurance_escalation")
        status = await handle.query(CycleReturnWorkflow.status)
        assert ["reminder", "overdue", "escalated_to_board", "escalated_to_assurance"] == [
            e.kind for e in status.timeline[1:]
        ]
        assert status.next_deadline is None and not status.closed

    async def test_without_a_lead_the_board_is_asked_and_nobody_can_submit(self, env, a_return, database_url):
        """An agency the registry names no lead for still owes its return: the request goes to the
        board's reviewers, saying so, and a submission is refused until the registry names one."""
        handle = await a_return("2028-29", parties=PARTIES.model_copy(update={"lead": None}))
        assert [sorted(REVIEWERS)] == await told_eventually(database_url, "return_requested")
        [row] = [r for r in sent(database_url, "S11") if r.kind == "return_requested"]
        assert row.context["has_lead"] is False
        due = (await today(env)) + days(60)
        message = await refused(
            lambda d: handle.execute_update(CycleReturnWorkflow.submit_return, d),
            SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due)),
        )
        assert (
            "BLMK Integrated Care Board has no safeguarding lead in the registry: name one, and they submit" == message
        )


class TestTheLeadsEmail:
    async def test_the_request_links_the_lead_to_their_return(self, env, a_return, database_url, settings):
        """The lead's request says what is asked, by when, and carries a personal link that opens
        this return for them; it names no answer and no challenge."""
        handle = await a_return("2029-30", due_in=45)
        await told_eventually(database_url, "return_requested")

        def mail():
            with session_scope(database_url) as session:
                return [row.raw for row in caught_mail(session=session, recipient=f.ICB_LEAD)]

        [raw] = await eventually(mail)
        message = email.message_from_string(raw, policy=email.policy.default)
        assert message["Subject"].startswith("[S11 2029-30] BLMK Integrated Care Board's return for 2029-30 is due by")
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "rate each of its 2 standards as met, partly met or not met" in text
        link = next(word for word in text.split() if "/c/" in word)
        signer = ReturnLinkSigner(settings.secret_key.get_secret_value(), days(30))
        claims = signer.read(link.rsplit("/c/", 1)[1])
        assert (f.ICB_LEAD, handle.id) == (claims.person, claims.return_id)


async def period(env, run: CyclePeriodInput, workflow_id: str, task_queue: str):
    """A period's result, waited for with the server's clock held (the time-skipping handle's own
    ``result()`` would let the clock leap to the returns' first timers)."""
    handle = await env.client.start_workflow(CyclePeriodWorkflow.run, run, id=workflow_id, task_queue=task_queue)
    return await WorkflowHandle.result(handle)


class TestAPeriod:
    async def test_a_period_asks_each_agency_once(self, env, worker, task_queue, database_url):
        """A period's workflow reads the cycle and the registry, starts one return per agency, and
        ends; run again for the same period it starts none, since each return is asked already."""
        from tests.helpers import seed_registry

        seed_registry(database_url)
        now = await env.get_current_time()
        with session_scope(database_url) as session:
            write_cycles(session=session, cycles=[section_11(cycle_id="S11P", board="Review Board")], now=now)
        run = CyclePeriodInput(cycle_id="S11P", period="2030-31")
        first = await period(env, run, "cycle-S11P-2030-31-run-1", task_queue)
        expected = sorted(return_workflow_id("S11P", "2030-31", agency_key(a)) for a in (f.ICB, f.POLICE))
        try:
            assert (expected, [], []) == (sorted(first.started), first.already, first.problems)
            again = await period(env, run, "cycle-S11P-2030-31-run-2", task_queue)
            assert ([], expected) == (again.started, sorted(again.already))
            leads = await eventually(
                lambda: sorted(r.recipients[0] for r in sent(database_url, "S11P") if r.kind == "return_requested")
                if len(sent(database_url, "S11P")) >= 2 else None
            )  # fmt: skip
            assert sorted([f.ICB_LEAD, f.POLICE_LEAD]) == leads
            due = await env.client.get_workflow_handle(expected[0]).query(CycleReturnWorkflow.status)
            assert (date(2030, 4, 1), date(2030, 7, 1)) == (due.owed.since, due.state.due_on)
        finally:
            for workflow_id in expected:
                await end_when_idle(env.client.get_workflow_handle(workflow_id))

    async def test_a_cycle_not_stored_is_refused_and_kept_for_the_operators(self, env, worker, task_queue):
        run = CyclePeriodInput(cycle_id="NOPE")
        result = await period(env, run, "cycle-NOPE-x", task_queue)
        assert ([], ["there is no cycle 'NOPE'"]) == (result.started, result.problems)


class TestTheRegistryNow:
    async def test_a_new_lead_in_the_registry_is_asked_from_then_on(self, env, a_return, database_url):
        """After the registry names another lead (an import), the open return learns it: the
        reminder goes to the new lead, and the old lead may no longer submit."""
        from gateway.cycles import sync_open_returns
        from store.read_model import upsert_registry
        from store.tables import Agency, Person
        from tests.helpers import seed_registry

        seed_registry(database_url)
        handle = await a_return("2042-43", due_in=20)
        due = (await today(env)) + days(20)
        await told_eventually(database_url, "return_requested")
        new_lead = "new.lead@icb.example"
        with session_scope(database_url) as session:
            upsert_registry(session=session, agencies=[Agency(name=f.ICB, safeguarding_lead_email=new_lead)],
                            people=[Person(email=new_lead, roles="agency_lead", agency=f.ICB)], boards=[])  # fmt: skip
        assert [handle.id] == await sync_open_returns(env.client, database_url)
        assert [] == await sync_open_returns(env.client, database_url)  # told once
        status = await handle.query(CycleReturnWorkflow.status)
        assert (new_lead, "roles_changed") == (status.state.parties.lead, status.timeline[-1].kind)
        await skip_to(env, due - days(5))
        assert [[new_lead]] == await told_eventually(database_url, "return_reminder")
        message = await refused(
            lambda d: handle.execute_update(CycleReturnWorkflow.submit_return, d),
            SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due + days(30))),
        )
        assert message == "only BLMK Integrated Care Board's safeguarding lead may submit its return"


class TestHistoryStaysSmall:
    async def test_a_long_return_continues_as_new_keeping_everything(self, env, task_queue, worker, database_url):
        """Past its bound, a return's workflow continues as new: the next run holds its stage,
        answers, challenges and timeline, and takes the next decision."""
        now = await today(env)
        start = ReturnInput(cycle=section_11(board="Review Board"), period="2043-44", starts_on=now,
                            due_on=now + days(60), agency=f.ICB, policy=POLICY, parties=PARTIES,
                            continue_as_new_after=40)  # fmt: skip
        workflow_id = return_workflow_id("S11", "2043-44", agency_key(f.ICB))
        handle = await env.client.start_workflow(CycleReturnWorkflow.run, start, id=workflow_id, task_queue=task_queue)
        first_run = (await handle.describe()).run_id
        due = now + days(90)
        latest = env.client.get_workflow_handle(workflow_id)
        try:
            for round_ in range(4):
                submitted = SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=due), response=f"answer {round_}")
                await latest.execute_update(CycleReturnWorkflow.submit_return, submitted)
                challenged = ChallengeReturnInput(by=f.CHAIR, challenge=f"challenge {round_}")
                await latest.execute_update(CycleReturnWorkflow.challenge_return, challenged)
            described = await eventually_async(
                lambda: _described_if(latest, lambda d: d.run_id != first_run)
            )  # fmt: skip
            assert described.run_id != first_run
            status = await latest.query(CycleReturnWorkflow.status)
            assert [c.challenge for c in status.state.challenges] == [f"challenge {n}" for n in range(4)]
            assert status.state.stage is ReturnStage.challenged and status.timeline[0].kind == "requested"
        finally:
            await end_when_idle(latest)


async def _described_if(handle, check):
    described = await handle.describe()
    return described if check(described) else None
