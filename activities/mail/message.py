"""Build one email: headers that cannot be injected, a stable Message-ID, one thread per recommendation."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

# Characters that could break a header or disguise text.
_UNSAFE = {"Cc", "Cs", "Zl", "Zp"}
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C}
SMTP_POLICY = SMTP.clone(max_line_length=998)
SUBJECT_LIMIT = 160


def header_safe(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line of text for a header: every control character (CR and LF above all), line or
    paragraph separator, lone surrogate and bidirectional override becomes a space; then capped."""
    spaced = "".join(" " if unicodedata.category(ch) in _UNSAFE or ord(ch) in _BIDI else ch for ch in value)
    flat = " ".join(spaced.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def mail_domain(mail_from: str) -> str:
    """The domain of the sender's address, used to qualify Message-IDs."""
    return parseaddr(mail_from)[1].rpartition("@")[2] or "assure.invalid"


def _digest(text: str) -> str:
    # Hashed so that Message-IDs reveal neither the person nor the recommendation.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def message_id_for(notification_key: str, recipient: str, domain: str) -> str:
    """The same (notification, recipient) always gets the same Message-ID, so a resend is one message."""
    return f"<{_digest(notification_key + '|' + recipient.lower())}@{domain}>"


def thread_id_for(thread: str, domain: str) -> str:
    """The root every message about one recommendation refers to, so mail clients thread them."""
    return f"<thread-{_digest(thread)}@{domain}>"


def addressed_message(
    *, mail_from: str, recipient: str, subject: str, message_id: str, sent_at: datetime
) -> EmailMessage:
    """An empty automatic message to one recipient, its headers made safe: every email starts here."""
    name, address = parseaddr(mail_from)
    sender = Address(display_name=header_safe(name), addr_spec=address) if name else address
    # Fold no header line under the SMTP limit: Python's folding of a long subject can leave a
    # doubled space where it breaks the line.
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = Address(addr_spec=recipient)
    message["Subject"] = header_safe(subject)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    # Automatic mail: out-of-office replies and auto-forwarding rules should leave it alone.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


def build_message(
    *,
    mail_from: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    thread_root: str,
    sent_at: datetime,
) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) to one recipient, in its
    recommendation's thread."""
    message = addressed_message(
        mail_from=mail_from, recipient=recipient, subject=subject, message_id=message_id, sent_at=sent_at
    )
    message["In-Reply-To"] = thread_root
    message["References"] = thread_root
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
