"""Numbers typed into forms: only plain ASCII digits count, so a superscript or an Arabic-Indic
digit (which Python's ``isdigit`` accepts but ``int`` may not) is a message at the field, never
a server error."""

from __future__ import annotations

import pytest

from web.forms import cascade_row_count, parse_form, read_count, read_date, row_count


@pytest.mark.parametrize("typed", ["²", "٣", "１２", "1e3", "12.5", "-"])
def test_a_figure_that_is_not_plain_digits_is_a_message(typed):
    number, problem = read_count({"reached": typed}, "reached", required=True)
    assert number is None and problem is not None and "whole number" in problem


@pytest.mark.parametrize("typed", ["²", "٣", "9" * 5000])
def test_row_counts_fall_back_to_one(typed):
    assert (1, 1) == (row_count({"rows": typed}), cascade_row_count({"cascade_rows": typed}))


def test_a_date_in_other_digits_is_a_message():
    day, problem = read_date(
        {"done_on-day": "²", "done_on-month": "3", "done_on-year": "2027"}, "done_on", required=True
    )
    assert day is None and "must be written in numbers" in problem


def test_a_confirmation_form_with_a_superscript_figure_is_refused_at_its_field():
    form = {"agency": "Thames Valley Police", "reached": "²", "done_on-day": "1", "done_on-month": "3",
            "done_on-year": "2026"}  # fmt: skip
    parsed = parse_form("confirm_cascade", form, by="safeguarding.lead@police.example")
    assert "reached" in parsed.errors and not parsed.payload
