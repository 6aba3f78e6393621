"""The annual report's words and tables, written once from ``AnnualReport``, for both its forms.

``annual_blocks`` turns the year's figures into a list of blocks (headings, paragraphs, bullet
lists, tables); ``reports.annual`` draws those blocks as HTML (with print styles) and as a Word
file, so the two forms never say different things. A table cell may carry a figure: the HTML
links its count to the appendix, the Word file follows it with the figure's key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from models.measures import dated_figure, with_unit
from models.wording import uk_date
from reports.annual_data import AnnualReport, CountRow, Figure, ReviewFindings


@dataclass(frozen=True)
class Cell:
    text: str
    figure: str | None = None  # the key of the figure whose count this is ("F3")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


Block = Heading | Paragraph | Bullets | Table


def _count(figure: Figure) -> Cell:
    return Cell(str(figure.count), figure.key)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def annual_blocks(report: AnnualReport) -> list[Block]:
    year = report.year
    end = uk_date(year.last)
    blocks: list[Block] = [
        Heading(1, f"{report.partnership}: learning from reviews, {year.label}"),
        Paragraph(
            f"This section of the annual report covers 1 April {year.first.year} to {end}. Assure wrote it "
            f"from the partnership's record on {uk_date(report.generated_at)}. Each figure is the number of "
            "reviews or recommendations listed under its key (F1, F2, ...) in the appendix."
        ),
        Heading(2, "Reviews in the year"),
    ]
    if report.by_kind:
        blocks.append(Table(
            "Reviews by kind: the milestones reached in the year",
            ["Kind of review", "Notified", "Decided on or commissioned", "Concluded", "Published", f"Ongoing at {end}"],
            [[Cell(k.kind), _count(k.notified), _count(k.commissioned), _count(k.concluded), _count(k.published),
              _count(k.ongoing)] for k in report.by_kind],
        ))  # fmt: skip
    else:
        blocks.append(Paragraph("The record holds no review with a milestone in the year or going on at its end."))

    blocks += [
        Heading(2, "Safeguarding adults reviews concluded in the year"),
        Paragraph(
            "The Care Act 2014 (Schedule 2, paragraph 4) asks for the findings of each safeguarding adults review "
            "concluded in the year and what was done to implement them. Each review's milestones are those reached "
            f"by {end}; what was done is as the record stands on {uk_date(report.generated_at)}."
        ),
        *_findings(report.sars_concluded, "No safeguarding adults review concluded in the year.", year.last),
        Heading(2, f"Safeguarding adults reviews ongoing at {end}"),
        *_findings(report.sars_ongoing, f"No safeguarding adults review was going on at {end}.", year.last),
        Heading(2, "Decisions not to implement a recommendation"),
    ]
    if report.declines:
        blocks.append(Table(
            "Every recommendation a board decided in the year not to implement, with its reasons",
            ["Ref", "Recommendation", "Board", "Review", "Decided", "Reasons"],
            [[Cell(d.ref), Cell(d.title), Cell(d.board), Cell(d.review_ref or "Not recorded"), Cell(uk_date(d.on)),
              Cell(d.reason or "Not recorded: declined before Assure kept the reasons")] for d in report.declines],
        ))  # fmt: skip
    else:
        blocks.append(Paragraph("No board decided in the year not to implement a recommendation."))

    blocks += [
        Heading(2, "Recommendations in the year"),
        Paragraph(
            "Received: its review's report is dated in the year. Assured: an audit found the change embedded, in "
            "the year. Declined: its board decided in the year not to implement it. Open: received by the year's "
            "end and not closed by then. Overdue: an action, plan or decision fell overdue and was escalated in "
            "the year. A recommendation counts under each agency with an action of it."
        ),
        _count_table("By board", "Board", [*report.by_board, report.totals]),
        _count_table("By agency", "Agency", report.by_agency),
        Heading(2, "Audits"),
    ]
    if report.audits:
        outcomes = "; ".join(f"{f.label.removeprefix('Audits that found the change ')}: {f.count} ({f.key})"
                             for f in report.audit_outcomes)  # fmt: skip
        blocks += [
            Paragraph(f"{_plural(len(report.audits), 'audit')} recorded in the year. The change was {outcomes}."),
            Table("Audits recorded in the year", ["Date", "Ref", "Recommendation", "The change was"],
                  [[Cell(uk_date(a.on)), Cell(a.ref), Cell(a.title), Cell(a.outcome)] for a in report.audits]),
        ]  # fmt: skip
    else:
        blocks.append(Paragraph("No audit was recorded in the year."))

    blocks.append(Heading(2, "Learning reaching staff"))
    if report.reach:
        blocks += [
            Paragraph(
                f"Agencies confirmed the learning of {report.reach_figure.count} recommendation"
                f"{'s' if report.reach_figure.count != 1 else ''} ({report.reach_figure.key}) reached their staff. "
                "An agency that has not confirmed counts as none reached."
            ),
            Table("Staff the learning reached, by agency", ["Agency", "Staff reached", "Staff expected", "Reach"],
                  [[Cell(r.agency), Cell(str(r.reached)), Cell(str(r.expected)), Cell(f"{r.percent}%")]
                   for r in report.reach]),
        ]  # fmt: skip
    else:
        blocks.append(Paragraph("No agency confirmed a cascade of learning to its staff in the year."))

    blocks.append(Heading(2, "Impact measures"))
    if report.measures:
        blocks.append(Table(
            "Measures read in the year: the latest reading by the year's end, against the target",
            ["Ref", "Measure", "Baseline", "Latest reading", "Target", "Where it stands now"],
            [[Cell(m.ref), Cell(m.name), Cell(_value(m.baseline, m.unit)),
              Cell(dated_figure(m.latest, m.unit, "on", m.latest_on) or "None"),
              Cell(dated_figure(m.target, m.unit, "by", m.target_by) or "Not set"),
              Cell(m.on_track)] for m in report.measures],
        ))  # fmt: skip
    else:
        blocks.append(Paragraph("No impact measure was read in the year."))

    blocks.append(Heading(2, "Themes and repeats"))
    if report.themes:
        blocks.append(Table(
            "The themes the year's reviews name, and the reviews before the year that named them",
            ["Theme", "Reviews in the year", "Earlier reviews"],
            [[Cell(t.theme), _count(t.reviews),
              Cell(f"{len(t.earlier)} since {t.since_year}: {', '.join(t.earlier)}" if t.earlier else "None")]
             for t in report.themes],
        ))  # fmt: skip
        if report.repeats:
            blocks.append(Paragraph("The year's reviews that share a theme with reviews begun before them:"))
            blocks.append(Bullets([f"{ref} ({title}): {'; '.join(words)}." for ref, title, words in report.repeats]))
    else:
        blocks.append(Paragraph("The year's reviews name no themes."))

    blocks += [
        Heading(2, "Appendix: what each figure counts", anchor="appendix"),
        Table("Each figure's reviews or recommendations", ["Figure", "What it counts", "Count", "Refs"],
              [[Cell(f.key), Cell(f.label), Cell(str(f.count)), Cell(", ".join(f.refs) or "None")]
               for f in report.figures]),
    ]  # fmt: skip
    return blocks


def _findings(reviews: list[ReviewFindings], none: str, last: date) -> list[Block]:
    if not reviews:
        return [Paragraph(none)]
    blocks: list[Block] = []
    for item in reviews:
        review = item.review
        days = [f"{m.value} on {uk_date(d)}" for m, d in review.milestones().items() if d <= last]
        blocks.append(Heading(3, f"{review.review_ref}: {review.title}"))
        themes = f" Themes: {', '.join(review.themes)}." if review.themes else ""
        blocks.append(Paragraph(f"{review.board}; {', '.join(days) or 'no milestone recorded'}.{themes}"))
        if item.repeats:
            blocks.append(Bullets([f"{words}." for words in item.repeats]))
        if item.findings:
            blocks.append(Table(
                f"The findings of {review.review_ref} and what was done to implement them",
                ["Ref", "Finding (recommendation)", "What was done"],
                [[Cell(f.ref), Cell(f.title), Cell(f.done)] for f in item.findings],
            ))  # fmt: skip
        else:
            blocks.append(Paragraph("No recommendation of this review is recorded yet."))
    return blocks


def _count_table(caption: str, name: str, rows: list[CountRow]) -> Table:
    columns = [name, "Received", "Assured", "Declined", "Open at the year's end", "Overdue in the year"]
    return Table(
        caption,
        columns,
        [[Cell(r.name), _count(r.received), _count(r.assured), _count(r.declined), _count(r.open), _count(r.overdue)]
         for r in rows],
    )  # fmt: skip


def _value(value: float | None, unit: str) -> str:
    return with_unit(value, unit) or "Not recorded"
