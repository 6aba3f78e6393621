"""Bearer tokens for the JSON API: ``assure token issue`` and ``assure token revoke``."""

from __future__ import annotations

import typer

from cli import _exit, app
from settings import settings_or_exit

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
