"""Reviews in the store: the import's upsert (a review unchanged is not touched, one changed is
reported), the projection's ``review_ref`` on each recommendation's row, and the reviews a reader
may see with the counts and lists of only the recommendations they may see."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from models.lifecycle import Lifecycle
from models.payloads import AcknowledgeInput, DeclineInput, SourceKind, Stage, WithdrawInput
from models.reviews import Review
from store.access import Viewer
from store.db import session_scope
from store.listing import Visibility
from store.read_model import apply_projection
from store.reviews import repeats_for_reader, review_detail, review_summaries, themed_reviews, write_reviews
from store.tables import ReviewRow
from tests import factories as f
from tests.helpers import stored_row

# A day of its own: the listing is kept per database and hour, and other tests share PostgreSQL's.
NOW = datetime(2026, 5, 11, 10, tzinfo=UTC)


def a_review(ref: str = "SAR-2023-MH", **changes) -> Review:
    fields = {
        "review_ref": ref,
        "kind": "SAR",
        "title": "Thematic safeguarding adults review: mental health",
        "board": "Review Board",
        "notified_on": date(2022, 9, 1),
        "commissioned_on": date(2022, 11, 7),
        "concluded_on": date(2023, 3, 14),
        "themes": ["Mental  Health", "domestic abuse"],
    }
    return Review(**(fields | changes))


def write(url: str, reviews: list[Review], now: datetime = NOW) -> list[str]:
    with session_scope(url) as session:
        return write_reviews(session=session, reviews=reviews, now=now)


def stored_reviews(url: str) -> dict[str, ReviewRow]:
    with session_scope(url) as session:
        rows = list(session.exec(select(ReviewRow)))
        for row in rows:
            session.expunge(row)
        return {row.review_ref: row for row in rows}


class TestWriteReviews:
    def test_a_first_write_adds_each_review_and_reports_it(self, store_url):
        """Both reviews are added and reported in the order given, kind, milestones and themes as the Review holds them."""
        assert ["SAR-2023-MH", "RR-2023-01"] == write(
            store_url, [a_review(), a_review("RR-2023-01", kind="Rapid review", title="Rapid review: Child K")]
        )
        rows = stored_reviews(store_url)
        sar = rows["SAR-2023-MH"]
        assert ("sar", "Review Board", date(2022, 9, 1), None, date(2022, 11, 7), date(2023, 3, 14), None) == (
            sar.kind, sar.board, sar.notified_on, sar.decided_on, sar.commissioned_on, sar.concluded_on,
            sar.published_on,
        )  # fmt: skip
        assert ["mental health", "domestic abuse"] == json.loads(sar.themes)
        assert (NOW, NOW) == (sar.created_at, sar.updated_at)
        assert ("rapid_review", "Rapid review: Child K") == (rows["RR-2023-01"].kind, rows["RR-2023-01"].title)

    def test_the_same_reviews_again_change_nothing_and_report_nothing(self, store_url):
        """Imported again a day later, as they were: none reported, and neither row's time moves."""
        reviews = [a_review(), a_review("RR-2023-01", kind="Rapid review")]
        write(store_url, reviews)
        assert [] == write(store_url, reviews, now=NOW + timedelta(days=1))
        assert {NOW} == {row.updated_at for row in stored_reviews(store_url).values()}

    def test_only_a_changed_review_is_reported_and_updated(self, store_url):
        """A publication day and a new theme on the SAR: it alone is reported, its update time
        moves and its first stays; the rapid review is left as it was."""
        write(store_url, [a_review(), a_review("RR-2023-01", kind="Rapid review")])
        later = NOW + timedelta(days=30)
        published = a_review(published_on=date(2023, 6, 1), themes=["mental health", "domestic abuse", "housing"])
        assert ["SAR-2023-MH"] == write(store_url, [published, a_review("RR-2023-01", kind="Rapid review")], now=later)
        rows = stored_reviews(store_url)
        sar = rows["SAR-2023-MH"]
        assert (date(2023, 6, 1), ["mental health", "domestic abuse", "housing"]) == (
            sar.published_on, json.loads(sar.themes)
        )  # fmt: skip
        assert (NOW, later) == (sar.created_at, sar.updated_at)
        assert NOW == rows["RR-2023-01"].updated_at

    def test_nothing_to_write_reports_nothing(self, store_url):
        """An import without reviews writes none."""
        assert [] == write(store_url, [])
        assert {} == stored_reviews(store_url)


def started(ref: str, review_ref: str | None, *, board: str = "Review Board", owner: str = f.OWNER,
            agency: str = f.ICB) -> Lifecycle:  # fmt: skip
    """A recommendation of ``review_ref`` with one action, A1, held by ``owner`` of ``agency``."""
    payload = f.start(ref, actions=[f.action("A1", NOW.date() + timedelta(days=30), owner=owner, agency=agency)])
    recommendation = payload.recommendation.model_copy(update={"review_ref": review_ref, "board": board})
    return Lifecycle.begin(payload.model_copy(update={"recommendation": recommendation}), workflow_id=ref, now=NOW)


def project(url: str, life: Lifecycle, at: datetime = NOW, **row_changes) -> None:
    """The run's first write of ``life`` as it stands ``at``, with ``row_changes`` to its row's
    facts (a stage or lateness this test does not walk the lifecycle to)."""
    data = f.projection_of(life, at)
    if row_changes:
        data = data.model_copy(update={"row": data.row.model_copy(update=row_changes)})
    with session_scope(url) as session:
        assert apply_projection(session=session, data=data)


class TestReviewRefOnTheRow:
    def test_a_recommendation_row_keeps_the_review_it_belongs_to(self, store_url):
        """A recommendation started with a review_ref has it on its row, through later writes; one without has none."""
        life = started("REV-ROW-1", "SAR-2023-MH")
        first = f.projection_of(life, NOW)
        later = NOW + timedelta(hours=1)
        life.check(AcknowledgeInput(by=f.OWNER, action_id="A1"), later)
        life.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), later)
        delta = f.projection_of(life, later, stored_actions={a.action_id: a for a in first.actions})
        assert delta.recommendation is None  # a later write of the run carries no facts
        with session_scope(store_url) as session:
            assert apply_projection(session=session, data=first)
        with session_scope(store_url) as session:
            assert apply_projection(session=session, data=delta)
        assert "SAR-2023-MH" == stored_row(store_url, "REV-ROW-1").review_ref
        project(store_url, started("REV-ROW-2", None))
        assert stored_row(store_url, "REV-ROW-2").review_ref is None


def viewer(email: str, *, boards: set[str] = frozenset(), lead_of: str | None = None) -> Visibility:
    """The visibility ``store.access`` gives someone: the boards they sponsor or chair, the agency they lead."""
    seen = Viewer(email=email, name=email, everything=False, boards=frozenset(boards), lead_of=lead_of,
                  roles=frozenset())  # fmt: skip
    visibility = seen.visibility
    assert visibility is not None
    return visibility


SPONSOR = viewer(f.SPONSOR, boards={"Review Board"})
OWNER = viewer(f.OWNER)
POLICE_LEAD = viewer(f.POLICE_LEAD, lead_of=f.POLICE)
STRANGER = viewer(f.STRANGER)


@pytest.fixture
def partnership(store_url) -> str:
    """Three reviews. The Review Board's SAR has five recommendations: SAR-1 open (the ICB's
    named nurse's), and of the police's, SAR-2 declined, SAR-3 assured, SAR-4 open and overdue,
    SAR-5 withdrawn. The Adults Board's DHR has DHR-1 (the named nurse's too); the Review Board's
    rapid review has none yet; LOOSE belongs to no review."""
    write(
        store_url,
        [
            a_review(),
            a_review("DHR-2022-02", kind="DHR", title="Domestic homicide review: Adult M", board="Adults Board"),
            a_review("RR-2023-01", kind="Rapid review", title="Rapid review: Child K", concluded_on=None),
        ],
    )
    police = {"owner": f.OWNER_2, "agency": f.POLICE}
    project(store_url, started("SAR-1", "SAR-2023-MH"))
    declined = started("SAR-2", "SAR-2023-MH", **police)
    declined.check(DeclineInput(by=f.SPONSOR, reason="Covered by the ICB's own review"), NOW)
    declined.apply(DeclineInput(by=f.SPONSOR, reason="Covered by the ICB's own review"), NOW)
    project(store_url, declined)
    project(store_url, started("SAR-3", "SAR-2023-MH", **police), stage=Stage.assured)
    project(store_url, started("SAR-4", "SAR-2023-MH", **police), overdue=True)
    withdrawn = started("SAR-5", "SAR-2023-MH", **police)
    withdrawn.check(WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"), NOW)
    withdrawn.apply(WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"), NOW)
    project(store_url, withdrawn)
    project(store_url, started("DHR-1", "DHR-2022-02", board="Adults Board"))
    project(store_url, started("LOOSE", None))
    return store_url


def summaries(url: str, visible: Visibility | None) -> dict[str, tuple[int, int, int, int, int]]:
    """Each review the reader sees, by ref: (recommendations, open, assured, declined, overdue)."""
    with session_scope(url) as session:
        found = review_summaries(session=session, now=NOW, visible=visible)
    return {s.review_ref: (s.recommendations, s.open, s.assured, s.declined, s.overdue) for s in found}


def detail_refs(url: str, review_ref: str, visible: Visibility | None) -> list[str] | None:
    """The refs of the review's recommendations the reader sees; None when they see no such review."""
    with session_scope(url) as session:
        detail = review_detail(session=session, review_ref=review_ref, now=NOW, visible=visible)
    return None if detail is None else [r.ref for r in detail.recommendations]


class TestReviewSummaries:
    def test_someone_who_sees_everything_sees_every_review_with_all_its_counts(self, partnership):
        """By ref, each review counts its own recommendations (LOOSE in none): the withdrawn SAR-5
        only in the total, SAR-4 open and overdue; the rapid review has none."""
        assert {
            "DHR-2022-02": (1, 1, 0, 0, 0),
            "RR-2023-01": (0, 0, 0, 0, 0),
            "SAR-2023-MH": (5, 2, 1, 1, 1),
        } == summaries(partnership, None)
        with session_scope(partnership) as session:
            sar = review_summaries(session=session, now=NOW, visible=None)[-1]
        assert (SourceKind.sar, "Thematic safeguarding adults review: mental health", ["mental health", "domestic abuse"]) == (
            sar.kind, sar.title, sar.themes
        )  # fmt: skip
        assert (date(2022, 9, 1), date(2023, 3, 14), None) == (sar.notified_on, sar.concluded_on, sar.published_on)

    def test_a_board_sponsor_sees_their_boards_reviews_even_without_recommendations(self, partnership):
        """The Review Board's sponsor sees its SAR, whole, and its rapid review with none yet; not the Adults Board's DHR."""
        assert {"RR-2023-01": (0, 0, 0, 0, 0), "SAR-2023-MH": (5, 2, 1, 1, 1)} == summaries(partnership, SPONSOR)

    def test_an_owner_sees_a_review_only_through_a_recommendation_they_may_see_and_counts_only_those(self, partnership):
        """The named nurse holds SAR-1 and DHR-1: the SAR counts SAR-1 alone, the DHR (another board's) is seen through DHR-1."""
        assert {"DHR-2022-02": (1, 1, 0, 0, 0), "SAR-2023-MH": (1, 1, 0, 0, 0)} == summaries(partnership, OWNER)

    def test_an_agency_lead_sees_their_agencys_recommendations_of_a_review(self, partnership):
        """The police's safeguarding lead sees the SAR through the police's four: declined, assured, overdue and withdrawn."""
        assert {"SAR-2023-MH": (4, 1, 1, 1, 1)} == summaries(partnership, POLICE_LEAD)

    def test_a_stranger_sees_no_review(self, partnership):
        """Someone with no part in any recommendation or board sees none."""
        assert {} == summaries(partnership, STRANGER)


class TestReviewDetail:
    def test_the_detail_lists_the_recommendations_the_reader_may_see_by_ref(self, partnership):
        """The sponsor sees all five of the SAR's, the named nurse SAR-1 alone; the summary within is the listing's."""
        assert ["SAR-1", "SAR-2", "SAR-3", "SAR-4", "SAR-5"] == detail_refs(partnership, "SAR-2023-MH", SPONSOR)
        assert ["SAR-1"] == detail_refs(partnership, "SAR-2023-MH", OWNER)
        assert [] == detail_refs(partnership, "RR-2023-01", SPONSOR)
        with session_scope(partnership) as session:
            detail = review_detail(session=session, review_ref="SAR-2023-MH", now=NOW, visible=OWNER)
            listed = review_summaries(session=session, now=NOW, visible=OWNER)
        assert detail is not None and detail.review == next(s for s in listed if s.review_ref == "SAR-2023-MH")
        assert (f.recommendation("SAR-1").title, "Review Board") == (
            detail.recommendations[0].title, detail.recommendations[0].board
        )  # fmt: skip

    def test_an_unknown_review_and_one_the_reader_may_not_see_are_alike(self, partnership):
        """Both are None: the rapid review to the named nurse (no recommendation of it is theirs),
        the DHR to the Review Board's sponsor, any review to a stranger, and a ref that names none."""
        assert None is detail_refs(partnership, "RR-2023-01", OWNER)
        assert None is detail_refs(partnership, "DHR-2022-02", SPONSOR)
        assert None is detail_refs(partnership, "SAR-2023-MH", STRANGER)
        assert None is detail_refs(partnership, "NO-SUCH-REVIEW", None)


def themed(ref: str, review_ref: str, themes: list[str], source_date: date) -> Lifecycle:
    """A recommendation of ``review_ref`` carrying ``themes`` of its own, from ``source_date``."""
    life = started(ref, review_ref)
    rec = life.state.recommendation.model_copy(update={"themes": themes, "source_date": source_date})
    life.state = life.state.model_copy(update={"recommendation": rec})
    return life


class TestARecommendationsOwnThemes:
    """Earlier: NEG-2021 names neglect; CP-2022 names none but one of its recommendations names
    mental health. Later: MH-2023 names mental health, and of its recommendations MH-1 names
    neglect of its own, MH-2 nothing."""

    @pytest.fixture
    def reviews(self, store_url) -> str:
        write(store_url, [
            a_review("NEG-2021", title="SAR: neglect", notified_on=date(2021, 2, 1), commissioned_on=None,
                     concluded_on=None, themes=["neglect"]),
            a_review("CP-2022", title="Audit: care plans", notified_on=date(2022, 2, 1), commissioned_on=None,
                     concluded_on=None, themes=[]),
            a_review("MH-2023", notified_on=date(2023, 2, 1), commissioned_on=None, concluded_on=None,
                     themes=["mental health"]),
        ])  # fmt: skip
        project(store_url, themed("CP-1", "CP-2022", ["mental health"], date(2022, 6, 1)))
        project(store_url, themed("MH-1", "MH-2023", ["neglect"], date(2023, 6, 1)))
        project(store_url, themed("MH-2", "MH-2023", [], date(2023, 6, 1)))
        return store_url

    def test_the_row_keeps_them_and_a_review_counts_its_recommendations_themes(self, reviews):
        assert json.loads(stored_row(reviews, "MH-1").themes) == ["neglect"]
        with session_scope(reviews) as session:
            found = {t.review_ref: t.themes for t in themed_reviews(session=session)}
        assert found == {"NEG-2021": {"neglect"}, "CP-2022": {"mental health"}, "MH-2023": {"mental health", "neglect"}}

    def test_a_review_repeats_its_own_and_its_recommendations_themes(self, reviews):
        named, found = self.asked(reviews, None)
        assert named == ["mental health"]
        assert [(r.theme, r.earlier) for r in found] == [("mental health", ["CP-2022"]), ("neglect", ["NEG-2021"])]

    @pytest.mark.parametrize(
        ("own", "expected"),
        [([], [("mental health", ["CP-2022"])]),
         (["neglect"], [("mental health", ["CP-2022"]), ("neglect", ["NEG-2021"])])],
        ids=["MH-2: its review's theme alone", "MH-1: its own theme too"],
    )  # fmt: skip
    def test_a_recommendation_repeats_its_reviews_themes_and_its_own_not_its_sisters(self, reviews, own, expected):
        named, found = self.asked(reviews, own)
        assert named == ["mental health"]
        assert [(r.theme, r.earlier) for r in found] == expected

    @staticmethod
    def asked(url: str, own: list[str] | None):
        with session_scope(url) as session:
            return repeats_for_reader(session=session, review_ref="MH-2023", now=NOW, visible=None,
                                      recommendation_themes=own)  # fmt: skip
