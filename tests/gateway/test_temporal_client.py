"""Taking decisions through the client: typed refusals, unknown refs, malformed payloads."""

from __future__ import annotations

import pytest

from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide, recommendation_status
from models.payloads import AcknowledgeInput, Stage
from tests import factories as f
from tests.helpers import days, today


class TestDecide:
    async def test_a_decision_returns_the_new_status(self, env, start):
        """A valid decision, given as a plain dict as an API body would be, returns the new stage."""
        now = await today(env)
        await start(f.start("CLIENT-OK", actions=[f.action("A1", now + days(20))]))
        status = await decide(env.client, "CLIENT-OK", "acknowledge", {"by": f.OWNER, "action_id": "A1"})
        assert Stage.in_progress == status.stage

    async def test_a_refusal_keeps_its_type_message_and_gaps(self, env, start):
        """A sign-off refused by the workflow's validator arrives as DecisionNotTaken with every gap."""
        now = await today(env)
        await start(f.start("CLIENT-REFUSED", actions=[f.action("A1", now + days(20))]))
        with pytest.raises(DecisionNotTaken) as refused:
            await decide(env.client, "CLIENT-REFUSED", "acknowledge", AcknowledgeInput(by=f.STRANGER, action_id="A1"))
        assert "WrongPerson" == refused.value.type
        assert "is not the owner of action A1" in refused.value.message

    async def test_a_malformed_payload_says_which_field(self, env, start):
        """A payload with a bad email and a missing field is refused before reaching the workflow, naming both."""
        with pytest.raises(DecisionNotTaken) as refused:
            await decide(env.client, "ANY", "acknowledge", {"by": "not-an-email"})
        assert "InvalidInput" == refused.value.type
        assert {"by", "action_id"} == set(refused.value.fields)

    async def test_an_unknown_decision_is_named(self, env):
        """A decision name that does not exist is refused with the list of real ones."""
        with pytest.raises(DecisionNotTaken, match="'approve' is not a decision"):
            await decide(env.client, "ANY", "approve", {})

    async def test_an_unknown_ref_is_reported_as_such(self, env):
        """Deciding on or asking about a ref with no workflow raises UnknownRecommendation."""
        with pytest.raises(UnknownRecommendation):
            await decide(env.client, "NO-SUCH-REF", "acknowledge", {"by": f.OWNER, "action_id": "A1"})
        with pytest.raises(UnknownRecommendation):
            await recommendation_status(env.client, "NO-SUCH-REF")

    async def test_a_closed_recommendation_takes_no_decisions(self, env, start):
        """After withdrawal the status still answers and a decision is refused as closed."""
        handle = await start(f.start("CLIENT-CLOSED"))
        await decide(env.client, "CLIENT-CLOSED", "withdraw", {"by": f.SPONSOR, "reason": "Superseded"})
        await handle.result()
        assert Stage.withdrawn == (await recommendation_status(env.client, "CLIENT-CLOSED")).stage
        with pytest.raises(DecisionNotTaken) as refused:
            await decide(env.client, "CLIENT-CLOSED", "decline", {"by": f.SPONSOR, "reason": "x"})
        assert "WrongStage" == refused.value.type
