"""Themes: what a partnership's reviews keep finding, and where a finding has come up before.

A partnership's vocabulary is its priorities (the seed report's: domestic abuse, violent crime,
hate crime, mental health, child poverty and reducing inequalities) and every theme its reviews
name: a review brings a new theme into the vocabulary, and a recommendation's themes must be in
it, so that "mental health" and "Mental-health" never count as two.

A review or recommendation sharing a theme with earlier reviews says so ("mental health has come
up in 3 earlier reviews since 2021"): earlier by the day the review began (its first milestone
recorded, else the earliest source date of its recommendations), and a review counts once
however many of its recommendations carry the theme.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from models.payloads import Payload, theme_key

# The partnership's priorities, as the seed's annual report names them.
PRIORITY_THEMES: tuple[str, ...] = (
    "domestic abuse",
    "violent crime",
    "hate crime",
    "mental health",
    "child poverty and reducing inequalities",
)


def vocabulary(review_themes: Iterable[str]) -> list[str]:
    """The partnership's themes: its priorities first, then those its reviews name, A to Z."""
    named = {theme_key(t) for t in review_themes if theme_key(t)} - set(PRIORITY_THEMES)
    return [*PRIORITY_THEMES, *sorted(named)]


def unknown_themes(themes: Iterable[str], known: Iterable[str]) -> list[str]:
    """The themes not in the vocabulary ``known``, as given."""
    keys = {theme_key(k) for k in known}
    return [t for t in themes if theme_key(t) not in keys]


@dataclass(frozen=True)
class ThemedReview:
    """A review as the themes count it: its ref, the day it began (None if no day is known yet),
    and its themes with those of its recommendations."""

    review_ref: str
    title: str
    began_on: date | None
    themes: frozenset[str] = field(default_factory=frozenset)


class ThemeRepeat(Payload):
    """One theme shared with earlier reviews: those reviews, oldest first, and the year of the first."""

    theme: str
    earlier: list[str]  # review refs
    since_year: int

    def words(self) -> str:
        """ "Mental health has come up in 3 earlier reviews since 2021"."""
        count = len(self.earlier)
        reviews = "review" if count == 1 else "reviews"
        theme = f"{self.theme[:1].upper()}{self.theme[1:]}"
        return f"{theme} has come up in {count} earlier {reviews} since {self.since_year}"


def repeats(
    themes: Iterable[str], *, began_on: date | None, reviews: Sequence[ThemedReview], excluding: str | None = None
) -> list[ThemeRepeat]:
    """Each of ``themes`` that earlier reviews share, in the order given. Earlier means begun
    before ``began_on`` (every dated review, when ``began_on`` is unknown); ``excluding`` is the
    review asking, never counted against itself; an undated review is never earlier."""
    dated = [r for r in reviews if r.began_on is not None and r.review_ref != excluding]
    before = [r for r in dated if began_on is None or r.began_on < began_on]  # type: ignore[operator]
    found = []
    for theme in dict.fromkeys(theme_key(t) for t in themes):
        sharing = sorted((r for r in before if theme in r.themes), key=lambda r: (r.began_on, r.review_ref))
        if sharing:
            first = sharing[0].began_on
            assert first is not None
            found.append(ThemeRepeat(theme=theme, earlier=[r.review_ref for r in sharing], since_year=first.year))
    return found


def began_on(milestones: Iterable[date | None], source_dates: Iterable[date] = ()) -> date | None:
    """The day a review began: its first milestone recorded, else its recommendations' earliest source date."""
    days = [d for d in milestones if d is not None]
    if days:
        return min(days)
    sources = list(source_dates)
    return min(sources) if sources else None
