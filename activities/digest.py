"""Add a board escalation to the recipient's digest for the day (signal-with-start)."""

from __future__ import annotations

import hashlib

import structlog
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy

from models.calendar import roll_forward
from models.payloads import ADD_TO_BOARD_DIGEST, BoardDigestInput, MailDelivery

log = structlog.get_logger(__name__)


def digest_workflow_id(recipient: str, day) -> str:
    """``digest-<hash of recipient>-<day>``: one digest per person and working day, whatever
    boards and roles they hold, and no address in a workflow id."""
    person = hashlib.sha256(recipient.lower().encode()).hexdigest()[:12]
    return f"digest-{person}-{day.isoformat()}"


@activity.defn(name=ADD_TO_BOARD_DIGEST)
async def add_to_board_digest(delivery: MailDelivery) -> str:
    """Put one escalation into the digest of its working day, starting the digest if needed."""
    from workflows.board_digest import BoardDigestWorkflow

    info = activity.info()
    notification = delivery.notification
    # Escalations on a weekend or bank holiday go into the next working day's digest.
    day = roll_forward(notification.created_at.date())
    board = str(notification.context.get("board", ""))
    workflow_id = digest_workflow_id(delivery.recipient, day)
    await activity.client().start_workflow(
        BoardDigestWorkflow.run,
        BoardDigestInput(board=board, recipient=delivery.recipient, day=day),
        id=workflow_id,
        task_queue=info.task_queue,
        start_signal="add",
        start_signal_args=[delivery],
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    log.info("digest_item_added", workflow_id=info.workflow_id, digest=workflow_id, kind=notification.kind)
    return workflow_id
