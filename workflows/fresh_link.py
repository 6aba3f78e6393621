"""FreshLinkWorkflow: email one person a new personal link, once, through the delivery activity.

Started by the web app when someone whose link has expired or been revoked asks for another,
and when someone asks for a link to sign in to the dashboard.
It is its own short workflow, not a signal to the recommendation, so that asking for a link
never touches a recommendation's history.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.payloads import DELIVER_MAIL, FreshLinkInput, MailDelivery, MailDeliveryResult
    from workflows.recommendation import DELIVERY_OPTIONS


@workflow.defn
class FreshLinkWorkflow:
    """Delivers one ``fresh_link`` notification to its one recipient."""

    @workflow.run
    async def run(self, request: FreshLinkInput) -> MailDeliveryResult:
        delivery = MailDelivery(
            workflow_id=request.recommendation_workflow_id,
            notification=request.notification,
            recipient=request.notification.recipients[0],
        )
        # Called by name, so the SDK's types cannot tie the result to result_type.
        result: MailDeliveryResult = await workflow.execute_activity(
            DELIVER_MAIL,
            delivery,
            result_type=MailDeliveryResult,
            **DELIVERY_OPTIONS,
            # A link nobody could deliver for a day is no use: the person can ask again.
            schedule_to_close_timeout=timedelta(days=1),
        )
        return result
