"""Personal links in emails: ``<ASSURE_BASE_URL>/r/<token>``, signed, expiring and revocable.

One signer serves the email templates (which mint links) and the web pages (which read them), so
both agree on the key, the salt and the payload. A token is bound to one person, one
recommendation and a role (and, for an owner, one action and its ``owner_epoch``); the page then
checks it against the live workflow status with :func:`still_valid`, which is what makes a link
stop working once the action has been passed to someone else (DESIGN.md, principle 6).

The token is *signed, not encrypted*: anyone holding it can base64-decode the person's email, the
recommendation ref, the role and the action id. That is why the payload carries nothing more --
never the recommendation's text, names of children or adults, or any case detail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from models.payloads import CLOSED_STAGES, Email, RecommendationStatus, Ref
from settings import STATE_DIR

# Changing the salt (or the payload's shape) invalidates every link already sent: bump the
# version only on purpose.
SALT = "assure.response-link.v1"
# A shorter key is guessable offline from any one token, since the token carries its HMAC.
MIN_KEY_CHARS = 32
KEY_FILE_NAME = "secret-key"
# Real tokens are ~150 characters; refusing far longer ones up front keeps junk cheap to reject.
MAX_TOKEN_CHARS = 2000

Role = Literal["owner", "sponsor", "assurance_member", "auditor", "agency_lead", "cascade_lead", "reporter"]
ActionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]

# The link role of each role a notification names; others (an agency lead copied in) read for
# information and get no link. In this order, the role a typed-in address is given a link for.
LINK_ROLES: dict[str, Role] = {
    "owner": "owner",
    "board_sponsor": "sponsor",
    "board_chair": "sponsor",
    "assurance_member": "assurance_member",
    "auditor": "auditor",
    # Confirms that the learning reached an agency's staff, from sign-off until the audit.
    "cascade_lead": "cascade_lead",
    # Gives the readings of an impact measure, for as long as they report one.
    "reporter": "reporter",
}

# The registry roles that hold each link role: a sponsor's link serves the board's chair too.
ROLE_HOLDERS = {
    "owner": frozenset({"owner"}),
    "sponsor": frozenset({"board_sponsor", "board_chair"}),
    "assurance_member": frozenset({"assurance_member"}),
    "auditor": frozenset({"auditor"}),
    "agency_lead": frozenset({"agency_lead"}),
    "cascade_lead": frozenset({"cascade_lead"}),
    "reporter": frozenset({"reporter"}),
}

# One-letter keys keep the token short: every character of it ends up in an email and on a
# phone's address bar. Defaults (no action, epoch 0) are left out for the same reason.
_WIRE = {"person": "p", "ref": "r", "role": "o", "action_id": "a", "owner_epoch": "e"}

EXPIRED_MESSAGE = "This link has expired. Ask for a fresh one below."
INVALID_MESSAGE = "This link is not valid."
CLOSED_REASON = "This recommendation is closed."
CASCADE_OVER_REASON = "The audit has been recorded, so the cascade can no longer be confirmed through this link."
NOT_A_CASCADE_LEAD_REASON = "You no longer lead the cascade of this learning to an agency's staff."
NOT_A_REPORTER_REASON = "You no longer report any of this recommendation's impact measures."


class LinkClaims(BaseModel):
    """Who a link is for and what it opens; the issue time travels in itsdangerous's timestamp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person: Email
    ref: Ref
    role: Role
    action_id: ActionId | None = None
    owner_epoch: int = Field(default=0, ge=0)
    # A deputy's link for someone away (``models.cover``): ``person`` is the deputy, who acts in
    # ``acting_for``'s role while the absence lasts.
    acting_for: Email | None = None


class LinkRefused(Exception):
    """A link that cannot be used; ``str(exc)`` is safe to show the person who clicked it."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LinkExpired(LinkRefused):
    """A genuine link past its age.

    ``claims`` is what it was issued for (its signature checked out), so the page can offer to
    email a fresh link to that same person -- never to an address typed in by the visitor.
    """

    def __init__(self, claims: LinkClaims | None = None) -> None:
        super().__init__(EXPIRED_MESSAGE)
        self.claims = claims


class LinkInvalid(LinkRefused):
    """A forged, damaged, truncated or foreign token; the reason stays out of the message."""

    def __init__(self) -> None:
        super().__init__(INVALID_MESSAGE)


class LinkSigner:
    """Signs and reads link tokens with one key, one salt and one maximum age."""

    def __init__(self, secret_key: str, max_age: timedelta) -> None:
        if len(secret_key) < MIN_KEY_CHARS:
            raise ValueError(f"a link-signing key needs at least {MIN_KEY_CHARS} characters")
        if max_age <= timedelta(0):
            raise ValueError("a link's maximum age must be longer than zero")
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)

    def sign(self, claims: LinkClaims) -> str:
        """A URL-safe token for ``claims``, stamped with the time of signing."""
        return self._serializer.dumps(_to_wire(claims))

    def read(self, token: str) -> LinkClaims:
        """The claims of a genuine, unexpired token, or ``LinkExpired`` / ``LinkInvalid``.

        Only the signature and age are checked here; whether the person still holds the action is
        :func:`still_valid`'s job, as it needs the live status.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise LinkInvalid()
        try:
            wire = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired as exc:
            # The signature is good, so the payload is ours: recover it for the "fresh link" offer.
            raise LinkExpired(self._expired_claims(exc)) from None
        except (BadData, UnicodeError, ValueError, TypeError):
            # Internals (which check failed, what the payload held) stay out of the message and
            # the traceback chain, which web error pages and logs might print.
            raise LinkInvalid() from None
        try:
            return _from_wire(wire)
        except (ValidationError, TypeError, ValueError):
            raise LinkInvalid() from None

    def url(self, base_url: str, claims: LinkClaims) -> str:
        """The link to put in an email: ``<base_url>/r/<token>``."""
        return f"{base_url.rstrip('/')}/r/{self.sign(claims)}"

    def _expired_claims(self, exc: SignatureExpired) -> LinkClaims | None:
        if exc.payload is None:
            return None
        try:
            return _from_wire(self._serializer.load_payload(exc.payload))
        except (BadData, ValidationError, TypeError, ValueError, UnicodeError):
            return None


def _to_wire(claims: LinkClaims) -> dict[str, Any]:
    wire: dict[str, Any] = {"p": claims.person, "r": claims.ref, "o": claims.role}
    if claims.action_id is not None:
        wire["a"] = claims.action_id
    if claims.owner_epoch:
        wire["e"] = claims.owner_epoch
    return wire


def _from_wire(wire: object) -> LinkClaims:
    if not isinstance(wire, Mapping):
        raise TypeError("payload is not an object")
    known = {short: name for name, short in _WIRE.items()}
    unknown = set(wire) - set(known)
    if unknown:
        raise ValueError("payload has unknown keys")
    return LinkClaims.model_validate({known[short]: value for short, value in wire.items()})


# --- from the settings ---------------------------------------------------------------------


class _LinkSettings(Protocol):
    secret_key: SecretStr | None
    link_valid_days: int


def signer_from_settings(settings: _LinkSettings, *, state_dir: Path | None = None) -> LinkSigner:
    """The signer for this deployment, with :func:`signing_key` and ``ASSURE_LINK_VALID_DAYS``."""
    return LinkSigner(signing_key(settings, state_dir=state_dir), timedelta(days=settings.link_valid_days))


def signing_key(settings: _LinkSettings, *, state_dir: Path | None = None) -> str:
    """This deployment's key: ``ASSURE_SECRET_KEY``, or a development key on disk.

    Without a configured key, one is made once under ``state_dir`` (default ``.assure/``) and
    reused, so links survive a restart of ``assure dev``; every process on the machine then
    shares it. Production should set ``ASSURE_SECRET_KEY`` so that web and worker hosts agree.
    Other signed values (the web pages' CSRF tokens) use the same key with their own salt.
    """
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(
                f"ASSURE_SECRET_KEY must be at least {MIN_KEY_CHARS} characters long "
                f"(it has {len(key)}); make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return key
    # Read STATE_DIR at call time so tests (and callers) can point it elsewhere.
    return _development_key(state_dir if state_dir is not None else STATE_DIR)


def _development_key(state_dir: Path) -> str:
    """Read the development key, making it first if need be, readable by its owner only."""
    path = state_dir / KEY_FILE_NAME
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        # Write a private temporary file, then hard-link it into place: the link fails if another
        # process got there first, so two processes starting together never end up with two keys,
        # and nobody ever reads a half-written file.
        temporary = state_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(
            f"the development key in {path} is shorter than {MIN_KEY_CHARS} characters; "
            "delete the file to make a new one, or set ASSURE_SECRET_KEY"
        )
    return key


# --- against the live workflow ------------------------------------------------------------


def still_valid(
    claims: LinkClaims,
    status: RecommendationStatus,
    current_people: Collection[str] | None = None,
    *,
    read_only: bool = False,
) -> str | None:
    """None if a decoded link may still be used against ``status``, else the plain reason why not.

    A signature only proves what was true when the email went out; this checks it is still true.
    An owner's link needs the action, its current owner and its ``owner_epoch`` to match, so a link
    stops at reassignment even if the action is later given back. The status does not carry the
    recommendation's parties, so for the other roles pass ``current_people`` (the board's sponsors,
    the Assurance Board, ...) to check membership; without it only the signature vouches for them.
    A cascade lead's link needs them to lead an agency in the status's cascade, and works until
    the audit is recorded. A reporter's link needs them to report one of the status's measures,
    so it stops when their measures pass to someone else. A closed recommendation refuses every
    link unless ``read_only`` (a page that only shows it).
    """
    # A deputy's link stands in the absent person's shoes; the page checks the cover still holds.
    person = (claims.acting_for or claims.person).casefold()
    if claims.ref != status.ref:
        return "This link is for a different recommendation."
    if status.stage in CLOSED_STAGES and not read_only:
        return CLOSED_REASON

    action = None
    if claims.action_id is not None:
        action = next((a for a in status.actions if a.action_id == claims.action_id), None)
        if action is None:
            return "This action is no longer part of the recommendation."

    if claims.role == "owner":
        if action is None:
            # A link for an owner without an action (the plans, say) is good while they own one.
            if not any(a.owner.casefold() == person for a in status.actions):
                return "You no longer own an action on this recommendation."
        # The reasons never name the new owner: the visitor may not be the person it was sent to.
        elif action.owner.casefold() != person:
            return "This action has been passed to someone else, so this link no longer works."
        elif action.owner_epoch != claims.owner_epoch:
            # Reassigned and given back: the old email's link stays dead; the newest one works.
            return "This action has been reassigned since this link was sent. Use the link in your latest email."

    if claims.role == "cascade_lead":
        if status.audits:
            return CASCADE_OVER_REASON
        # The status names each agency's lead now: a new lead in the registry ends the old one's link.
        if not any((c.lead or "").casefold() == person for c in status.cascade):
            return NOT_A_CASCADE_LEAD_REASON

    if claims.role == "reporter" and not any(m.reporter.casefold() == person for m in status.measures):
        return NOT_A_REPORTER_REASON

    if current_people is not None and person not in {p.casefold() for p in current_people}:
        return "You are no longer in the role this link was sent for."
    return None
