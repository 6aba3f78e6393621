"""The RAG rule, case by case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from models.rag import rag

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def rated(**overrides) -> str:
    facts = {"stage": "in_progress", "overdue": False, "escalation_level": "none",
             "next_open_due": date(2026, 9, 1), "stage_entered_at": NOW - timedelta(days=3), "now": NOW}  # fmt: skip
    return rag(**{**facts, **overrides})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "green"),
        ({"overdue": True}, "red"),
        ({"escalation_level": "owner"}, "red"),
        ({"escalation_level": "assurance_board"}, "red"),
        ({"next_open_due": date(2026, 6, 15)}, "amber"),  # 14 days away
        ({"next_open_due": date(2026, 6, 16)}, "green"),  # 15 days away
        ({"stage": "sign_off", "next_open_due": None, "stage_entered_at": NOW - timedelta(days=32)}, "amber"),
        ({"stage": "sign_off", "next_open_due": None, "stage_entered_at": NOW - timedelta(days=30)}, "green"),
        ({"stage": "review", "next_open_due": None}, "green"),
        ({"stage": "assured", "overdue": True}, "closed"),
        ({"stage": "withdrawn"}, "closed"),
        ({"overdue": True, "next_open_due": date(2026, 6, 2)}, "red"),  # red wins over amber
    ],
)
def test_the_rule(overrides, expected):
    assert rated(**overrides) == expected
