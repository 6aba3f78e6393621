"""The annual report's learning-from-reviews section, worked out from the record for one year.

The year runs 1 April to 31 March (``2023-24``), as the partnership's report does. Every figure is
a ``Figure``: its count is the number of refs it holds, and the appendix lists those refs, so a
reader can trace each number to the recommendations and reviews it counts.

What counts when (the store keeps no history of a row, so each rule uses a day that stays put):
- a review was notified, decided or commissioned, concluded or published in the year when that
  milestone's day falls in it; it was ongoing at the year's end when it had begun (its first
  milestone) by then and had not concluded by then;
- a recommendation was received in the year when its source (the review's report) is dated in it;
  assured or declined in the year when it entered that stage in the year; open at the year's end
  when received by then and not closed by then; overdue in the year when any of its ladders was
  climbed in the year (an escalation on its timeline), or it is overdue now and the year is this one;
- an audit, a cascade confirmation and a measure's reading count in the year of their day (a
  measure's standing against its target is as it is now).
Dates are London's: an event at 00:30 BST on 1 April is in the new year.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session

from models.kinds import decline_reason
from models.payloads import CLOSED_STAGES, MeasureView, SourceKind, Stage
from models.reviews import Review
from models.wording import MEASURE_TRACK, OUTCOMES, SOURCE_KINDS, STAGES, in_london
from store.cascade import AgencyReach, reach_by_agency, stored_cascades
from store.listing import recommendation_summaries
from store.measures import stored_measures
from store.reviews import stored_reviews, theme_repeats, themed_reviews
from store.tables import ActionRow, RecommendationRow, TimelineRow, table_of

_YEAR = re.compile(r"(\d{4})-(\d{2})")


class ReportYear(BaseModel):
    """A reporting year, 1 April to 31 March."""

    first: date
    last: date

    @property
    def label(self) -> str:
        return f"{self.first.year}-{str(self.last.year)[2:]}"

    def holds(self, day: date | None) -> bool:
        return day is not None and self.first <= day <= self.last


def parse_year(text: str) -> ReportYear:
    """``2023-24`` as the year 1 April 2023 to 31 March 2024; anything else refused, saying why."""
    found = _YEAR.fullmatch(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a reporting year: write it as 2023-24 (1 April 2023 to 31 March 2024)")
    start, end = int(found.group(1)), int(found.group(2))
    if (start + 1) % 100 != end:
        raise ValueError(
            f"{text!r} is not a reporting year: the second part is the next year, as in {start}-{(start + 1) % 100:02d}"
        )
    if not 2000 <= start <= 2099:
        raise ValueError(f"{text!r} is not a reporting year Assure keeps: use a year from 2000-01 to 2099-00")
    return ReportYear(first=date(start, 4, 1), last=date(start + 1, 3, 31))


class Figure(BaseModel):
    """One number in the report, with the refs it counts (listed in the appendix under ``key``)."""

    key: str
    label: str
    refs: list[str]

    @property
    def count(self) -> int:
        return len(self.refs)


class _Figures:
    """Numbers the report's figures in the order they are made: F1, F2, ..."""

    def __init__(self) -> None:
        self.made: list[Figure] = []

    def __call__(self, label: str, refs: Iterable[str]) -> Figure:
        figure = Figure(key=f"F{len(self.made) + 1}", label=label, refs=sorted(set(refs)))
        self.made.append(figure)
        return figure


class KindRow(BaseModel):
    kind: str  # in words
    notified: Figure
    commissioned: Figure
    concluded: Figure
    published: Figure
    ongoing: Figure


class Finding(BaseModel):
    """One recommendation of a review, and what was done to implement it."""

    ref: str
    title: str
    stage: str  # in words
    actions_done: int
    actions: int
    done: str  # what was done, in a sentence


class ReviewFindings(BaseModel):
    review: Review
    findings: list[Finding]
    repeats: list[str]  # "Mental health has come up in 2 earlier reviews since 2021"


class Decline(BaseModel):
    ref: str
    title: str
    board: str
    review_ref: str | None
    on: date
    reason: str


class CountRow(BaseModel):
    """Recommendations of one board or agency, in the year."""

    name: str
    received: Figure
    assured: Figure
    declined: Figure
    open: Figure
    overdue: Figure


class AuditLine(BaseModel):
    ref: str
    title: str
    on: date
    outcome: str  # in words: "embedded", "partly embedded", "not embedded"


class MeasureLine(BaseModel):
    ref: str
    name: str
    unit: str
    baseline: float | None
    latest: float | None
    latest_on: date | None
    target: float | None
    target_by: date | None
    on_track: str


class ThemeLine(BaseModel):
    theme: str
    reviews: Figure  # the year's reviews naming it
    earlier: list[str]  # reviews before the year naming it
    since_year: int | None


class AnnualReport(BaseModel):
    partnership: str
    year: ReportYear
    generated_at: datetime
    by_kind: list[KindRow]
    sars_concluded: list[ReviewFindings]
    sars_ongoing: list[ReviewFindings]
    declines: list[Decline]
    by_board: list[CountRow]
    by_agency: list[CountRow]
    totals: CountRow
    audits: list[AuditLine]
    audit_outcomes: list[Figure]
    reach: list[AgencyReach]
    reach_figure: Figure
    measures: list[MeasureLine]
    themes: list[ThemeLine]
    repeats: list[tuple[str, str, list[str]]] = Field(default_factory=list)  # review ref, title, repeat words
    figures: list[Figure]


# --- reading the record --------------------------------------------------------------------


def _day(moment: datetime) -> date:
    return in_london(moment).date()


def _began(review: Review) -> date | None:
    days = list(review.milestones().values())
    return min(days) if days else None


def _timeline(session: Session, last: date) -> list[Any]:
    """The events the report counts: stages, escalations, audits and cascade confirmations."""
    t = table_of(TimelineRow).c
    query = sa_select(t.ref, t.at, t.kind, t.detail).where(
        or_(t.kind.like("stage:%"), t.kind.like("escalation:%"), t.kind.like("audit_%"),
            t.kind.in_(["cascade_confirmed", "cascade_corrected"]))
    ).order_by(t.ref, t.seq)  # fmt: skip
    return [e for e in session.connection().execute(query) if _day(e.at) <= last]


def annual_report_data(*, session: Session, year: ReportYear, now: datetime, partnership: str) -> AnnualReport:
    """The report for ``year`` from the store as it is ``now``."""
    figure = _Figures()
    reviews = stored_reviews(session=session)
    r = table_of(RecommendationRow).c
    rows = list(session.connection().execute(sa_select(r.ref, r.title, r.board, r.review_ref, r.source_date, r.stage,
                                                       r.stage_entered_at, r.overdue)))  # fmt: skip
    summaries = {s.ref: s for s in recommendation_summaries(session=session, now=now)}
    a = table_of(ActionRow).c
    actions: dict[str, list[Any]] = defaultdict(list)
    for action in session.connection().execute(sa_select(a.ref, a.agency, a.status)):
        actions[action.ref].append(action)
    events = _timeline(session, year.last)
    escalated = {e.ref for e in events if e.kind.startswith("escalation:") and year.holds(_day(e.at))}
    this_year = year.holds(_day(now))

    by_kind = _reviews_by_kind(reviews, year, figure)
    received = {row.ref for row in rows if year.holds(row.source_date)}
    closed_on = {row.ref: _day(row.stage_entered_at) for row in rows if row.stage in CLOSED_STAGES}
    assured = {row.ref for row in rows if row.stage == Stage.assured and year.holds(closed_on[row.ref])}
    declined = {row.ref for row in rows if row.stage == Stage.declined and year.holds(closed_on[row.ref])}
    still_open = {
        row.ref for row in rows
        if row.source_date <= year.last and row.stage != Stage.withdrawn
        and (row.ref not in closed_on or closed_on[row.ref] > year.last)
    }  # fmt: skip
    overdue = escalated | ({row.ref for row in rows if row.overdue} if this_year else set())
    counted = received | assured | declined | still_open | overdue

    def count_row(name: str, refs: set[str]) -> CountRow:
        return CountRow(
            name=name,
            received=figure(f"{name}: recommendations received", received & refs),
            assured=figure(f"{name}: recommendations assured", assured & refs),
            declined=figure(f"{name}: recommendations declined", declined & refs),
            open=figure(f"{name}: recommendations open at the year's end", still_open & refs),
            overdue=figure(f"{name}: recommendations overdue in the year", overdue & refs),
        )

    totals = count_row("All boards", {row.ref for row in rows})
    boards: dict[str, set[str]] = defaultdict(set)
    agencies: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.ref in counted:
            boards[row.board].add(row.ref)
            for action in actions[row.ref]:
                agencies[action.agency].add(row.ref)
    by_board = [count_row(name, boards[name]) for name in sorted(boards)]
    by_agency = [count_row(name, agencies[name]) for name in sorted(agencies)]

    titles = {row.ref: row.title for row in rows}
    latest_decline = {e.ref: e for e in events if e.kind == "stage:declined"}
    declines = [
        Decline(ref=row.ref, title=row.title, board=row.board, review_ref=row.review_ref,
                on=closed_on[row.ref],
                reason=decline_reason(latest_decline[row.ref].detail) if row.ref in latest_decline else "")
        for row in rows if row.ref in declined
    ]  # fmt: skip
    declines.sort(key=lambda d: (d.on, d.ref))

    audits = [
        AuditLine(ref=e.ref, title=titles.get(e.ref, ""), on=day,
                  outcome=OUTCOMES.get(e.kind.removeprefix("audit_"), e.kind))
        for e in events if e.kind.startswith("audit_") and year.holds(day := _day(e.at))
    ]  # fmt: skip
    outcome_refs: dict[str, list[str]] = defaultdict(list)
    for audit in audits:
        outcome_refs[audit.outcome].append(audit.ref)
    audit_outcomes = [
        figure(f"Audits that found the change {words}", outcome_refs[words]) for words in OUTCOMES.values()
    ]

    confirmed = {e.ref for e in events if e.kind.startswith("cascade_") and year.holds(_day(e.at))}
    cascades = stored_cascades(session=session, also=confirmed)
    parts = [part for ref in sorted(confirmed) if ref in cascades for part in cascades[ref].agencies]
    reach = reach_by_agency(parts)
    reach_figure = figure("Recommendations whose learning an agency confirmed reaching its staff", confirmed)

    measures = _measures(stored_measures(session=session), year)
    by_review: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.review_ref:
            by_review[row.review_ref].append(row)
    themed = themed_reviews(session=session)
    repeat_of = theme_repeats(session=session, reviews=themed)

    def findings(review: Review) -> ReviewFindings:
        found = [_finding(row, actions[row.ref], summaries.get(row.ref)) for row in by_review[review.review_ref]]
        return ReviewFindings(review=review, findings=found, repeats=[t.words() for t in repeat_of[review.review_ref]])

    sars = [rv for rv in reviews if rv.kind is SourceKind.sar]
    concluded = [findings(rv) for rv in sars if year.holds(rv.concluded_on)]
    ongoing = [findings(rv) for rv in sars if _ongoing(rv, year)]

    in_year = [rv for rv in reviews if _active(rv, year)]
    themes = _themes(in_year, themed, year, figure)
    repeats = [
        (rv.review_ref, rv.title, [t.words() for t in repeat_of[rv.review_ref]])
        for rv in in_year if repeat_of[rv.review_ref]
    ]  # fmt: skip
    return AnnualReport(
        partnership=partnership, year=year, generated_at=now, by_kind=by_kind, sars_concluded=concluded,
        sars_ongoing=ongoing, declines=declines, by_board=by_board, by_agency=by_agency, totals=totals,
        audits=sorted(audits, key=lambda x: (x.on, x.ref)), audit_outcomes=audit_outcomes, reach=reach,
        reach_figure=reach_figure, measures=measures, themes=themes, repeats=repeats, figures=figure.made,
    )  # fmt: skip


def _ongoing(review: Review, year: ReportYear) -> bool:
    began = _began(review)
    return began is not None and began <= year.last and (review.concluded_on is None or review.concluded_on > year.last)


def _active(review: Review, year: ReportYear) -> bool:
    """Whether the review belongs in the year's account: a milestone in it, or still going at its end."""
    return any(year.holds(day) for day in review.milestones().values()) or _ongoing(review, year)


def _reviews_by_kind(reviews: list[Review], year: ReportYear, figure: _Figures) -> list[KindRow]:
    rows = []
    for kind in SourceKind:
        of_kind = [rv for rv in reviews if rv.kind is kind]
        if not any(_active(rv, year) for rv in of_kind):
            continue
        name = SOURCE_KINDS[kind.value]

        def refs(test: Any, reviews: list[Review] = of_kind) -> list[str]:
            return [rv.review_ref for rv in reviews if test(rv)]

        rows.append(KindRow(
            kind=name,
            notified=figure(f"{name}: notified", refs(lambda rv: year.holds(rv.notified_on))),
            commissioned=figure(f"{name}: decided on or commissioned",
                                refs(lambda rv: year.holds(rv.decided_on) or year.holds(rv.commissioned_on))),
            concluded=figure(f"{name}: concluded", refs(lambda rv: year.holds(rv.concluded_on))),
            published=figure(f"{name}: published", refs(lambda rv: year.holds(rv.published_on))),
            ongoing=figure(f"{name}: ongoing at the year's end", refs(lambda rv: _ongoing(rv, year))),
        ))  # fmt: skip
    return rows


def _finding(row: Any, actions: list[Any], summary: Any) -> Finding:
    done = sum(a.status == "complete" for a in actions)
    stage = STAGES.get(row.stage, row.stage)
    if row.stage == Stage.assured:
        words = "Assured: an audit found the change embedded."
    elif row.stage == Stage.declined:
        words = "Declined by the sponsoring board (the reasons are under decisions not to implement)."
    elif actions:
        words = f"{done} of {len(actions)} action{'s' if len(actions) != 1 else ''} complete; {stage.lower()}."
    else:
        words = f"No actions agreed yet; {stage.lower()}."
    if summary is not None and summary.overdue and row.stage not in CLOSED_STAGES:
        words += " Overdue now."
    return Finding(ref=row.ref, title=row.title, stage=stage, actions_done=done, actions=len(actions), done=words)


def _measures(measures: dict[str, list[MeasureView]], year: ReportYear) -> list[MeasureLine]:
    lines = []
    for ref, views in sorted(measures.items()):
        for view in views:
            read = [reading for reading in view.readings if reading.on <= year.last]
            if not any(year.holds(reading.on) for reading in read):
                continue
            last = read[-1]
            lines.append(MeasureLine(
                ref=ref, name=view.name, unit=view.unit.value, baseline=view.baseline, latest=last.value,
                latest_on=last.on, target=view.target, target_by=view.target_by,
                on_track=MEASURE_TRACK.get(view.on_track, str(view.on_track)),
            ))  # fmt: skip
    return lines


def _themes(in_year: list[Review], themed: list[Any], year: ReportYear, figure: _Figures) -> list[ThemeLine]:
    # A review's themes with its recommendations' own: a review counts once for each.
    themes_of = {t.review_ref: t.themes for t in themed}
    named = {rv.review_ref: themes_of.get(rv.review_ref, frozenset(rv.themes)) for rv in in_year}
    counts: Counter[str] = Counter(theme for rv in in_year for theme in named[rv.review_ref])
    # Earlier: begun before the year and not itself of the year (a review concluded in the year
    # is counted in its first column, not again as its own precedent).
    of_year = {rv.review_ref for rv in in_year}
    lines = []
    for theme, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        earlier = sorted(
            (
                t
                for t in themed
                if theme in t.themes
                and t.began_on is not None
                and t.began_on < year.first
                and t.review_ref not in of_year
            ),
            key=lambda t: (t.began_on, t.review_ref),
        )
        lines.append(ThemeLine(
            theme=theme,
            reviews=figure(f"Reviews of the year naming {theme}",
                           [rv.review_ref for rv in in_year if theme in named[rv.review_ref]]),
            earlier=[t.review_ref for t in earlier],
            since_year=earlier[0].began_on.year if earlier else None,
        ))  # fmt: skip
    return lines


def year_of(day: date) -> ReportYear:
    """The reporting year ``day`` falls in."""
    start = day.year if day.month >= 4 else day.year - 1
    return ReportYear(first=date(start, 4, 1), last=date(start + 1, 3, 31))


def report_years(*, session: Session, today: date) -> list[ReportYear]:
    """The years the record reaches, newest first: from the earliest review milestone or source
    date to this one."""
    r = table_of(RecommendationRow).c
    days = [d for d in session.connection().execute(sa_select(r.source_date)).scalars()]
    days += [d for review in stored_reviews(session=session) for d in review.milestones().values()]
    earliest = year_of(min([*days, today]))
    years = [year_of(today)]
    while years[-1].first > earliest.first:
        years.append(year_of(date(years[-1].first.year - 1, 4, 1)))
    return years
