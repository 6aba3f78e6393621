"""People change in the store (``store.people``), on SQLite and PostgreSQL alike: a standing
deputy, absences and leavers, each refused with its reasons located on their fields and nothing
written (even when the caller goes on to commit), each accepted change logged once, and a
leaver's registry parts moved to the successor in full, once, however often it is recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import col, select

from store.db import session_scope
from store.people import (
    RegistryEditRefused,
    absences_in_force,
    cancel_absence,
    has_left,
    person_record,
    record_absence,
    record_leaving,
    set_deputy,
    uncovered,
)
from store.read_model import upsert_registry
from store.tables import AbsenceRow, Agency, Board, Person, RegistryChange

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
TODAY = date(2027, 3, 1)
ICB, POLICE = "BLMK Integrated Care Board", "Thames Valley Police"
ANN = "ann.able@icb.example"  # the leaver in the leaving tests
BEN = "ben.baker@icb.example"
CAT = "cat.cole@icb.example"  # the successor
DAN = "dan.dale@icb.example"
PAT = "pat.pike@police.example"
GUS = "gus.gone@icb.example"  # left already
NIA = "nia.none@mk.example"  # no agency
BY = "registry.admin@mk.example"


@pytest.fixture
def url(store_url) -> str:
    """The store with a small registry: four ICB people, one police officer, one who has left,
    one with no agency; Ann leads the ICB, chairs the Review Board and sponsors the Risk Board."""
    agencies = [
        Agency(name=ICB, safeguarding_lead_email="Ann.Able@ICB.example"),  # as a workbook might spell it
        Agency(name=POLICE, safeguarding_lead_email=PAT),
    ]
    people = [
        Person(email=ANN, name="Ann Able", agency=ICB, roles="owner,board_chair:Review Board,agency_lead"),
        Person(email=BEN, name="Ben Baker", agency=ICB, roles="owner"),
        Person(email=CAT, name="Cat Cole", agency=ICB, roles="owner,auditor"),
        Person(email=DAN, name="Dan Dale", agency=ICB, roles="owner"),
        Person(email=PAT, name="Pat Pike", agency=POLICE, roles="agency_lead"),
        Person(email=GUS, agency=ICB, roles="", left_on=date(2026, 12, 1), successor=DAN),
        Person(email=NIA, agency="", roles="assurance_member"),
    ]
    boards = [
        Board(name="Review Board", sponsor_email=PAT, chair_email=ANN),
        Board(name="Risk Board", sponsor_email="ANN.able@icb.example", chair_email=PAT),
    ]
    with session_scope(store_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
    return store_url


def person(url: str, email: str) -> Person:
    with session_scope(url) as session:
        found = session.exec(select(Person).where(Person.email == email)).one()
        session.expunge(found)
        return found


def changes(url: str) -> list[tuple[str, str, str, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(RegistryChange).order_by(col(RegistryChange.id)))
        return [(r.by, r.subject, r.what, r.detail) for r in rows]


def absences(url: str) -> list[tuple[str, date, date, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(AbsenceRow).order_by(col(AbsenceRow.person), col(AbsenceRow.first_day)))
        return [(r.person, r.first_day, r.last_day, r.deputy) for r in rows]


def snapshot(url: str) -> dict[str, list]:
    """Every registry row the people functions may touch, as plain values."""
    with session_scope(url) as session:
        return {
            model.__name__: sorted(
                (tuple(sorted(row.model_dump().items())) for row in session.exec(select(model))), key=repr
            )
            for model in (Person, Agency, Board, AbsenceRow, RegistryChange)
        }


def refused_in_a_committed_session(url: str, edit) -> RegistryEditRefused:
    """Run a refused edit in a session that goes on to commit: a refusal must have written
    nothing itself, not merely been rolled back by the caller."""
    with session_scope(url) as session:
        with pytest.raises(RegistryEditRefused) as refused:
            edit(session)
    return refused.value


def absence(url: str, who: str, first: date, last: date, deputy: str = "", *, by: str = BY) -> AbsenceRow:
    with session_scope(url) as session:
        row = record_absence(session, person=who, first_day=first, last_day=last, deputy=deputy, by=by,
                             today=TODAY, now=NOW)  # fmt: skip
        session.expunge(row)
        return row


# --- deputies -----------------------------------------------------------------------------


def test_a_standing_deputy_is_set_changed_and_cleared_each_change_logged_once(url):
    with session_scope(url) as session:
        assert set_deputy(session, person=" Ben.Baker@ICB.example ", deputy="CAT.cole@icb.example", by=BY, now=NOW)
    assert person(url, BEN).deputy == CAT  # stored lower-case
    with session_scope(url) as session:
        assert not set_deputy(session, person=BEN, deputy=CAT.upper(), by=BY, now=NOW)  # the same: nothing
        assert set_deputy(session, person=BEN, deputy=DAN, by="Registry.Admin@MK.example", now=NOW)
    with session_scope(url) as session:
        assert set_deputy(session, person=BEN, deputy="", by=BY, now=NOW)
    assert person(url, BEN).deputy == ""
    assert changes(url) == [
        (BY, BEN, "deputy", f"standing deputy {CAT}"),
        (BY, BEN, "deputy", f"standing deputy {DAN}, in place of {CAT}"),
        (BY, BEN, "deputy", f"standing deputy {DAN} removed: none now"),
    ]


@pytest.mark.parametrize(
    ("who", "deputy", "by", "field", "reason"),
    [
        (BEN, "nobody@icb.example", BY, "deputy", "the deputy nobody@icb.example is not in the registry"),
        (BEN, GUS, BY, "deputy", f"the deputy {GUS} left on 1 December 2026: name someone still here"),
        (BEN, PAT, BY, "deputy", f"the deputy {PAT} is registered with {POLICE}, not {ICB}: a deputy is someone of the same agency"),
        (BEN, BEN.upper(), BY, "deputy", f"{BEN} cannot be their own deputy"),
        (BEN, "Cat Cole <cat.cole@icb.example>", BY, "deputy", "is not an email address: give the address alone"),
        (NIA, BEN, BY, "deputy", f"{NIA} has no agency in the registry, so no deputy of the same agency can be named"),
        ("nobody@icb.example", BEN, BY, "person", "no one with the address nobody@icb.example is in the registry"),
        (GUS, BEN, BY, "person", f"{GUS} left on 1 December 2026"),
        (BEN, CAT, "  ", "by", "say who is making the change"),
    ],
)  # fmt: skip
def test_a_deputy_the_rules_refuse_is_refused_at_its_field_and_nothing_is_written(url, who, deputy, by, field, reason):
    before = snapshot(url)
    refused = refused_in_a_committed_session(
        url, lambda session: set_deputy(session, person=who, deputy=deputy, by=by, now=NOW)
    )
    assert list(refused.fields) == [field] and reason in refused.fields[field]
    assert refused.message.startswith("the deputy cannot be recorded: ") and reason in refused.message
    assert snapshot(url) == before


# --- absences -----------------------------------------------------------------------------


def test_an_absence_is_recorded_with_its_cover_and_logged(url):
    with session_scope(url) as session:
        set_deputy(session, person=BEN, deputy=CAT, by=BY, now=NOW)
    standing = absence(url, "BEN.baker@icb.example", date(2027, 3, 1), date(2027, 3, 21))
    named = absence(url, BEN, date(2027, 4, 1), date(2027, 4, 2), deputy="Dan.Dale@icb.example")
    alone = absence(url, DAN, date(2027, 2, 20), date(2027, 3, 1), by="Operator (command line)")  # ends today
    assert standing.id is not None and named.id is not None and alone.id is not None
    assert (standing.person, standing.deputy, standing.recorded_by, standing.recorded_at) == (BEN, "", BY, NOW)
    assert absences(url) == [
        (BEN, date(2027, 3, 1), date(2027, 3, 21), ""),
        (BEN, date(2027, 4, 1), date(2027, 4, 2), DAN),
        (DAN, date(2027, 2, 20), date(2027, 3, 1), ""),
    ]
    assert changes(url)[1:] == [
        (BY, BEN, "absence", f"away from 1 March 2027 to 21 March 2027, covered by their standing deputy {CAT}"),
        (BY, BEN, "absence", f"away from 1 April 2027 to 2 April 2027, covered by {DAN}"),
        ("Operator (command line)", DAN, "absence", "away from 20 February 2027 to 1 March 2027, with no deputy named"),
    ]
    with session_scope(url) as session:
        # Ben has a standing deputy; Dan has none and his absence names none: his lead must be told.
        assert (uncovered(session, standing), uncovered(session, named), uncovered(session, alone)) == (
            False,
            False,
            True,
        )
        assert (uncovered(session, BEN), uncovered(session, DAN.upper())) == (False, True)
        in_force = absences_in_force(session, date(2027, 3, 2))
        assert [(a.person, a.first_day) for a in in_force] == [(BEN, date(2027, 3, 1)), (BEN, date(2027, 4, 1))]


@pytest.mark.parametrize(
    ("who", "first", "last", "deputy", "reasons"),
    [
        (BEN, date(2027, 3, 10), date(2027, 3, 9), "",
         {"last_day": "the last day, 9 March 2027, is before the first day, 10 March 2027"}),
        (BEN, date(2027, 2, 1), date(2027, 2, 28), "",
         {"last_day": "an absence that has already ended cannot be recorded: its last day, 28 February 2027, is before today, 1 March 2027"}),
        (BEN, date(1999, 12, 31), date(2101, 1, 1), "",
         {"first_day": "1999-12-31 is not a date Assure accepts", "last_day": "2101-01-01 is not a date Assure accepts"}),
        (BEN, date(2027, 3, 20), date(2027, 4, 5), "",
         {"first_day": "these days overlap the absence already recorded from 15 March 2027 to 31 March 2027"}),
        (BEN, date(2027, 3, 1), date(2027, 3, 15), "",
         {"first_day": "these days overlap the absence already recorded from 15 March 2027 to 31 March 2027"}),
        (BEN, date(2027, 5, 1), date(2027, 5, 2), PAT,
         {"deputy": f"the deputy {PAT} is registered with {POLICE}, not {ICB}"}),
        (BEN, date(2027, 5, 1), date(2027, 5, 2), GUS, {"deputy": f"the deputy {GUS} left on 1 December 2026"}),
        (BEN, date(2027, 5, 1), date(2027, 5, 2), BEN, {"deputy": f"{BEN} cannot be their own deputy"}),
        (GUS, date(2027, 5, 1), date(2027, 5, 2), "", {"person": f"{GUS} left on 1 December 2026"}),
        ("nobody@icb.example", date(2027, 5, 1), date(2027, 5, 2), "",
         {"person": "no one with the address nobody@icb.example is in the registry"}),
        # Every reason at once, each at its own field.
        ("no one", date(2027, 2, 1), date(2027, 2, 2), "x@", {
            "person": "'no one' is not an email address", "last_day": "an absence that has already ended",
            "deputy": "'x@' is not an email address"}),
    ],
)  # fmt: skip
def test_an_absence_the_rules_refuse_is_refused_at_its_fields_and_nothing_is_written(
    url, who, first, last, deputy, reasons
):
    absence(url, BEN, date(2027, 3, 15), date(2027, 3, 31))
    before = snapshot(url)
    refused = refused_in_a_committed_session(
        url,
        lambda session: record_absence(
            session, person=who, first_day=first, last_day=last, deputy=deputy, by=BY, today=TODAY, now=NOW
        ),  # fmt: skip
    )
    assert set(refused.fields) == set(reasons)
    for field, reason in reasons.items():
        assert reason in refused.fields[field], (field, refused.fields[field])
        assert reason in refused.message
    assert refused.message.startswith("the absence cannot be recorded: ")
    assert snapshot(url) == before


def test_an_absence_is_cancelled_and_the_cancelling_logged(url):
    kept = absence(url, BEN, date(2027, 3, 1), date(2027, 3, 5))
    gone = absence(url, BEN, date(2027, 4, 1), date(2027, 4, 5))
    with session_scope(url) as session:
        removed = cancel_absence(session, absence_id=gone.id, by=BY, now=NOW)
    assert (removed.id, removed.person, removed.first_day) == (gone.id, BEN, date(2027, 4, 1))
    assert absences(url) == [(BEN, kept.first_day, kept.last_day, "")]
    assert changes(url)[-1] == (BY, BEN, "absence", "cancelled: away from 1 April 2027 to 5 April 2027")
    before = snapshot(url)
    refused = refused_in_a_committed_session(url, lambda s: cancel_absence(s, absence_id=gone.id, by=BY, now=NOW))
    assert refused.fields == {"absence_id": f"there is no absence {gone.id} in the registry"}
    assert snapshot(url) == before


# --- a person's record --------------------------------------------------------------------


def test_a_persons_record_has_their_absences_not_over_and_their_latest_twenty_changes(url):
    absence(url, BEN, date(2027, 2, 20), date(2027, 3, 3))  # in progress on 2 March
    absence(url, BEN, date(2027, 4, 1), date(2027, 4, 2), deputy=DAN)
    absence(url, CAT, date(2027, 4, 1), date(2027, 4, 2))  # someone else's
    for n in range(24):  # 24 changes of deputy, then the two absences: 26 changes in all
        with session_scope(url) as session:
            set_deputy(session, person=BEN, deputy=CAT if n % 2 == 0 else "", by=BY, now=NOW + timedelta(minutes=n))
    with session_scope(url) as session:
        record = person_record(session, "Ben.Baker@icb.EXAMPLE", date(2027, 3, 4))
        with pytest.raises(LookupError, match="no one with the address nobody@icb.example is in the registry"):
            person_record(session, "Nobody@icb.example", TODAY)
    assert (record.email, record.name, record.agency, record.roles) == (BEN, "Ben Baker", ICB, ["owner"])
    assert (record.deputy, record.left_on, record.successor) == ("", None, "")
    assert [(a.first_day, a.deputy) for a in record.absences] == [(date(2027, 4, 1), DAN)]  # the first is over
    assert len(record.changes) == 20
    assert record.changes[0].at == NOW + timedelta(minutes=23)  # newest first
    assert record.changes[0].detail == f"standing deputy {CAT} removed: none now"
    assert record.changes[-1].at == NOW + timedelta(minutes=4)
    assert {c.what for c in record.changes} == {"deputy"}  # the absences' changes are older than these


# --- leavers ------------------------------------------------------------------------------


def test_a_leavers_registry_parts_move_to_the_successor_in_full(url):
    # Ben's and Cat's standing deputy is Ann; Dan's is Ben. Ann covers absences of Ben and Cat.
    with session_scope(url) as session:
        for who, deputy in ((BEN, ANN), (CAT, ANN), (DAN, BEN)):
            set_deputy(session, person=who, deputy=deputy, by=BY, now=NOW)
    absence(url, BEN, date(2027, 3, 1), date(2027, 3, 10), deputy=ANN)
    absence(url, CAT, date(2027, 4, 1), date(2027, 4, 10), deputy=ANN)
    absence(url, ANN, date(2027, 5, 1), date(2027, 5, 10))  # her own, still to come
    with session_scope(url) as session:  # a past absence Ann covered, and one of hers: history, kept
        session.add(AbsenceRow(person=BEN, first_day=date(2027, 1, 4), last_day=date(2027, 1, 8), deputy=ANN,
                               recorded_by=BY, recorded_at=NOW))  # fmt: skip
        session.add(AbsenceRow(person=ANN, first_day=date(2027, 1, 11), last_day=date(2027, 1, 15), deputy="",
                               recorded_by=BY, recorded_at=NOW))  # fmt: skip
    later = datetime(2027, 3, 5, 9, tzinfo=UTC)
    with session_scope(url) as session:
        record = record_leaving(session, leaver="Ann.Able@ICB.example", successor=" CAT.Cole@icb.example",
                                by=BY, today=date(2027, 3, 5), now=later)  # fmt: skip
    assert (record.leaver, record.successor, record.already_left) == (ANN, CAT, False)
    assert record.moved == [
        "the role board_chair:Review Board",
        "the role agency_lead",
        f"safeguarding lead of {ICB}",
        "chair of Review Board",
        "sponsor of Risk Board",
        f"standing deputy of {BEN}",
        f"standing deputy of {CAT}: removed, as they cannot deputise for themselves",
        f"deputy for the absence of {BEN} from 1 March 2027 to 10 March 2027",
        f"deputy for the absence of {CAT} from 1 April 2027 to 10 April 2027: now their standing deputy instead",
    ]
    ann, cat = person(url, ANN), person(url, CAT)
    assert (ann.roles, ann.deputy, ann.left_on, ann.successor) == ("", "", date(2027, 3, 5), CAT)
    assert cat.role_list() == ["owner", "auditor", "board_chair:Review Board", "agency_lead"]  # owner once
    assert cat.deputy == ""
    assert (person(url, BEN).deputy, person(url, DAN).deputy) == (CAT, BEN)
    with session_scope(url) as session:
        leads = {a.name: a.safeguarding_lead_email for a in session.exec(select(Agency))}
        boards = {b.name: (b.chair_email, b.sponsor_email) for b in session.exec(select(Board))}
        assert has_left(session, "ANN.able@icb.example") and has_left(session, GUS)
        assert not has_left(session, CAT) and not has_left(session, "nobody@icb.example")
    assert leads == {ICB: CAT, POLICE: PAT}
    assert boards == {"Review Board": (CAT, PAT), "Risk Board": (PAT, CAT)}
    assert absences(url) == [
        (ANN, date(2027, 1, 11), date(2027, 1, 15), ""),  # over: kept; her absence to come is removed
        (BEN, date(2027, 1, 4), date(2027, 1, 8), ANN),  # over: she did cover it
        (BEN, date(2027, 3, 1), date(2027, 3, 10), CAT),
        (CAT, date(2027, 4, 1), date(2027, 4, 10), ""),
    ]
    by, subject, what, detail = changes(url)[-1]
    assert (by, subject, what) == (BY, ANN, "left")
    assert detail.startswith(
        f"left on 5 March 2027; successor {CAT}; moved to them: the role board_chair:Review Board; "
    )
    assert detail.endswith("; their 1 absence(s) not yet over removed")

    # Recorded again with the same successor: nothing changes, and the caller may resume the hand-over.
    before = snapshot(url)
    with session_scope(url) as session:
        again = record_leaving(session, leaver=ANN, successor=CAT, by=BY, today=date(2027, 3, 9), now=NOW)
    assert (again.leaver, again.successor, again.moved, again.already_left) == (ANN, CAT, [], True)
    assert snapshot(url) == before


@pytest.mark.parametrize(
    ("leaver", "successor", "field", "reason"),
    [
        (GUS, BEN, "successor", f"{GUS} left on 1 December 2026, handing over to {DAN}: a leaver's successor cannot be changed here"),
        (BEN, GUS, "successor", f"the successor {GUS} left on 1 December 2026: name someone still here"),
        (BEN, BEN.upper(), "successor", f"{BEN} cannot succeed themselves"),
        (BEN, "nobody@icb.example", "successor", "no one with the address nobody@icb.example is in the registry"),
        ("nobody@icb.example", BEN, "leaver", "no one with the address nobody@icb.example is in the registry"),
        ("ann able", BEN, "leaver", "'ann able' is not an email address: it has a space in it"),
    ],
)  # fmt: skip
def test_a_leaver_the_rules_refuse_is_refused_at_its_field_and_nothing_is_written(
    url, leaver, successor, field, reason
):
    before = snapshot(url)
    refused = refused_in_a_committed_session(
        url, lambda s: record_leaving(s, leaver=leaver, successor=successor, by=BY, today=TODAY, now=NOW)
    )
    assert list(refused.fields) == [field] and reason in refused.fields[field]
    assert refused.message.startswith("the leaver cannot be recorded: ")
    assert snapshot(url) == before


def test_a_leaver_already_gone_to_this_successor_is_a_resumable_no_change(url):
    before = snapshot(url)
    with session_scope(url) as session:
        again = record_leaving(session, leaver=GUS.upper(), successor=DAN, by=BY, today=TODAY, now=NOW)
    assert (again.already_left, again.moved) == (True, [])
    assert snapshot(url) == before
