"""Benchmark: import a generated plan of N recommendations on the real dev server, with a worker.

Run by hand (not in CI):  .venv/bin/python -m bench.import_plan [N]   (default 2000)

Prints a table: the time to check the file, the time to import it (every workflow started), and
the time until every workflow has recorded its first transition in the store (the read model).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlmodel import func, select

from bench.lifecycle_throughput import start_dev_server
from devtools.local_stack import free_port, worker_maker
from devtools.mailcatcher import start_mailcatcher
from devtools.plan_files import plan, write_csv, write_yaml
from plans.apply import import_plan
from plans.sheets import read_plan_file
from plans.validate import check_plan
from settings import Settings
from store.db import init_db, session_scope
from store.tables import RecommendationRow


def generated(n: int, today: date) -> dict:
    """``n`` recommendations of two actions each, on the registry of the test plan."""
    rows = plan(today)
    base_rec, base_action = rows["Recommendations"][0], rows["Actions"][0]
    rows["Recommendations"] = [{**base_rec, "ref": f"GEN-{i:05d}", "title": f"Generated recommendation {i}"}
                               for i in range(n)]  # fmt: skip
    rows["Actions"] = [
        {**base_action, "recommendation_ref": f"GEN-{i:05d}", "action_id": f"A{k}",
         "due_date": (today + timedelta(days=30 + i % 200)).isoformat()}
        for i in range(n) for k in (1, 2)
    ]  # fmt: skip
    rows["Plans"] = []
    return rows


async def main(n: int) -> None:
    today = date.today()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        database_url = f"sqlite:///{directory / 'assure.db'}"
        init_db(database_url)
        port = free_port()
        catcher = start_mailcatcher(host="127.0.0.1", port=port, database_url=database_url)
        env = await start_dev_server()
        settings = Settings(
            _env_file=None, task_queue="bench", database_url=database_url, smtp_port=port,
            secret_key=SecretStr("x" * 48),
        )  # fmt: skip
        rows = generated(n, today)
        yaml_path = write_yaml(rows, directory / "plan.yaml")
        csv_path = write_csv(rows, directory / "plan.csv")
        results = []
        try:
            with ThreadPoolExecutor(max_workers=8) as executor:
                async with worker_maker(env.client, settings=settings, executor=executor)():
                    started = time.perf_counter()
                    sheets, problems = read_plan_file(yaml_path)
                    checked_plan, problems = check_plan(sheets, today=today)
                    assert not problems, problems[:5]
                    checked = time.perf_counter()
                    report = await import_plan(
                        checked_plan, client=env.client, database_url=database_url, task_queue="bench"
                    )
                    imported = time.perf_counter()
                    while True:
                        with session_scope(database_url) as session:
                            stored = session.exec(select(func.count()).select_from(RecommendationRow)).one()
                        if stored >= n:
                            break
                        await asyncio.sleep(0.5)
                    projected = time.perf_counter()
                    results = [
                        ("recommendations", f"{len(report.started)}"),
                        ("YAML file size", f"{yaml_path.stat().st_size / 1024:.0f} KiB"),
                        ("CSV file size (same plan)", f"{csv_path.stat().st_size / 1024:.0f} KiB"),
                        ("read and check the file", f"{checked - started:.1f} s"),
                        ("start every workflow", f"{imported - checked:.1f} s"),
                        ("until all are in the read model", f"{projected - checked:.1f} s"),
                        ("starts per second", f"{n / (imported - checked):.0f}"),
                    ]
        finally:
            await env.shutdown()
            catcher.stop()
    width = max(len(name) for name, _ in results)
    print(f"Import benchmark, {n} recommendations (2 actions each), dev server + one worker")
    for name, value in results:
        print(f"  {name:<{width}}  {value:>10}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
