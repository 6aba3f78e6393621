"""Running Assure: the worker, the store's migrations, the mail catcher, the web app, and
``assure dev``, which runs them all on this machine with the Temporal dev server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from contextlib import contextmanager, suppress
from pathlib import Path

import typer

from cli import _exit, app
from logs import configure_logging
from settings import STATE_DIR, settings_or_exit


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
    from workflows.search_attributes import dev_server_arguments, register_search_attributes

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
            # A workflow that upserts a search attribute the server does not know fails its task.
            # start-dev registers these only in a new file: register_search_attributes (below)
            # adds them to a state directory made before they existed.
            *dev_server_arguments(),
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
        await register_search_attributes(client)
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
            plan,
            client=client,
            database_url=settings.database_url,
            task_queue=settings.task_queue,
            review_policy=settings.review_policy(),
        )
        marker.write_text(f"{date.today().isoformat()}\n", encoding="ascii")
        typer.echo(f"Imported the example plan {example.name}: {len(report.started)} recommendations started")
        # The example's cycles' Schedules are made by the import; a period is started with
        # `assure cycle run S11` (starting one here, with every return late, floods a first start).
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
    from sqlmodel import col, select

    from store.db import init_db, session_scope
    from store.tables import Person

    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        members = select(Person).where(col(Person.roles).contains("assurance_member")).order_by(Person.email)
        people = session.exec(members)
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
