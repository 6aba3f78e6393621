"""Importing reviews (issue 18): the Reviews sheet and the Recommendations sheet's review_ref,
checked like the other sheets with every problem located; a plan naming only its sources still
imports, one review made per source; the reviews reach the store with the registry, a re-import
adds none, a dry run writes none; the example's recommendations each name a review of 2022-23."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools import plan_files as pf
from gateway.workflows import recommendation_status
from models.payloads import RecommendationInput, SourceKind
from models.reviews import Review, derived_review_ref
from plans.apply import check_plan_against_store, import_plan
from plans.sheets import SHEETS, read_plan_file
from plans.validate import check_plan
from store.db import session_scope
from store.read_model import registry
from store.reviews import review_summaries
from tests.helpers import drain_digests, today
from tests.plans.test_import import close_all

DAY = date(2026, 3, 2)
SAR = "SAR-B"  # the review of pf.review_rows that IMP-1 to IMP-4 name (no tag)
RAPID = "RR-C"
ASSURE = str(Path(sys.executable).parent / "assure")
KINDS = "cspr', 'sar', 'dhr', 'rapid_review', 'learning_review', 'audit', 'inspection' or 'scrutiny'"


def iso(days: int, on: date = DAY) -> str:
    return (on + timedelta(days=days)).isoformat()


def checked(rows: dict[str, list[dict[str, Any]]], tmp_path: Path, *, writer=pf.write_yaml, reviews=(),
            stored=([], [], []), on: date = DAY):  # fmt: skip
    suffix = {pf.write_yaml: ".yaml", pf.write_xlsx: ".xlsx", pf.write_csv: ".csv"}[writer]
    sheets, problems = read_plan_file(writer(rows, tmp_path / f"plan{suffix}"))
    assert [str(p) for p in problems] == []
    plan, problems = check_plan(sheets, stored=stored, reviews=reviews, today=on)
    return plan, [str(p) for p in problems]


def start_of(plan, ref: str) -> RecommendationInput:
    return next(r.start for r in plan.recommendations if r.start.recommendation.ref == ref)


def stored_review(**fields: Any) -> Review:
    """A review the store holds already (as a caller reads it before checking a plan)."""
    return Review.model_validate({"review_ref": "SAR-STORED", "kind": "sar", "title": "SAR: Adult S",
                                  "board": "Adults Board", "concluded_on": DAY - timedelta(days=90), **fields})  # fmt: skip


class TestTheReviewsSheet:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
    def test_reviews_are_read_with_their_milestones_and_themes(self, tmp_path, writer):
        """Each Reviews row becomes a Review: the kind from the name people write, the milestones given, themes trimmed and in lower case."""
        plan, problems = checked(pf.plan(DAY, reviews=True), tmp_path, writer=writer)
        assert problems == []
        by_ref = {review.review_ref: review for review in plan.reviews}
        assert by_ref[SAR] == Review(
            review_ref=SAR, kind=SourceKind.sar, title=pf.SAR_TITLE, board="Adults Board",
            notified_on=DAY - timedelta(days=400), decided_on=DAY - timedelta(days=380),
            commissioned_on=DAY - timedelta(days=350), concluded_on=DAY - timedelta(days=200),
            themes=["mental health", "self-neglect"],
        )  # fmt: skip
        assert by_ref[RAPID].kind is SourceKind.rapid_review and by_ref[RAPID].themes == ["domestic abuse"]
        assert list(by_ref[RAPID].milestones().values()) == [DAY - timedelta(days=10)]

    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
    def test_a_recommendation_naming_its_review_takes_its_source_from_it(self, tmp_path, writer):
        """Blank source cells are the review's kind, title and latest milestone; given ones stand beside them."""
        plan, problems = checked(pf.plan(DAY, reviews=True), tmp_path, writer=writer)
        assert problems == []
        one = start_of(plan, "IMP-1").recommendation
        assert (one.review_ref, one.source_kind, one.source_title, one.source_date) == (
            SAR,
            SourceKind.sar,
            pf.SAR_TITLE,
            DAY - timedelta(days=200),
        )
        four = start_of(plan, "IMP-4").recommendation
        assert (four.review_ref, four.source_kind, four.source_title, four.source_date) == (
            SAR,
            SourceKind.sar,
            "SAR Adult B: the board's summary",
            DAY - timedelta(days=200),
        )

    def test_a_plan_naming_reviews_and_sources_alike_makes_a_review_for_each_source(self, tmp_path):
        """IMP-5 names only its source: it belongs to the review made for it, written with the file's."""
        plan, problems = checked(pf.plan(DAY, reviews=True), tmp_path)
        assert problems == []
        five = start_of(plan, "IMP-5").recommendation
        derived = derived_review_ref(SourceKind.sar, "SAR IMP-5", DAY - timedelta(days=200))
        assert five.review_ref == derived
        assert [review.review_ref for review in plan.reviews] == [SAR, RAPID, derived]

    def test_refs_and_boards_are_matched_in_any_case_and_spelt_as_given(self, tmp_path):
        """A review_ref and a board written in another case name the same review and board."""
        rows = pf.plan(DAY, reviews=True)
        rows["Reviews"][0]["board"] = "ADULTS board"
        rows["Recommendations"][0]["review_ref"] = "sar-b"
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        assert start_of(plan, "IMP-1").recommendation.review_ref == SAR
        assert plan.reviews[0].board == "Adults Board"

    def test_a_milestone_is_moved_by_rebase_dates_like_every_date(self, tmp_path):
        """--rebase-dates shifts a review's milestones, and so the source dates they give."""
        shift = timedelta(days=400)
        sheets, _ = read_plan_file(pf.write_yaml(pf.plan(DAY, reviews=True), tmp_path / "plan.yaml"))
        plan, problems = check_plan(sheets, today=DAY + shift, shift=shift)
        assert problems == []
        assert plan.reviews[0].concluded_on == DAY + shift - timedelta(days=200)
        assert start_of(plan, "IMP-1").recommendation.source_date == DAY + shift - timedelta(days=200)

    def test_a_uk_date_and_an_abbreviated_kind_are_read(self, tmp_path):
        """A milestone written 01/06/2025 and a kind written RR are read as the other sheets read them."""
        rows = pf.plan(DAY, reviews=True)
        rows["Reviews"][1].update(kind="RR", notified_on="01/06/2025")
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        assert (plan.reviews[1].kind, plan.reviews[1].notified_on) == (SourceKind.rapid_review, date(2025, 6, 1))

    def test_the_template_has_the_sheet_with_its_drop_down_and_a_worked_row(self, tmp_path):
        """The blank workbook's Reviews sheet has every column and the kinds' full names; its recommendation names its review."""
        from openpyxl import load_workbook

        from plans.workbook import write_template

        path = tmp_path / "template.xlsx"
        write_template(path)
        workbook = load_workbook(path)
        assert workbook.sheetnames.index("Reviews") == workbook.sheetnames.index("Recommendations") - 1
        assert [c.value for c in workbook["Reviews"][1]] == [*SHEETS["Reviews"][0], *SHEETS["Reviews"][1]]
        formulas = [v.formula1 for v in workbook["Reviews"].data_validations.dataValidation]
        assert any("Safeguarding Adult Review" in f and "Rapid review" in f for f in formulas), formulas
        sheets, _ = read_plan_file(path)
        plan, problems = check_plan(sheets, today=date(2023, 4, 1))
        assert problems == []
        rec = start_of(plan, "SAR-2023-01").recommendation
        assert (rec.review_ref, rec.source_title, rec.source_date) == (
            "SAR-ADULT-A",
            "Safeguarding Adult Review: Adult A",
            date(2023, 3, 14),
        )


def _review(index: int, **edits: Any):
    def edit(rows):
        rows["Reviews"][index].update(edits)

    return edit


def _recommendation(index: int, **edits: Any):
    def edit(rows):
        rows["Recommendations"][index].update(edits)

    return edit


def _repeated_ref(rows):
    rows["Reviews"][1]["review_ref"] = "sar-b"


class TestBadInputIsRefusedWhereItIs:
    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            pytest.param(_review(1, kind="gossip"), [f"Reviews, row 2, kind: Input should be '{KINDS}"],
                         id="unknown kind"),
            pytest.param(_review(0, decided_on=iso(-420)),
                         [f"Reviews, row 1, decided_on: decided_on ({iso(-420)}) is before notified_on ({iso(-400)})"],
                         id="milestones out of order"),
            pytest.param(_review(0, published_on=iso(-300)),
                         [f"Reviews, row 1, published_on: published_on ({iso(-300)}) is before concluded_on "
                          f"({iso(-200)})"], id="published before concluded"),
            pytest.param(_review(1, board="Kids Board"), ["Reviews, row 2, board: unknown board 'Kids Board'"],
                         id="unknown board"),
            pytest.param(_repeated_ref, ["Reviews, row 2, review_ref: the review 'sar-b' is already on row 1"],
                         id="review_ref repeated"),
            pytest.param(_review(0, themes="Mental health; mental  health"),
                         ["Reviews, row 1, themes: a theme is named more than once: mental health"], id="theme repeated"),
            pytest.param(_review(1, notified_on=iso(3)),
                         [f"Reviews, row 2, notified_on: {iso(3)} is in the future: a milestone is given once it "
                          "is reached"], id="milestone in the future"),
            pytest.param(_review(1, notified_on="next Tuesday"),
                         ["Reviews, row 2, notified_on: 'next Tuesday' is not a date (use 2023-04-01 or 01/04/2023)"],
                         id="not a date"),
            pytest.param(_review(1, title=""), ["Reviews, row 2, title: is required"], id="title missing"),
            pytest.param(_review(1, review_ref="RR C"),
                         ["Reviews, row 2, review_ref: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'"],
                         id="not a ref"),
            pytest.param(_recommendation(0, review_ref="SAR-NOPE"),
                         ["Recommendations, row 1, review_ref: no review 'SAR-NOPE' in Reviews or in Assure"],
                         id="review in neither the sheet nor the store"),
            pytest.param(_recommendation(3, source_kind="Audit"),
                         ["Recommendations, row 4, source_kind: 'Audit' is not the kind of the review SAR-B, a "
                          "Safeguarding Adult Review: leave it blank for the review's"], id="kind disagrees"),
            pytest.param(_recommendation(3, source_date=iso(5)),
                         [f"Recommendations, row 4, source_date: {iso(5)} is in the future"], id="source date ahead"),
            pytest.param(_recommendation(4, source_title="", title=""),
                         ["Recommendations, row 5, source_title: is required", "Recommendations, row 5, title: is required"],
                         id="no review and no source"),
        ],
    )  # fmt: skip
    def test_each_problem_is_named_at_its_sheet_row_and_column(self, tmp_path, edit, expected):
        """Every bad cell is refused with its own message, and the recommendations naming a refused review are not refused again."""
        rows = pf.plan(DAY, reviews=True)
        edit(rows)
        plan, problems = checked(rows, tmp_path)
        assert problems == expected

    def test_a_review_with_no_milestone_yet_cannot_date_a_recommendation(self, tmp_path):
        """A recommendation leaving source_date to a review with no milestone yet is told to give one."""
        rows = pf.plan(DAY, reviews=True)
        rows["Reviews"][1]["notified_on"] = ""
        rows["Recommendations"][0]["review_ref"] = RAPID
        _, problems = checked(rows, tmp_path)
        assert problems == [
            "Recommendations, row 1, source_date: the review RR-C has no milestone dates yet: give its date here or "
            "in Reviews"
        ]

    def test_every_problem_is_reported_at_once(self, tmp_path):
        """Problems in both sheets are listed together, the Reviews sheet's first."""
        rows = pf.plan(DAY, reviews=True)
        for edit in (_review(1, kind="gossip", board="Kids Board"), _recommendation(1, review_ref="SAR-NOPE"),
                     _recommendation(3, source_kind="DHR")):  # fmt: skip
            edit(rows)
        _, problems = checked(rows, tmp_path)
        assert [problem.split(":")[0] for problem in problems] == [
            "Reviews, row 2, board",
            "Reviews, row 2, kind",
            "Recommendations, row 2, review_ref",
            "Recommendations, row 4, source_kind",
        ]

    def test_a_reviews_sheet_without_a_required_column_is_refused(self, tmp_path):
        """A Reviews sheet with no board column says so, once, at its header."""
        rows = pf.plan(DAY, reviews=True)
        for row in rows["Reviews"]:
            del row["board"]
        _, problems = checked(rows, tmp_path)
        assert "Reviews, row 1, board: this required column is missing" in problems

    def test_a_stored_review_is_spelt_as_the_store_spells_it(self, tmp_path):
        """A Reviews row giving a stored review's ref in another case is refused: the store holds one row per review."""
        rows = pf.plan(DAY, reviews=True)
        rows["Reviews"][0]["review_ref"] = "sar-stored"
        for row in rows["Recommendations"][:4]:
            row["review_ref"] = "sar-stored"
        _, problems = checked(rows, tmp_path, reviews=[stored_review()])
        assert problems == ["Reviews, row 1, review_ref: 'sar-stored' is the review SAR-STORED in Assure: spell it so"]


class TestARecommendationsOwnThemes:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx], ids=["yaml", "xlsx"])
    def test_its_themes_are_read_in_the_partnerships_spelling(self, tmp_path, writer):
        """A recommendation's own themes, a priority and one its review names, are read as the vocabulary spells them."""
        rows = pf.plan(DAY, reviews=True)
        rows["Recommendations"][0]["themes"] = "Violent  crime; SELF-NEGLECT"
        plan, problems = checked(rows, tmp_path, writer=writer)
        assert problems == []
        assert start_of(plan, "IMP-1").recommendation.themes == ["violent crime", "self-neglect"]
        assert start_of(plan, "IMP-2").recommendation.themes == []

    @pytest.mark.parametrize(
        ("themes", "expected"),
        [
            pytest.param("mental health; gossip", "Recommendations, row 1, themes: 'gossip' not in the partnership's "
                         "themes: use one of its priorities or a theme a review names (Reviews sheet, themes column)",
                         id="unknown theme"),
            pytest.param("violent crime; Violent crime",
                         "Recommendations, row 1, themes: a theme is named more than once: violent crime",
                         id="theme repeated"),
        ],
    )  # fmt: skip
    def test_a_theme_outside_the_vocabulary_or_named_twice_is_refused_at_its_cell(self, tmp_path, themes, expected):
        rows = pf.plan(DAY, reviews=True)
        rows["Recommendations"][0]["themes"] = themes
        plan, problems = checked(rows, tmp_path)
        assert problems == [expected]

    def test_a_theme_only_a_stored_review_names_is_known(self, tmp_path):
        """A file naming none of the reviews may still use a theme of one the store holds."""
        rows = pf.plan(DAY)
        rows["Recommendations"][0]["themes"] = "neglect"
        stored = checked(pf.plan(DAY), tmp_path)[0]
        registry = (stored.agencies, stored.people, stored.boards)
        _, problems = checked(rows, tmp_path, writer=pf.write_csv, stored=registry)
        assert [p.split(":")[0] for p in problems] == ["CSV, row 2, themes"]
        plan, problems = checked(rows, tmp_path, writer=pf.write_csv, stored=registry,
                                 reviews=[stored_review(themes=["Neglect"])])  # fmt: skip
        assert problems == []
        assert start_of(plan, "IMP-1").recommendation.themes == ["neglect"]


class TestReviewsTheStoreHolds:
    def test_a_recommendation_may_name_a_review_only_the_store_holds(self, tmp_path):
        """A CSV, which has no Reviews sheet, names a stored review; nothing is written for it."""
        rows = pf.plan(DAY)
        rows["Recommendations"][0].update(review_ref="SAR-STORED", source_kind="", source_title="", source_date="")
        stored = checked(pf.plan(DAY), tmp_path)[0]
        plan, problems = checked(rows, tmp_path, writer=pf.write_csv, reviews=[stored_review()],
                                 stored=(stored.agencies, stored.people, stored.boards))  # fmt: skip
        assert problems == []
        one = start_of(plan, "IMP-1").recommendation
        assert (one.review_ref, one.source_title, one.source_date) == (
            "SAR-STORED",
            "SAR: Adult S",
            DAY - timedelta(90),
        )
        assert "SAR-STORED" not in [review.review_ref for review in plan.reviews]

    def test_a_review_given_again_as_stored_is_not_written_and_a_changed_one_is(self, tmp_path):
        """The plan's reviews to write leave out one the store holds exactly as the sheet gives it."""
        rows = pf.plan(DAY, reviews=True)
        first, _ = checked(rows, tmp_path)
        plan, problems = checked(rows, tmp_path, reviews=first.reviews)
        assert problems == [] and plan.reviews == []
        rows["Reviews"][1]["themes"] = "domestic abuse; child poverty"
        plan, _ = checked(rows, tmp_path, reviews=first.reviews)
        assert [review.review_ref for review in plan.reviews] == [RAPID]

    def test_a_source_whose_review_is_stored_keeps_the_stored_review(self, tmp_path):
        """An old plan imported again does not overwrite the review made for its source, themes added since and all."""
        rows = pf.plan(DAY)
        first, _ = checked(rows, tmp_path)
        enriched = [review.model_copy(update={"themes": ["mental health"]}) for review in first.reviews]
        plan, problems = checked(rows, tmp_path, reviews=enriched)
        assert problems == [] and plan.reviews == []
        assert [r.start.recommendation.review_ref for r in plan.recommendations] == [r.review_ref for r in enriched]


class TestPlansNamingOnlyTheirSources:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx, pf.write_csv])
    def test_each_distinct_source_makes_one_review(self, tmp_path, writer):
        """A plan written before reviews were records imports: one review per source, sponsored by the recommendation's board, concluded on the source's date."""
        rows = pf.plan(DAY)
        rows["Recommendations"][1].update(source_title="SAR IMP-1", source_kind="Safeguarding Adult Review")
        stored = ([], [], [])
        if writer is pf.write_csv:  # a CSV takes its registry from the store
            registry_plan = checked(pf.plan(DAY), tmp_path)[0]
            stored = (registry_plan.agencies, registry_plan.people, registry_plan.boards)
        plan, problems = checked(rows, tmp_path, writer=writer, stored=stored)
        assert problems == []
        on = DAY - timedelta(days=200)
        refs = [derived_review_ref(SourceKind.sar, f"SAR IMP-{n}", on) for n in (1, 3, 4, 5)]
        assert [review.review_ref for review in plan.reviews] == refs
        assert plan.reviews[0] == Review(review_ref=refs[0], kind=SourceKind.sar, title="SAR IMP-1",
                                         board="Adults Board", concluded_on=on)  # fmt: skip
        named = [r.start.recommendation.review_ref for r in plan.recommendations]
        assert named == [refs[0], refs[0], *refs[1:]]

    def test_a_file_without_review_ref_still_needs_its_source_columns(self, tmp_path):
        """With no review_ref column, a missing source column is refused at the header as before."""
        rows = pf.plan(DAY)
        for row in rows["Recommendations"]:
            del row["source_title"]
        _, problems = checked(rows, tmp_path)
        assert "Recommendations, row 1, source_title: this required column is missing" in problems


# --- into the store and the workflows -------------------------------------------------------------


def reviews_in_store(database_url: str) -> dict[str, Any]:
    with session_scope(database_url) as session:
        return {s.review_ref: s for s in review_summaries(session=session, now=datetime.now(UTC), visible=None)}


async def checked_against_store(settings, path: Path, on: date):
    """The file checked as the CLI checks it: against the store's registry and reviews."""
    sheets, problems = read_plan_file(path)
    assert problems == []
    plan, problems = check_plan_against_store(sheets, database_url=settings.database_url, today=on)
    assert [str(p) for p in problems] == []
    return plan


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


async def test_an_import_writes_the_reviews_once_and_each_recommendation_names_its_own(env, settings, worker, tmp_path,
                                                                                        tag):  # fmt: skip
    """The reviews reach the store with the registry and the report counts them; the workflows carry review_ref; importing the same file again adds none, a changed review is counted."""
    day = await today(env)
    rows = pf.plan(day, tag, reviews=True)
    path = pf.write_yaml(rows, tmp_path / "plan.yaml")
    options = {"client": env.client, "database_url": settings.database_url, "task_queue": settings.task_queue}
    plan = await checked_against_store(settings, path, day)
    report = await import_plan(plan, **options)
    try:
        derived = derived_review_ref(SourceKind.sar, f"SAR IMP{tag}-5", day - timedelta(days=200))
        assert report.reviews_written == [f"SAR{tag}-B", f"RR{tag}-C", derived]
        assert report.as_dict()["reviews_written"] == report.reviews_written
        stored = reviews_in_store(settings.database_url)
        assert sorted(stored) == sorted(report.reviews_written)
        assert stored[f"SAR{tag}-B"].themes == ["mental health", "self-neglect"]
        named = {ref: (await recommendation_status(env.client, ref)).source.review_ref for ref in report.started}
        assert named == {**{f"IMP{tag}-{n}": f"SAR{tag}-B" for n in range(1, 5)}, f"IMP{tag}-5": derived}

        again = await import_plan(await checked_against_store(settings, path, day), **options)
        assert (again.reviews_written, again.started, again.changes) == ([], [], {})

        # A later plan may name a review the store holds, without the Reviews row: checked as the
        # CLI and the API check it (against the store's reviews), it has no problem.
        later = copy.deepcopy(rows)
        later["Reviews"] = [r for r in later["Reviews"] if r["review_ref"] != f"SAR{tag}-B"]
        await checked_against_store(settings, pf.write_yaml(later, tmp_path / "later.yaml"), day)

        changed = copy.deepcopy(rows)
        changed["Reviews"][1]["concluded_on"] = (day - timedelta(days=1)).isoformat()
        path = pf.write_yaml(changed, tmp_path / "changed.yaml")
        dry = await import_plan(await checked_against_store(settings, path, day), dry_run=True, **options)
        assert dry.reviews_written == [f"RR{tag}-C"]
        assert reviews_in_store(settings.database_url)[f"RR{tag}-C"].concluded_on is None  # a dry run writes none
        written = await import_plan(await checked_against_store(settings, path, day), **options)
        assert written.reviews_written == [f"RR{tag}-C"]
        assert reviews_in_store(settings.database_url)[f"RR{tag}-C"].concluded_on == day - timedelta(days=1)
    finally:
        await close_all(env, report.started)
        await drain_digests(env, settings.database_url)


async def test_a_dry_run_writes_no_review(env, settings, worker, tmp_path, tag):
    """A dry run reports the reviews it would add and writes none, nor the registry."""
    day = await today(env)
    path = pf.write_yaml(pf.plan(day, tag, reviews=True), tmp_path / "plan.yaml")
    plan = await checked_against_store(settings, path, day)
    report = await import_plan(plan, client=env.client, database_url=settings.database_url,
                               task_queue=settings.task_queue, dry_run=True)  # fmt: skip
    assert len(report.reviews_written) == 3 and len(report.started) == 5
    assert reviews_in_store(settings.database_url) == {}
    with session_scope(settings.database_url) as session:
        assert registry(session=session) == ([], [], [])


def test_a_file_with_a_bad_review_imports_nothing(tmp_path):
    """`assure import` of a file whose one review is refused exits 2 naming it, and writes neither reviews nor registry."""
    rows = pf.plan(DAY, reviews=True)
    rows["Reviews"][1]["kind"] = "gossip"
    path = pf.write_yaml(rows, tmp_path / "plan.yaml")
    database = tmp_path / "assure.db"
    env = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"), "ASSURE_DATABASE_URL": f"sqlite:///{database}",
           "ASSURE_TEMPORAL_ADDRESS": "127.0.0.1:1"}  # fmt: skip
    result = subprocess.run([ASSURE, "import", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:2] == [
        "plan.yaml: 1 problem(s); nothing was imported",
        f"  Reviews, row 2, kind: Input should be '{KINDS}",
    ]
    url = f"sqlite:///{database}"
    assert reviews_in_store(url) == {}
    with session_scope(url) as session:
        assert registry(session=session) == ([], [], [])


# --- the example partnership ------------------------------------------------------------------------

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples"
ANCHOR = date(2023, 4, 1)
PRIORITIES = {"domestic abuse", "violent crime", "mental health", "child poverty and reducing inequalities"}


def example_plan(suffix: str, on: date = ANCHOR):
    sheets, problems = read_plan_file(EXAMPLE_DIR / f"mk-together-2022-23{suffix}")
    assert problems == []
    plan, problems = check_plan(sheets, today=on, shift=on - ANCHOR)
    assert [str(p) for p in problems] == []
    return plan


class TestTheExample:
    def test_every_recommendation_names_a_review_of_the_year(self):
        """The example imports with no problems; each recommendation names a review in its Reviews sheet, each review has one."""
        plan = example_plan(".yaml")
        reviews = {review.review_ref: review for review in plan.reviews}
        named = {r.start.recommendation.review_ref for r in plan.recommendations}
        assert None not in named and named == set(reviews)
        assert len(reviews) >= 30
        for review in reviews.values():
            assert review.themes, review.review_ref
            days = list(review.milestones().values())
            assert days and all(date(2021, 4, 1) <= day < ANCHOR for day in days), review.review_ref

    def test_its_reviews_are_the_kinds_the_report_describes_with_its_priorities_as_themes(self):
        """SARs (the mental health thematic one among them, published), rapid reviews, DHRs, CSPRs and the professionals' meeting audit revisited, themed by the partnership's priorities."""
        reviews = {review.review_ref: review for review in example_plan(".yaml").reviews}
        kinds = {review.kind for review in reviews.values()}
        assert {SourceKind.sar, SourceKind.rapid_review, SourceKind.dhr, SourceKind.cspr, SourceKind.audit,
                SourceKind.learning_review, SourceKind.inspection, SourceKind.scrutiny} <= kinds  # fmt: skip
        thematic = reviews["SAR-2022-MENTAL-HEALTH-THEMATIC"]
        assert thematic.published_on is not None and "mental health" in thematic.themes
        assert "Professionals' meetings" in reviews["AUD-2023-PROFESSIONALS-MEETINGS"].title
        assert PRIORITIES <= {theme for review in reviews.values() for theme in review.themes}

    def test_its_recommendations_keep_their_sources_from_their_reviews(self):
        """A recommendation's source is its review's kind, title and latest milestone."""
        plan = example_plan(".yaml")
        reviews = {review.review_ref: review for review in plan.reviews}
        for item in plan.recommendations:
            rec = item.start.recommendation
            review = reviews[rec.review_ref]
            latest = list(review.milestones().values())[-1]
            assert (rec.source_kind, rec.source_title, rec.source_date) == (review.kind, review.title, latest)

    def test_the_workbook_has_the_yamls_reviews(self):
        """The example workbook, made from the YAML by `assure template --from`, holds the same reviews."""
        on = date(2026, 11, 25)
        assert example_plan(".xlsx", on).reviews == example_plan(".yaml", on).reviews
