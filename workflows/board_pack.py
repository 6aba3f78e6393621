"""BoardPackWorkflow: the Assurance Board's monthly pack, rendered and emailed by one activity.

A Temporal Schedule starts it each month (``assure dev`` and ``assure worker`` keep the schedule
in place); ``assure report --send`` starts one at once. The month is the one in which it runs,
read from workflow time, so a replay or a late start covers the same month.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.payloads import SEND_BOARD_PACK, BoardPackInput, BoardPackResult
    from workflows.recommendation import MAIL_RETRY


@workflow.defn
class BoardPackWorkflow:
    @workflow.run
    async def run(self, request: BoardPackInput) -> BoardPackResult:
        month = request.month or workflow.now().date().replace(day=1)
        # Called by name, so the SDK's types cannot tie the result to result_type.
        result: BoardPackResult = await workflow.execute_activity(
            SEND_BOARD_PACK,
            BoardPackInput(month=month),
            result_type=BoardPackResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=MAIL_RETRY,
            # A pack nobody could send for two days is stale: the next month's will come.
            schedule_to_close_timeout=timedelta(days=2),
        )
        return result
