"""The SQL store: projection is idempotent and versioned; the registry resolves a board's people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from models.lifecycle import Lifecycle
from models.payloads import AcknowledgeInput, ProjectionInput
from models.projection import action_rows
from store.db import session_scope
from store.read_model import RegistryError, apply_projection, board_context, outbox, recommendation_row
from store.tables import ActionRow, Agency, Board, Person, TimelineRow
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _projection(life: Lifecycle, now: datetime, **options) -> ProjectionInput:
    return f.projection_of(life, now, **options)


@pytest.fixture
def life() -> Lifecycle:
    start = f.start("STORE", actions=[f.action("A1", NOW.date() + timedelta(days=30))])
    return Lifecycle.begin(start, workflow_id="recommendation-STORE", now=NOW)


class TestApplyProjection:
    def test_a_retried_write_adds_nothing(self, store_url, life):
        """Writing the same transition twice leaves one row per recommendation, action, event and notification."""
        data = _projection(life, NOW)
        with session_scope(store_url) as session:
            assert apply_projection(session=session, data=data)
        with session_scope(store_url) as session:
            assert not apply_projection(session=session, data=data)
        with session_scope(store_url) as session:
            assert 1 == len(list(session.exec(select(ActionRow))))
            assert len(data.new_events) == len(list(session.exec(select(TimelineRow))))
            assert ["measure_assigned", "task_assigned"] == sorted(row.kind for row in outbox(session=session))

    def test_a_late_write_never_overwrites_a_newer_one(self, store_url, life):
        """A stale version arriving after a newer one leaves the newer stage and actions in place."""
        older = _projection(life, NOW)
        life.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), NOW + timedelta(hours=1))
        newer = _projection(life, NOW + timedelta(hours=1))
        with session_scope(store_url) as session:
            apply_projection(session=session, data=newer)
        with session_scope(store_url) as session:
            assert not apply_projection(session=session, data=older)
        with session_scope(store_url) as session:
            row = recommendation_row(session=session, ref="STORE")
            assert ("in_progress", newer.version) == (row.stage, row.version)
            assert ["acknowledged"] == [a.status for a in session.exec(select(ActionRow))]


class TestDeltas:
    """After a run's first write, a write carries only what changed: the row's facts and the
    actions whose row changed."""

    def test_a_later_write_moves_the_row_and_changes_only_the_actions_it_names(self, store_url):
        """The second write names only the acknowledged action; the other keeps its stored row and the recommendation keeps its title."""
        start = f.start(
            "DELTA",
            actions=[
                f.action("A1", NOW.date() + timedelta(days=30)),
                f.action("A2", NOW.date() + timedelta(days=40), owner=f.OWNER_2),
            ],
        )
        life = Lifecycle.begin(start, workflow_id="recommendation-DELTA", now=NOW)
        first = _projection(life, NOW)
        with session_scope(store_url) as session:
            assert apply_projection(session=session, data=first)
        stored = {row.action_id: row for row in action_rows(life.status(NOW))}
        later = NOW + timedelta(hours=1)
        life.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), later)
        second = _projection(life, later, stored_actions=stored)
        assert second.recommendation is None
        assert ["A1"] == [a.action_id for a in second.actions]
        with session_scope(store_url) as session:
            assert apply_projection(session=session, data=second)
        with session_scope(store_url) as session:
            row = recommendation_row(session=session, ref="DELTA")
            assert (second.version, start.recommendation.title) == (row.version, row.title)
            statuses = {a.action_id: a.status for a in session.exec(select(ActionRow))}
            assert {"A1": "acknowledged", "A2": "assigned"} == statuses


class TestBoardContext:
    def test_policy_and_parties_come_from_the_registry(self, store_url):
        """A board's policy, sponsor, chair, Assurance Board members, auditors and agency leads are resolved."""
        with session_scope(store_url) as session:
            session.add(
                Board(
                    name="Review Board",
                    sponsor_agency="Council",
                    sponsor_email=f.SPONSOR,
                    chair_email=f.CHAIR,
                    board_after="P10D",
                    working_days=True,
                )
            )
            session.add(Agency(name=f.ICB, short_name="ICB", safeguarding_lead_email=f.ICB_LEAD))
            session.add(Person(email=f.ASSURANCE, name="Independent Scrutineer", roles="assurance_member"))
            session.add(Person(email=f.AUDITOR, name="Audit lead", roles="auditor, owner"))
        with session_scope(store_url) as session:
            policy, parties = board_context(session=session, board_name="Review Board")
        assert ("P10D", True) == (policy.board_after, policy.working_days)
        assert ([f.SPONSOR], f.CHAIR, [f.ASSURANCE], [f.AUDITOR], {f.ICB: f.ICB_LEAD}) == (
            parties.board_sponsors,
            parties.board_chair,
            parties.assurance_members,
            parties.auditors,
            parties.agency_leads,
        )

    def test_an_unknown_board_is_named_in_the_error(self, store_url):
        """Asking for a board that is not in the registry says which board."""
        with session_scope(store_url) as session, pytest.raises(RegistryError, match="'Risk Board'"):
            board_context(session=session, board_name="Risk Board")

    def test_a_board_without_a_sponsor_is_refused(self, store_url):
        """A board with no sponsor cannot take recommendations: nobody could agree their actions."""
        with session_scope(store_url) as session:
            session.add(Board(name="Tasking Board"))
            session.add(Person(email=f.ASSURANCE, roles="assurance_member"))
        with session_scope(store_url) as session, pytest.raises(RegistryError, match="has no sponsor"):
            board_context(session=session, board_name="Tasking Board")
