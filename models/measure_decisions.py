"""The lifecycle's impact measures: agreeing them, recording readings, and what the status and
the emails say of them. ``MeasureDecisions`` is a mixin of ``Lifecycle``, as ``Deadlines`` is;
the arithmetic (on track, readings owed) is ``models.measures``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from models.kinds import EventKind, MessageKind, Role
from models.measures import (
    anchor_of,
    first_due_after,
    mail_facts,
    previous_due,
    reading_problem,
    view_of,
    with_unit,
)
from models.payloads import (
    MAX_MEASURES,
    AddMeasuresInput,
    EscalationLevel,
    ImportedReading,
    MeasureSpec,
    MeasureState,
    MeasureTrack,
    MeasureView,
    Reading,
    RecommendationState,
    RecordReadingInput,
)
from models.wording import in_london

L = EscalationLevel


class MeasureDecisions:
    """Measures of one recommendation (mixed into ``Lifecycle``)."""

    if TYPE_CHECKING:  # what the mixin uses of ``Lifecycle``
        state: RecommendationState

        def _notify(
            self,
            now: datetime,
            kind: MessageKind,
            recipients: Sequence[str],
            *,
            action: Any = None,
            level: EscalationLevel | None = None,
            roles: dict[str, Role] | None = None,
            part: str = "",
            **context: Any,
        ) -> None: ...
        def _event(self, now: datetime, kind: str, actor: str, detail: str = "") -> None: ...
        def _sponsors(self) -> list[str]: ...
        def _require_sponsor(self, by: str) -> None: ...
        def _require_person(self, by: str, allowed: Sequence[str], role: str) -> None: ...
        def _refuse(self, message: str, type: str = "InvalidDecision") -> NoReturn: ...
        @property
        def closed(self) -> bool: ...

    # --- agreeing measures ----------------------------------------------------------------

    def reporters(self) -> list[str]:
        """Everyone who reports a measure of this recommendation."""
        return sorted({m.reporter for m in self.state.measures})

    def _check_new_measures(self, specs: Sequence[MeasureSpec], today: date) -> None:
        taken = {m.measure_id.casefold() for m in self.state.measures}
        if len(taken) + len(specs) > MAX_MEASURES:
            self._refuse(
                f"a recommendation has at most {MAX_MEASURES} measures; it has {len(taken)} already", "InvalidMeasure"
            )
        for spec in specs:
            if spec.measure_id.casefold() in taken:
                self._refuse(f"measure id {spec.measure_id!r} is already used on this recommendation", "InvalidMeasure")
            problem = measure_spec_problem(spec, today)
            if problem:
                self._refuse(problem, "InvalidMeasure")

    def _add_measures(
        self, specs: Sequence[MeasureSpec], now: datetime, actor: str, readings: Sequence[ImportedReading] = ()
    ) -> None:
        """Take up measures (with readings already collected, on import) and tell each reporter."""
        if not specs:
            return
        policy = self.state.policy
        for spec in specs:
            measure = MeasureState(**spec.model_dump(), added_on=now.date())
            for known in readings:
                if known.measure_id.casefold() == spec.measure_id.casefold():
                    by = known.by or spec.reporter
                    measure.readings.append(Reading(value=known.value, on=known.on, by=by, note=known.note, at=now))
            # Readings already collected answered the periods they fall in: the first owed comes after them.
            measure.answered_on = max((r.on for r in measure.readings), default=None)
            anchor = anchor_of(measure, measure.added_on)
            after = max(now.date(), measure.answered_on or now.date())
            measure.reading_due_on = first_due_after(measure, anchor, after, working_days=policy.working_days)
            self.state.measures.append(measure)
        added = [s.measure_id for s in specs]
        self._event(now, EventKind.measures_added, actor, f"{len(specs)} measure(s): {', '.join(added)}")
        # One message each (an index in the key, not the address: keys stay free of personal data).
        for index, reporter in enumerate(sorted({s.reporter for s in specs})):
            theirs = [m for m in self.state.measures if m.reporter == reporter and m.measure_id in added]
            self._notify(
                now,
                MessageKind.measure_assigned,
                [reporter],
                roles={reporter: Role.reporter},
                part=str(index),
                measures=[self.measure_context(m) for m in theirs],
            )

    def may_add_measures(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_sponsor(by)

    def check_add_measures(self, d: AddMeasuresInput, now: datetime) -> None:
        self._check_new_measures(d.measures, today_in_london(now))

    def apply_add_measures(self, d: AddMeasuresInput, now: datetime) -> None:
        self._add_measures(d.measures, now, d.by)

    # --- readings -------------------------------------------------------------------------

    def may_record_reading(self, by: str, action_id: str | None, now: datetime) -> None:
        if not self.state.measures:
            self._refuse(f"{self.state.recommendation.ref} has no measures to record a reading of", "WrongStage")
        allowed = [*self.reporters(), *self._sponsors(), *self.state.parties.assurance_members]
        self._require_person(by, allowed, "a measure's reporter, a board sponsor or an Assurance Board member")

    def _require_measure(self, measure_id: str) -> MeasureState:
        measure = self.state.measure(measure_id)
        if measure is None:
            named = ", ".join(m.measure_id for m in self.state.measures)
            self._refuse(
                f"there is no measure {measure_id!r} on {self.state.recommendation.ref} (its measures: {named})",
                "UnknownMeasure",
            )
        return measure

    def check_record_reading(self, d: RecordReadingInput, now: datetime) -> None:
        measure = self._require_measure(d.measure_id)
        on_behalf = [*self._sponsors(), *self.state.parties.assurance_members]
        self._require_person(d.by, [measure.reporter, *on_behalf], f"the reporter of measure {measure.measure_id}")
        problem = reading_problem(measure, d.value, d.on, today_in_london(now))
        if problem:
            self._refuse(problem, "InvalidReading")

    def apply_record_reading(self, d: RecordReadingInput, now: datetime) -> None:
        measure = self._require_measure(d.measure_id)
        same_day = [r for r in measure.readings if r.on == d.on]
        measure.readings = [r for r in measure.readings if r.on != d.on]
        measure.readings.append(Reading(value=d.value, on=d.on, by=d.by, note=d.note, at=now))
        measure.readings.sort(key=lambda r: (r.on, r.at))
        self._answer(measure, d.on, now)
        kind = EventKind.reading_corrected if same_day else EventKind.reading_recorded
        detail = f"{measure.measure_id}: {with_unit(d.value, measure.unit.value)} on {d.on}"
        if d.by.lower() != measure.reporter.lower():
            detail += f", recorded on behalf of {measure.reporter}"
        self._event(now, kind, d.by, detail)

    def _answer(self, measure: MeasureState, on: date, now: datetime) -> None:
        """A reading dated ``on`` answers the one owed if it is dated after the owed day before it
        (early in its period, or late) and after the reading that answered last; the next is then
        owed a period on, and never in the past: periods missed while a reporter was silent lapse
        (their readings may still be given), so catching up does not set off their ladders."""
        owed, working_days = measure.reading_due_on, self.state.policy.working_days
        anchor = anchor_of(measure, measure.added_on)
        if owed is None or (measure.answered_on is not None and on <= measure.answered_on):
            return
        if on <= previous_due(measure, anchor, owed, working_days=working_days):
            return
        yesterday = today_in_london(now) - timedelta(days=1)
        measure.reading_due_on = first_due_after(measure, anchor, max(on, owed, yesterday), working_days=working_days)
        measure.reading_ladder = []
        measure.answered_on = on

    # --- what the status and emails say ---------------------------------------------------

    def measure_views(self) -> list[MeasureView]:
        open_ = not self.closed
        return [
            view_of(m, overdue=any(level.rank > L.owner.rank for level in m.reading_ladder), open_=open_)
            for m in self.state.measures
        ]

    def off_track(self) -> list[MeasureView]:
        return [v for v in self.measure_views() if v.on_track is MeasureTrack.off_track]

    def measure_context(self, measure: MeasureState) -> dict[str, Any]:
        """What an email says of a measure: its figures and its latest reading, not its history."""
        return mail_facts(view_of(measure, overdue=False, open_=not self.closed))

    def measures_context(self) -> dict[str, Any]:
        """Every measure, for the auditor's task and the audit form."""
        return {"measures": [self.measure_context(m) for m in self.state.measures]}


def today_in_london(now: datetime) -> date:
    """The day it is for the people giving readings: a reading "today" at 00:30 BST is today's."""
    return in_london(now).date()


def measure_spec_problem(spec: MeasureSpec, today: date) -> str | None:
    """Why a measure cannot be agreed today, beyond its own fields' rules (``MeasureSpec``): the
    one rule for the decisions, the pages and the importer."""
    if spec.baseline_on is not None and spec.baseline_on > today:
        return f"measure {spec.measure_id}: the baseline cannot be dated {spec.baseline_on}, a future day"
    return None
