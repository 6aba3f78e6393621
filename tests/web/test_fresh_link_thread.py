"""A fresh link joins the recommendation's email thread: its context is built by the same
``models.mail_context`` as the lifecycle's own messages (it once named its own thread root)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.mail.message import thread_id_for
from models.lifecycle import Lifecycle
from tests import factories as f
from web.fresh_links import fresh_link_notification

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
DOMAIN = "mktogether.example"


def test_the_fresh_link_email_threads_with_the_task_it_replaces():
    """The task email and a fresh link for the same action name one thread root, and carry the same facts about the recommendation."""
    start = f.start("THREAD", actions=[f.action("A1", NOW.date() + timedelta(days=30))])
    life = Lifecycle.begin(start, workflow_id="recommendation-THREAD", now=NOW)
    [task] = [n for n in life.state.outbox if n.kind == "task_assigned"]
    later = NOW + timedelta(days=20)
    fresh = fresh_link_notification(life.status(later), f.OWNER, "owner", "A1", now=later)

    assert thread_id_for(task.context["thread"], DOMAIN) == thread_id_for(fresh.context["thread"], DOMAIN)
    shared = ("ref", "title", "board", "source_kind", "source_title", "priority", "action", "owner_epoch")
    assert {k: task.context[k] for k in shared} == {k: fresh.context[k] for k in shared}
    assert {f.OWNER: "owner"} == fresh.context["roles"]
