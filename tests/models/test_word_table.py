"""One word table (``models.wording``) for pages, emails and the board pack: every kind of event,
deadline, message and role the lifecycle can produce has words in it, and the same event reads
the same on a page, in an email and in the pack."""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import pytest
from sqlmodel import Session

from activities.mail import render as mail_render
from activities.problems import MAIL_FAILED, STORE_REFUSED
from links.signed import LINK_ROLES
from models import wording
from models.deadlines import OWNER_RUNG_KIND, STAGE_DEADLINE_KIND
from models.kinds import DeadlineKind, EventKind, MessageKind, Role, audit_event, escalation_event, stage_event
from models.lifecycle import Lifecycle
from models.payloads import (
    DIGEST_ROLES,
    SIGN_IN_KIND,
    AuditOutcome,
    Deadline,
    DecideExtensionInput,
    Decision,
    Direction,
    EscalationLevel,
    MeasureTrack,
    RequestExtensionInput,
    SourceKind,
    Stage,
)
from models.review_clocks import ReviewMilestone
from reports import measure_chart
from reports.board_pack import board_pack_data, render_board_pack
from store.db import get_engine
from store.tables import TimelineRow
from tests import factories as f
from web import timeline
from web import wording as web_wording

ROOT = Path(__file__).resolve().parents[2]
# What a reader should never see: an internal name, a raw ISO date, a UTC time.
INTERNAL = re.compile(r"\b(stage|action|escalation):|\b\w+_\w+\b|\d{4}-\d{2}-\d{2}|UTC|\{")
# The families of event kind written with a suffix, and the vocabulary of each suffix.
FAMILIES: dict[str, tuple[Callable[[str], str], type[StrEnum]]] = {
    "stage_event": (stage_event, Stage),
    "escalation_event": (escalation_event, EscalationLevel),
    "audit_event": (audit_event, AuditOutcome),
}
EMITTERS = ("models/lifecycle.py", "models/deadlines.py", "models/measure_decisions.py")


def every_event_kind() -> set[str]:
    """Every event kind there is: ``EventKind``'s, and each family over its vocabulary."""
    kinds = set(EventKind)
    for family, vocabulary in FAMILIES.values():
        kinds |= {family(member.value) for member in vocabulary}
    return kinds


def emitted_event_kinds() -> set[str]:
    """Every event kind the lifecycle's modules (``EMITTERS``) can record, read from their
    ``_event(now, <kind>, ...)`` calls: a member of ``EventKind``, a family's kind over its
    vocabulary, a literal string, a variable set from ``EventKind`` members in the same module
    (a reading recorded or corrected), or the problem kind ``problem()`` passes through."""
    kinds: set[str] = set()
    for name in EMITTERS:
        source = (ROOT / name).read_text()
        calls = re.findall(r'_event\(\s*now,\s*("[^"]*"|[\w.]+)', source)
        assert calls, f"no _event(now, ...) calls in {name}: has the lifecycle's event helper been renamed?"
        for call in calls:
            kinds |= _kinds_of_call(call, source, name)
    return kinds


def _kinds_of_call(call: str, source: str, name: str) -> set[str]:
    if call.startswith('"'):
        return {call[1:-1]}
    if call.startswith("EventKind."):
        return {EventKind[call.removeprefix("EventKind.")]}
    if call in FAMILIES:
        family, vocabulary = FAMILIES[call]
        return {family(member.value) for member in vocabulary}
    assigned = re.findall(rf"^\s*{re.escape(call)} = (.+)$", source, flags=re.MULTILINE)
    members = {EventKind[m] for line in assigned for m in re.findall(r"EventKind\.(\w+)", line)}
    if members:
        return members
    # Otherwise a kind passed through: only ``problem()`` does it, with the problem kinds.
    assert ("kind", "models/lifecycle.py") == (call, name), f"an event kind the test cannot read: {name}: {call}"
    return {STORE_REFUSED, MAIL_FAILED}


def deadline_kinds() -> tuple[set[str], set[str]]:
    """The kinds a ``Deadline`` can have: the ladders' subjects, and the reminders."""
    ladders = set(STAGE_DEADLINE_KIND.values()) | set(OWNER_RUNG_KIND)
    reminders = set(DeadlineKind) - ladders
    assert {"acknowledge", "overdue", "plans"} <= ladders and {
        "due_reminder",
        "progress_request",
        "cascade_reminder",
        "cascade_ends",
    } == reminders
    return ladders, reminders


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


class TestEveryKindHasWords:
    def test_every_event_kind_the_lifecycle_can_record_has_words(self):
        """No event kind reaches a page, an email or the pack as its internal name."""
        kinds = emitted_event_kinds()
        assert {"received", "extension_approved", "stage:sign_off", "escalation:assurance_board"} <= kinds
        assert {"audit_partially_embedded", STORE_REFUSED, "due_reminder", "progress_requested"} <= kinds
        assert {"measures_added", "reading_recorded", "reading_corrected"} <= kinds
        assert [] == sorted(kinds - every_event_kind()), "an event kind outside the typed vocabulary"
        kinds |= every_event_kind()
        plain = {k for k in kinds if not k.startswith(("stage:", "escalation:"))}
        assert [] == sorted(plain - set(wording.EVENT_WORDS))
        leaks = {kind: wording.event_words(kind) for kind in kinds if INTERNAL.search(wording.event_words(kind))}
        assert {} == leaks

    def test_every_deadline_kind_has_words(self):
        """What falls due, and for a ladder what happens if it is still open, is worded for every kind."""
        ladders, reminders = deadline_kinds()
        assert [] == sorted((ladders | reminders) - set(wording.DEADLINE_WORDS))
        assert [] == sorted(ladders - set(wording.STILL_OPEN))
        assert [] == sorted(ladders - set(wording.ESCALATION_ABOUT))
        assert "reading" in ladders
        at = datetime(2026, 5, 6, 9, tzinfo=UTC)
        for kind in ladders | reminders:
            for level in (None, *EscalationLevel):
                words = wording.deadline_words(Deadline(at=at, kind=kind, action_id="A1", level=level))
                assert not INTERNAL.search(words) and "Wednesday 6 May 2026" in words, (kind, level, words)

    def test_a_reading_owed_names_its_measure(self):
        """A measure's reading ladder says which measure, on the day and on the board's rung."""
        at = datetime(2026, 6, 1, 9, tzinfo=UTC)
        owed = Deadline(at=at, kind="reading", measure_id="M1", level=EscalationLevel.owner)
        board = owed.model_copy(update={"level": EscalationLevel.sponsoring_board})
        assert "A reading of measure M1 due: Monday 1 June 2026" == wording.deadline_words(owed)
        assert (
            "If the reading of measure M1 is still not in by Monday 1 June 2026, it goes to the sponsoring board"
            == wording.deadline_words(board)
        )

    def test_a_deadline_reads_as_the_day_it_falls_and_who_hears_of_it(self):
        """A reminder names its day; a rung above the owner's says who hears if it is still open."""
        at = datetime(2026, 5, 6, 9, tzinfo=UTC)
        assert "Action A1 due: Wednesday 6 May 2026" == wording.deadline_words(
            Deadline(at=at, kind="overdue", action_id="A1", level=EscalationLevel.owner)
        )
        assert (
            "If action A1 is still not complete by Wednesday 6 May 2026, it goes to the sponsoring board"
            == wording.deadline_words(
                Deadline(at=at, kind="overdue", action_id="A1", level=EscalationLevel.sponsoring_board)
            )
        )

    def test_every_message_kind_has_a_name(self):
        """Each notification the renderer can send, and the sign-in email, has a name for the timeline."""
        kinds = set(MessageKind) | set(mail_render.KINDS) | {SIGN_IN_KIND}
        assert [] == sorted(kinds - set(wording.MESSAGE_NAMES))

    def test_every_role_a_reader_is_given_has_words(self):
        """The roles the lifecycle gives readers, the link roles and the digest's roles are all worded."""
        given = set(re.findall(r"return Role\.(\w+)", inspect.getsource(Lifecycle._role_of)))
        assert {"owner", "previous_owner", "agency_lead"} <= given
        assert [] == sorted((set(Role) | given | set(LINK_ROLES) | DIGEST_ROLES) - set(wording.ROLE_WORDS))

    @pytest.mark.parametrize(
        ("table", "vocabulary"),
        [
            (wording.STAGES, Stage),
            (wording.SOURCE_KINDS, SourceKind),
            (wording.OUTCOMES, AuditOutcome),
            (wording.LEVEL_WORDS, EscalationLevel),
            (wording.MEASURE_TRACK, MeasureTrack),
            (wording.DIRECTION_WORDS, Direction),
            (wording.MILESTONE_WORDS, ReviewMilestone),
        ],
    )
    def test_every_member_of_a_vocabulary_has_words(self, table, vocabulary):
        """Stages, review kinds, audit outcomes, escalation levels, where a measure stands and which
        way it should go and a review's milestones are worded, member by member."""
        assert [] == sorted(set(vocabulary) - set(table))


class TestOneTable:
    def test_the_word_table_is_pure(self):
        """``models.wording`` imports only the standard library and the pure domain."""
        outside = {
            name
            for name in imports_of(ROOT / "models" / "wording.py")
            if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "models"
        }
        assert set() == outside

    @pytest.mark.parametrize("path", ["web/wording.py", "web/timeline.py", "reports/board_pack.py"])
    def test_pages_and_the_pack_take_words_from_the_domain_not_from_activities(self, path):
        """The web and the board pack never reach into ``activities`` for their words."""
        assert [] == sorted(name for name in imports_of(ROOT / path) if name.split(".")[0] == "activities")

    def test_every_channel_shares_the_same_tables(self):
        """Pages, emails and the pack hold the one table, not copies of it."""
        assert web_wording.STAGES is wording.STAGES is mail_render.STAGES
        assert web_wording.EVENT_WORDS is wording.EVENT_WORDS
        assert mail_render.MESSAGE_NAMES is wording.MESSAGE_NAMES
        assert mail_render.MEASURE_TRACK is wording.MEASURE_TRACK is measure_chart.MEASURE_TRACK
        assert mail_render.uk_date is wording.uk_date is web_wording.uk_date
        # No module outside models/ defines a table of these names again.
        names = {"STAGES", "SOURCE_KINDS", "MESSAGE_NAMES", "EVENT_WORDS", "LEVEL_WORDS", "OUTCOMES",
                 "CHANGE_WORDS", "DEADLINE_WORDS", "STILL_OPEN", "ESCALATION_ABOUT", "LEVEL_TARGETS",
                 "MEASURE_TRACK", "DIRECTION_WORDS"}  # fmt: skip
        copies = []
        for folder in ("web", "activities", "reports", "gateway", "store", "links", "devtools"):
            for path in (ROOT / folder).rglob("*.py"):
                for node in ast.parse(path.read_text()).body:
                    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                    copies += [f"{path.relative_to(ROOT)}: {t.id}" for t in targets if isinstance(t, ast.Name)
                               and t.id in names]  # fmt: skip
        assert [] == copies


# --- the same event, three ways --------------------------------------------------------------

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _decided_extensions() -> Lifecycle:
    """A1's owner is given more time; A2's owner is refused it."""
    life = Lifecycle.begin(
        f.start("WORDS-1", actions=f.two_actions(NOW.date() + timedelta(days=30))), workflow_id="rec-WORDS-1", now=NOW
    )
    decisions: list[Decision] = [
        RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=NOW.date() + timedelta(days=60), reason="Training"),
        DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True),
        RequestExtensionInput(by=f.OWNER_2, action_id="A2", new_due=NOW.date() + timedelta(days=90), reason="Leave"),
        DecideExtensionInput(by=f.SPONSOR, action_id="A2", approve=False, note="Ask a deputy."),
    ]
    for hours, decision in enumerate(decisions, start=1):
        at = NOW + timedelta(hours=hours)
        life.check(decision, at)
        life.apply(decision, at)
    return life


def _email_subjects(life: Lifecycle, kind: str, action_id: str) -> list[str]:
    """The subject of each email of ``kind`` the lifecycle sent about ``action_id``."""
    return [
        mail_render.render(
            n.kind, n.context, recipient=n.recipients[0], link="https://assure.example.org/r/tok1", sent_on=NOW.date()
        ).subject
        for n in life.state.outbox
        if n.kind == kind and n.context["action"]["action_id"] == action_id
    ]


def _pack_changes(life: Lifecycle, database_url: str) -> str:
    """The pack's "What changed" section, made from the timeline rows the projection writes."""
    with Session(get_engine(database_url)) as session:
        session.add_all(
            TimelineRow(ref="WORDS-1", seq=e.seq, at=e.at, kind=e.kind, actor=e.actor, detail=e.detail)
            for e in life.state.timeline
        )
        session.commit()
        pack = board_pack_data(session=session, month=date(2026, 3, 1), now=NOW + timedelta(days=1))
    return render_board_pack(pack).split("<h2>What changed")[1]


class TestSameWordsEverywhere:
    @pytest.mark.parametrize(
        ("event", "message", "words", "action_id"),
        [
            ("extension_approved", "extension_decided", "More time agreed", "A1"),
            ("extension_declined", "extension_decided", "More time refused", "A2"),
            ("extension_requested", "extension_requested", "More time asked for", "A1"),
        ],
    )
    def test_an_extension_reads_the_same_on_a_page_in_an_email_and_in_the_pack(
        self, database_url, event, message, words, action_id
    ):
        """The timeline, the email that reports the decision and the board pack use the same words."""
        life = _decided_extensions()
        assert words == wording.event_words(event)
        page = timeline.timeline_entries(life.status(NOW + timedelta(days=1)), [])
        assert words in {entry.what for entry in page}
        subjects = _email_subjects(life, message, action_id)
        assert subjects and all(f"] {words}" in s and f"action {action_id}" in s for s in subjects), subjects
        if event != "extension_requested":  # a request waits on the board: not a change for the pack
            changes = _pack_changes(life, database_url)
            assert f"<td>{words}</td><td>Action {action_id}" in changes, changes
            assert "Extension" not in changes and "_" not in changes.split("</table>")[0]

    def test_the_pack_words_every_change_as_the_timeline_does(self, database_url):
        """Each row of the pack's changes has the words and detail its timeline entry has on the page."""
        life = _decided_extensions()
        changes = _pack_changes(life, database_url)
        shown = [e for e in timeline.timeline_entries(life.status(NOW + timedelta(days=1)), [])]
        board_rows = re.findall(r"<td>([^<]*)</td><td>([^<]*)</td></tr>", changes)
        assert board_rows
        page_rows = {(e.what, e.detail.replace("'", "&#39;")) for e in shown}
        assert [] == [row for row in board_rows if row not in page_rows]

    def test_the_pack_names_who_an_item_was_escalated_to_as_the_pages_do(self):
        """The pack's "Escalated to" column and a deadline on a page name the rungs the same way."""
        assert "The sponsoring board" == wording.escalated_to("sponsoring_board")
        assert "Not escalated" == wording.escalated_to("none")
        assert "Not escalated" == web_wording.LEVEL_WORDS[EscalationLevel.none]

    def test_where_a_measure_stands_reads_the_same_in_the_auditors_email_and_on_its_chart(self):
        """Each measure's track words, in the audit task and in the chart's title, come from ``MEASURE_TRACK``."""
        from tests.activities.test_email_render import measures_life

        life = measures_life()
        [task] = [n for n in life.state.outbox if n.kind == "audit_due"]
        email = mail_render.render(
            task.kind, task.context, recipient=task.recipients[0], link=None, sent_on=task.created_at.date()
        )
        views = life.status(task.created_at).measures
        assert {"on_track", "off_track", "no_data"} == {v.on_track.value for v in views}
        for view in views:
            words = wording.MEASURE_TRACK[view.on_track]
            assert f"- {view.measure_id} ({view.name})\n  {words}: " in email.text
            assert f'<title id="t-{view.measure_id}-t">{view.name}: {words}</title>'.replace("'", "&#x27;") in (
                measure_chart.measure_chart_svg(view, title_id=f"t-{view.measure_id}")
            )
