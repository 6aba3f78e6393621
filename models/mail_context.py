"""What every email about a recommendation carries, built in one place.

A notification travels with everything its email needs (delivery reads no state), so the
lifecycle's own messages and the web's fresh-link message must describe the recommendation in the
same words and, above all, name the same email thread: a fresh link that started a new thread
would sit apart from the task it replaces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.payloads import ActionSpec, ActionView, Payload, Recommendation, RecommendationStatus, Stage, action_facts


def thread_of(workflow_id: str, created_at: datetime) -> str:
    """Names one run of the lifecycle of a recommendation: the root of its email thread. The
    creation time tells apart a recommendation withdrawn and imported again under its ref."""
    return f"{workflow_id}/{created_at.isoformat()}"


class RecommendationMailFacts(Payload):
    """The facts about the recommendation that head every email."""

    ref: str
    title: str
    board: str
    source_kind: str
    source_title: str
    priority: str
    stage: str
    thread: str
    roles: dict[str, str]

    @classmethod
    def of_recommendation(
        cls, recommendation: Recommendation, *, stage: Stage, thread: str, roles: dict[str, str]
    ) -> RecommendationMailFacts:
        return cls(
            ref=recommendation.ref,
            title=recommendation.title,
            board=recommendation.board,
            source_kind=recommendation.source_kind.value,
            source_title=recommendation.source_title,
            priority=recommendation.priority.value,
            stage=stage.value,
            thread=thread,
            roles=roles,
        )

    @classmethod
    def of_status(cls, status: RecommendationStatus, *, roles: dict[str, str]) -> RecommendationMailFacts:
        return cls(
            ref=status.ref,
            title=status.title,
            board=status.board,
            source_kind=status.source.kind.value,
            source_title=status.source.title,
            priority=status.priority.value,
            stage=status.stage.value,
            thread=status.thread,
            roles=roles,
        )


def mail_context(
    facts: RecommendationMailFacts, *, action: ActionSpec | ActionView | None, owner_epoch: int = 0, **details: Any
) -> dict[str, Any]:
    """A notification's context: the recommendation's facts, the action's (if it is about one),
    and what this kind of message adds."""
    context: dict[str, Any] = facts.model_dump()
    if action is not None:
        context["action"] = action_facts(action)
        context["due"] = action.due.isoformat()
        context["owner_epoch"] = owner_epoch
    return {**context, **details}
