"""Typed search attributes: where each recommendation stands, as operators see it in Temporal.

With these, the Temporal Web UI and ``temporal workflow list --query 'AssureStage="action"'`` list
workflows by stage, board, overdue and escalation level without asking Assure's store. Every
server must have them registered before a workflow upserts them (an unknown one fails the workflow
task, which then retries forever): ``assure dev`` passes ``--search-attribute`` to the dev server,
docker-compose's temporal-namespace step creates them, and the tests' servers register them too.

Workflow code imports this module, so it imports nothing but temporalio and does nothing at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey, SearchAttributeUpdate

if TYPE_CHECKING:
    from temporalio.client import Client

STAGE = SearchAttributeKey.for_keyword("AssureStage")
BOARD = SearchAttributeKey.for_keyword("AssureBoard")
OVERDUE = SearchAttributeKey.for_bool("AssureOverdue")
ESCALATION_LEVEL = SearchAttributeKey.for_keyword("AssureEscalationLevel")

KEYS: tuple[SearchAttributeKey[Any], ...] = (STAGE, BOARD, OVERDUE, ESCALATION_LEVEL)

# The type names of `temporal server start-dev --search-attribute NAME=TYPE` and of
# `temporal operator search-attribute create --type TYPE`.
_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}

# (name, type) of each attribute, for registering them on a server.
SEARCH_ATTRIBUTES: tuple[tuple[str, str], ...] = tuple((key.name, _TYPE_NAMES[key.indexed_value_type]) for key in KEYS)


def dev_server_arguments() -> list[str]:
    """``--search-attribute NAME=TYPE`` for each attribute, for ``temporal server start-dev``."""
    return [part for name, kind in SEARCH_ATTRIBUTES for part in ("--search-attribute", f"{name}={kind}")]


class SearchAttributesPublisher:
    """Keeps a workflow's search attributes in line with its state, upserting only what changed.

    Each upsert is an event in the workflow's history for its whole life, so a decision that moves
    nothing an operator searches by (most of them) adds none. What was last published is read back
    from ``workflow.info()``, which the SDK updates at each upsert, carries over on continue-as-new
    and rebuilds the same way on replay: the publisher itself holds no state.
    """

    def publish(self, stage: str, board: str, overdue: bool, level: str) -> None:
        """Upsert those of the four values that differ from the workflow's current ones, if any."""
        current = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate[Any]] = []
        if current.get(STAGE) != stage:
            updates.append(STAGE.value_set(stage))
        if current.get(BOARD) != board:
            updates.append(BOARD.value_set(board))
        if current.get(OVERDUE) != overdue:
            updates.append(OVERDUE.value_set(overdue))
        if current.get(ESCALATION_LEVEL) != level:
            updates.append(ESCALATION_LEVEL.value_set(level))
        if updates:
            workflow.upsert_search_attributes(updates)


async def register_search_attributes(client: Client) -> None:
    """Register the attributes in ``client``'s namespace, where the server was not started with
    them (the time-skipping test server has no flag for it); those already there are left alone."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    for key in KEYS:
        # One at a time: the server refuses a whole request when any one of it exists already.
        request = AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type)},
        )
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
