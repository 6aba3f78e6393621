"""Links in emails: signed, expiring, bound to a person and a recommendation, dead after reassignment."""

from __future__ import annotations

import base64
import stat
import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from pydantic import ValidationError

import links.signed
from activities.mail.delivery import link_for
from activities.mail.render import render
from links.signed import (
    CASCADE_OVER_REASON,
    CLOSED_REASON,
    EXPIRED_MESSAGE,
    INVALID_MESSAGE,
    KEY_FILE_NAME,
    NOT_A_CASCADE_LEAD_REASON,
    NOT_A_REPORTER_REASON,
    ROLE_HOLDERS,
    SALT,
    LinkClaims,
    LinkExpired,
    LinkInvalid,
    LinkRefused,
    LinkSigner,
    signer_from_settings,
    still_valid,
)
from models.lifecycle import Lifecycle
from models.payloads import (
    AcknowledgeInput,
    CompleteActionInput,
    ConfirmCascadeInput,
    Decision,
    ReassignOwnerInput,
    RecommendationStatus,
    RecordAuditInput,
    SignOffInput,
    SubmitPlansInput,
    UpdatePartiesInput,
    WithdrawInput,
)
from models.permissions import reader_of
from settings import Settings
from tests import factories as f
from web import fresh_links
from web.fresh_links import fresh_link_notification

KEY = "k" * 16 + "-test-key-for-links-0123456789"
OTHER_KEY = "o" * 16 + "-another-key-entirely-98765432"
MAX_AGE = timedelta(days=30)
REF = "REF"
NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
DUE = date(2024, 6, 28)
URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def owner_claims(**changes) -> LinkClaims:
    fields = dict(person=f.OWNER, ref=REF, role="owner", action_id="A1", owner_epoch=0)
    return LinkClaims(**(fields | changes))


def signed_at(signer: LinkSigner, claims: LinkClaims, at: float, monkeypatch) -> str:
    """Sign ``claims`` as if the clock read ``at`` (seconds since the epoch), without sleeping."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(at))
        return signer.sign(claims)


def flip(token: str, index: int) -> str:
    """The token with one character changed to another URL-safe one."""
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def lifecycle() -> Lifecycle:
    return Lifecycle.begin(
        f.start(REF, actions=[f.action("A1", DUE), f.action("A2", DUE, owner=f.OWNER_2, agency=f.POLICE)]),
        workflow_id=f"recommendation-{REF}",
        now=NOW,
    )


def reassign(life: Lifecycle, new_owner: str) -> None:
    decision = ReassignOwnerInput(by=f.SPONSOR, action_id="A1", new_owner=new_owner, reason="moved teams")
    life.check(decision, NOW)
    life.apply(decision, NOW)


def status_of(life: Lifecycle) -> RecommendationStatus:
    return life.status(NOW)


class TestLinkClaims:
    def test_the_person_is_normalised(self):
        """An email address in mixed case and padded is stored as its lower-case form."""
        assert f.OWNER == owner_claims(person="  Named.Nurse@ICB.example ").person

    def test_an_unknown_role_is_refused(self):
        """A role outside those that links serve is an error, not a link that opens nothing."""
        with pytest.raises(ValidationError):
            owner_claims(role="previous_owner")

    def test_a_negative_epoch_is_refused(self):
        """Owner epochs count reassignments from zero, so a negative one is refused."""
        with pytest.raises(ValidationError):
            owner_claims(owner_epoch=-1)


class TestLinkSigner:
    def test_round_trip(self):
        """A token reads back as exactly the claims it was signed for."""
        signer = LinkSigner(KEY, MAX_AGE)
        claims = owner_claims(owner_epoch=3)
        assert claims == signer.read(signer.sign(claims))

    def test_round_trip_without_an_action(self):
        """A sponsor's link with no action and the default epoch reads back unchanged."""
        signer = LinkSigner(KEY, MAX_AGE)
        claims = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor")
        assert claims == signer.read(signer.sign(claims))

    def test_a_tampered_signature_is_invalid(self):
        """Changing one character of the signature makes the link invalid."""
        signer = LinkSigner(KEY, MAX_AGE)
        token = signer.sign(owner_claims())
        with pytest.raises(LinkInvalid):
            signer.read(flip(token, len(token) - 3))

    def test_a_tampered_payload_is_invalid(self):
        """Changing one character of the payload makes the link invalid."""
        signer = LinkSigner(KEY, MAX_AGE)
        token = signer.sign(owner_claims())
        with pytest.raises(LinkInvalid):
            signer.read(flip(token, 5))

    def test_another_key_is_invalid(self):
        """A token signed with a different key is refused."""
        token = LinkSigner(OTHER_KEY, MAX_AGE).sign(owner_claims())
        with pytest.raises(LinkInvalid):
            LinkSigner(KEY, MAX_AGE).read(token)

    def test_another_salt_is_invalid(self):
        """A token made with the same key for another purpose cannot be used as a link."""
        token = URLSafeTimedSerializer(KEY, salt="assure.something-else").dumps({"p": f.OWNER, "r": REF, "o": "owner"})
        with pytest.raises(LinkInvalid):
            LinkSigner(KEY, MAX_AGE).read(token)

    def test_a_genuine_token_with_a_foreign_payload_is_invalid(self):
        """A correctly signed payload that is not link claims is refused, not half-read."""
        serializer = URLSafeTimedSerializer(KEY, salt=SALT)
        for payload in ({"p": f.OWNER, "r": REF, "o": "owner", "x": 1}, {"p": "not-an-email"}, ["p"], "text"):
            with pytest.raises(LinkInvalid):
                LinkSigner(KEY, MAX_AGE).read(serializer.dumps(payload))

    @pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....", "é.é.é", "x" * 5000])
    def test_malformed_tokens_are_invalid(self, token):
        """Junk of any shape is refused as invalid."""
        with pytest.raises(LinkInvalid):
            LinkSigner(KEY, MAX_AGE).read(token)

    def test_the_invalid_message_leaks_nothing(self):
        """The refusal says only that the link is not valid, and carries no cause to print."""
        token = LinkSigner(OTHER_KEY, MAX_AGE).sign(owner_claims())
        with pytest.raises(LinkRefused) as caught:
            LinkSigner(KEY, MAX_AGE).read(token)
        assert (INVALID_MESSAGE, None, True) == (
            str(caught.value),
            caught.value.__cause__,
            caught.value.__suppress_context__,
        )

    def test_an_old_token_has_expired(self, monkeypatch):
        """A token signed longer ago than the maximum age is refused as expired, with a way forward."""
        signer = LinkSigner(KEY, MAX_AGE)
        token = signed_at(signer, owner_claims(), time.time() - MAX_AGE.total_seconds() - 60, monkeypatch)
        with pytest.raises(LinkExpired) as caught:
            signer.read(token)
        assert EXPIRED_MESSAGE == str(caught.value)

    def test_an_expired_token_still_says_who_it_was_for(self, monkeypatch):
        """An expired but genuine token gives its claims, so a fresh link can go to the same person."""
        signer = LinkSigner(KEY, MAX_AGE)
        claims = owner_claims(owner_epoch=2)
        token = signed_at(signer, claims, time.time() - MAX_AGE.total_seconds() - 60, monkeypatch)
        with pytest.raises(LinkExpired) as caught:
            signer.read(token)
        assert claims == caught.value.claims

    def test_a_token_just_inside_its_age_reads(self, monkeypatch):
        """A token a minute short of the maximum age still reads."""
        signer = LinkSigner(KEY, MAX_AGE)
        token = signed_at(signer, owner_claims(), time.time() - MAX_AGE.total_seconds() + 60, monkeypatch)
        assert owner_claims() == signer.read(token)

    def test_an_expired_forgery_is_invalid_not_expired(self, monkeypatch):
        """An old token with a bad signature is invalid: only genuine links get the fresh-link offer."""
        token = signed_at(LinkSigner(OTHER_KEY, MAX_AGE), owner_claims(), time.time() - 90 * 86400, monkeypatch)
        with pytest.raises(LinkInvalid):
            LinkSigner(KEY, MAX_AGE).read(token)

    def test_url_form(self):
        """A link is the base URL, then /r/, then the token, with no doubled slash."""
        signer = LinkSigner(KEY, MAX_AGE)
        claims = owner_claims()
        url = signer.url("https://assure.example.org/", claims)
        prefix = "https://assure.example.org/r/"
        assert (True, claims) == (url.startswith(prefix), signer.read(url.removeprefix(prefix)))
        assert "//" not in url.removeprefix("https://")

    def test_token_is_url_safe_and_short(self):
        """A token uses only URL-safe characters, shows no email in clear, and fits comfortably in a URL."""
        token = LinkSigner(KEY, MAX_AGE).sign(owner_claims(owner_epoch=12))
        assert (set(), False, True) == (set(token) - URL_SAFE, "@" in token, len(token) < 200)

    def test_token_does_not_spell_out_the_person(self):
        """The person's address does not appear in the token as plain text."""
        token = LinkSigner(KEY, MAX_AGE).sign(owner_claims())
        assert (False, False) == (f.OWNER in token, "named.nurse" in token)

    def test_token_is_signed_not_secret(self):
        """The payload is readable by anyone holding the token, which is why it carries only ids."""
        token = LinkSigner(KEY, MAX_AGE).sign(LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor"))
        payload = token.split(".")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert f.SPONSOR.encode() in decoded

    def test_a_short_key_is_refused(self):
        """A signer will not work with a key short enough to guess."""
        with pytest.raises(ValueError, match="at least 32 characters"):
            LinkSigner("short", MAX_AGE)

    def test_a_zero_age_is_refused(self):
        """A maximum age of zero would make every link dead on arrival, so it is refused."""
        with pytest.raises(ValueError, match="longer than zero"):
            LinkSigner(KEY, timedelta(0))


class TestSignerFromSettings:
    def test_the_configured_key_signs(self, tmp_path):
        """With ASSURE_SECRET_KEY set, links are signed with it and no key file is made."""
        settings = Settings(_env_file=None, secret_key=KEY)
        token = signer_from_settings(settings, state_dir=tmp_path).sign(owner_claims())
        assert (owner_claims(), []) == (LinkSigner(KEY, MAX_AGE).read(token), list(tmp_path.iterdir()))

    def test_the_maximum_age_comes_from_the_settings(self):
        """ASSURE_LINK_VALID_DAYS sets how long a link lasts."""
        settings = Settings(_env_file=None, secret_key=KEY, link_valid_days=7)
        assert timedelta(days=7) == signer_from_settings(settings).max_age

    def test_a_short_configured_key_is_refused(self):
        """A configured key under 32 characters is refused with the variable named."""
        settings = Settings(_env_file=None, secret_key="too-short")
        with pytest.raises(ValueError, match="ASSURE_SECRET_KEY must be at least 32 characters"):
            signer_from_settings(settings)

    def test_a_development_key_is_made_private(self, tmp_path, monkeypatch):
        """Without a configured key, one is made under the state directory, readable by its owner only."""
        monkeypatch.setattr(links.signed, "STATE_DIR", tmp_path / "state")
        signer_from_settings(Settings(_env_file=None, secret_key=None))
        key_file = tmp_path / "state" / KEY_FILE_NAME
        key = key_file.read_text().strip()
        assert (0o600, True, [KEY_FILE_NAME]) == (
            stat.S_IMODE(key_file.stat().st_mode),
            len(key) >= 60,
            sorted(p.name for p in key_file.parent.iterdir()),
        )

    def test_the_development_key_is_reused(self, tmp_path):
        """A second signer reads the first one's links: the key on disk is kept, not replaced."""
        settings = Settings(_env_file=None, secret_key=None)
        token = signer_from_settings(settings, state_dir=tmp_path).sign(owner_claims())
        before = (tmp_path / KEY_FILE_NAME).read_text()
        claims = signer_from_settings(settings, state_dir=tmp_path).read(token)
        assert (owner_claims(), before) == (claims, (tmp_path / KEY_FILE_NAME).read_text())

    def test_a_damaged_key_file_is_refused(self, tmp_path):
        """An empty key file is an error that says how to recover, not a weak key."""
        (tmp_path / KEY_FILE_NAME).write_text("\n")
        with pytest.raises(ValueError, match="delete the file"):
            signer_from_settings(Settings(_env_file=None, secret_key=None), state_dir=tmp_path)


class TestStillValid:
    def test_the_owner_of_the_action(self):
        """The action's current owner at the same epoch may use the link."""
        assert None is still_valid(owner_claims(), status_of(lifecycle()))

    def test_the_owner_in_another_case(self):
        """The owner's address is compared without regard to case."""
        claims = owner_claims().model_copy(update={"person": f.OWNER.upper()})
        assert None is still_valid(claims, status_of(lifecycle()))

    def test_a_reassigned_action_refuses_the_old_owner(self):
        """Once the action has a new owner, the old owner's link stops working."""
        life = lifecycle()
        reassign(life, f.NEW_OWNER)
        assert "This action has been passed to someone else, so this link no longer works." == still_valid(
            owner_claims(), status_of(life)
        )

    def test_the_new_owner_link_works(self):
        """The new owner's link, minted at the new epoch, works."""
        life = lifecycle()
        reassign(life, f.NEW_OWNER)
        assert None is still_valid(owner_claims(person=f.NEW_OWNER, owner_epoch=1), status_of(life))

    def test_an_action_given_back_still_refuses_the_old_link(self):
        """Reassigned and then given back, the action refuses the link from before: its epoch moved on."""
        life = lifecycle()
        reassign(life, f.NEW_OWNER)
        reassign(life, f.OWNER)
        status = status_of(life)
        assert (
            "This action has been reassigned since this link was sent. Use the link in your latest email.",
            None,
        ) == (still_valid(owner_claims(), status), still_valid(owner_claims(owner_epoch=2), status))

    def test_a_bumped_epoch_refuses(self):
        """A link from an earlier epoch is refused even when the person matches the current owner."""
        life = lifecycle()
        reassign(life, f.NEW_OWNER)
        assert "This action has been reassigned since this link was sent. Use the link in your latest email." == (
            still_valid(owner_claims(person=f.NEW_OWNER, owner_epoch=0), status_of(life))
        )

    def test_an_unknown_action_refuses(self):
        """A link to an action the recommendation does not have is refused."""
        assert "This action is no longer part of the recommendation." == still_valid(
            owner_claims(action_id="A9"), status_of(lifecycle())
        )

    def test_another_owners_action_refuses(self):
        """An owner's link does not open another owner's action."""
        assert still_valid(owner_claims(action_id="A2"), status_of(lifecycle())) is not None

    def test_a_wrong_ref_refuses(self):
        """A link for one recommendation does not open another."""
        assert "This link is for a different recommendation." == still_valid(
            owner_claims(ref="OTHER-REF"), status_of(lifecycle())
        )

    def test_a_closed_recommendation_refuses(self):
        """Once the recommendation is withdrawn, every link to act on it is refused."""
        life = lifecycle()
        life.apply(WithdrawInput(by=f.SPONSOR, reason="superseded"), NOW)
        status = status_of(life)
        sponsor = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor")
        assert (CLOSED_REASON, CLOSED_REASON) == (
            still_valid(owner_claims(), status),
            still_valid(sponsor, status, [f.SPONSOR]),
        )

    def test_a_closed_recommendation_can_still_be_read(self):
        """A read-only page may still show a closed recommendation to the person the link was for."""
        life = lifecycle()
        life.apply(WithdrawInput(by=f.SPONSOR, reason="superseded"), NOW)
        assert None is still_valid(owner_claims(), status_of(life), read_only=True)

    def test_an_owner_link_without_an_action(self):
        """An owner's link with no action works while the person owns some action, and not after."""
        claims = owner_claims(action_id=None)
        life = lifecycle()
        before = still_valid(claims, status_of(life))
        reassign(life, f.NEW_OWNER)
        assert (None, "You no longer own an action on this recommendation.") == (
            before,
            still_valid(claims, status_of(life)),
        )

    def test_a_sponsor_in_the_board(self):
        """A sponsor still among the board's sponsors may use the link, whatever the case of the list."""
        sponsor = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor", action_id="A1")
        assert None is still_valid(sponsor, status_of(lifecycle()), [f.SPONSOR.upper(), f.CHAIR])

    def test_a_sponsor_no_longer_in_the_board(self):
        """A sponsor who has left the board is refused."""
        sponsor = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor")
        assert "You are no longer in the role this link was sent for." == still_valid(
            sponsor, status_of(lifecycle()), [f.CHAIR]
        )

    def test_a_sponsor_without_a_membership_list(self):
        """Without the current members, the status alone cannot refuse a sponsor's link."""
        sponsor = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor")
        assert None is still_valid(sponsor, status_of(lifecycle()))

    def test_a_sponsor_link_survives_reassignment(self):
        """Reassigning an action does not stop the sponsor's link about it: epochs bind owners only."""
        life = lifecycle()
        reassign(life, f.NEW_OWNER)
        sponsor = LinkClaims(person=f.SPONSOR, ref=REF, role="sponsor", action_id="A1")
        assert None is still_valid(sponsor, status_of(life), [f.SPONSOR])


# --- a cascade lead's link ----------------------------------------------------------------

BASE_URL = "https://assure.example.org"
NEW_ICB_LEAD = "new.lead@icb.example"


def decide(life: Lifecycle, decision: Decision, at: datetime = NOW) -> None:
    life.check(decision, at)
    life.apply(decision, at)


def in_cascade() -> Lifecycle:
    """The two actions complete and the plans signed off: each agency's lead is asked to confirm."""
    life = lifecycle()
    for action_id, owner in (("A1", f.OWNER), ("A2", f.OWNER_2)):
        decide(life, AcknowledgeInput(by=owner, action_id=action_id))
        decide(life, CompleteActionInput(by=owner, action_id=action_id, evidence="Guidance published."))
    dissemination, audit = f.credible_plans(NOW.date())
    decide(life, SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    decide(life, SignOffInput(by=f.ASSURANCE))
    return life


def lead_claims(person: str = f.ICB_LEAD) -> LinkClaims:
    return LinkClaims(person=person, ref=REF, role="cascade_lead")


def holders_now(life: Lifecycle, claims: LinkClaims) -> list[str]:
    """``current_people`` as the response page works it out: the person, if they hold the link's role now."""
    roles = set(reader_of(life, claims.person, NOW).roles)
    return [claims.person] if ROLE_HOLDERS[claims.role] & roles else []


class _Workflows:
    """Stands in for the Temporal client: the ``reader`` query answered by the lifecycle itself."""

    def __init__(self, life: Lifecycle) -> None:
        self.life = life

    def get_workflow_handle(self, workflow_id: str) -> _Workflows:
        return self

    async def query(self, name: str, person: str, result_type: object = None) -> object:
        assert "reader" == name
        return reader_of(self.life, person, NOW)


class TestCascadeLeadLinks:
    def test_the_cascade_task_carries_a_personal_link_for_the_lead(self):
        """The delivery code mints each lead a ``cascade_lead`` link for the recommendation, about no action."""
        [task] = [n for n in in_cascade().state.outbox if n.kind == "cascade_task"]
        signer = LinkSigner(KEY, MAX_AGE)
        links = {lead: link_for(signer, BASE_URL, task.context, lead) for lead in task.recipients}
        assert [f.ICB_LEAD, f.POLICE_LEAD] == sorted(links)
        for lead, link in links.items():
            assert link is not None and link.startswith(f"{BASE_URL}/r/")
            assert lead_claims(lead) == signer.read(link.rsplit("/", 1)[1])

    def test_a_lead_link_works_while_the_cascade_runs(self):
        """During the cascade the lead's link is valid, by the status and by the roles the workflow gives them."""
        life = in_cascade()
        claims = lead_claims()
        assert [f.ICB_LEAD] == holders_now(life, claims)
        assert None is still_valid(claims, status_of(life), holders_now(life, claims))

    def test_the_link_still_works_after_confirming_so_the_figures_can_be_corrected(self):
        """A lead who has confirmed may come back to correct the figures until the audit."""
        life = in_cascade()
        decide(life, ConfirmCascadeInput(by=f.ICB_LEAD, agency=f.ICB, reached=f.ICB_REACH, done_on=NOW.date()))
        claims = lead_claims()
        assert None is still_valid(claims, status_of(life), holders_now(life, claims))

    def test_someone_who_leads_no_agency_is_refused(self):
        """A cascade-lead link for a person who leads no agency's cascade opens nothing."""
        life = in_cascade()
        claims = lead_claims(f.OWNER)
        assert [] == holders_now(life, claims)
        assert NOT_A_CASCADE_LEAD_REASON == still_valid(claims, status_of(life))

    def test_a_new_safeguarding_lead_takes_over_the_link(self):
        """When the registry names a new lead for the agency, the old lead's link stops and the new one's works."""
        life = in_cascade()
        parties = life.state.parties.model_copy(update={"agency_leads": {f.ICB: NEW_ICB_LEAD, f.POLICE: f.POLICE_LEAD}})
        change = UpdatePartiesInput(by="registry sync", parties=parties)
        life.check_update_parties(change, NOW)
        life.apply_update_parties(change, NOW)
        status = status_of(life)
        assert (NOT_A_CASCADE_LEAD_REASON, None) == (
            still_valid(lead_claims(), status),
            still_valid(lead_claims(NEW_ICB_LEAD), status, holders_now(life, lead_claims(NEW_ICB_LEAD))),
        )

    def test_the_link_stops_once_the_audit_is_recorded(self):
        """Confirmations close with the audit: the lead's link then says so, even for a page that only shows."""
        life = in_cascade()
        remedial = f.action("R1", NOW.date() + timedelta(days=30))
        audit = RecordAuditInput(
            by=f.AUDITOR,
            outcome="not_embedded",
            findings="Not yet in practice.",
            remedial_actions=[remedial],
            re_audit_on=NOW.date() + timedelta(days=60),
            early_reason="The inspection brought the audit forward.",
        )
        decide(life, audit)
        status = status_of(life)
        assert (CASCADE_OVER_REASON, CASCADE_OVER_REASON) == (
            still_valid(lead_claims(), status),
            still_valid(lead_claims(), status, read_only=True),
        )


class TestFreshLinkForACascadeLead:
    async def test_an_expired_lead_link_is_renewed_for_the_same_lead(self):
        """A fresh link for a cascade lead's expired link goes to that lead, in the same role."""
        life = in_cascade()
        ctx = SimpleNamespace(client=_Workflows(life))
        target = await fresh_links._recipient(ctx, status_of(life), claims=lead_claims(), email=None)
        assert (f.ICB_LEAD, "cascade_lead", None) == target

    async def test_a_typed_address_of_a_lead_gets_a_lead_link(self):
        """A lead who types their address (their link was damaged) is sent a cascade-lead link."""
        life = in_cascade()
        ctx = SimpleNamespace(client=_Workflows(life))
        target = await fresh_links._recipient(ctx, status_of(life), claims=None, email=f.POLICE_LEAD)
        assert (f.POLICE_LEAD, "cascade_lead", None) == target

    async def test_someone_no_longer_leading_gets_nothing(self):
        """Once the registry names a new lead, the old one asking for a fresh link is sent nothing."""
        life = in_cascade()
        parties = life.state.parties.model_copy(update={"agency_leads": {f.ICB: NEW_ICB_LEAD, f.POLICE: f.POLICE_LEAD}})
        change = UpdatePartiesInput(by="registry sync", parties=parties)
        life.check_update_parties(change, NOW)
        life.apply_update_parties(change, NOW)
        ctx = SimpleNamespace(client=_Workflows(life))
        assert None is await fresh_links._recipient(ctx, status_of(life), claims=lead_claims(), email=None)

    def test_the_fresh_link_email_says_which_agency_the_lead_confirms_for(self):
        """The fresh link names the lead's own agency (and no other's lead) and mints a cascade-lead link."""
        status = status_of(in_cascade())
        notification = fresh_link_notification(status, f.ICB_LEAD, "cascade_lead", None, now=NOW)
        assert {f.ICB_LEAD: "cascade_lead"} == notification.context["roles"]
        assert [f.ICB] == [entry["agency"] for entry in notification.context["cascade"]]
        signer = LinkSigner(KEY, MAX_AGE)
        link = link_for(signer, BASE_URL, notification.context, f.ICB_LEAD)
        assert link is not None and lead_claims() == signer.read(link.rsplit("/", 1)[1])
        email = render("fresh_link", notification.context, recipient=f.ICB_LEAD, link=link, sent_on=NOW.date())
        assert f"You are getting this because you lead the cascade of this learning to {f.ICB}'s staff." in email.text
        assert "Respond now:\n" in email.text and f.POLICE_LEAD not in email.text


# --- a reporter's link ----------------------------------------------------------------------


def reporter_claims(person: str = f.REPORTER) -> LinkClaims:
    return LinkClaims(person=person, ref=REF, role="reporter")


class TestReporterLinks:
    def test_the_measure_email_carries_a_reporter_link(self):
        """The delivery code mints the reporter a ``reporter`` link for the recommendation, about no action."""
        [assigned] = [n for n in lifecycle().state.outbox if n.kind == "measure_assigned"]
        signer = LinkSigner(KEY, MAX_AGE)
        link = link_for(signer, BASE_URL, assigned.context, f.REPORTER)
        assert link is not None and reporter_claims() == signer.read(link.rsplit("/", 1)[1])

    def test_a_reporter_link_works_while_they_report_a_measure(self):
        """By the status and by the roles the workflow gives them, a reporter's link is good, in any case."""
        life = lifecycle()
        claims = reporter_claims()
        assert [f.REPORTER] == holders_now(life, claims)
        assert None is still_valid(reporter_claims(f.REPORTER.upper()), status_of(life), holders_now(life, claims))

    def test_someone_who_reports_no_measure_is_refused_with_the_reason(self):
        """A reporter link for a person who reports none of the measures opens nothing, and says why."""
        life = lifecycle()
        claims = reporter_claims(f.OWNER)
        assert [] == holders_now(life, claims)
        assert NOT_A_REPORTER_REASON == still_valid(claims, status_of(life))

    def test_the_link_stops_when_the_recommendation_has_no_measure_of_theirs(self):
        """On a recommendation without measures, the reporter's link is refused by the status alone."""
        life = Lifecycle.begin(f.start(REF, measures=[]), workflow_id=f"recommendation-{REF}", now=NOW)
        assert NOT_A_REPORTER_REASON == still_valid(reporter_claims(), status_of(life))

    def test_a_closed_recommendation_refuses_the_reporter_but_still_shows(self):
        """Closed, the reporter cannot act through the link, though a page that only shows still opens."""
        life = lifecycle()
        life.apply(WithdrawInput(by=f.SPONSOR, reason="superseded"), NOW)
        status = status_of(life)
        assert (CLOSED_REASON, None) == (
            still_valid(reporter_claims(), status),
            still_valid(reporter_claims(), status, read_only=True),
        )


class TestFreshLinkForAReporter:
    async def test_an_expired_reporter_link_is_renewed_for_the_same_reporter(self):
        """A fresh link for a reporter's expired link goes to that reporter, in the same role."""
        life = lifecycle()
        ctx = SimpleNamespace(client=_Workflows(life))
        target = await fresh_links._recipient(ctx, status_of(life), claims=reporter_claims(), email=None)
        assert (f.REPORTER, "reporter", None) == target

    async def test_a_typed_address_of_a_reporter_gets_a_reporter_link(self):
        """A reporter who types their address is sent a reporter link."""
        life = lifecycle()
        ctx = SimpleNamespace(client=_Workflows(life))
        target = await fresh_links._recipient(ctx, status_of(life), claims=None, email=f.REPORTER)
        assert (f.REPORTER, "reporter", None) == target

    async def test_someone_reporting_nothing_gets_nothing(self):
        """A reporter link for someone who reports no measure sends nothing."""
        life = lifecycle()
        ctx = SimpleNamespace(client=_Workflows(life))
        assert None is await fresh_links._recipient(
            ctx, status_of(life), claims=reporter_claims(f.STRANGER), email=None
        )

    def test_the_fresh_link_email_names_the_reporters_measure(self):
        """The fresh link says which measure the reader reports and mints a reporter link."""
        status = status_of(lifecycle())
        notification = fresh_link_notification(status, f.REPORTER, "reporter", None, now=NOW)
        assert {f.REPORTER: "reporter"} == notification.context["roles"]
        assert [f.MEASURE_ID] == [m["measure_id"] for m in notification.context["measures"]]
        signer = LinkSigner(KEY, MAX_AGE)
        link = link_for(signer, BASE_URL, notification.context, f.REPORTER)
        assert link is not None and reporter_claims() == signer.read(link.rsplit("/", 1)[1])
        email = render("fresh_link", notification.context, recipient=f.REPORTER, link=link, sent_on=NOW.date())
        name = status.measures[0].name
        assert f"You are getting this because you report measure M1 ({name}) for this recommendation." in email.text
        assert "Respond now:\n" in email.text
