"""Pages speak plain words in London time: every timeline event kind the lifecycle records has
words of its own, details lose their internal names, and times carry GMT or BST."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from activities.problems import MAIL_FAILED, STORE_REFUSED
from models import wording as domain_wording
from models.kinds import EventKind
from models.payloads import EscalationLevel, Stage
from web import wording

INTERNAL = re.compile(r"\b(stage|action):|\(overdue\)|\b\w+_\w+\b|\d{4}-\d{2}-\d{2}|UTC")


class TestEventWords:
    def test_every_kind_the_lifecycle_records_has_its_own_words(self):
        """No event kind falls back to its internal name: each is in the one table."""
        kinds = set(EventKind) | {
            STORE_REFUSED,
            MAIL_FAILED,
        }  # what the lifecycle records: tests/models/test_word_table.py
        assert {"received", "owner_reminded", "board_decision", "roles_changed"} <= kinds
        assert [] == sorted(kinds - set(wording.EVENT_WORDS))

    @pytest.mark.parametrize("stage", list(Stage))
    def test_stage_and_escalation_kinds_are_worded(self, stage):
        """``stage:<name>`` and ``escalation:<level>`` read as the stage's and level's words."""
        assert "stage" not in wording.event_words(f"stage:{stage.value}")
        for level in EscalationLevel:
            assert not INTERNAL.search(wording.event_words(f"escalation:{level.value}"))

    @pytest.mark.parametrize(
        ("kind", "detail", "expected"),
        [
            ("escalation:sponsoring_board", "action:A1 (overdue)", "Action A1: not complete by its due date"),
            ("escalation:owner", "stage:dissemination_plan (plans)", "Plans due: the plans were not in on time"),
            ("stage:action", "imported", "Taken up from the imported action plan"),
            (
                "action_assigned",
                "A1 to nurse@icb.example, due 2027-03-27",
                "Action A1 to nurse@icb.example, due 27 March 2027",
            ),
            ("due_date_changed", "A1 from 2027-03-27 to 2027-05-01", "Action A1 from 27 March 2027 to 1 May 2027"),
            ("action_completed", "A2 (imported)", "Action A2, complete when the plan was imported"),
            ("plans_submitted", "1 gap(s)", "1 gap to fill"),
            ("plans_submitted", "credible", "Complete enough to sign off"),
            ("owner_reminded", "A2", "Action A2"),
            ("board_decision", "", "About the whole recommendation"),
            ("received", "from sar", "From Safeguarding Adult Review"),
            ("mail_bounced", "task_assigned to x@y.example (550)", "A new task to x@y.example (refused, code 550)"),
            ("escalation:sponsoring_board", "measure:M1 (reading)", "Measure M1: its reading did not come in on time"),
            ("measures_added", "1 measure(s): M1", "1 measure: M1"),
            ("measures_added", "2 measure(s): M1, M2", "2 measures: M1, M2"),
            ("reading_recorded", "M1: 64% on 2026-03-01", "Measure M1: 64% on 1 March 2026"),
            (
                "reading_corrected",
                "M2: 17 days on 2026-06-02, recorded on behalf of lead@icb.example",
                "Measure M2: 17 days on 2 June 2026, recorded on behalf of lead@icb.example",
            ),
        ],
    )
    def test_details_lose_their_internal_names(self, kind, detail, expected):
        """Details read as sentences: action ids named, dates written out, stage and deadline names explained."""
        assert expected == wording.event_detail(kind, detail)


class TestMeasureWords:
    @pytest.mark.parametrize(
        ("duration", "expected"),
        [
            ("P3M", "every 3 months"),
            ("P1M", "every month"),
            ("P1Y", "every year"),
            ("P1Y6M", "every 18 months"),
            ("P2W", "every 2 weeks"),
            ("P10D", "every 10 days"),
            ("P1M15D", "every month and 15 days"),
        ],
    )
    def test_how_often_a_reading_is_owed_reads_in_words(self, duration, expected):
        """A measure's ISO-8601 ``every`` reads as people say it."""
        assert expected == domain_wording.every_words(duration)

    def test_where_a_measure_stands_has_one_set_of_words(self):
        """On track, off track and no data read the same wherever they are shown."""
        assert ["On track", "Off track", "No data yet"] == list(domain_wording.MEASURE_TRACK.values())


class TestLondonTime:
    def test_a_summer_time_is_shown_in_bst(self):
        """Noon UTC in July is 13:00 BST in London."""
        assert "1 July 2025, 13:00 BST" == wording.uk_time(datetime(2025, 7, 1, 12, 0, tzinfo=UTC))

    def test_a_winter_time_is_shown_in_gmt(self):
        """Noon UTC in January is 12:00 GMT."""
        assert "15 January 2025, 12:00 GMT" == wording.uk_time(datetime(2025, 1, 15, 12, 0, tzinfo=UTC))

    def test_a_moments_date_is_londons_date(self):
        """23:30 UTC on 30 June is already 1 July in London; a plain date is unchanged."""
        assert "1 July 2025" == wording.uk_date(datetime(2025, 6, 30, 23, 30, tzinfo=UTC))
        assert "30 June 2025" == wording.uk_date(date(2025, 6, 30))
