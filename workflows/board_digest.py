"""BoardDigestWorkflow: one email per recipient and working day gathering their boards' escalations.

A board sponsor with ten overdue items gets one message at the end of the working day, not ten.
Recommendation workflows add items by signal-with-start (through an activity); the digest sleeps
until the day's sending time, sends what it has, and sends again if more arrived meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.kinds import MessageKind
    from models.payloads import DELIVER_MAIL, BoardDigestInput, MailDelivery, MailDeliveryResult, Notification
    from workflows.recommendation import MAIL_RETRY

# Sent at 16:00 UTC: inside the UK working day all year, after the morning's escalations.
DIGEST_TIME = time(16, 0)


def digest_notification(
    start: BoardDigestInput, items: list[MailDelivery], *, key: str, created_at: datetime
) -> Notification:
    """The one notification that stands for a day's escalations to one board member."""
    return Notification(
        key=key,
        kind=MessageKind.board_digest,
        recipients=[start.recipient],
        context={
            "board": start.board,
            "day": start.day.isoformat(),
            "roles": {start.recipient: items[0].notification.context.get("roles", {}).get(start.recipient, "")},
            "thread": f"digest/{key.split('/')[0]}",
            "items": [{"kind": i.notification.kind, **i.notification.context} for i in items],
            "item_keys": [i.notification.key for i in items],
        },
        created_at=created_at,
    )


@workflow.defn
class BoardDigestWorkflow:
    """Collects escalations for one person and day, then emails them as one digest."""

    @workflow.init
    def __init__(self, start: BoardDigestInput) -> None:
        self._items: list[MailDelivery] = []
        self._keys: set[str] = set()

    @workflow.signal
    def add(self, item: MailDelivery) -> None:
        """Add one escalation; the same notification added twice (a retried activity) counts once."""
        if item.notification.key not in self._keys:
            self._keys.add(item.notification.key)
            self._items.append(item)

    @workflow.run
    async def run(self, start: BoardDigestInput) -> int:
        send_at = datetime.combine(start.day, DIGEST_TIME, tzinfo=UTC)
        wait = send_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        sent, batch = 0, 0
        while sent < len(self._items):
            items = self._items[sent:]
            batch += 1
            await self._send(start, items, batch)
            sent += len(items)
        return sent

    async def _send(self, start: BoardDigestInput, items: list[MailDelivery], batch: int) -> None:
        info = workflow.info()
        digest = digest_notification(
            start, items, key=f"{info.workflow_id}/{info.run_id}/{batch}", created_at=workflow.now()
        )
        await workflow.execute_activity(
            DELIVER_MAIL,
            MailDelivery(workflow_id=info.workflow_id, notification=digest, recipient=start.recipient),
            result_type=MailDeliveryResult,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=MAIL_RETRY,
        )
