"""Development-only pages: the mail the development mail catcher caught, to read and click.

Registered only by ``assure dev`` (never by ``assure web``): the catcher exists only on a
developer's machine, and these pages have no login.
"""

from __future__ import annotations

import email
import re
from email.policy import default as default_policy

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from models.db import session_scope
from models.store import caught_mail
from web.context import WebContext

router = APIRouter(prefix="/dev")
_LINK = re.compile(r"https?://[^\s<>\"']+")
SHOWN = 200


@router.get("/mail", response_class=HTMLResponse, include_in_schema=False)
async def mail_list(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    with session_scope(ctx.settings.database_url) as session:
        rows = caught_mail(session=session)
        listed = [
            {"id": row.id, "at": row.received_at, "to": ", ".join(row.recipients), "subject": row.subject}
            for row in reversed(rows[-SHOWN:])
        ]
    return ctx.page(request, "dev_mail.html", {"messages": listed, "total": len(rows)})


@router.get("/mail/{message_id}", response_class=HTMLResponse, include_in_schema=False)
async def mail_message(request: Request, message_id: int) -> Response:
    ctx: WebContext = request.app.state.ctx
    with session_scope(ctx.settings.database_url) as session:
        row = next((r for r in caught_mail(session=session) if r.id == message_id), None)
        if row is None:
            raise HTTPException(status_code=404)
        raw, subject, to = row.raw, row.subject, ", ".join(row.recipients)
    message = email.message_from_string(raw, policy=default_policy)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return ctx.page(
        request, "dev_message.html", {"subject": subject, "to": to, "text": text, "links": _LINK.findall(text)}
    )
