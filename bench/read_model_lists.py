"""Benchmark: the API list and the dashboard overview with N recommendations in the read model.

Run by hand (not in CI):  .venv/bin/python -m bench.read_model_lists [N ...] [--postgres URL | --sqlite-only]
(default 2000, on SQLite and on PostgreSQL side by side).

The read model is filled directly (as projection would: recommendations across five boards, two
to three actions each across fifteen agencies, every stage, some overdue and escalated, failed
audits on the timeline), then each page is asked for ``REQUESTS`` times through the app in this
process (FastAPI's ASGI transport: the app's own time, no network). Prints the median and the
95th percentile for an Assurance Board member (sees everything) and a board sponsor (filtered),
with the read model unchanged between requests and with a recommendation moving on before each
request (the kept listing brought up to date by the row that moved).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import insert, update

from bench.lifecycle_throughput import header, percentile, print_table
from bench.stores import add_store_options, store_urls
from logs import configure_logging
from settings import Settings
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import upsert_registry
from store.sessions import COOKIE_NAME
from store.tables import ActionRow, Agency, Board, Person, RecommendationRow, TimelineRow
from web.app import create_app

REQUESTS = 60
BOARDS = ["Review Board", "Adults Board", "Children Board", "Learning Board", "Assurance Board"]
AGENCIES = [f"Agency {n:02d}" for n in range(15)]
STAGES = [
    "review",
    "action",
    "in_progress",
    "dissemination_plan",
    "sign_off",
    "cascade",
    "audit",
    "re_audit",
    "assured",
]
LEVELS = ["none", "none", "none", "owner", "agency_lead", "sponsoring_board", "assurance_board"]
MEMBER = "chair@assurance.example"
SPONSOR = "sponsor@review.example"


def fill(database_url: str, n: int, now: datetime) -> None:
    """``n`` recommendations in the read model, with their actions and some timeline."""
    today = now.date()
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[Agency(name=name) for name in AGENCIES],
            people=[
                Person(email=MEMBER, name="Board Chair", roles="assurance_member"),
                Person(email=SPONSOR, name="Review Sponsor", roles="board_sponsor:Review Board"),
            ],
            boards=[Board(name=name) for name in BOARDS],
        )
    recommendations, actions, events = [], [], []
    for i in range(n):
        ref = f"BENCH-{i:05d}"
        stage = STAGES[i % len(STAGES)]
        level = LEVELS[i % len(LEVELS)] if stage in {"action", "in_progress"} else "none"
        recommendations.append(
            {
                "ref": ref, "workflow_id": f"recommendation-{ref}", "title": f"Recommendation {i} about practice",
                "source_kind": "cspr", "source_title": "A review", "source_date": date(2023, 3, 1),
                "board": BOARDS[i % len(BOARDS)], "priority": "high", "stage": stage,
                "stage_entered_at": now - timedelta(days=i % 60), "next_deadline_at": now + timedelta(days=i % 90),
                "next_deadline_kind": "overdue", "overdue": level != "none", "escalation_level": level,
                "audit_due": today + timedelta(days=i % 40) if stage in {"audit", "re_audit"} else None,
                "version": 3, "updated_at": now - timedelta(days=i % 60),  # its last transition
            }
        )  # fmt: skip
        for k in range(2 + i % 2):
            actions.append(
                {
                    "ref": ref, "action_id": f"A{k + 1}", "description": "Brief every team",
                    "agency": AGENCIES[(i + k) % len(AGENCIES)], "owner": f"owner{(i + k) % 300}@agency.example",
                    "due": today + timedelta(days=(i % 120) - 30), "status": "complete" if k == 0 else "acknowledged",
                    "round": 0, "overdue": level != "none", "escalation_level": level,
                }
            )  # fmt: skip
        events.append({"ref": ref, "seq": 1, "at": now - timedelta(days=100), "kind": "received", "actor": "assure"})
        if stage == "re_audit":
            events.append(
                {"ref": ref, "seq": 2, "at": now - timedelta(days=10), "kind": "audit_not_embedded",
                 "actor": MEMBER, "detail": "audit 1"}
            )  # fmt: skip
    with session_scope(database_url) as session:
        connection = session.connection()
        connection.execute(insert(RecommendationRow), recommendations)
        connection.execute(insert(ActionRow), actions)
        connection.execute(insert(TimelineRow), events)


def touch(database_url: str) -> None:
    """One recommendation moves on, as a projection would: the next list is built afresh."""
    with session_scope(database_url) as session:
        session.connection().execute(
            update(RecommendationRow)
            .where(RecommendationRow.ref == "BENCH-00000")
            .values(version=RecommendationRow.version + 1, updated_at=datetime.now(UTC))
        )


async def timed(client: httpx.AsyncClient, path: str, *, changed: str | None = None, **kwargs) -> list[float]:
    """Milliseconds for each of ``REQUESTS`` requests, after two to warm up; with ``changed`` (the
    database URL), the read model changes before each one."""
    for _ in range(2):
        (await client.get(path, **kwargs)).raise_for_status()
    times = []
    for _ in range(REQUESTS):
        if changed:
            touch(changed)
        started = time.perf_counter()
        response = await client.get(path, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times


PAGES = (
    ("GET /api/recommendations (first page of 100)", "/api/recommendations"),
    ("GET /dashboard (the overview)", "/dashboard"),
    ("GET /dashboard/recommendations (first page of 100)", "/dashboard/recommendations"),
)


async def measured(url: str, n: int, now: datetime) -> dict[tuple[str, str, str], list[float]]:
    """{(page, reader, unchanged or moved): milliseconds} on the store at ``url``, filled with ``n``."""
    started = time.perf_counter()
    fill(url, n, now)
    print(f"# filled {url.split(':')[0]} with {n} recommendations in {time.perf_counter() - started:.1f} s")
    settings = Settings(
        _env_file=None, database_url=url, base_url="https://assure.example", secret_key=SecretStr("b" * 48)
    )
    app = create_app(settings, client=object())  # type: ignore[arg-type]  # these pages never ask Temporal
    with session_scope(url) as session:
        tokens = {who: issue_token(session=session, email=who) for who in (MEMBER, SPONSOR)}
        cookies = {who: app.state.ctx.cookies.start(session=session, email=who, now=now) for who in (MEMBER, SPONSOR)}
    times = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        for who, reader in ((MEMBER, "Assurance Board member"), (SPONSOR, "board sponsor")):
            for changed, when in ((None, "unchanged"), (url, "one moved before each")):
                for name, path in PAGES:
                    if path.startswith("/api/"):
                        kwargs: dict = {"headers": {"Authorization": f"Bearer {tokens[who]}"}}
                    else:
                        client.cookies.set(COOKIE_NAME, cookies[who], domain="assure.example")
                        kwargs = {}
                    times[(name, reader, when)] = await timed(client, path, changed=changed, **kwargs)
                    client.cookies.clear()
    return times


async def main(sizes: list[int], postgres: str | None) -> None:
    configure_logging(fmt="json", level=logging.WARNING)  # a line per request would bury the tables
    now = datetime.now(UTC)
    results = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp, store_urls(Path(tmp), postgres) as stores:
            for label, url in stores:
                results[(n, label)] = await measured(url, n, now)
    labels = sorted({label for _, label in results}, key=["SQLite", "PostgreSQL"].index)
    print(header("bench.read_model_lists"))
    for n in sizes:
        keys = list(results[(n, labels[0])])
        print_table(
            f"{n:,} recommendations: median / p95 ms over {REQUESTS} requests",
            ["request", "reader", "read model", *labels],
            [
                [name, reader, when, *(_cell(results[(n, label)][(name, reader, when)]) for label in labels)]
                for name, reader, when in keys
            ],
        )
        print()


def _cell(times: list[float]) -> str:
    return f"{statistics.median(times):.0f} / {percentile(times, 95):.0f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[2000], help="how many recommendations (default 2000)")
    add_store_options(parser)
    options = parser.parse_args()
    asyncio.run(main(options.sizes, None if options.sqlite_only else options.postgres))
