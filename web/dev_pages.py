"""Development-only pages: the mail the development mail catcher caught, to read and click.

Registered only by ``assure dev`` (never by ``assure web``): the catcher exists only on a
developer's machine, and these pages have no login.

A message's page shows both of its parts: the text part as preformatted text, and the HTML part
in a sandboxed frame whose document comes from ``/dev/mail/<id>/html`` under a policy of its own
(``web.security.HEADERS_BY_PATTERN``): no script, no form, an opaque origin. Mail HTML is shown as
a mail reader would show it, and never runs as a page of the app.
"""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default as default_policy

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, func, select

from store.db import session_scope
from store.read_model import caught_mail
from store.tables import CaughtMail
from web import wording
from web.context import WebContext

# The routes are plain functions, which FastAPI runs in its thread pool: each reads the store,
# and a blocking query must never hold up the event loop.
router = APIRouter(prefix="/dev")
_LINK = re.compile(r"https?://[^\s<>\"']+")
SHOWN = 200


def _caught(ctx: WebContext, message_id: int) -> CaughtMail:
    with session_scope(ctx.settings.database_url) as session:
        row = next((r for r in caught_mail(session=session) if r.id == message_id), None)
        if row is None:
            raise HTTPException(status_code=404)
        session.expunge(row)
    return row


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else None


@router.get("/mail", response_class=HTMLResponse, include_in_schema=False)
def mail_list(request: Request) -> Response:
    """The newest caught messages, each a link to its page."""
    ctx: WebContext = request.app.state.ctx
    with session_scope(ctx.settings.database_url) as session:
        # The newest rows' headings only, and a count: never every message's body, which with a
        # busy example is megabytes read while the worker is writing.
        total = session.exec(select(func.count()).select_from(CaughtMail)).one()
        newest = select(CaughtMail.id, CaughtMail.received_at, CaughtMail.recipients, CaughtMail.subject)
        rows = session.exec(newest.order_by(col(CaughtMail.id).desc()).limit(SHOWN)).all()
        listed = [
            {"id": id_, "at": wording.uk_time(at), "to": ", ".join(to), "subject": subject or "(no subject)"}
            for id_, at, to, subject in rows
        ]  # fmt: skip
    return ctx.page(request, "dev_mail.html", {"messages": listed, "total": total})


@router.get("/mail/{message_id}", response_class=HTMLResponse, include_in_schema=False)
def mail_message(request: Request, message_id: int) -> Response:
    """One message: its links, its HTML part framed and sandboxed, its text part as sent."""
    ctx: WebContext = request.app.state.ctx
    row = _caught(ctx, message_id)
    message = email.message_from_string(row.raw, policy=default_policy)
    text = _part(message, "plain") or ""
    return ctx.page(
        request,
        "dev_message.html",
        {
            "id": row.id,
            "subject": row.subject or "(no subject)",
            "to": ", ".join(row.recipients),
            "at": wording.uk_time(row.received_at),
            "text": text,
            "has_html": _part(message, "html") is not None,
            "links": list(dict.fromkeys(_LINK.findall(text))),
        },
    )


@router.get("/mail/{message_id}/html", include_in_schema=False)
def mail_html(request: Request, message_id: int) -> Response:
    """The HTML part alone, for the message page's sandboxed frame (its policy: web.security)."""
    ctx: WebContext = request.app.state.ctx
    html = _part(email.message_from_string(_caught(ctx, message_id).raw, policy=default_policy), "html")
    if html is None:
        raise HTTPException(status_code=404)
    return HTMLResponse(html)
