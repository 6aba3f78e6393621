"""Working-day arithmetic for England and Wales, and ISO-8601 date durations."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.calendar import (
    DateDuration,
    DurationError,
    add_duration,
    add_working_days,
    is_working_day,
    parse_duration,
    roll_forward,
    subtract_duration,
)

# --- an independent oracle ------------------------------------------------------------------


@cache
def _oracle_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _oracle_working(day: date) -> bool:
    return day.weekday() < 5 and day not in _oracle_holidays(day.year)


def _working_days_between(after: date, up_to: date) -> int:
    """Brute force: the working days in the half-open interval (after, up_to]."""
    count, day = 0, after
    while day < up_to:
        day += timedelta(days=1)
        count += _oracle_working(day)
    return count


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
counts = st.integers(min_value=1, max_value=80)


@st.composite
def durations(draw) -> str:
    """A date-level ISO-8601 duration such as P1Y2M3W4D, every part optional but one."""
    parts = [
        (draw(st.integers(0, 2)), "Y"),
        (draw(st.integers(0, 13)), "M"),
        (draw(st.integers(0, 4)), "W"),
        (draw(st.integers(0, 40)), "D"),
    ]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return f"P{text or '0D'}"


# --- examples -------------------------------------------------------------------------------


class TestIsWorkingDay:
    @pytest.mark.parametrize(
        "day",
        [date(2023, 5, 15), date(2023, 5, 16), date(2023, 5, 17), date(2023, 5, 18), date(2023, 5, 19)],
    )
    def test_ordinary_weekdays(self, day):
        """Monday to Friday outside a bank holiday are working days."""
        assert is_working_day(day) is True

    def test_early_may_bank_holiday_2023(self):
        """Monday 1 May 2023 (Early May bank holiday) is not a working day."""
        assert False is is_working_day(date(2023, 5, 1))

    def test_tuesday_after_early_may(self):
        """Tuesday 2 May 2023 is a working day."""
        assert is_working_day(date(2023, 5, 2)) is True

    @pytest.mark.parametrize("day", [date(2023, 5, 6), date(2023, 5, 7), date(2024, 2, 24), date(2024, 2, 25)])
    def test_weekends(self, day):
        """Saturdays and Sundays are never working days."""
        assert False is is_working_day(day)

    def test_coronation_bank_holiday(self):
        """Monday 8 May 2023, the coronation of Charles III, is a bank holiday."""
        assert False is is_working_day(date(2023, 5, 8))

    def test_good_friday_and_easter_monday(self):
        """Good Friday 7 April and Easter Monday 10 April 2023 are bank holidays."""
        assert (False, False) == (is_working_day(date(2023, 4, 7)), is_working_day(date(2023, 4, 10)))

    def test_spring_bank_holiday(self):
        """Monday 29 May 2023 is the spring bank holiday."""
        assert False is is_working_day(date(2023, 5, 29))

    def test_christmas_substitutes_2021(self):
        """Christmas 2021 fell on a weekend, so Monday 27 and Tuesday 28 December were bank holidays."""
        assert [False, False, True] == [is_working_day(date(2021, 12, d)) for d in (27, 28, 29)]

    def test_boxing_day_substitute_2026(self):
        """Boxing Day 2026 is a Saturday, so Monday 28 December 2026 is a bank holiday."""
        assert [False, False, True] == [is_working_day(date(2026, 12, d)) for d in (25, 28, 29)]

    def test_new_year_substitute_2023(self):
        """New Year's Day 2023 was a Sunday, so Monday 2 January 2023 was a bank holiday."""
        assert False is is_working_day(date(2023, 1, 2))

    def test_scottish_only_holiday_is_working(self):
        """2 January is a Scottish bank holiday only; in England 2 January 2024 is a working day."""
        assert is_working_day(date(2024, 1, 2)) is True


class TestRollForward:
    def test_working_day_is_unchanged(self):
        """A working day rolls forward to itself."""
        assert date(2023, 5, 4) == roll_forward(date(2023, 5, 4))

    def test_weekend_and_bank_holiday(self):
        """Saturday 6 May 2023 rolls past Sunday and the coronation Monday to Tuesday 9 May."""
        assert date(2023, 5, 9) == roll_forward(date(2023, 5, 6))

    def test_christmas_2021(self):
        """Christmas Day 2021 rolls forward past both substitute days to Wednesday 29 December."""
        assert date(2021, 12, 29) == roll_forward(date(2021, 12, 25))


class TestAddWorkingDays:
    def test_one_day_over_coronation(self):
        """Thursday 4 May 2023 plus one working day skips the coronation Monday: Tuesday 9 May."""
        assert date(2023, 5, 5) == add_working_days(date(2023, 5, 4), 1)
        assert date(2023, 5, 9) == add_working_days(date(2023, 5, 4), 2)

    def test_friday_plus_one_over_coronation(self):
        """Friday 5 May 2023 plus one working day is Tuesday 9 May 2023."""
        assert date(2023, 5, 9) == add_working_days(date(2023, 5, 5), 1)

    def test_seven_days_over_coronation(self):
        """Thursday 4 May 2023 plus seven working days is Tuesday 16 May 2023."""
        assert date(2023, 5, 16) == add_working_days(date(2023, 5, 4), 7)

    def test_over_easter(self):
        """Thursday 6 April 2023 plus one working day skips Good Friday and Easter Monday."""
        assert date(2023, 4, 11) == add_working_days(date(2023, 4, 6), 1)

    def test_over_christmas_2021(self):
        """Friday 24 December 2021 plus one working day is Wednesday 29 December 2021."""
        assert date(2021, 12, 29) == add_working_days(date(2021, 12, 24), 1)

    def test_start_need_not_be_working(self):
        """Counting starts the day after start, so a Saturday plus one is the next working day."""
        assert date(2023, 5, 9) == add_working_days(date(2023, 5, 6), 1)

    def test_negative_count(self):
        """Tuesday 9 May 2023 minus one working day skips the coronation back to Friday 5 May."""
        assert date(2023, 5, 5) == add_working_days(date(2023, 5, 9), -1)

    def test_negative_seven(self):
        """Tuesday 16 May 2023 minus seven working days is Thursday 4 May 2023."""
        assert date(2023, 5, 4) == add_working_days(date(2023, 5, 16), -7)

    def test_negative_over_christmas_2021(self):
        """Wednesday 29 December 2021 minus one working day is Friday 24 December 2021."""
        assert date(2021, 12, 24) == add_working_days(date(2021, 12, 29), -1)

    def test_negative_from_non_working_day(self):
        """A Sunday minus one working day is the Friday before it."""
        assert date(2023, 5, 5) == add_working_days(date(2023, 5, 7), -1)

    def test_zero_on_working_day(self):
        """Zero working days after a working day is that day."""
        assert date(2023, 5, 4) == add_working_days(date(2023, 5, 4), 0)

    def test_zero_rolls_forward(self):
        """Zero working days after a non-working day rolls forward to the next working day."""
        assert date(2023, 5, 9) == add_working_days(date(2023, 5, 6), 0)

    def test_zero_and_one_agree_on_non_working_day(self):
        """From a non-working day, zero and one working days land on the same day."""
        assert add_working_days(date(2023, 5, 8), 1) == add_working_days(date(2023, 5, 8), 0)

    def test_across_year_end(self):
        """Thursday 21 December 2023 plus five working days crosses Christmas into 2024."""
        # Fri 22, Wed 27, Thu 28, Fri 29 Dec; Mon 1 Jan is a holiday; Tue 2 Jan.
        assert date(2024, 1, 2) == add_working_days(date(2023, 12, 21), 5)


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("P7D", DateDuration(days=7)),
            ("P2W", DateDuration(days=14)),
            ("P1M", DateDuration(months=1)),
            ("P1Y", DateDuration(years=1)),
            ("P1Y2M3W4D", DateDuration(years=1, months=2, days=25)),
            ("p7d", DateDuration(days=7)),
            ("  P7D ", DateDuration(days=7)),
            ("P0D", DateDuration()),
        ],
    )
    def test_accepted(self, text, expected):
        """Date-level durations parse into years, months and days, weeks as seven days."""
        assert expected == parse_duration(text)

    def test_zero(self):
        """P0D is a zero duration and P1D is not."""
        assert (True, False) == (parse_duration("P0D").is_zero, parse_duration("P1D").is_zero)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("PT4H", "time part"),
            ("P1DT4H", "time part"),
            ("P1.5D", "time part"),
            ("", "required"),
            ("   ", "required"),
            ("X", "not an ISO-8601 duration"),
            ("quarterly", "not an ISO-8601 duration"),
            ("7D", "not an ISO-8601 duration"),
            ("P-1D", "not an ISO-8601 duration"),
            ("-P1D", "negative"),
            ("-P1M", "negative"),
        ],
    )
    def test_refused(self, text, message):
        """Time parts, empty text, non-durations and negative values raise DurationError saying why."""
        with pytest.raises(DurationError) as info:
            parse_duration(text)
        assert message in str(info.value)

    def test_not_a_string(self):
        """A value that is not text is refused as missing."""
        with pytest.raises(DurationError, match="required"):
            parse_duration(None)

    def test_duration_error_is_value_error(self):
        """DurationError is a ValueError, so pydantic validators can report it."""
        assert issubclass(DurationError, ValueError)


class TestAddDuration:
    def test_days_calendar(self):
        """P7D in calendar days from Thursday 4 May 2023 is Thursday 11 May 2023."""
        assert date(2023, 5, 11) == add_duration(date(2023, 5, 4), "P7D", working_days=False)

    def test_days_working(self):
        """P7D in working days from Thursday 4 May 2023 is Tuesday 16 May 2023."""
        assert date(2023, 5, 16) == add_duration(date(2023, 5, 4), "P7D", working_days=True)

    def test_weeks_calendar(self):
        """P2W in calendar days is fourteen days."""
        assert date(2023, 5, 18) == add_duration(date(2023, 5, 4), "P2W", working_days=False)

    def test_weeks_working(self):
        """P2W in working days is fourteen working days: from 4 May 2023, Thursday 25 May."""
        assert date(2023, 5, 25) == add_duration(date(2023, 5, 4), "P2W", working_days=True)

    def test_month_end_clamps(self):
        """31 January plus P1M is the last day of February."""
        assert date(2023, 2, 28) == add_duration(date(2023, 1, 31), "P1M", working_days=False)

    def test_month_end_clamps_leap_year(self):
        """31 January 2024 plus P1M is 29 February 2024, a leap day."""
        assert date(2024, 2, 29) == add_duration(date(2024, 1, 31), "P1M", working_days=False)

    def test_month_end_to_thirty_day_month(self):
        """31 March plus P1M is 30 April."""
        assert date(2023, 4, 30) == add_duration(date(2023, 3, 31), "P1M", working_days=False)

    def test_month_across_year_end(self):
        """15 December 2023 plus P1M is 15 January 2024."""
        assert date(2024, 1, 15) == add_duration(date(2023, 12, 15), "P1M", working_days=False)

    def test_month_working_rolls_forward(self):
        """31 January 2021 plus P1M in working mode is Sunday 28 February, rolled to Monday 1 March."""
        assert date(2021, 3, 1) == add_duration(date(2021, 1, 31), "P1M", working_days=True)

    def test_month_working_on_working_day(self):
        """31 January 2024 plus P1M in working mode is Thursday 29 February 2024 itself."""
        assert date(2024, 2, 29) == add_duration(date(2024, 1, 31), "P1M", working_days=True)

    def test_year_calendar(self):
        """P1Y moves the calendar date one year on."""
        assert date(2024, 5, 4) == add_duration(date(2023, 5, 4), "P1Y", working_days=False)

    def test_year_from_leap_day(self):
        """29 February 2024 plus P1Y is 28 February 2025."""
        assert date(2025, 2, 28) == add_duration(date(2024, 2, 29), "P1Y", working_days=False)

    def test_year_working_rolls_past_coronation(self):
        """8 May 2022 plus P1Y is the coronation bank holiday, rolled forward to Tuesday 9 May 2023."""
        assert date(2023, 5, 9) == add_duration(date(2022, 5, 8), "P1Y", working_days=True)

    def test_months_then_working_days(self):
        """P1M2D in working mode moves a month, then counts two working days from there."""
        # 4 April 2023 + P1M = Thu 4 May; +2 working days: Fri 5, (Mon 8 holiday), Tue 9.
        assert date(2023, 5, 9) == add_duration(date(2023, 4, 4), "P1M2D", working_days=True)

    def test_zero_working_rolls_forward(self):
        """A zero duration in working mode rolls a non-working day forward."""
        assert date(2023, 5, 9) == add_duration(date(2023, 5, 6), "P0D", working_days=True)

    def test_zero_calendar_is_identity(self):
        """A zero duration in calendar mode leaves the date alone, even on a weekend."""
        assert date(2023, 5, 6) == add_duration(date(2023, 5, 6), "P0D", working_days=False)

    def test_invalid_duration_raises(self):
        """An unusable duration raises DurationError rather than producing a date."""
        with pytest.raises(DurationError):
            add_duration(date(2023, 5, 4), "PT4H", working_days=False)


class TestSubtractDuration:
    def test_days_calendar(self):
        """P7D back in calendar days from 11 May 2023 is 4 May 2023."""
        assert date(2023, 5, 4) == subtract_duration(date(2023, 5, 11), "P7D", working_days=False)

    def test_days_working(self):
        """P7D back in working days from Tuesday 16 May 2023 is Thursday 4 May 2023."""
        assert date(2023, 5, 4) == subtract_duration(date(2023, 5, 16), "P7D", working_days=True)

    def test_weeks_working(self):
        """P2W back in working days from Thursday 25 May 2023 is Thursday 4 May 2023."""
        assert date(2023, 5, 4) == subtract_duration(date(2023, 5, 25), "P2W", working_days=True)

    def test_month_end_clamps(self):
        """31 March minus P1M is the last day of February, 29th in a leap year."""
        assert (date(2023, 2, 28), date(2024, 2, 29)) == (
            subtract_duration(date(2023, 3, 31), "P1M", working_days=False),
            subtract_duration(date(2024, 3, 31), "P1M", working_days=False),
        )

    def test_month_across_year_start(self):
        """15 January 2024 minus P1M is 15 December 2023."""
        assert date(2023, 12, 15) == subtract_duration(date(2024, 1, 15), "P1M", working_days=False)

    def test_month_working_rolls_back(self):
        """8 June 2023 minus P1M is the coronation holiday, rolled back to Friday 5 May 2023."""
        assert date(2023, 5, 5) == subtract_duration(date(2023, 6, 8), "P1M", working_days=True)

    def test_year_calendar(self):
        """P1Y back from 29 February 2024 is 28 February 2023."""
        assert date(2023, 2, 28) == subtract_duration(date(2024, 2, 29), "P1Y", working_days=False)

    def test_zero_working_rolls_back(self):
        """A zero duration back in working mode rolls a non-working day back, not forward."""
        assert date(2023, 5, 5) == subtract_duration(date(2023, 5, 8), "P0D", working_days=True)


# --- properties -----------------------------------------------------------------------------


class TestWorkingDayProperties:
    @PROPERTY_SETTINGS
    @given(start=starts, n=counts)
    def test_forward_lands_on_later_working_day(self, start, n):
        """Adding n > 0 working days lands on a working day strictly after start."""
        result = add_working_days(start, n)
        assert (True, True) == (result > start, _oracle_working(result))

    @PROPERTY_SETTINGS
    @given(start=starts, n=counts)
    def test_forward_counts_exactly_n(self, start, n):
        """There are exactly n working days in (start, add_working_days(start, n)]."""
        assert n == _working_days_between(start, add_working_days(start, n))

    @PROPERTY_SETTINGS
    @given(start=starts, n=counts)
    def test_backward_counts_exactly_n(self, start, n):
        """Going back n > 0 working days lands on a working day before start, with n working days in [result, start)."""
        result = add_working_days(start, -n)
        assert (True, True) == (result < start, _oracle_working(result))
        assert n == _working_days_between(result - timedelta(days=1), start - timedelta(days=1))

    @PROPERTY_SETTINGS
    @given(start=starts, n=counts)
    def test_add_then_subtract_returns(self, start, n):
        """From a working day, n working days forward then n back returns to the start."""
        start = roll_forward(start)
        assert start == add_working_days(add_working_days(start, n), -n)

    @PROPERTY_SETTINGS
    @given(start=starts, n=counts, extra=counts)
    def test_monotonic(self, start, n, extra):
        """For 0 < n < m, n working days after start fall strictly before m working days after it."""
        assert add_working_days(start, n) < add_working_days(start, n + extra)

    @PROPERTY_SETTINGS
    @given(start=starts)
    def test_is_working_day_matches_oracle(self, start):
        """is_working_day agrees with a direct lookup in the holidays package."""
        assert _oracle_working(start) == is_working_day(start)

    @PROPERTY_SETTINGS
    @given(start=starts)
    def test_roll_forward_is_first_working_day(self, start):
        """roll_forward gives a working day on or after start with none in between."""
        result = roll_forward(start)
        assert _oracle_working(result) is True
        assert 0 == _working_days_between(start - timedelta(days=1), result - timedelta(days=1))


class TestDurationProperties:
    @PROPERTY_SETTINGS
    @given(start=starts, duration=durations())
    def test_working_add_lands_on_working_day(self, start, duration):
        """add_duration in working mode always lands on a working day."""
        assert _oracle_working(add_duration(start, duration, working_days=True)) is True

    @PROPERTY_SETTINGS
    @given(start=starts, duration=durations())
    def test_working_subtract_lands_on_working_day(self, start, duration):
        """subtract_duration in working mode always lands on a working day."""
        assert _oracle_working(subtract_duration(start, duration, working_days=True)) is True

    @PROPERTY_SETTINGS
    @given(start=starts, duration=durations())
    def test_add_never_goes_back(self, start, duration):
        """Adding a duration never gives a date before the start, in either mode."""
        assert (True, True) == (
            add_duration(start, duration, working_days=False) >= start,
            add_duration(start, duration, working_days=True) >= start,
        )

    @PROPERTY_SETTINGS
    @given(start=starts, n=counts)
    def test_days_match_add_working_days(self, start, n):
        """PnD in working mode is the same as adding n working days."""
        assert add_working_days(start, n) == add_duration(start, f"P{n}D", working_days=True)

    @PROPERTY_SETTINGS
    @given(start=starts, weeks=st.integers(1, 10))
    def test_weeks_are_seven_days(self, start, weeks):
        """PnW means the same as P(7n)D in both modes."""
        for working in (False, True):
            assert add_duration(start, f"P{7 * weeks}D", working_days=working) == add_duration(
                start, f"P{weeks}W", working_days=working
            )

    @PROPERTY_SETTINGS
    @given(start=starts, n=st.integers(0, 400))
    def test_calendar_days_round_trip(self, start, n):
        """In calendar mode PnD forward then back returns to the start."""
        moved = add_duration(start, f"P{n}D", working_days=False)
        assert (start + timedelta(days=n), start) == (
            moved,
            subtract_duration(moved, f"P{n}D", working_days=False),
        )

    @PROPERTY_SETTINGS
    @given(start=starts, months=st.integers(1, 36))
    def test_months_keep_day_or_clamp(self, start, months):
        """Adding months keeps the day of month, or clamps it to the end of a shorter month."""
        moved = add_duration(start, f"P{months}M", working_days=False)
        month_index = start.year * 12 + start.month - 1 + months
        assert (month_index // 12, month_index % 12 + 1) == (moved.year, moved.month)
        next_month = date(moved.year + moved.month // 12, moved.month % 12 + 1, 1)
        last_day = (next_month - timedelta(days=1)).day
        assert min(start.day, last_day) == moved.day
