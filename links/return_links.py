"""Personal links to an agency's return: ``<ASSURE_BASE_URL>/c/<token>``, signed and expiring.

A return link opens one return for one person, its agency's safeguarding lead. It is a sister of
the recommendation links (``links.signed``): the same key, its own salt (so neither kind of token
is ever read as the other) and a payload of two short claims, the person and the return's
workflow id, which names only the cycle, the period and the agency. The page checks the claims
against the live return (:func:`still_valid`), so a link stops working when the registry names
another lead or the return is accepted; every reminder carries a fresh link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from links.signed import MAX_TOKEN_CHARS, MIN_KEY_CHARS, LinkExpired, LinkInvalid, signing_key
from models.cycle_returns import ReturnParties, ReturnStage, is_person
from models.payloads import Email

SALT = "assure.return-link.v1"
ReturnId = Annotated[str, StringConstraints(pattern=r"^cycle-[A-Za-z0-9._-]{1,180}$")]
NOT_THE_LEAD_REASON = "You are no longer your agency's safeguarding lead for this return."
ACCEPTED_REASON = "This return has been accepted, so it can no longer be changed."


class ReturnLinkClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    person: Email
    return_id: ReturnId


class ReturnLinkSigner:
    """Signs and reads return-link tokens with one key and one maximum age."""

    def __init__(self, secret_key: str, max_age: timedelta) -> None:
        if len(secret_key) < MIN_KEY_CHARS:
            raise ValueError(f"a link-signing key needs at least {MIN_KEY_CHARS} characters")
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)

    def sign(self, claims: ReturnLinkClaims) -> str:
        return self._serializer.dumps({"p": claims.person, "w": claims.return_id})

    def url(self, base_url: str, claims: ReturnLinkClaims) -> str:
        return f"{base_url.rstrip('/')}/c/{self.sign(claims)}"

    def read(self, token: str) -> ReturnLinkClaims:
        """The claims of a genuine, unexpired token, or ``LinkExpired`` / ``LinkInvalid`` (whose
        messages are safe to show: they say nothing of what the token held)."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise LinkInvalid()
        try:
            wire = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired:
            raise LinkExpired(None) from None
        except (BadData, UnicodeError, ValueError, TypeError):
            raise LinkInvalid() from None
        try:
            return _from_wire(wire)
        except (ValidationError, TypeError, ValueError):
            raise LinkInvalid() from None


def _from_wire(wire: object) -> ReturnLinkClaims:
    if not isinstance(wire, Mapping) or set(wire) != {"p", "w"}:
        raise ValueError("not a return link")
    return ReturnLinkClaims(person=wire["p"], return_id=wire["w"])


def return_signer(settings: Any) -> ReturnLinkSigner:
    """The signer for this deployment: the links' key and ``ASSURE_LINK_VALID_DAYS``."""
    return ReturnLinkSigner(signing_key(settings), timedelta(days=settings.link_valid_days))


def still_valid(claims: ReturnLinkClaims, parties: ReturnParties, stage: ReturnStage, *, read_only: bool) -> str | None:
    """None if the link may still be used on the return as it is now, else the plain reason why not:
    the person must still be the agency's lead, and a change needs a return not yet accepted."""
    if parties.lead is None or not is_person(claims.person, parties.lead):
        return NOT_THE_LEAD_REASON
    if stage is ReturnStage.accepted and not read_only:
        return ACCEPTED_REASON
    return None
