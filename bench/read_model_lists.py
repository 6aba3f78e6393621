"""Benchmark: the API list and the dashboard overview with N recommendations in the read model.

Run by hand (not in CI):  .venv/bin/python -m bench.read_model_lists [N] [--postgres URL]   (default 2000)

The read model is filled directly (as projection would: recommendations across five boards, two
to three actions each across fifteen agencies, every stage, some overdue and escalated, failed
audits on the timeline), then each page is asked for ``REQUESTS`` times through the app in this
process (FastAPI's ASGI transport: the app's own time, no network). Prints the median and the
95th percentile for an Assurance Board member (sees everything) and a board sponsor (filtered),
with the read model unchanged between requests (the listing is kept until it changes) and with a
recommendation moving on before each request (the listing is built afresh every time).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import insert, update

from settings import Settings
from store.api_tokens import issue_token
from store.db import init_db, session_scope
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
                "version": 3, "updated_at": now,
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
            .values(version=RecommendationRow.version + 1)
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


async def main(n: int, database_url: str | None) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(url)
        started = time.perf_counter()
        fill(url, n, now)
        print(
            f"filled the read model with {n} recommendations in {time.perf_counter() - started:.1f} s",
            f"({url.split(':')[0]})",
        )
        settings = Settings(
            _env_file=None, database_url=url, base_url="https://assure.example", secret_key=SecretStr("b" * 48)
        )
        app = create_app(settings, client=object())  # type: ignore[arg-type]  # these pages never ask Temporal
        with session_scope(url) as session:
            tokens = {who: issue_token(session=session, email=who) for who in (MEMBER, SPONSOR)}
            cookies = {
                who: app.state.ctx.cookies.start(session=session, email=who, now=now) for who in (MEMBER, SPONSOR)
            }
        rows = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
            for who, label in ((MEMBER, "Assurance Board member"), (SPONSOR, "board sponsor")):
                bearer = {"Authorization": f"Bearer {tokens[who]}"}
                for changed, when in ((None, "unchanged"), (url, "changed before each")):
                    api = await timed(client, "/api/recommendations", changed=changed, headers=bearer)
                    client.cookies.set(COOKIE_NAME, cookies[who], domain="assure.example")
                    overview = await timed(client, "/dashboard", changed=changed)
                    client.cookies.clear()
                    rows += [
                        (f"GET /api/recommendations, {label}, {when}", api),
                        (f"GET /dashboard, {label}, {when}", overview),
                    ]
        print(f"{'request (read model unchanged, or changed before each)':<72} {'median ms':>10} {'p95 ms':>8}")
        for name, times in rows:
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"{name:<72} {statistics.median(times):>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of SQLite")
    options = parser.parse_args()
    asyncio.run(main(options.n, options.postgres))
