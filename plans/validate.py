"""Check a plan file's sheets completely, and turn them into what would be started.

Every problem is collected, none stops the check early, so one run lists everything to fix.
Field rules come from the payload types the workflow itself uses; the cross-sheet rules (an
unknown board, an owner not in People, a date in the wrong order) are here. What a plan still
lacks (a gap) is not a problem of the file: the workflow reports it to the people who must fill
it, unless the file says the Assurance Board already signed the plan off, which it cannot have.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.addresses import AddressError, check_address
from models.cycles import Cycle
from models.days import day_problem
from models.figures import FigureError, parse_figure
from models.lifecycle import ABSURD_REACH_FACTOR
from models.measure_decisions import measure_spec_problem
from models.measures import reading_problem
from models.payloads import (
    MAX_MEASURES,
    ActionSpec,
    ActionStatus,
    AuditPlan,
    CascadeStep,
    Direction,
    DisseminationPlan,
    EscalationPolicy,
    ImportedAction,
    ImportedCascade,
    ImportedProgress,
    ImportedReading,
    MeasureSpec,
    MeasureUnit,
    Recommendation,
    RecommendationInput,
    SourceKind,
)
from models.people import cascade_step_problems, person_problem
from models.review_clocks import MILESTONE_ORDER
from models.reviews import Review, derived_review_ref
from models.rules import sign_off_gaps
from models.themes import unknown_themes, vocabulary
from models.vocabulary import SOURCE_KINDS, source_kind_value
from plans.cycle_sheets import check_cycles
from plans.sheets import (
    CSV_ACTION_COLUMNS,
    CSV_RECOMMENDATION_COLUMNS,
    CSV_SHEET,
    REGISTRY_SHEETS,
    SHEETS,
    SOURCE_COLUMNS,
    Cell,
    Problem,
    Sheet,
    cell_text,
)
from store.read_model import RegistryError, registry_context
from store.tables import Agency, Board, Person

KNOWN_ROLES = ("owner", "agency_lead", "assurance_member", "auditor", "admin")
BOARD_ROLES = ("board_sponsor", "board_chair")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Excel's serial day numbers: 1 is 1 January 1900; 2958465 is 31 December 9999.
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_SERIAL = 2958465
LIST_SEPARATOR = ";"
_WHOLE = re.compile(r"^[+-]?\d{1,9}$")
# The words people write for a measure's unit and direction, read in any case; the payload's value first.
UNIT_WORDS: dict[MeasureUnit, tuple[str, ...]] = {
    MeasureUnit.percent: ("percent", "%", "per cent", "percentage"),
    MeasureUnit.count_: ("count", "number"),
    MeasureUnit.days: ("days", "day"),
    MeasureUnit.rate: ("rate",),
}
DIRECTION_WORDS: dict[Direction, tuple[str, ...]] = {
    Direction.up: ("up", "increase", "higher"),
    Direction.down: ("down", "decrease", "lower"),
}
UNIT_CHOICES = "percent (or %), count, days or rate"
DIRECTION_CHOICES = "up or down"
# Readings a recommendation may bring in: the start payload's own limit.
MAX_READINGS: int = next(
    m.max_length for m in RecommendationInput.model_fields["readings"].metadata if hasattr(m, "max_length")
)
# Stands in for a reporter already reported as bad, so that the row's other cells are still
# checked by the payload without the address being reported a second time.
_STAND_IN_ADDRESS = "stand-in@example.org"
# Agencies a plan's cascade may name: the payload's own limit, said at the row past it.
MAX_CASCADE: int = next(
    m.max_length for m in DisseminationPlan.model_fields["cascade"].metadata if hasattr(m, "max_length")
)
# A review's milestone columns, in the order they come (``notified_on`` ... ``published_on``).
MILESTONE_COLUMNS = tuple(f"{milestone.value}_on" for milestone in MILESTONE_ORDER)
# The longest source_title a recommendation holds: a review's title taken as one must fit.
MAX_SOURCE_TITLE: int = next(
    m.max_length for m in Recommendation.model_fields["source_title"].metadata if hasattr(m, "max_length")
)
M = TypeVar("M", bound=BaseModel)


@dataclass
class PlannedRecommendation:
    """One recommendation as the file gives it, ready to start."""

    start: RecommendationInput
    sheet: str
    row: int


@dataclass
class Plan:
    agencies: list[Agency] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    boards: list[Board] = field(default_factory=list)
    recommendations: list[PlannedRecommendation] = field(default_factory=list)
    # The reviews to write: the Reviews sheet's and one per source named alone, less any the store
    # holds already exactly as they are (so a re-import writes none).
    reviews: list[Review] = field(default_factory=list)
    # The cycles to write: the Cycles sheet's, each whole with its standards, less any the store
    # holds already exactly as they are (so a re-import writes none).
    cycles: list[Cycle] = field(default_factory=list)


@dataclass
class _Registry:
    """What a cascade is checked against: the file's registry with the store's beside it (the
    import adds the file's to the store, so both are registered when the workflow starts)."""

    agencies: list[str]
    agency_of: dict[str, str]
    leads: dict[str, str]


@dataclass
class _Reviews:
    """The reviews a plan's recommendations may name, by ref in any case: the Reviews sheet's,
    the store's, and those made for recommendations that name only their source."""

    given: dict[str, Review] = field(default_factory=dict)
    stored: dict[str, Review] = field(default_factory=dict)
    derived: dict[str, Review] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)  # every ref the sheet names, its refused rows' too

    def find(self, ref: str) -> Review | None:
        key = ref.casefold()
        for known in (self.given, self.derived, self.stored):
            if key in known:
                return known[key]
        return None

    def derive(self, recommendation: Recommendation) -> Review:
        """The review of a recommendation that names only its source: the one known by the ref
        that source works out to, else a new one (sponsored by the recommendation's board,
        concluded on the source's date)."""
        rec = recommendation
        ref = derived_review_ref(rec.source_kind, rec.source_title, rec.source_date)
        known = self.find(ref)
        if known is not None:
            return known
        review = Review(review_ref=ref, kind=rec.source_kind, title=rec.source_title, board=rec.board,
                        concluded_on=rec.source_date)  # fmt: skip
        self.derived[ref.casefold()] = review
        return review

    def to_write(self) -> list[Review]:
        """The sheet's and the new derived reviews, less those stored already as they are."""
        reviews = [*self.given.values(), *self.derived.values()]
        return [review for review in reviews if self.stored.get(review.review_ref.casefold()) != review]


@dataclass
class _CascadeRow:
    """One agency of a recommendation's cascade, and the confirmation it made before the import."""

    row: int
    step: CascadeStep | None  # None: refused for problems of its own
    done: ImportedCascade | None
    confirms: bool  # ``reached`` is filled in, whether or not the confirmation stood up
    clean: bool  # read without a problem


@dataclass
class _MeasureRow:
    """One impact measure of a recommendation as the Measures sheet gives it."""

    row: int
    measure_id: str  # as the row spells it
    spec: MeasureSpec | None  # None: refused for problems of its own
    clean: bool  # read without a problem


@dataclass
class _GivenPlans:
    """A Plans row as checked: the two plans and whether the board already signed them off."""

    row: int
    dissemination: DisseminationPlan
    audit: AuditPlan
    signed_off_on: date | None
    sign_off_given: bool  # the cell is filled in (a date that is no date is reported where it is)
    clean: bool  # read without a problem


@dataclass
class _Check:
    """Collects problems while the sheets are read."""

    problems: list[Problem] = field(default_factory=list)
    shift: timedelta = timedelta(0)

    def add(self, sheet: str, row: int, column: str, reason: str) -> None:
        self.problems.append(Problem(sheet, row, column, reason))

    def text(self, row: dict[str, Cell], column: str) -> str:
        return cell_text(row.get(column))

    def date(self, sheet: str, number: int, row: dict[str, Cell], column: str, *, required: bool) -> date | None:
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(sheet, number, column, "is required")
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.add(sheet, number, column, f"{str(value)[:40]!r} is not a date (use 2023-04-01 or 01/04/2023)")
            return None
        # The date rule (models.days) before the shift, which could not move 31/12/9999, and after.
        problem = day_problem(parsed)
        if problem is None:
            parsed += self.shift
            problem = day_problem(parsed)
        if problem:
            self.add(sheet, number, column, problem)
            return None
        return parsed

    def whole(self, sheet: str, number: int, row: dict[str, Cell], column: str, *, percent: bool = False) -> int | None:
        """The whole number in ``column``, or None when it is blank or not one (reported); with
        ``percent``, a trailing % is allowed (``80%``)."""
        value = row.get(column)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = self.text(row, column)
        if not text:
            return None
        number_text = text.removesuffix("%").strip() if percent else text
        if isinstance(value, bool) or not _WHOLE.match(number_text):
            self.add(sheet, number, column, f"{text[:40]!r} is not a whole number")
            return None
        return int(number_text)

    def figure(self, sheet: str, number: int, row: dict[str, Cell], column: str, *, percent: bool) -> float | None:
        """The number in ``column`` (12, 12.5, 1,200; with ``percent``, 12% too), or None when it is
        blank or not a number (reported). Its range is the measure's unit's rule, not this."""
        value = row.get(column)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        text = self.text(row, column)
        if not text:
            return None
        if isinstance(value, bool):
            self.add(sheet, number, column, f"{text[:40]!r} is not a number")
            return None
        try:
            return parse_figure(text, percent_sign=percent)
        except FigureError as exc:
            self.add(sheet, number, column, str(exc))
            return None

    def word(self, sheet: str, number: int, row: dict[str, Cell], column: str, words: dict[Any, tuple[str, ...]],
             choices: str) -> Any:  # fmt: skip
        """The value whose words (``UNIT_WORDS``, ``DIRECTION_WORDS``) include the cell's, in any
        case; None when blank (the required check says so) or not one of them (reported)."""
        text = self.text(row, column)
        if not text:
            return None
        found = next((value for value, names in words.items() if " ".join(text.casefold().split()) in names), None)
        if found is None:
            self.add(sheet, number, column, f"{text[:40]!r} is not a {column}: use {choices}")
        return found

    def address(self, sheet: str, number: int, row: dict[str, Cell], column: str) -> str | None:
        """The address in ``column`` by the one address rule (models.addresses), or None (reported)."""
        try:
            return check_address(self.text(row, column))
        except AddressError as exc:
            self.add(sheet, number, column, str(exc))
            return None

    def required(self, sheet: str, number: int, row: dict[str, Cell], columns: tuple[str, ...]) -> bool:
        missing = [c for c in columns if not self.text(row, c)]
        for column in missing:
            self.add(sheet, number, column, "is required")
        return not missing

    def rows_of_recommendations(
        self, sheet: Sheet | None, name: str, named
    ) -> Iterator[tuple[int, dict[str, Cell], str]]:
        """Each row of ``sheet`` with its required cells and a ``ref`` in Recommendations, with that
        ref; the others are reported (a sheet about recommendations, such as Cascade or Measures)."""
        for number, row in sheet.rows if sheet else []:
            if not self.required(name, number, row, SHEETS[name][0]):
                continue
            ref = self.text(row, "ref")
            if ref.casefold() not in named:
                self.add(name, number, "ref", f"no recommendation {ref!r} in Recommendations")
                continue
            yield number, row, ref

    def model(self, sheet: str, number: int, model: type[M], data: dict[str, Any], columns: dict[str, str]) -> M | None:
        """``model`` from ``data``, or None with each field's problem under its column."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                column = columns.get(name, name)
                self.add(sheet, number, column, error["msg"].removeprefix("Value error, "))
            return None


def parse_date(value: Cell) -> date | None:
    """A date from what spreadsheets hold: a date, an Excel serial, ISO ``2023-04-01`` or UK ``1/4/2023``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _EXCEL_EPOCH + timedelta(days=int(value)) if 1 <= value <= _MAX_SERIAL else None
    text = str(value).strip()
    found = _UK_DATE.match(text)
    try:
        if found:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        if text.isdigit():
            return parse_date(int(text))
        if not _ISO_DAY.match(text):
            return None
        # A date with a time (a spreadsheet's export) must be a real time too: 2024-01-01T25:99 is
        # no date, not 1 January.
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        return None


def check_plan(
    sheets: dict[str, Sheet],
    *,
    stored: tuple[list[Agency], list[Person], list[Board]] = ([], [], []),
    reviews: Sequence[Review] = (),
    cycles: Sequence[Cycle] = (),
    today: date,
    shift: timedelta = timedelta(0),
) -> tuple[Plan, list[Problem]]:
    """The plan in ``sheets`` and every problem found; only a plan without problems may be used.

    The registry sheets of the file, where given, take the place of the stored registry (a CSV
    has none: it uses ``stored``). ``reviews`` are the store's: a recommendation may name one,
    and one given again in the Reviews sheet is updated. ``cycles`` are the store's too: one
    given again in the Cycles sheet is replaced whole.
    """
    check = _Check(shift=shift)
    if CSV_SHEET in sheets:
        sheets = _split_csv(sheets[CSV_SHEET], check)
    _missing_columns(sheets, check)
    plan = Plan()
    plan.agencies = _agencies(sheets.get("Agencies"), check) if "Agencies" in sheets else list(stored[0])
    plan.people = _people(sheets.get("People"), check) if "People" in sheets else list(stored[1])
    plan.boards = _boards(sheets.get("Boards"), check) if "Boards" in sheets else list(stored[2])
    _registry_links(plan, sheets, check)
    book = _reviews(sheets.get("Reviews"), _known_boards(plan, sheets, stored), reviews, check, today)
    plan.recommendations = _recommendations(sheets, plan, check, today, _cascade_registry(plan, stored), book)
    plan.reviews = book.to_write()
    plan.cycles, problems = check_cycles(
        sheets,
        boards=_known_boards(plan, sheets, stored),
        agencies=_known_names(sheets, "Agencies", [a.name for a in [*stored[0], *plan.agencies]]),
        stored=cycles,
    )
    check.problems.extend(problems)
    # One rule for every way in (CLI, API): no recommendation or cycle rows, whether the sheets
    # are missing or empty, is nothing to import, not a silent success. Cycles alone are a plan.
    if not any(sheets.get(name) and sheets[name].rows for name in ("Recommendations", "Cycles")):
        check.add("Recommendations", 0, "", "the file has no recommendations or cycles, so there is nothing to import")
    return plan, sorted(set(check.problems), key=_order)


def _order(problem: Problem) -> tuple:
    sheets = [*SHEETS, CSV_SHEET]
    rank = sheets.index(problem.sheet) if problem.sheet in sheets else -1
    return (rank, problem.row, problem.column, problem.reason)


def _missing_columns(sheets: dict[str, Sheet], check: _Check) -> None:
    for name, sheet in sheets.items():
        for column in _required_columns(name, sheet):
            if sheet.rows and column not in sheet.columns:
                check.add(sheet.name, 1, column, "this required column is missing")


def _required_columns(name: str, sheet: Sheet) -> tuple[str, ...]:
    """The sheet's required columns; a Recommendations sheet without review_ref names each
    recommendation's source in its own columns, so those are required too."""
    required = SHEETS[name][0]
    if name == "Recommendations" and "review_ref" not in sheet.columns:
        return (*required, *SOURCE_COLUMNS)
    return required


def _split_csv(sheet: Sheet, check: _Check) -> dict[str, Sheet]:
    """A CSV's rows as the Recommendations and Actions sheets (row numbers kept)."""
    # Named "CSV" so that problems point at the CSV's own rows.
    recommendations = Sheet(CSV_SHEET, list(CSV_RECOMMENDATION_COLUMNS))
    actions = Sheet(CSV_SHEET, ["recommendation_ref", *CSV_ACTION_COLUMNS])
    first: dict[str, dict[str, Cell]] = {}
    for number, row in sheet.rows:
        ref = check.text(row, "ref")
        rec = {c: row.get(c) for c in CSV_RECOMMENDATION_COLUMNS}
        if ref in first:
            for column in CSV_RECOMMENDATION_COLUMNS:
                if check.text(rec, column) != check.text(first[ref], column):
                    check.add(CSV_SHEET, number, column, f"differs from the first row of {ref}")
        else:
            first[ref] = rec
            recommendations.rows.append((number, rec))
        if any(check.text(row, c) for c in CSV_ACTION_COLUMNS):
            actions.rows.append((number, {"recommendation_ref": ref, **{c: row.get(c) for c in CSV_ACTION_COLUMNS}}))
    action_columns = [c for c in SHEETS["Actions"][0] if c != "recommendation_ref"]
    for column in dict.fromkeys([*_required_columns("Recommendations", sheet), *action_columns]):
        if sheet.rows and column not in sheet.columns:
            check.add(CSV_SHEET, 1, column, "this required column is missing")
    return {"Recommendations": recommendations, "Actions": actions}


def _unique(check: _Check, sheet: str, seen: dict[str, int], key: str, number: int, column: str, what: str) -> bool:
    folded = key.casefold()
    if folded in seen:
        check.add(sheet, number, column, f"{what} {key!r} is already on row {seen[folded]}")
        return False
    seen[folded] = number
    return True


def check_registry(sheets: dict[str, Sheet]) -> tuple[list[Agency], list[Person], list[Board], list[Problem]]:
    """The registry of ``sheets`` (its Agencies, People and Boards, each whole) and every problem
    found, by the import's own rules: a registry edit made without a workbook
    (``store.registry_edits``) is checked by these too, so one rule is one rule."""
    check = _Check()
    _missing_columns(sheets, check)
    plan = Plan()
    plan.agencies = _agencies(sheets.get("Agencies"), check)
    plan.people = _people(sheets.get("People"), check)
    plan.boards = _boards(sheets.get("Boards"), check)
    _registry_links(plan, sheets, check)
    return plan.agencies, plan.people, plan.boards, sorted(set(check.problems), key=_order)


def _agencies(sheet: Sheet | None, check: _Check) -> list[Agency]:
    rows: list[Agency] = []
    seen: dict[str, int] = {}
    for number, row in sheet.rows if sheet else []:
        name = check.text(row, "name")
        if not check.required("Agencies", number, row, ("name",)):
            continue
        lead = None
        if check.text(row, "safeguarding_lead_email"):
            lead = check.address("Agencies", number, row, "safeguarding_lead_email")
        if _unique(check, "Agencies", seen, name, number, "name", "agency"):
            rows.append(
                Agency(name=name[:100], short_name=check.text(row, "short_name")[:30], safeguarding_lead_email=lead)
            )
    return rows


def _people(sheet: Sheet | None, check: _Check) -> list[Person]:
    rows: list[Person] = []
    seen: dict[str, int] = {}
    for number, row in sheet.rows if sheet else []:
        if not check.required("People", number, row, ("email",)):
            continue
        email = check.address("People", number, row, "email")
        if email is None:
            continue
        roles = [r.strip() for r in check.text(row, "roles").split(",") if r.strip()]
        for role in roles:
            kind, _, board = role.partition(":")
            if kind in BOARD_ROLES and board.strip():
                continue
            if kind in BOARD_ROLES:
                check.add("People", number, "roles", f"{role!r} needs a board, like {kind}:Adults Board")
            elif role not in KNOWN_ROLES:
                check.add("People", number, "roles", f"unknown role {role!r}")
        if _unique(check, "People", seen, email, number, "email", "the address"):
            rows.append(
                Person(email=email, name=check.text(row, "name")[:200], agency=check.text(row, "agency")[:100],
                       roles=",".join(roles))
            )  # fmt: skip
    return rows


def _boards(sheet: Sheet | None, check: _Check) -> list[Board]:
    rows: list[Board] = []
    seen: dict[str, int] = {}
    for number, row in sheet.rows if sheet else []:
        if not check.required("Boards", number, row, ("name", "sponsor_email")):
            continue
        name = check.text(row, "name")
        policy_data: dict[str, Any] = {}
        for column in ("acknowledge_within", "remind_before_due", "agency_lead_after", "board_after",
                       "assurance_after", "progress_every"):  # fmt: skip
            if check.text(row, column):
                policy_data[column] = check.text(row, column)
        working = check.text(row, "working_days").lower()
        if working not in {"", "yes", "no", "true", "false", "y", "n", "1", "0"}:
            check.add("Boards", number, "working_days", f"{working!r} must be yes or no")
        policy_data["working_days"] = working in {"yes", "true", "y", "1"}
        policy = check.model("Boards", number, EscalationPolicy, policy_data, {})
        if policy is None:
            continue
        if _unique(check, "Boards", seen, name, number, "name", "board"):
            rows.append(
                Board(
                    name=name[:100],
                    sponsor_agency=check.text(row, "sponsor_agency")[:100],
                    chair_email=check.text(row, "chair_email").lower() or None,
                    sponsor_email=check.text(row, "sponsor_email").lower() or None,
                    **policy.model_dump(),
                )
            )
    return rows


def _registry_links(plan: Plan, sheets: dict[str, Sheet], check: _Check) -> None:
    """Board people in People, people's agencies and board roles known, one Assurance Board member."""
    emails = {p.email for p in plan.people}
    agencies = {a.name.casefold() for a in plan.agencies}
    boards = {b.name.casefold() for b in plan.boards}
    named_boards = {str(row.get("name") or "").strip().casefold() for _, row in _rows(sheets, "Boards")}
    board_rows = {number: row for number, row in sheets["Boards"].rows} if "Boards" in sheets else {}
    people_rows = dict(sheets["People"].rows) if "People" in sheets else {}
    for number, row in board_rows.items():
        for column in ("sponsor_email", "chair_email"):
            email = check.text(row, column).lower()
            if email and email not in emails:
                check.add("Boards", number, column, f"{email} is not in People")
        agency = check.text(row, "sponsor_agency")
        if agency and agency.casefold() not in agencies:
            check.add("Boards", number, "sponsor_agency", f"unknown agency {agency!r}")
    for number, row in people_rows.items():
        agency = check.text(row, "agency")
        if agency and agency.casefold() not in agencies:
            check.add("People", number, "agency", f"unknown agency {agency!r}")
        for role in check.text(row, "roles").split(","):
            kind, _, board = role.strip().partition(":")
            if kind in BOARD_ROLES and board.strip() and board.strip().casefold() not in boards | named_boards:
                check.add("People", number, "roles", f"unknown board {board.strip()!r}")
    if "People" in sheets and not any("assurance_member" in p.role_list() for p in plan.people):
        check.add("People", 0, "roles", "nobody has the role assurance_member: the Assurance Board needs members")


def _cascade_registry(plan: Plan, stored: tuple[list[Agency], list[Person], list[Board]]) -> _Registry:
    """The file's agencies and people, over the store's where the names are the same."""
    agencies = {a.name.casefold(): a for a in [*stored[0], *plan.agencies]}
    people = {p.email.lower(): p for p in [*stored[1], *plan.people]}
    return _Registry(
        agencies=[a.name for a in agencies.values()],
        agency_of={email: p.agency for email, p in people.items()},
        leads={a.name: a.safeguarding_lead_email for a in agencies.values() if a.safeguarding_lead_email},
    )


# --- reviews --------------------------------------------------------------------------------


def _known_boards(
    plan: Plan, sheets: dict[str, Sheet], stored: tuple[list[Agency], list[Person], list[Board]]
) -> dict[str, str]:
    """The boards a review or a cycle may name (``_known_names``)."""
    return _known_names(sheets, "Boards", [board.name for board in [*stored[2], *plan.boards]])


def _known_names(sheets: dict[str, Sheet], sheet: str, registered: Sequence[str]) -> dict[str, str]:
    """The boards or agencies a row may name, by name in any case, each spelt as the registry
    spells it: the file's and the store's (the import adds the file's to the store), and those the
    file's ``sheet`` names but refused for problems of their own (not reported again as unknown)."""
    refused = {name: name for name in _named(sheets, sheet, "name")}
    return refused | {name.casefold(): name for name in registered}


def _named(sheets: dict[str, Sheet], sheet: str, column: str) -> set[str]:
    """Every value of ``column`` in ``sheet``, trimmed and case-folded, blank ones left out."""
    return {str(row.get(column) or "").strip().casefold() for _, row in _rows(sheets, sheet)} - {""}


def _reviews(
    sheet: Sheet | None, boards: dict[str, str], stored: Sequence[Review], check: _Check, today: date
) -> _Reviews:
    """The Reviews sheet's reviews, each by the ``Review`` payload's rules (a milestone before
    the one it follows, a theme named twice) with its board known and its ref used once."""
    book = _Reviews(stored={review.review_ref.casefold(): review for review in stored})
    seen: dict[str, int] = {}
    for number, row in sheet.rows if sheet else []:
        ref = check.text(row, "review_ref")
        book.named.add(ref.casefold())
        if not check.required("Reviews", number, row, SHEETS["Reviews"][0]):
            continue
        if not _unique(check, "Reviews", seen, ref, number, "review_ref", "the review"):
            continue
        review = _review(check, number, row, boards, book.stored.get(ref.casefold()), today)
        if review is not None:
            book.given[ref.casefold()] = review
    book.named.discard("")
    return book


def _review(
    check: _Check, number: int, row: dict[str, Cell], boards: dict[str, str], stored: Review | None, today: date
) -> Review | None:
    """One Reviews row as a ``Review``, or None with each problem under its column."""
    where = "Reviews"
    mark = len(check.problems)
    ref, board = check.text(row, "review_ref"), check.text(row, "board")
    days = {column: check.date(where, number, row, column, required=False) for column in MILESTONE_COLUMNS}
    for column, day in days.items():
        if day and day > today:
            check.add(where, number, column, f"{day} is in the future: a milestone is given once it is reached")
    if board.casefold() not in boards:
        check.add(where, number, "board", f"unknown board {board!r}")
    if stored is not None and stored.review_ref != ref:
        # One row per review in the store, whose ref is spelt one way.
        check.add(where, number, "review_ref", f"{ref!r} is the review {stored.review_ref} in Assure: spell it so")
    data = {"review_ref": ref, "kind": check.text(row, "kind"), "title": check.text(row, "title"),
            "board": boards.get(board.casefold(), board), **days,
            "themes": _items(check.text(row, "themes"))}  # fmt: skip
    try:
        review = Review.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            check.add(where, number, *_review_problem(error))
        return None
    return review if len(check.problems) == mark else None


def _review_problem(error: Any) -> tuple[str, str]:
    """The column and the reason of one of ``Review``'s refusals: a field's under its own column,
    milestones out of order under the later one (the reason names both)."""
    reason = str(error["msg"]).removeprefix("Value error, ")
    if error["loc"]:
        return str(error["loc"][0]), reason
    first = reason.split(" ", 1)[0]
    return (first if first in MILESTONE_COLUMNS else ""), reason


def _unknown_themes_reason(unknown: list[str]) -> str:
    """Why a recommendation's theme is refused, and how to bring it into the vocabulary."""
    names = ", ".join(repr(t) for t in unknown)
    return (f"{names} not in the partnership's themes: use one of its priorities or a theme a review "
            "names (Reviews sheet, themes column)")  # fmt: skip


def _source(
    check: _Check, where: str, number: int, row: dict[str, Cell], book: _Reviews, today: date
) -> tuple[Review | None, dict[str, Any] | None]:
    """The review a Recommendations row names (None for a row naming its source alone, whose
    source cells are all given), and its source cells, each left blank taken from that review:
    kind, title, and the day of its latest milestone. None for the cells when they cannot be had
    (reported)."""
    ref = check.text(row, "review_ref")
    review = book.find(ref) if ref else None
    if ref and review is None:
        if ref.casefold() not in book.named:  # a review refused for problems of its own is reported there
            check.add(where, number, "review_ref", f"no review {ref!r} in Reviews or in Assure")
        return None, None
    kind, title = check.text(row, "source_kind"), check.text(row, "source_title")
    on = check.date(where, number, row, "source_date", required=False)
    if on and on > today:
        check.add(where, number, "source_date", f"{on} is in the future")
    if review is not None:
        if not _agrees(check, where, number, kind, review):
            return review, None
        kind, title = kind or review.kind.value, title or _title_of(check, where, number, review)
        if not check.text(row, "source_date"):
            on = _latest_day(check, where, number, review)
    if not (title and on):
        return review, None  # reported
    return review, {"source_kind": kind, "source_title": title, "source_date": on}


def _agrees(check: _Check, where: str, number: int, kind: str, review: Review) -> bool:
    """Whether a source_kind given beside a review_ref names the review's kind (a kind that is
    no kind at all is the payload's to refuse)."""
    named = _kind_named(kind) if kind else None
    if named is None or named is review.kind:
        return True
    full = SOURCE_KINDS[review.kind.value][0]
    reason = f"{kind!r} is not the kind of the review {review.review_ref}, a {full}: leave it blank for the review's"
    check.add(where, number, "source_kind", reason)
    return False


def _title_of(check: _Check, where: str, number: int, review: Review) -> str:
    """The review's title as the recommendation's source_title, or "" when too long for one (reported)."""
    if len(review.title) <= MAX_SOURCE_TITLE:
        return review.title
    reason = f"the review's title is longer than {MAX_SOURCE_TITLE} characters: give a shorter one here"
    check.add(where, number, "source_title", reason)
    return ""


def _latest_day(check: _Check, where: str, number: int, review: Review) -> date | None:
    """The day of the review's latest milestone, the recommendation's source_date; None when it
    has none yet (reported)."""
    days = list(review.milestones().values())
    if not days:
        reason = f"the review {review.review_ref} has no milestone dates yet: give its date here or in Reviews"
        check.add(where, number, "source_date", reason)
        return None
    return days[-1]


def _kind_named(text: str) -> SourceKind | None:
    """The kind ``text`` names (``SAR``, ``Rapid review``), or None (the payload refuses it)."""
    value = source_kind_value(text)
    return SourceKind(value) if isinstance(value, str) and value in set(SourceKind) else None


def _recommendations(
    sheets: dict[str, Sheet], plan: Plan, check: _Check, today: date, registry: _Registry, book: _Reviews
) -> list[PlannedRecommendation]:
    boards = {b.name.casefold(): b for b in plan.boards}
    # Boards named in the file but refused for problems of their own: not reported again as unknown.
    named_boards = {str(row.get("name") or "").strip().casefold() for _, row in _rows(sheets, "Boards")}
    # Who may be named for what: one rule with the decisions' (models/people.py).
    roles = {p.email.lower(): p.role_list() for p in plan.people}
    agencies = {a.name.casefold(): a.name for a in plan.agencies}
    planned: dict[str, PlannedRecommendation] = {}
    seen: dict[str, int] = {}
    rec_sheet = sheets.get("Recommendations") or Sheet("Recommendations")
    # A recommendation's themes are the partnership's: its priorities and those its reviews name.
    known_themes = vocabulary(t for review in [*book.given.values(), *book.stored.values()] for t in review.themes)
    for number, row in rec_sheet.rows:
        where = rec_sheet.name
        # A row without a review names its source: those cells are required too, reported with the others.
        named_alone = () if check.text(row, "review_ref") else SOURCE_COLUMNS
        if not check.required(where, number, row, (*SHEETS["Recommendations"][0], *named_alone)):
            continue
        ref = check.text(row, "ref")
        if not _unique(check, where, seen, ref, number, "ref", "the ref"):
            continue
        review, source = _source(check, where, number, row, book, today)
        board = boards.get(check.text(row, "board").casefold())
        if board is None and check.text(row, "board").casefold() not in named_boards:
            check.add(where, number, "board", f"unknown board {check.text(row, 'board')!r}")
        if board is None or source is None:
            continue  # already reported; the model would only say it again
        data: dict[str, Any] = {c: check.text(row, c) for c in ("ref", "title", "board")}
        data.update(source, priority=check.text(row, "priority").lower() or "medium",
                    review_ref=review.review_ref if review else None,
                    themes=_items(check.text(row, "themes")))  # fmt: skip
        recommendation = check.model(where, number, Recommendation, data, {})
        if recommendation is None:
            continue
        unknown = unknown_themes(recommendation.themes, known_themes)
        if unknown:
            check.add(where, number, "themes", _unknown_themes_reason(unknown))
            continue
        if review is None:
            # A plan written before reviews were records: its source is its review.
            recommendation = recommendation.model_copy(update={"review_ref": book.derive(recommendation).review_ref})
        try:
            policy, parties = registry_context(board, plan.people, plan.agencies)
        except RegistryError as exc:
            # Said already, row by row, unless the registry came from the store.
            if not any(p.sheet in REGISTRY_SHEETS for p in check.problems):
                check.add("Boards", 0, "", str(exc))
            continue
        start = RecommendationInput(recommendation=recommendation, policy=policy, parties=parties)
        planned[ref.casefold()] = PlannedRecommendation(start=start, sheet=where, row=number)
    named = {check.text(row, "ref").casefold() for _, row in rec_sheet.rows}
    actions_by_ref = _actions(sheets.get("Actions"), planned, named, roles, agencies, check, today)
    with_plans = {check.text(row, "ref").casefold() for _, row in _rows(sheets, "Plans")}
    cascades = _cascades(sheets.get("Cascade"), planned, named, with_plans, registry, check, today)
    measures = _measures(sheets.get("Measures"), named, roles, check, today)
    readings = _readings(sheets.get("Readings"), named, measures, roles, check, today)
    plans_by_ref = _plans(sheets.get("Plans"), planned, named, roles, cascades, measures, check, today)
    for key, item in planned.items():
        specs, progress = actions_by_ref.get(key, ([], []))
        given = plans_by_ref.get(key)
        if given is not None and (not specs or any(p.status is not ActionStatus.complete for p in progress)):
            check.add("Plans", 0, "ref", f"{item.start.recommendation.ref} has plans but not every action is complete")
        cascade = cascades.get(key, [])
        its_measures = list(measures.get(key, {}).values())
        _check_sign_off(item.start.recommendation.ref, given, cascade, its_measures, registry, check)
        imported = None
        if specs:
            imported = ImportedProgress(
                actions=progress,
                dissemination=given.dissemination if given else None,
                audit=given.audit if given else None,
                signed_off_on=given.signed_off_on if given else None,
                cascade=[c.done for c in cascade if c.done is not None],
            )
        # The workflow judges the plans by the leads it is given: the same registry as checked here.
        parties = item.start.parties.model_copy(update={"agency_leads": registry.leads})
        update = {"actions": specs, "imported": imported, "parties": parties,
                  "measures": [m.spec for m in its_measures if m.spec is not None],
                  "readings": readings.get(key, [])}  # fmt: skip
        item.start = item.start.model_copy(update=update)
    return list(planned.values())


def _check_sign_off(
    ref: str,
    given: _GivenPlans | None,
    cascade: list[_CascadeRow],
    measures: list[_MeasureRow],
    registry: _Registry,
    check: _Check,
) -> None:
    """A sign-off the file claims needs plans the Assurance Board could have signed off (with the
    recommendation's measures); a confirmation the file holds needs that sign-off."""
    if given is None:
        return  # plans refused for problems of their own, or none (each cascade row is refused then)
    if given.signed_off_on is not None:
        if not (given.clean and all(c.clean for c in cascade) and all(m.clean for m in measures)):
            return  # judged once its rows are put right: a refused cell would only show as a gap here
        specs = [m.spec for m in measures if m.spec is not None]
        gaps = sign_off_gaps(given.dissemination, given.audit, registry.leads, specs)
        if gaps:
            reason = "the plans are not credible, so the Assurance Board cannot have signed them off: "
            check.add("Plans", given.row, "signed_off_on", reason + "; ".join(gaps))
        return
    if given.sign_off_given:
        return  # its date is reported already
    for confirmed in cascade:
        if confirmed.confirms:
            reason = f"a confirmation needs {ref}'s plans signed off: give signed_off_on in Plans, or leave it blank"
            check.add("Cascade", confirmed.row, "reached", reason)


def _actions(sheet, planned, named, roles, agencies, check: _Check, today: date):
    by_ref: dict[str, tuple[list[ActionSpec], list[ImportedAction]]] = {}
    seen: dict[tuple[str, str], int] = {}
    name = "Actions" if sheet is None or sheet.name != CSV_SHEET else CSV_SHEET
    for number, row in sheet.rows if sheet else []:
        where = name
        if not check.required(where, number, row, SHEETS["Actions"][0]):
            continue
        ref = check.text(row, "recommendation_ref")
        item = planned.get(ref.casefold())
        if item is None:
            if ref.casefold() not in named:  # a named one with problems of its own is reported there
                check.add(where, number, "recommendation_ref", f"no recommendation {ref!r} in Recommendations")
            continue
        action_id = check.text(row, "action_id")
        key = (ref.casefold(), action_id.casefold())
        if key in seen:
            check.add(where, number, "action_id", f"{action_id!r} is already used for {ref} on row {seen[key]}")
            continue
        seen[key] = number
        owner = check.text(row, "owner_email").lower()
        if owner and (problem := person_problem(owner, "action owner", roles)):
            check.add(where, number, "owner_email", problem.replace("the registry", "People"))
        agency = agencies.get(check.text(row, "agency").casefold())
        if agency is None:
            check.add(where, number, "agency", f"unknown agency {check.text(row, 'agency')!r}")
        due = check.date(where, number, row, "due_date", required=True)
        source_date = item.start.recommendation.source_date
        if due and due < source_date:
            check.add(where, number, "due_date", f"{due} is before the recommendation's source date {source_date}")
        status_text = check.text(row, "status").lower() or "assigned"
        if status_text not in {s.value for s in ActionStatus}:
            check.add(where, number, "status", f"{status_text!r} must be assigned, acknowledged or complete")
            status_text = "assigned"
        completed_on = check.date(where, number, row, "completed_on", required=status_text == "complete")
        evidence = check.text(row, "evidence")
        if status_text == "complete" and not evidence:
            check.add(where, number, "evidence", "is required for a complete action")
        if status_text != "complete" and (completed_on or evidence):
            column = "completed_on" if completed_on else "evidence"
            check.add(where, number, column, "is only for a complete action (status complete)")
        if completed_on and completed_on > today:
            check.add(where, number, "completed_on", f"{completed_on} is in the future")
        # A due date already reported as bad stands in as the source date, so it is not reported twice.
        data = {"action_id": action_id, "description": check.text(row, "description"), "agency": agency or "-",
                "owner": owner, "due": due or source_date,
                "success_measure": check.text(row, "success_measure")}  # fmt: skip
        spec = check.model(where, number, ActionSpec, data, {"owner": "owner_email", "due": "due_date"})
        if spec is None or due is None or agency is None:
            continue
        progress = ImportedAction(
            action_id=action_id, status=ActionStatus(status_text), completed_on=completed_on, evidence=evidence
        )
        specs, known = by_ref.setdefault(ref.casefold(), ([], []))
        specs.append(spec)
        known.append(progress)
    return by_ref


def _plans(
    sheet: Sheet | None,
    planned,
    named,
    roles,
    cascades: dict[str, list[_CascadeRow]],
    measures: dict[str, dict[str, _MeasureRow]],
    check: _Check,
    today,
):
    by_ref: dict[str, _GivenPlans] = {}
    seen: dict[str, int] = {}
    for number, row in sheet.rows if sheet else []:
        if not check.required("Plans", number, row, ("ref",)):
            continue
        ref = check.text(row, "ref")
        if ref.casefold() not in named:
            check.add("Plans", number, "ref", f"no recommendation {ref!r} in Recommendations")
        if not _unique(check, "Plans", seen, ref, number, "ref", "plans for"):
            continue
        mark = len(check.problems)
        columns = ("starts", "ends", "audit_on", "cascade_by", "signed_off_on")
        dates = {c: check.date("Plans", number, row, c, required=False) for c in columns}
        if dates["starts"] and dates["ends"] and dates["ends"] < dates["starts"]:
            check.add("Plans", number, "ends", f"{dates['ends']} is before starts {dates['starts']}")
        if dates["signed_off_on"] and dates["signed_off_on"] > today:
            check.add("Plans", number, "signed_off_on", f"{dates['signed_off_on']} is in the future")
        threshold = check.whole("Plans", number, row, "reach_threshold", percent=True)
        if threshold is not None and not 1 <= threshold <= 100:
            check.add("Plans", number, "reach_threshold", f"{threshold} is not a per cent from 1 to 100")
            threshold = None

        lists = {c: _items(check.text(row, c)) for c in ("audiences", "channels", "success_measures")}
        texts = {c: check.text(row, c) for c in ("socialisation", "owner", "method", "auditor")}
        for column, named_for in (("owner", "dissemination plan owner"), ("auditor", "auditor")):
            if texts[column] and (problem := person_problem(texts[column], named_for, roles)):
                check.add("Plans", number, column, problem.replace("the registry", "People"))
        dissemination = check.model(
            "Plans",
            number,
            DisseminationPlan,
            {"audiences": lists["audiences"], "channels": lists["channels"], "socialisation": texts["socialisation"],
             "owner": texts["owner"], "starts": dates["starts"], "ends": dates["ends"],
             "cascade": [c.step for c in cascades.get(ref.casefold(), []) if c.step is not None],
             "cascade_by": dates["cascade_by"],
             **({"reach_threshold": threshold} if threshold is not None else {})},
            {},
        )  # fmt: skip
        weighed = _audit_measures(check, number, row, ref, measures.get(ref.casefold(), {}))
        audit = check.model(
            "Plans",
            number,
            AuditPlan,
            {"method": texts["method"], "auditor": texts["auditor"], "audit_on": dates["audit_on"],
             "success_measures": lists["success_measures"], "measures": weighed},
            {"measures": "audit_measures"},
        )  # fmt: skip
        if dissemination is not None and audit is not None and ref.casefold() in planned:
            signed = dates["signed_off_on"]
            by_ref[ref.casefold()] = _GivenPlans(
                number,
                dissemination,
                audit,
                signed_off_on=signed if signed and signed <= today else None,
                sign_off_given=bool(check.text(row, "signed_off_on")),
                clean=len(check.problems) == mark,
            )
    return by_ref


def _cascades(sheet: Sheet | None, planned, named, with_plans, registry: _Registry, check: _Check, today: date):
    """Each recommendation's cascade, agency by agency, with any confirmation made before the import."""
    by_ref: dict[str, list[_CascadeRow]] = {}
    seen: dict[tuple[str, str], int] = {}
    for number, row, ref in check.rows_of_recommendations(sheet, "Cascade", named):
        agency = check.text(row, "agency")
        if ref.casefold() not in with_plans:
            check.add("Cascade", number, "ref", f"no plans for {ref} in Plans: the cascade is part of its plans")
            continue
        key = (ref.casefold(), agency.casefold())
        if key in seen:
            check.add("Cascade", number, "agency", f"{agency!r} is already in the cascade of {ref} on row {seen[key]}")
            continue
        seen[key] = number
        mark = len(check.problems)
        step = _cascade_step(check, number, row, registry)
        done = _confirmation(check, number, row, step, today)
        rows = by_ref.setdefault(ref.casefold(), [])
        if len(rows) == MAX_CASCADE:
            check.add("Cascade", number, "agency", f"the cascade of {ref} names more than {MAX_CASCADE} agencies")
        elif ref.casefold() in planned:
            confirms = bool(check.text(row, "reached"))
            rows.append(_CascadeRow(number, step, done, confirms=confirms, clean=len(check.problems) == mark))
    return by_ref


def _cascade_step(check: _Check, number: int, row: dict[str, Cell], registry: _Registry) -> CascadeStep | None:
    """The agency's step, by the edge rule for a cascade (``models.people``); a reach of 0 or
    none is a gap the workflow reports, not a problem of the file."""
    lead = check.address("Cascade", number, row, "lead_email") if check.text(row, "lead_email") else None
    expected = check.whole("Cascade", number, row, "expected_reach")
    if expected is not None and expected < 0:
        check.add("Cascade", number, "expected_reach", f"{expected} is negative: give the number of staff to reach")
        expected = None
    data = {"agency": check.text(row, "agency"), "lead": lead, "staff_group": check.text(row, "staff_group"),
            "expected_reach": expected or 0}  # fmt: skip
    step = check.model("Cascade", number, CascadeStep, data, {"lead": "lead_email"})
    if step is None:
        return None
    for where, problem in cascade_step_problems([step], registry.agency_of, registry.agencies, where="step").items():
        check.add("Cascade", number, "lead_email" if where.endswith(".lead") else "agency", problem)
    return step


def _confirmation(
    check: _Check, number: int, row: dict[str, Cell], step: CascadeStep | None, today: date
) -> ImportedCascade | None:
    """The agency's confirmation made before the import, by the rule a lead's confirmation meets."""
    if not check.text(row, "reached"):
        for column in ("channels", "done_on", "note"):
            if check.text(row, column):
                check.add("Cascade", number, column, "is only for a confirmation already made (fill in reached)")
        return None
    reached = check.whole("Cascade", number, row, "reached")
    done_on = check.date("Cascade", number, row, "done_on", required=True)
    note = check.text(row, "note")
    if reached is not None and reached < 0:
        check.add("Cascade", number, "reached", f"{reached} is negative: give the number of staff reached")
        reached = None
    if done_on and done_on > today:
        check.add("Cascade", number, "done_on", f"{done_on} is in the future")
    expected = step.expected_reach if step else 0
    if reached is not None and expected >= 1 and reached > ABSURD_REACH_FACTOR * expected:
        check.add("Cascade", number, "reached",
                  f"{reached} is more than ten times the {expected} staff planned: check the figure")  # fmt: skip
    elif reached is not None and reached < expected and not note:
        check.add("Cascade", number, "note", f"{reached} of the {expected} staff planned were reached: say why fewer")
    if reached is None or done_on is None or step is None:
        return None
    data = {"agency": step.agency, "reached": reached, "channels": _items(check.text(row, "channels")),
            "done_on": done_on, "note": note}  # fmt: skip
    return check.model("Cascade", number, ImportedCascade, data, {})


def _audit_measures(
    check: _Check, number: int, row: dict[str, Cell], ref: str, measures: dict[str, _MeasureRow]
) -> list[str]:
    """The measure ids of ``audit_measures`` (separated by commas), each a measure of ``ref`` in
    the Measures sheet, spelt as that sheet spells it. Whether they make a credible plan (one with
    a baseline and a target) is the sign-off gate's question, not the file's."""
    weighed: list[str] = []
    for named in dict.fromkeys(_ids(check.text(row, "audit_measures"))):
        measure = measures.get(named.casefold())
        if measure is None:
            check.add("Plans", number, "audit_measures", f"no measure {named!r} of {ref} in Measures")
        else:
            weighed.append(measure.measure_id)
    return weighed


def _measures(sheet: Sheet | None, named, roles, check: _Check, today: date) -> dict[str, dict[str, _MeasureRow]]:
    """Each recommendation's impact measures (by ref, then measure id, both case-folded), each
    checked by the rules a board agreeing it meets. A row refused for its own problems is kept
    (without its spec) so that its readings and the plans naming it are not refused again."""
    by_ref: dict[str, dict[str, _MeasureRow]] = {}
    for number, row, ref in check.rows_of_recommendations(sheet, "Measures", named):
        measure_id = check.text(row, "measure_id")
        measures = by_ref.setdefault(ref.casefold(), {})
        earlier = measures.get(measure_id.casefold())
        if earlier is not None:
            already = f"{measure_id!r} is already a measure of {ref} on row {earlier.row}"
            check.add("Measures", number, "measure_id", already)
            continue
        if len(measures) == MAX_MEASURES:
            check.add("Measures", number, "measure_id", f"{ref} has more than {MAX_MEASURES} measures")
            continue
        mark = len(check.problems)
        spec = _measure_spec(check, number, row, roles, today)
        measures[measure_id.casefold()] = _MeasureRow(number, measure_id, spec, clean=len(check.problems) == mark)
    return by_ref


# The columns of a MeasureSpec's own (whole-measure) refusals, by how its message starts.
_SPEC_MESSAGE_COLUMNS = (("baseline:", "baseline"), ("target:", "target"), ("target_by (", "target_by"),
                         ("the target (", "target"), ("every ", "every"))  # fmt: skip


def _measure_spec(check: _Check, number: int, row: dict[str, Cell], roles, today: date) -> MeasureSpec | None:
    """One Measures row as a ``MeasureSpec`` by the payload's rules and ``measure_spec_problem``,
    or None with each problem under its column."""
    where = "Measures"
    unreadable = len(check.problems)
    unit = check.word(where, number, row, "unit", UNIT_WORDS, UNIT_CHOICES)
    direction = check.word(where, number, row, "direction", DIRECTION_WORDS, DIRECTION_CHOICES)
    percent = unit is MeasureUnit.percent
    figures = {c: check.figure(where, number, row, c, percent=percent) for c in ("baseline", "target")}
    dates = {c: check.date(where, number, row, c, required=False) for c in ("baseline_on", "target_by")}
    readable = len(check.problems) == unreadable and unit is not None and direction is not None
    reporter = _registered(check, where, number, row, "reporter", roles)
    if not readable:
        return None  # a cell the payload needs could not be read: said where it is
    data: dict[str, Any] = {"measure_id": check.text(row, "measure_id"), "name": check.text(row, "name"),
                            "unit": unit, "direction": direction, **figures, **dates,
                            "reporter": reporter or _STAND_IN_ADDRESS}  # fmt: skip
    if check.text(row, "every"):
        data["every"] = check.text(row, "every")
    try:
        spec = MeasureSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            column, reason = _spec_problem(error, data)
            check.add(where, number, column, reason)
        return None
    problem = measure_spec_problem(spec, today)
    if problem:
        check.add(where, number, "baseline_on", problem)
        return None
    return spec if reporter else None


def _spec_problem(error: Any, data: dict[str, Any]) -> tuple[str, str]:
    """The column and the reason of one of ``MeasureSpec``'s refusals."""
    reason = str(error["msg"]).removeprefix("Value error, ")
    if error["loc"]:
        column = str(error["loc"][0])
        if column == "measure_id" and error["type"] == "string_pattern_mismatch":
            reason = (f"{str(data['measure_id'])[:40]!r} is not a measure id: use up to 32 letters, digits, "
                      "'.', '_' or '-', starting with a letter or a digit")  # fmt: skip
        return column, reason
    # The payload's whole-measure rules: the pair missing its other half, else by the message.
    for figure, day in (("baseline", "baseline_on"), ("target", "target_by")):
        if reason.startswith(f"give the {figure} "):
            return (day if data.get(figure) is not None else figure), reason
    for start, column in _SPEC_MESSAGE_COLUMNS:
        if reason.startswith(start):
            return column, reason.removeprefix(f"{column}: ")
    return "", reason


def _registered(check: _Check, sheet: str, number: int, row: dict[str, Cell], column: str, roles) -> str | None:
    """The registered person ``column`` names (any role: the rule for a measure's reporter), or
    None (reported)."""
    address = check.address(sheet, number, row, column)
    if address is None:
        return None
    problem = person_problem(address, "measure reporter", roles)
    if problem:
        check.add(sheet, number, column, problem.replace("the registry", "People"))
        return None
    return address


def _readings(
    sheet: Sheet | None, named, measures: dict[str, dict[str, _MeasureRow]], roles, check: _Check, today: date
) -> dict[str, list[ImportedReading]]:
    """The readings already collected, by ref: each of a measure in the Measures sheet, by the
    rule a reporter recording one meets (``models.measures.reading_problem``), one per day."""
    by_ref: dict[str, list[ImportedReading]] = {}
    seen: dict[tuple[str, str, date], int] = {}
    for number, row, ref in check.rows_of_recommendations(sheet, "Readings", named):
        measure_id = check.text(row, "measure_id")
        measure = measures.get(ref.casefold(), {}).get(measure_id.casefold())
        if measure is None:
            check.add("Readings", number, "measure_id", f"no measure {measure_id!r} of {ref} in Measures")
            continue
        spec = measure.spec
        mark = len(check.problems)
        percent = spec is not None and spec.unit is MeasureUnit.percent
        value = check.figure("Readings", number, row, "value", percent=percent)
        on = check.date("Readings", number, row, "on", required=True)
        by = _registered(check, "Readings", number, row, "by", roles) if check.text(row, "by") else None
        if spec is None or value is None or on is None:
            continue  # the measure is refused on its own (its readings are judged once it is put right)
        key = (ref.casefold(), spec.measure_id.casefold(), on)
        if key in seen:
            check.add("Readings", number, "on", f"{spec.measure_id} already has a reading on {on}, on row {seen[key]}")
            continue
        seen[key] = number
        _reading_problems(check, number, spec, value, on, today)
        data = {"measure_id": spec.measure_id, "value": value, "on": on, "by": by, "note": check.text(row, "note")}
        reading = check.model("Readings", number, ImportedReading, data, {})
        if reading is None or len(check.problems) > mark:
            continue
        known = by_ref.setdefault(ref.casefold(), [])
        if len(known) == MAX_READINGS:
            check.add("Readings", number, "ref", f"{ref} has more than {MAX_READINGS} readings")
            continue
        known.append(reading)
    return by_ref


def _reading_problems(check: _Check, number: int, spec: MeasureSpec, value: float, on: date, today: date) -> None:
    """The reading rule (``models.measures.reading_problem``), each refusal under its column: the
    day's, judged with a figure every unit allows (0), and the figure's, on a day every measure allows."""
    day_problem_ = reading_problem(spec, 0, on, today)
    if day_problem_:
        check.add("Readings", number, "on", day_problem_)
    figure_problem = reading_problem(spec, value, spec.baseline_on or today, today)
    if figure_problem:
        check.add("Readings", number, "value", figure_problem)


def _rows(sheets: dict[str, Sheet], name: str) -> list[tuple[int, dict[str, Cell]]]:
    return sheets[name].rows if name in sheets else []


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _ids(text: str) -> list[str]:
    """Ids separated by commas (or by ``;``, the separator of the other lists)."""
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]
