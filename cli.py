"""The ``assure`` command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn

import typer

from logs import configure_logging
from models.payloads import AuditOutcome
from settings import STATE_DIR, settings_or_exit

app = typer.Typer(help="Assure: safeguarding action-plan assurance on Temporal.", no_args_is_help=True)


def _exit(status: int) -> NoReturn:
    # A process that used a Temporal client can abort at interpreter shutdown (sdk-python
    # issue 300): flush and leave with the exact status instead.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _raise_keyboard_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


@app.command()
def worker() -> None:
    """Run the Temporal worker against the configured server."""
    from worker import main

    main()


@app.command()
def migrate() -> None:
    """Bring the store (ASSURE_DATABASE_URL) to the current schema: every migration it lacks."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from store.db import StoreNeedsAttention
    from store.db import migrate as apply_migrations

    settings = settings_or_exit()
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        applied = apply_migrations(settings.database_url)
    except StoreNeedsAttention as exc:
        typer.echo(f"cannot migrate: {exc}", err=True)
        _exit(3)
    except OperationalError as exc:
        typer.echo(f"cannot reach the store at {where}: {str(exc.orig).strip().splitlines()[0]}", err=True)
        _exit(1)
    typer.echo(f"{where}: applied {', '.join(applied)}" if applied else f"{where}: already at the current schema")
    _exit(0)


@app.command()
def mailcatcher() -> None:
    """Run the development mail catcher on ASSURE_SMTP_HOST:ASSURE_SMTP_PORT, keeping mail in the store."""
    from devtools.mailcatcher import start_mailcatcher

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    controller = start_mailcatcher(host=settings.smtp_host, port=settings.smtp_port, database_url=settings.database_url)
    typer.echo(f"Catching mail on {settings.smtp_host}:{settings.smtp_port}; press Ctrl-C to stop")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def _uvicorn_config(settings, host: str | None, port: int | None, *, dev: bool = False):
    import uvicorn

    from web.app import create_app

    # uvicorn's own access log would print each /r/<token> path; the app logs requests redacted.
    return uvicorn.Config(
        create_app(settings, dev_pages=dev),
        host=host or settings.web_host,
        port=port or settings.web_port,
        access_log=False,
        # X-Forwarded-For (and -Proto) believed from ASSURE_TRUSTED_PROXIES only; with none set,
        # from nobody (uvicorn's own default would trust 127.0.0.1, so any local client could
        # name itself anew on each request and escape its rate limits).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        server_header=False,
        log_level="warning",
    )


@app.command()
def web(
    host: str | None = typer.Option(None, help="Address to listen on (default ASSURE_WEB_HOST)"),
    port: int | None = typer.Option(None, help="Port to listen on (default ASSURE_WEB_PORT)"),
) -> None:
    """Run the web app: the response pages that links in emails open."""
    import uvicorn

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    config = _uvicorn_config(settings, host, port)
    typer.echo(f"Assure web on http://{config.host}:{config.port}")
    uvicorn.Server(config).run()


@app.command()
def dev(
    ui_port: int | None = typer.Option(None, help="Port of the Temporal Web UI (default ASSURE_TEMPORAL_UI_PORT)"),
) -> None:
    """Run everything on this machine: the Temporal dev server (state in .assure/), the mail
    catcher, the worker and the web app; the example plan is imported on the first start."""
    from devtools.mailcatcher import start_mailcatcher
    from gateway.workflows import dev_server_path
    from worker import run_worker

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    ui_port = ui_port or settings.temporal_ui_port
    host, _, port = settings.temporal_address.rpartition(":")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [
            dev_server_path(),
            "server",
            "start-dev",
            "--ip",
            host if host not in {"localhost", ""} else "127.0.0.1",
            "--port",
            port,
            "--ui-port",
            str(ui_port),
            "--namespace",
            settings.temporal_namespace,
            "--db-filename",
            str(STATE_DIR / "temporal.db"),
            "--log-level",
            "warn",
        ],
        # Its own session: Ctrl-C reaches only us, so the worker stops while the server still
        # answers, and the server is stopped last (a worker cannot shut down against a dead server).
        start_new_session=True,
    )
    catcher = start_mailcatcher(host=settings.smtp_host, port=settings.smtp_port, database_url=settings.database_url)

    async def wait_then_work() -> None:

        from gateway.workflows import connect

        client = None
        for _ in range(300):  # the dev server takes a few seconds to open its port
            with suppress(Exception):
                client = await connect(settings)
                break
            if server.poll() is not None:
                raise RuntimeError("the Temporal dev server exited; is its port already taken?")
            await asyncio.sleep(0.2)
        if client is None:
            raise RuntimeError(f"the Temporal dev server did not answer on {settings.temporal_address}")
        web_server = _server_without_signal_handlers(_uvicorn_config(settings, None, None, dev=True))
        worker = asyncio.create_task(run_worker(settings))
        web = asyncio.create_task(web_server.serve())
        sample = await _first_start(settings, client)
        _where_to_look(settings, ui_port, sample)
        try:
            done, _ = await asyncio.wait({worker, web}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Ctrl-C (this task cancelled) or one of them failed: stop both in order, then say why.
            web_server.should_exit = True
            worker.cancel()
            await asyncio.wait({worker, web})
        for task in done:
            task.result()

    # Ctrl-C stops everything, even when started from a script that ignores it for background
    # jobs; `kill` (SIGTERM) does the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        asyncio.run(wait_then_work())
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _server_without_signal_handlers(config):
    """uvicorn's server minus its own Ctrl-C handling, so asyncio's cancels the whole stack at once."""
    import uvicorn

    class Quiet(uvicorn.Server):
        @contextmanager
        def capture_signals(self):
            yield

    return Quiet(config)


EXAMPLE_ANCHOR = "2023-04-01"  # the example's dates are written as if this were today


async def _first_start(settings, client) -> str | None:
    """Import the example plan once (a marker in the state directory remembers), dated as a live
    year; returns a sample owner's link."""
    from datetime import date

    from links.signed import LinkClaims, signer_from_settings
    from plans.apply import import_plan
    from plans.sheets import read_plan_file
    from plans.validate import check_plan
    from store.db import init_db

    marker = STATE_DIR / "example-imported"
    example = Path(settings.example_plan) if settings.example_plan else None
    if example is None or not example.is_file():
        return None
    init_db(settings.database_url)
    shift = date.today() - date.fromisoformat(EXAMPLE_ANCHOR)
    sheets, problems = read_plan_file(example)
    plan, more = check_plan(sheets, today=date.today(), shift=shift) if not problems else (None, [])
    if problems or more or plan is None:
        typer.echo(f"The example plan {example} has problems; not imported:", err=True)
        for problem in [*problems, *more]:
            typer.echo(f"  {problem}", err=True)
        return None
    if not marker.exists():
        report = await import_plan(
            plan, client=client, database_url=settings.database_url, task_queue=settings.task_queue
        )
        marker.write_text(f"{date.today().isoformat()}\n", encoding="ascii")
        typer.echo(f"Imported the example plan {example.name}: {len(report.started)} recommendations started")
    for item in plan.recommendations:
        progress = {a.action_id: a for a in (item.start.imported.actions if item.start.imported else [])}
        for action in item.start.actions:
            known = progress.get(action.action_id)
            if action.due >= date.today() and (known is None or known.status.value == "assigned"):
                claims = LinkClaims(
                    person=action.owner, ref=item.start.recommendation.ref, role="owner", action_id=action.action_id
                )
                return signer_from_settings(settings).url(settings.base_url, claims)
    return None


def _member_hint(settings) -> str:
    """ " as someone@..." naming an Assurance Board member of the registry, to sign in as."""
    from sqlmodel import select

    from store.db import init_db, session_scope
    from store.tables import Person

    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        people = session.exec(select(Person).where(Person.roles.contains("assurance_member")).order_by(Person.email))
        member = next((p.email for p in people if "assurance_member" in p.role_list()), None)
    return f" (as an Assurance Board member, e.g. {member})" if member else ""


def _where_to_look(settings, ui_port: int, sample: str | None) -> None:
    web = f"http://{settings.web_host}:{settings.web_port}"
    lines = [
        "",
        "Assure is running. Where to look:",
        f"  Web app (response pages): {web}",
        f"  Dashboard:                {web}/sign-in{_member_hint(settings)}",
        f"  Caught mail:              {web}/dev/mail (sign-in links arrive here)",
        f"  Temporal Web UI:          http://127.0.0.1:{ui_port}",
    ]
    if sample:
        lines.append(f"  A sample owner's link:    {sample}")
    lines += ["Press Ctrl-C to stop everything; run it again to carry on where it stopped.", ""]
    typer.echo("\n".join(lines))


@app.command("import")
def import_plan(
    path: Path = typer.Argument(..., help="The plan: .xlsx, .csv or .yaml (format in the README)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and compare only; start nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print problems or the report as JSON"),
    apply_changes: bool = typer.Option(False, "--apply-changes", help="Apply changes to running workflows"),
    rebase_dates: str | None = typer.Option(
        None, "--rebase-dates", metavar="YYYY-MM-DD", help="Shift every date so this day falls on today"
    ),
) -> None:
    """Import an action plan: check the whole file, then start each recommendation's workflow."""
    from datetime import date

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    shift = None
    if rebase_dates is not None:
        try:
            shift = date.today() - date.fromisoformat(rebase_dates)
        except ValueError:
            typer.echo(f"--rebase-dates: {rebase_dates!r} is not a date like 2023-04-01", err=True)
            _exit(2)
    status = asyncio.run(_import(path, settings, dry_run=dry_run, as_json=as_json, apply=apply_changes, shift=shift))
    _exit(status)


async def _import(path: Path, settings, *, dry_run: bool, as_json: bool, apply: bool, shift) -> int:
    from datetime import date, timedelta

    from rich.progress import Progress

    from gateway.workflows import connect
    from plans.apply import import_plan
    from plans.isolated import read_plan_file  # the API's reader: a child process within limits
    from plans.validate import check_plan
    from store.db import init_db, session_scope
    from store.read_model import registry

    init_db(settings.database_url)
    sheets, problems = read_plan_file(path)
    plan = None
    if not problems:
        with session_scope(settings.database_url) as session:
            stored = registry(session=session)
        plan, problems = check_plan(sheets, stored=stored, today=date.today(), shift=shift or timedelta(0))
    if problems:
        if as_json:
            typer.echo(json.dumps({"problems": [p.as_dict() for p in problems]}, indent=2))
        else:
            typer.echo(f"{path.name}: {len(problems)} problem(s); nothing was imported", err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
        return 2
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        return 1
    with Progress(transient=True, disable=as_json or len(plan.recommendations) < 50) as bar:
        task = bar.add_task("Importing", total=len(plan.recommendations))
        report = await import_plan(
            plan,
            client=client,
            database_url=settings.database_url,
            task_queue=settings.task_queue,
            dry_run=dry_run,
            apply_changes=apply,
            progress=lambda _ref: bar.advance(task),
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return 0
    verb = "would start" if dry_run else "started"
    typer.echo(f"{len(report.started)} {verb}, {len(report.unchanged)} unchanged, {len(report.changes)} changed")
    for ref, changes in report.changes.items():
        typer.echo(f"  {ref}:")
        for change in changes:
            mark = "applied" if change in report.applied.get(ref, []) else "not applied"
            typer.echo(f"    {change} ({mark if apply else 'use --apply-changes to apply'})")
        for refused in report.not_applied.get(ref, []):
            if refused not in changes:
                typer.echo(f"    not applied: {refused}")
    if report.roles_updated:
        typer.echo(f"roles changed in the registry reached {len(report.roles_updated)} running recommendation(s)")
    return 0


@app.command()
def template(
    out: Path = typer.Option(..., "--out", help="Where to write the workbook (.xlsx)"),
    from_yaml: Path | None = typer.Option(None, "--from", help="Fill it from this YAML plan instead"),
) -> None:
    """Write the blank plan workbook (headers, drop-down lists, a worked example row), or a YAML plan as one."""
    from plans.workbook import write_from_yaml, write_template

    if out.suffix.lower() != ".xlsx":
        typer.echo("--out must name a .xlsx file", err=True)
        raise SystemExit(2)
    if from_yaml is not None:
        write_from_yaml(from_yaml, out)
    else:
        write_template(out)
    typer.echo(f"Wrote {out}")


@app.command()
def status(
    board: str | None = typer.Option(None, help="Only this board's recommendations"),
    agency: str | None = typer.Option(None, help="Only those with an action for this agency"),
    stage: str | None = typer.Option(None, help="Only those at this stage"),
    overdue: bool = typer.Option(False, "--overdue", help="Only overdue ones"),
    as_json: bool = typer.Option(False, "--json", help="Print the listing as JSON"),
) -> None:
    """One line per recommendation (stage, RAG, next deadline, escalation), then totals per stage."""
    from collections import Counter
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from models.payloads import Stage
    from store.db import init_db, session_scope
    from store.read_model import recommendation_summaries

    settings = settings_or_exit()
    if stage is not None and stage not in {s.value for s in Stage}:
        typer.echo(f"--stage: {stage!r} is not a stage; use one of {', '.join(s.value for s in Stage)}", err=True)
        _exit(2)
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        rows = recommendation_summaries(
            session=session, now=datetime.now(UTC), board=board, agency=agency, stage=stage, overdue_only=overdue
        )
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        _exit(0)
    colours = {"red": "bold red", "amber": "yellow", "green": "green", "closed": "dim"}
    table = Table(title="Recommendations")
    # The short columns keep their width; the title gives way (cut short) on a narrow terminal.
    for name, width in (
        ("Ref", 12),
        ("Stage", 11),
        ("RAG", 5),
        ("Next deadline", 11),
        ("Escalation", 10),
        ("Board", 10),
    ):
        table.add_column(name, min_width=width, overflow="fold")
    table.add_column("Title", no_wrap=True, overflow="ellipsis", max_width=60)
    for row in rows:
        deadline = f"{row.next_deadline_at:%d %b %Y} {row.next_deadline_kind}" if row.next_deadline_at else ""
        level = row.escalation_level.replace("_", " ") if row.escalation_level != "none" else ""
        table.add_row(
            row.ref, row.stage, f"[{colours[row.rag]}]{row.rag}[/]", deadline, level, row.board, row.title[:60]
        )
    # Piped into a file or another program, there is no terminal to fit: keep whole lines.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    totals = Counter(row.stage for row in rows)
    console.print("  ".join(f"{name}: {totals[name]}" for name in (s.value for s in Stage) if totals[name]) or "none")
    _exit(0)


def _decide_as(ref: str, name: str, payload: dict) -> None:
    """Take one decision as a board member; exit 3 refused, 4 unknown ref, 2 bad input, 1 no Temporal."""
    from gateway.workflows import DecisionNotTaken, UnknownRecommendation, connect, decide

    settings = settings_or_exit()

    async def take() -> str:
        client = await connect(settings)
        return (await decide(client, ref, name, payload, database_url=settings.database_url)).stage.value

    try:
        stage = asyncio.run(take())
    except DecisionNotTaken as refused:
        typer.echo(f"{ref}: {refused.message}", err=True)
        for gap in refused.gaps:
            typer.echo(f"  - {gap}", err=True)
        for where, problem in refused.fields.items():
            typer.echo(f"  - {where}: {problem}", err=True)
        _exit(2 if refused.type in {"InvalidInput", "UnknownDecision"} else 3)
    except UnknownRecommendation as exc:
        typer.echo(str(exc), err=True)
        _exit(4)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)
    typer.echo(f"{ref}: done; the recommendation is now at stage {stage}")
    _exit(0)


@app.command("sign-off")
def sign_off(
    ref: str,
    by: str = typer.Option(..., "--by", help="The Assurance Board member signing off (email)"),
    note: str = typer.Option("", "--note", help="A note for the record"),
) -> None:
    """Sign a recommendation off as an Assurance Board member."""
    _decide_as(ref, "sign_off", {"by": by, "note": note})


@app.command()
def audit(
    ref: str,
    outcome: AuditOutcome = typer.Option(..., "--outcome", help="What the audit found"),
    by: str = typer.Option(..., "--by", help="The auditor (email)"),
    findings: str = typer.Option("", "--findings", help="What the audit found, in words"),
    re_audit_on: str | None = typer.Option(None, "--re-audit-on", metavar="YYYY-MM-DD", help="When to audit again"),
    remedial: Path | None = typer.Option(
        None,
        "--remedial",
        metavar="FILE",
        help="The remedial actions of an audit that is not fully embedded: a .yaml list or a .csv with the "
        "columns action_id, description, agency, owner, due (YYYY-MM-DD), success_measure",
    ),
    early_reason: str = typer.Option(
        "", "--early-reason", help="Why the audit is recorded before its planned date (needed before that date)"
    ),
) -> None:
    """Record an audit's outcome as an auditor or an Assurance Board member."""
    payload: dict = {"by": by, "outcome": outcome.value, "findings": findings, "early_reason": early_reason}
    if re_audit_on is not None:
        payload["re_audit_on"] = re_audit_on
    if remedial is not None:
        payload["remedial_actions"] = _remedial_actions(remedial)
    _decide_as(ref, "record_audit", payload)


REMEDIAL_COLUMNS = ("action_id", "description", "agency", "owner", "due", "success_measure")


def _remedial_actions(path: Path) -> list[dict[str, str]]:
    """The rows of a remedial-actions file, as given; the workflow's payload checks each field
    (and ``_decide_as`` prints where one is wrong). Exits 2 for a file it cannot read."""
    import csv

    import yaml

    def bad(reason: str) -> NoReturn:
        typer.echo(f"--remedial {path}: {reason}", err=True)
        _exit(2)

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        bad(f"cannot be read ({exc.__class__.__name__})")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in REMEDIAL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            bad(f"the header lacks {', '.join(missing)}; it needs {', '.join(REMEDIAL_COLUMNS)}")
        rows: object = [{k: (v or "").strip() for k, v in row.items() if k in REMEDIAL_COLUMNS} for row in reader]
    elif path.suffix.lower() in {".yaml", ".yml"}:
        try:
            rows = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            bad(f"is not valid YAML ({str(exc).splitlines()[0]})")
    else:
        bad("use a .yaml or .csv file")
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        bad("needs at least one action, each with " + ", ".join(REMEDIAL_COLUMNS))
    return [{str(k): str(v) for k, v in row.items()} for row in rows]  # type: ignore[union-attr]


@app.command()
def report(
    month: str | None = typer.Option(None, "--month", metavar="YYYY-MM", help="The month (default: this one)"),
    out: Path | None = typer.Option(None, "--out", help="Write the pack here (.html); default: print it"),
    send: bool = typer.Option(False, "--send", help="Also email it to the Assurance Board now"),
) -> None:
    """Render the Assurance Board's monthly pack from the live record, as one HTML file."""
    from datetime import UTC, date, datetime

    from reports.board_pack import board_pack_data, render_board_pack, sign_off_gaps_of
    from store.db import init_db, session_scope

    settings = settings_or_exit()
    today = date.today()
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError:
        typer.echo(f"--month: {month!r} is not a month like 2026-11", err=True)
        _exit(2)
    if out is not None and out.suffix.lower() != ".html":
        typer.echo("--out must name a .html file", err=True)
        _exit(2)
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        pack = board_pack_data(session=session, month=first, now=datetime.now(UTC))

    async def checked_gaps() -> dict[str, list[str]]:
        from gateway.workflows import connect

        try:
            client = await asyncio.wait_for(connect(settings), timeout=10)
        except (RuntimeError, TimeoutError):
            typer.echo("Temporal could not be reached: the plans' gaps are not checked in this pack", err=True)
            return {}
        return await sign_off_gaps_of(client, [s.ref for s in pack.awaiting_sign_off])

    if pack.awaiting_sign_off:
        pack.gaps = asyncio.run(checked_gaps())
    html = render_board_pack(pack)
    if out is None and not send:
        typer.echo(html)
    elif out is not None:
        out.write_text(html, encoding="utf-8")
        typer.echo(f"Wrote the board pack for {first:%B %Y} to {out}")
    if send:
        _exit(asyncio.run(_send_pack(settings, first)))
    _exit(0)


async def _send_pack(settings, month) -> int:
    """Email the pack through BoardPackWorkflow (the worker sends it, once per member)."""
    from datetime import UTC, datetime

    from gateway.workflows import connect
    from models.payloads import BoardPackInput, BoardPackResult
    from workflows.board_pack import BoardPackWorkflow

    try:
        client = await connect(settings)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        return 1
    result: BoardPackResult = await client.execute_workflow(
        BoardPackWorkflow.run,
        BoardPackInput(month=month),
        id=f"board-pack-{month:%Y-%m}-sent-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        task_queue=settings.task_queue,
        result_type=BoardPackResult,
    )
    typer.echo(f"Emailed the pack for {month:%B %Y} to {result.sent} of {len(result.recipients)} member(s)")
    return 0


@app.command()
def export(out: Path = typer.Option(..., "--out", help="FILE.xlsx or FILE.csv")) -> None:
    """Export the action plan as it stands: one row per recommendation with its RAG."""
    import csv
    from datetime import UTC, datetime

    from store.db import init_db, session_scope
    from store.read_model import recommendation_summaries

    suffix = out.suffix.lower()
    if suffix not in {".xlsx", ".csv"}:
        typer.echo("--out must name a .xlsx or .csv file", err=True)
        _exit(2)
    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        rows = recommendation_summaries(session=session, now=datetime.now(UTC))
    columns = ["ref", "title", "board", "agencies", "stage", "rag", "overdue", "escalation_level",
               "next_deadline_at", "next_deadline_kind", "next_open_due"]  # fmt: skip

    def cells(row) -> list:
        data = row.model_dump()
        data["agencies"] = "; ".join(row.agencies)
        values = [data[c] for c in columns]
        # Text that a spreadsheet would run as a formula is written as text.
        return ["'" + v if isinstance(v, str) and v.startswith(("=", "+", "-", "@")) else v for v in values]

    if suffix == ".csv":
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(cells(row) for row in rows)
    else:
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Recommendations"
        sheet.append(columns)
        for row in rows:
            sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in cells(row)])
        workbook.save(out)
    typer.echo(f"Wrote {len(rows)} recommendation(s) to {out}")
    _exit(0)


token_app = typer.Typer(help="Bearer tokens for the JSON API.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(for_: str = typer.Option(..., "--for", help="The person's email, as in the registry")) -> None:
    """Make a token for a person; it is printed once, alone on the last line, and stored hashed."""
    from store.api_tokens import UnknownPerson, issue_token
    from store.db import init_db, session_scope

    settings = settings_or_exit()
    init_db(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            token = issue_token(session=session, email=for_)
    except UnknownPerson as exc:
        typer.echo(str(exc), err=True)
        _exit(2)
    typer.echo(f"A token for {for_.strip().lower()}; their registry roles decide what it may do.")
    typer.echo("It is shown only now: keep it secret, and revoke it with `assure token revoke TOKEN`.")
    typer.echo(token)
    _exit(0)


@token_app.command("revoke")
def token_revoke(
    token: str | None = typer.Argument(None, help="The token to revoke"),
    for_: str | None = typer.Option(None, "--for", help="Revoke every token of this person instead"),
) -> None:
    """Revoke one token, or every token of a person."""
    from store.api_tokens import revoke_tokens
    from store.db import init_db, session_scope

    if (token is None) == (for_ is None):
        typer.echo("give either a TOKEN or --for EMAIL", err=True)
        _exit(2)
    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        count = revoke_tokens(session=session, token=token, email=for_)
    typer.echo(f"{count} token(s) revoked")
    _exit(0 if count else 4)


@app.command()
def show(ref: str, as_json: bool = typer.Option(False, "--json", help="Print the status query's JSON")) -> None:
    """Ask a recommendation's workflow where it stands."""
    from gateway.workflows import UnknownRecommendation, connect, recommendation_status

    settings = settings_or_exit()

    async def query() -> dict:
        client = await connect(settings)
        return (await recommendation_status(client, ref)).model_dump(mode="json")

    try:
        status = asyncio.run(query())
    except UnknownRecommendation as exc:
        typer.echo(str(exc), err=True)
        _exit(4)
    except RuntimeError as exc:  # the SDK's "Failed client connect"
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)
    if as_json:
        typer.echo(json.dumps(status, indent=2))
    else:
        level, overdue = status["escalation_level"], status["overdue"]
        typer.echo(f"{status['ref']}  stage={status['stage']}  escalation={level}  overdue={overdue}")
        for action in status["actions"]:
            typer.echo(
                f"  {action['action_id']}: {action['status']}, due {action['due']} ({action['escalation_level']})"
            )
    _exit(0)


@app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print what was found as JSON"),
    resolve: list[int] = typer.Option([], "--resolve", help="Mark problem ID dealt with (repeatable)"),
    grace: int = typer.Option(120, help="Seconds a new workflow may run before the store must have its row"),
) -> None:
    """What needs an operator: problems the effects recorded, workflows whose task keeps failing,
    and the read model against Temporal. Exit 0 when all is well, 1 when anything needs attention
    (or Temporal or the store cannot be reached)."""
    from datetime import UTC, datetime, timedelta

    from gateway.doctor import examine
    from gateway.workflows import connect
    from store.db import init_db, session_scope
    from store.read_model import resolve_problems

    settings = settings_or_exit()
    init_db(settings.database_url)
    if resolve:
        with session_scope(settings.database_url) as session:
            count = resolve_problems(session=session, ids=resolve, now=datetime.now(UTC))
        typer.echo(f"{count} problem(s) marked resolved")

    async def look():
        client = await connect(settings)
        return await examine(client, settings.database_url, grace=timedelta(seconds=max(grace, 0)))

    try:
        found = asyncio.run(look())
    except RuntimeError as exc:  # the SDK's "Failed client connect"
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)
    typer.echo(json.dumps(found.as_json(), indent=2) if as_json else found.as_text())
    _exit(1 if found.needs_attention else 0)


def main() -> None:
    """The console script: the commands, with a store that cannot be migrated said plainly."""
    from store.db import StoreNeedsAttention

    try:
        app()
    except StoreNeedsAttention as exc:
        typer.echo(f"the store needs attention: {exc}", err=True)
        _exit(3)


if __name__ == "__main__":
    main()
