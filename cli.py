"""The ``assure`` command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from contextlib import suppress

import typer

from logs import configure_logging
from settings import STATE_DIR, settings_or_exit

app = typer.Typer(help="Assure: safeguarding action-plan assurance on Temporal.", no_args_is_help=True)


def _exit(status: int) -> None:
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
def mailcatcher() -> None:
    """Run the development mail catcher on ASSURE_SMTP_HOST:ASSURE_SMTP_PORT, keeping mail in the store."""
    from mailcatcher import start_mailcatcher

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


def _uvicorn_config(settings, host: str | None, port: int | None):
    import uvicorn

    from web.app import create_app

    # uvicorn's own access log would print each /r/<token> path; the app logs requests redacted.
    return uvicorn.Config(
        create_app(settings),
        host=host or settings.web_host,
        port=port or settings.web_port,
        access_log=False,
        proxy_headers=True,
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
    ui_port: int = typer.Option(8233, help="Port of the Temporal Web UI"),
) -> None:
    """Run everything on this machine: the Temporal dev server (state in .assure/), the mail
    catcher, the worker and the web app."""
    from mailcatcher import start_mailcatcher
    from temporal_client import dev_server_path
    from worker import run_worker

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    host, _, port = settings.temporal_address.rpartition(":")
    STATE_DIR.mkdir(exist_ok=True)
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
        ]
    )
    typer.echo(f"Temporal dev server on {settings.temporal_address}, Web UI on http://127.0.0.1:{ui_port}")
    catcher = start_mailcatcher(host=settings.smtp_host, port=settings.smtp_port, database_url=settings.database_url)
    typer.echo(f"Mail catcher on {settings.smtp_host}:{settings.smtp_port}")

    async def wait_then_work() -> None:
        from temporal_client import connect

        for _ in range(150):  # the dev server takes a few seconds to open its port
            with suppress(Exception):
                await connect(settings)
                break
            if server.poll() is not None:
                raise RuntimeError("the Temporal dev server exited; is the port already taken?")
            await asyncio.sleep(0.2)
        import uvicorn

        web_server = uvicorn.Server(_uvicorn_config(settings, None, None))
        typer.echo(f"Assure web on http://{settings.web_host}:{settings.web_port}")
        await asyncio.gather(run_worker(settings), web_server.serve())

    # `kill` (SIGTERM) stops the dev server too, like Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        asyncio.run(wait_then_work())
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
        server.terminate()
        with suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)


@app.command()
def show(ref: str, as_json: bool = typer.Option(False, "--json", help="Print the status query's JSON")) -> None:
    """Ask a recommendation's workflow where it stands."""
    from temporal_client import UnknownRecommendation, connect, recommendation_status

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


if __name__ == "__main__":
    app()
