"""Bad input is refused with a message that says what is wrong and where."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.payloads import AgreeActionsInput, EscalationPolicy, RecommendationInput
from settings import Settings
from tests import factories as f


class TestEscalationPolicy:
    def test_rungs_out_of_order_are_refused(self):
        """A board escalation that comes before the agency lead is copied is refused, naming both fields."""
        with pytest.raises(ValidationError, match="agency_lead_after must be shorter than board_after"):
            EscalationPolicy(agency_lead_after="P14D", board_after="P7D")

    def test_a_time_part_is_refused(self):
        """Deadlines are whole days, so a duration in hours is refused with the field named."""
        with pytest.raises(ValidationError) as caught:
            EscalationPolicy(progress_every="PT4H")
        assert ("progress_every",) == caught.value.errors()[0]["loc"]

    def test_durations_are_normalised(self):
        """Lower-case or padded durations are accepted as their canonical form."""
        assert "P2W" == EscalationPolicy(board_after=" p2w ").board_after


class TestDecisionPayloads:
    def test_an_action_id_used_twice_is_refused(self):
        """Two actions with one id in the same decision are refused before anything starts."""
        action = f.action("A1", date(2030, 1, 1))
        with pytest.raises(ValidationError, match="used more than once: A1"):
            AgreeActionsInput(by=f.SPONSOR, actions=[action, action])

    def test_unknown_fields_are_refused(self):
        """A misspelt field is an error, not silently dropped."""
        with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
            AgreeActionsInput(by=f.SPONSOR, actions=[f.action("A1", date(2030, 1, 1))], note="x")

    def test_a_bad_email_is_refused(self):
        """An owner that is not an email address is refused with the value shown."""
        with pytest.raises(ValidationError, match="'not an email' is not an email address"):
            f.action("A1", date(2030, 1, 1), owner="not an email")

    def test_a_ref_that_cannot_be_a_workflow_id_is_refused(self):
        """A ref with spaces or slashes is refused: it becomes part of the workflow id."""
        with pytest.raises(ValidationError):
            RecommendationInput(recommendation=f.recommendation("CSPR 2023/1"), parties=f.parties())


class TestSettings:
    def test_an_address_without_a_port_is_refused(self, monkeypatch):
        """ASSURE_TEMPORAL_ADDRESS without a port is refused with the variable named."""
        monkeypatch.setenv("ASSURE_TEMPORAL_ADDRESS", "temporal.internal")
        with pytest.raises(ValidationError, match="ASSURE_TEMPORAL_ADDRESS must be host:port"):
            Settings()

    def test_defaults(self, monkeypatch):
        """With nothing set, Assure talks to a local dev server and keeps its store under .assure/."""
        for name in (
            "ASSURE_TEMPORAL_ADDRESS",
            "ASSURE_TEMPORAL_NAMESPACE",
            "ASSURE_TASK_QUEUE",
            "ASSURE_DATABASE_URL",
        ):
            monkeypatch.delenv(name, raising=False)
        settings = Settings(_env_file=None)
        assert ("localhost:7233", "default", "assurance", "sqlite:///.assure/assure.db") == (
            settings.temporal_address,
            settings.temporal_namespace,
            settings.task_queue,
            settings.database_url,
        )
