"""The kept listing: brought up to date by the rows that moved, it says exactly what a listing
built whole says, with the same tallies, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.lifecycle import Lifecycle
from models.payloads import AcknowledgeInput, CompleteActionInput
from store.db import session_scope
from store.listing import forget_listings, listing_with_tallies, recommendation_summaries, tallies_of
from store.overview import counts_by, overview
from store.read_model import apply_projection
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def project(url: str, life: Lifecycle, now: datetime) -> None:
    with session_scope(url) as session:
        apply_projection(session=session, data=f.projection_of(life, now))


def begin(ref: str, *actions) -> Lifecycle:
    return Lifecycle.begin(f.start(ref, actions=list(actions)), workflow_id=f"recommendation-{ref}", now=NOW)


def read(url: str, now: datetime, **filters):
    with session_scope(url) as session:
        summaries, by_board, by_agency = listing_with_tallies(session=session, now=now, visible=None)
        return summaries, by_board, by_agency, recommendation_summaries(session=session, now=now, **filters)


def read_whole(url: str, now: datetime, **filters):
    forget_listings()
    return read(url, now, **filters)


def test_a_listing_brought_up_to_date_says_what_one_built_whole_says(store_url):
    due = NOW.date() + timedelta(days=30)
    lives = {
        ref: begin(ref, f.action("A1", due), f.action("A2", due + timedelta(days=5), owner=f.OWNER_2, agency=f.POLICE))
        for ref in ("KEEP-1", "KEEP-2", "KEEP-3")
    }
    for life in lives.values():
        project(store_url, life, NOW)
    first = read(store_url, NOW)
    assert [s.ref for s in first[0]] == ["KEEP-1", "KEEP-2", "KEEP-3"]

    # One moves on (its stage and its police action), one is added (with no police action).
    later = NOW + timedelta(minutes=20)
    moving = lives["KEEP-2"]
    moving.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), later)
    moving.apply(AcknowledgeInput(by=f.OWNER_2, action_id="A2"), later)
    moving.apply(CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Briefed every team"), later)
    project(store_url, moving, later)
    kept_after_move = read(store_url, later, agency=f.POLICE)
    assert kept_after_move[1:] == read_whole(store_url, later, agency=f.POLICE)[1:]
    project(store_url, begin("KEEP-0", f.action("A1", due)), later)
    kept_after_add = read(store_url, later, stage="action")

    stages = {s.ref: s.stage for s in kept_after_move[0]}
    assert stages == {"KEEP-1": "action", "KEEP-2": "in_progress", "KEEP-3": "action"}
    assert [s.ref for s in kept_after_add[0]] == ["KEEP-0", "KEEP-1", "KEEP-2", "KEEP-3"]  # by ref, new one first
    assert [s.ref for s in kept_after_add[3]] == ["KEEP-0", "KEEP-1", "KEEP-3"]
    whole = read_whole(store_url, later, stage="action")
    assert [s.model_dump() for s in kept_after_add[0]] == [s.model_dump() for s in whole[0]]
    assert kept_after_add[1:] == whole[1:]  # the tallies and the filtered list
    assert kept_after_add[1] == tallies_of(whole[0])[0] and kept_after_add[2] == tallies_of(whole[0])[1]

    # The tallies moved with the rows: KEEP-2 counts once in progress under each of its agencies.
    by_agency = kept_after_add[2]
    assert by_agency[(f.POLICE, moving_rag(kept_after_add[0]), "in_progress")] == 1
    assert sum(n for (agency, _, _), n in by_agency.items() if agency == f.POLICE) == 3  # KEEP-0 has none


def moving_rag(summaries) -> str:
    return next(s.rag for s in summaries if s.ref == "KEEP-2")


def test_the_overview_counts_what_the_reader_sees_from_the_same_listing(store_url):
    due = NOW.date() + timedelta(days=5)
    project(store_url, begin("SEEN-1", f.action("A1", due)), NOW)
    project(store_url, begin("SEEN-2", f.action("A1", due, owner=f.OWNER_2, agency=f.POLICE)), NOW)
    with session_scope(store_url) as session:
        everything = overview(session=session, now=NOW)
        theirs = overview(session=session, now=NOW, visible=lambda board, owners, agencies: f.OWNER_2 in owners)
        summaries = recommendation_summaries(session=session, now=NOW)
    assert everything.total == 2 and theirs.total == 1
    assert everything.rag_by_agency == counts_by(summaries, per="agency", of="rag")
    assert everything.stage_by_board == counts_by(summaries, per="board", of="stage")
    assert theirs.rag_by_agency == {f.POLICE: {"amber": 1}}  # due within 14 days
    assert everything.rag_totals == {"amber": 2} and everything.stage_totals == {"action": 2}


def test_a_rating_is_read_again_when_the_hour_turns(store_url):
    project(store_url, begin("HOUR-1", f.action("A1", NOW.date() + timedelta(days=15))), NOW)
    assert read(store_url, NOW)[0][0].rag == "green"
    # A day later the same row, unchanged, is due within 14 days.
    assert read(store_url, NOW + timedelta(days=1, hours=1))[0][0].rag == "amber"


def test_a_row_written_with_an_old_time_is_found_all_the_same(store_url):
    """The rows written lately are looked at first; one whose workflow time is older than that
    (a late write) shows through the count and sum of versions, and the listing reads them all."""
    due = NOW.date() + timedelta(days=30)
    late, recent = begin("LATE-1", f.action("A1", due)), begin("LATE-2", f.action("A1", due))
    project(store_url, late, NOW - timedelta(hours=3))
    project(store_url, recent, NOW)
    assert [s.stage for s in read(store_url, NOW)[0]] == ["action", "action"]
    late.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), NOW - timedelta(hours=2))
    project(store_url, late, NOW - timedelta(hours=2))
    assert [s.stage for s in read(store_url, NOW)[0]] == ["in_progress", "action"]
    recent.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), NOW + timedelta(minutes=5))
    project(store_url, recent, NOW + timedelta(minutes=5))
    assert [s.stage for s in read(store_url, NOW + timedelta(minutes=6))[0]] == ["in_progress", "in_progress"]
