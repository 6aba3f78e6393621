"""The listing of recommendations: what the API's list, the dashboard, ``assure status``, the
board pack and the annual report read, each line with its RAG rating and who may see it.

The listing is kept in memory per database and brought up to date by the rows that moved, not
rebuilt: the lists and the overview are asked for far more often than a workflow moves, and
rebuilding every summary after each move cost a 95th percentile of about 270 ms at 2,000
recommendations (bench/read_model_lists.py; BENCHMARKS.md has the figures).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session

from models.payloads import Payload
from models.rag import rag
from store.read_model import as_utc
from store.tables import ActionRow, CascadeRow, MeasureRow, RecommendationRow, table_of

# ``visible(board, owners, agencies)``: whether a reader may see a recommendation (store/access.py).
# The owners it is given are lower-cased, as the listing keeps them.
Visibility = Callable[[str, set[str], set[str]], bool]


class RecommendationSummary(Payload):
    """One line of a listing: what ``assure status`` and the API's list print, with its RAG."""

    ref: str
    title: str
    board: str
    agencies: list[str]
    stage: str
    rag: str
    overdue: bool
    escalation_level: str
    next_deadline_at: datetime | None
    next_deadline_kind: str | None
    next_open_due: date | None
    audit_due: date | None = None
    stage_entered_at: datetime | None = None
    measures_off_track: int = 0


def recommendation_summaries(
    *,
    session: Session,
    now: datetime,
    board: str | None = None,
    agency: str | None = None,
    stage: str | None = None,
    overdue_only: bool = False,
    visible: Visibility | None = None,
) -> list[RecommendationSummary]:
    """Every recommendation in the read model matching the filters, by ref, with its RAG rating.

    ``visible(board, owners, agencies)``, when given, keeps only what a caller may see.
    """
    return [
        entry.summary
        for entry in _listing(session, now)
        if (not board or entry.summary.board == board)
        and (not stage or entry.summary.stage == stage)
        and (not overdue_only or entry.summary.overdue)
        and (not agency or agency in entry.agencies)
        and (visible is None or visible(entry.summary.board, entry.owners, entry.agencies))
    ]


@dataclass(frozen=True)
class _Listed:
    summary: RecommendationSummary
    owners: set[str]
    agencies: set[str]


# How many recommendations stand at each (board or agency, rag, stage): what the overview's
# tables and charts count. A recommendation counts once for each agency holding one of its actions.
Tally = Counter[tuple[str, str, str]]


def tallies_of(lines: Iterable[RecommendationSummary]) -> tuple[Tally, Tally]:
    """The (by board, by agency) tallies of some summaries."""
    summaries = list(lines)
    by_board = Counter((s.board, s.rag, s.stage) for s in summaries)
    by_agency = Counter((agency, s.rag, s.stage) for s in summaries for agency in s.agencies)
    return by_board, by_agency


@dataclass(frozen=True)
class _Kept:
    """A database's listing as last read: each row's version, the lines by ref, the lines in ref
    order (what callers get, so never changed in place: another thread may be reading it), each
    line's place in that order, and the whole listing's tallies."""

    hour: datetime
    stamp: tuple[Any, ...]
    versions: dict[str, int]
    lines: dict[str, _Listed]
    ordered: list[_Listed]
    places: dict[str, int]
    by_board: Tally
    by_agency: Tally

    @classmethod
    def built(
        cls, hour: datetime, stamp: tuple[Any, ...], versions: dict[str, int], lines: dict[str, _Listed]
    ) -> _Kept:
        # Sorted here, not by the database, so that a listing built whole and one brought up to
        # date agree whatever the database's collation.
        ordered = [lines[ref] for ref in sorted(lines)]
        by_board, by_agency = tallies_of(line.summary for line in ordered)
        places = {line.summary.ref: place for place, line in enumerate(ordered)}
        return cls(hour, stamp, versions, lines, ordered, places, by_board, by_agency)


# Past this many moved rows one query for them all costs about what rebuilding does.
_MOVED_AT_MOST = 500
_KEPT: dict[str, _Kept] = {}
_KEPT_DATABASES = 8
_KEEPING = threading.Lock()


def listing_with_tallies(
    *, session: Session, now: datetime, visible: Visibility | None
) -> tuple[list[RecommendationSummary], Tally, Tally]:
    """What ``visible`` admits of the listing, with its tallies (kept with the listing for a
    reader who sees everything, counted afresh for anyone else), all from one reading."""
    kept = _kept(session, now)
    if visible is None:
        return [line.summary for line in kept.ordered], kept.by_board, kept.by_agency
    seen = [line.summary for line in kept.ordered if visible(line.summary.board, line.owners, line.agencies)]
    return seen, *tallies_of(seen)


def _listing(session: Session, now: datetime) -> list[_Listed]:
    return _kept(session, now).ordered


def _kept(session: Session, now: datetime) -> _Kept:
    r = table_of(RecommendationRow).c
    connection = session.connection()
    # A rating depends on the time, to the hour, so the whole listing is built again when the
    # hour turns; within the hour, only the rows whose version moved. Every projection that moves
    # a recommendation (its actions, cascade or measures included) raises its version, so the
    # count and the sum of versions change whenever any of them does (and the latest write's time
    # when a database is restored or emptied under a running app). The stamp is read before the
    # versions: a write between the two costs one more look next time, never a stale listing.
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    database = str(session.get_bind().engine.url)
    stamp = tuple(
        connection.execute(sa_select(func.count(), func.coalesce(func.sum(r.version), 0), func.max(r.updated_at))).one()
    )
    kept = _KEPT.get(database)
    if kept is not None and kept.hour == hour and kept.stamp == stamp:
        return kept
    fresh = None
    if kept is not None and kept.hour == hour:
        versions, moved = _moved_versions(connection, kept, stamp)
        fresh = _moved_on(connection, now, kept, stamp, versions, moved)
    else:
        versions = _versions(connection)
    if fresh is None:
        whole = _build_lines(connection, now, refs=None)
        fresh = _Kept.built(hour, stamp, versions, {line.summary.ref: line for line in whole})
    with _KEEPING:
        if database not in _KEPT and len(_KEPT) >= _KEPT_DATABASES:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[database] = fresh
    return fresh


def forget_listings() -> None:
    """Drop every kept listing (a test that empties a database under the same address)."""
    with _KEEPING:
        _KEPT.clear()


def _versions(connection: Any) -> dict[str, int]:
    """Every recommendation's version, read through the driver's own cursor: at 20,000 rows
    SQLAlchemy's result rows cost several times the query."""
    table = table_of(RecommendationRow)
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"SELECT ref, version FROM {table.name}")  # a fixed statement: no values in it
        return dict(cursor.fetchall())
    finally:
        cursor.close()


# How far back, from the latest write ``kept`` saw, to look for rows written since. A row's
# ``updated_at`` is its workflow's time of the transition, so writes need not arrive in its order;
# a write older than this is found all the same, by the stamp's check, at the cost of a full read.
_LOOK_BACK = timedelta(hours=1)


def _moved_versions(connection: Any, kept: _Kept, stamp: tuple[Any, ...]) -> tuple[dict[str, int], list[str]]:
    """Every recommendation's version now, and the refs whose version moved since ``kept``.

    First from the rows written lately alone (a handful, where reading every version costs
    tens of milliseconds at 20,000). Versions only rise, so if any other row had moved, the
    count or the sum of versions would differ from the stamp's: then every version is read."""
    latest = kept.stamp[2]
    if latest is not None:
        r = table_of(RecommendationRow).c
        recent = dict(
            connection.execute(sa_select(r.ref, r.version).where(r.updated_at >= as_utc(latest) - _LOOK_BACK)).all()
        )
        versions = kept.versions | recent
        if (len(versions), sum(versions.values())) == tuple(stamp[:2]):
            return versions, [ref for ref, version in recent.items() if kept.versions.get(ref) != version]
    versions = _versions(connection)
    return versions, [ref for ref, _ in versions.items() - kept.versions.items()]


def _moved_on(
    connection: Any,
    now: datetime,
    kept: _Kept,
    stamp: tuple[Any, ...],
    versions: dict[str, int],
    moved: list[str],
) -> _Kept | None:
    """``kept`` with the ``moved`` rows read again, or None when so many moved that building the
    whole listing is cheaper."""
    gone = kept.versions.keys() - versions.keys()
    if len(moved) + len(gone) > _MOVED_AT_MOST:
        return None
    read = {line.summary.ref: line for line in _build_lines(connection, now, refs=moved)} if moved else {}
    # A moved row that is gone by the time it was read is gone from the listing too.
    gone |= set(moved) - read.keys()
    if gone or not read.keys() <= kept.lines.keys():
        lines = {ref: line for ref, line in kept.lines.items() if ref not in gone} | read
        return _Kept.built(kept.hour, stamp, versions, lines)
    ordered = list(kept.ordered)
    by_board, by_agency = kept.by_board.copy(), kept.by_agency.copy()
    for ref, line in read.items():
        ordered[kept.places[ref]] = line
        for tally, keys in ((by_board, _keys(kept.lines[ref], "board")), (by_agency, _keys(kept.lines[ref], "agency"))):
            for key in keys:
                tally[key] -= 1
                if not tally[key]:
                    del tally[key]
        by_board.update(_keys(line, "board"))
        by_agency.update(_keys(line, "agency"))
    return _Kept(kept.hour, stamp, versions, kept.lines | read, ordered, kept.places, by_board, by_agency)


def _keys(line: _Listed, per: str) -> list[tuple[str, str, str]]:
    """Where one line counts in the tallies: its board, or each agency holding one of its actions."""
    summary = line.summary
    labels = summary.agencies if per == "agency" else [summary.board]
    return [(label, summary.rag, summary.stage) for label in labels]


def _build_lines(connection: Any, now: datetime, *, refs: Sequence[str] | None) -> list[_Listed]:
    """The listing's lines for ``refs`` (every recommendation when None).

    One query: each recommendation with its actions folded in by the database (the earliest
    open due date, the agencies and owners as joined strings), as plain rows, not ORM objects,
    which cost several times the query at 2,000 (bench/read_model_lists.py)."""
    r = table_of(RecommendationRow).c
    a = table_of(ActionRow).c
    query = (
        sa_select(
            r.ref, r.title, r.board, r.stage, r.overdue, r.escalation_level, r.next_deadline_at,
            r.next_deadline_kind, r.stage_entered_at, r.audit_due, r.cascade_short, r.cascade_overdue,
            r.measures_off_track,
            func.min(case((a.status != "complete", a.due))).label("open_due"),
            func.aggregate_strings(a.agency, _SEPARATOR).label("agencies"),
            func.aggregate_strings(func.lower(a.owner), _SEPARATOR).label("owners"),
        )
        .select_from(table_of(RecommendationRow).outerjoin(table_of(ActionRow), a.ref == r.ref))
        .group_by(r.ref)
    )  # fmt: skip
    if refs is not None:
        query = query.where(r.ref.in_(refs))
    rows = connection.execute(query).all()
    beyond_actions = involved_beyond_actions(connection, refs)
    listing = []
    for row in rows:
        agencies = set(row.agencies.split(_SEPARATOR)) if row.agencies else set()
        open_due = _as_date(row.open_due)
        entered = as_utc(row.stage_entered_at)
        rating = rag(
            stage=row.stage,
            overdue=row.overdue,
            escalation_level=row.escalation_level,
            next_open_due=open_due,
            stage_entered_at=entered,
            now=now,
            cascade_short=bool(row.cascade_short),
            cascade_overdue=bool(row.cascade_overdue),
        )
        # Trusted values from our own store: constructed without validating each field again.
        summary = RecommendationSummary.model_construct(
            ref=row.ref, title=row.title, board=row.board, agencies=sorted(agencies), stage=row.stage, rag=rating,
            overdue=row.overdue, escalation_level=row.escalation_level, next_deadline_at=row.next_deadline_at,
            next_deadline_kind=row.next_deadline_kind, next_open_due=open_due, audit_due=row.audit_due,
            stage_entered_at=entered, measures_off_track=row.measures_off_track or 0,
        )  # fmt: skip
        owners = set(row.owners.split(_SEPARATOR)) if row.owners else set()
        people, reached = beyond_actions.get(row.ref, (set(), set()))
        listing.append(_Listed(summary=summary, owners=owners | people, agencies=agencies | reached))
    return listing


def involved_beyond_actions(connection: Any, refs: Sequence[str] | None = None) -> dict[str, tuple[set[str], set[str]]]:
    """Who may see each recommendation other than through its actions, and through which
    agencies: its cascade's leads and agencies, and its measures' reporters. With the actions'
    owners and agencies, the one rule the pages' ``involved`` applies to a single status."""
    c, m = table_of(CascadeRow).c, table_of(MeasureRow).c
    cascade_rows = sa_select(c.ref, c.agency, c.lead)
    reporter_rows = sa_select(m.ref, m.reporter)
    if refs is not None:
        cascade_rows, reporter_rows = cascade_rows.where(c.ref.in_(refs)), reporter_rows.where(m.ref.in_(refs))
    involved: dict[str, tuple[set[str], set[str]]] = {}
    for ref, agency, lead in connection.execute(cascade_rows):
        people, agencies = involved.setdefault(ref, (set(), set()))
        agencies.add(agency)
        if lead:
            people.add(lead.lower())
    for ref, reporter in connection.execute(reporter_rows):
        involved.setdefault(ref, (set(), set()))[0].add(reporter.lower())
    return involved


# Joins the agencies and owners of a recommendation's actions into one string: a character no
# name or address holds (the unit separator).
_SEPARATOR = "\x1f"


def _as_date(value: Any) -> date | None:
    """A date from an aggregate, which SQLite returns as text (its type is lost in MIN)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
