"""The web app's guards: security headers, CSRF tokens, request limits, rate limits, a redacted log.

Response pages are opened from a capability link (``/r/<token>``), so the token must never leak:
not to another site through the Referer header, not into a proxy cache, not into the access log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger(__name__)

# No inline script or style anywhere, nothing from another origin, and no framing (clickjacking).
_STRICT_DIRECTIVES = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "manifest-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
]
CONTENT_SECURITY_POLICY = "; ".join(_STRICT_DIRECTIVES)
# Swagger UI on /docs (web/docs.py) is a program rather than our own markup: it fetches
# /openapi.json and, with "Try it out", calls the API from the page, so that page alone also has
# connect-src 'self'. Its scripts still come only from this server: script-src stays 'self', no
# 'unsafe-inline' or 'unsafe-eval'. Nor does it need 'unsafe-inline' styles: it sets styles through
# the DOM (React's style props), which the policy does not govern, and strips style attributes from
# the markdown it renders; headless Chromium drew every operation, the schemas and the Authorize
# dialog without one violation (swagger-ui-dist 5.35.0). By exact path: the Swagger UI files under
# /assets are not documents and need no policy of their own.
DOCS_CONTENT_SECURITY_POLICY = "; ".join([*_STRICT_DIRECTIVES, "connect-src 'self'"])
# The annual report as a web page is one self-contained document with its styles inline (it is
# also saved and printed as a file): those styles and nothing else, no script, no form.
REPORT_CONTENT_SECURITY_POLICY = "; ".join(
    ["default-src 'none'", "style-src 'unsafe-inline'", "base-uri 'none'", "form-action 'none'",
     "frame-ancestors 'none'"]
)  # fmt: skip
CSP_BY_PATH = {
    "/docs": DOCS_CONTENT_SECURITY_POLICY,
    "/dashboard/reports/annual/file": REPORT_CONTENT_SECURITY_POLICY,
    "/api/reports/annual": REPORT_CONTENT_SECURITY_POLICY,
}
# Caught mail (web/dev_pages.py, ``assure dev`` only). A message's page frames the message's HTML
# part, which is served alone under a policy of its own: sandboxed (no script, no form, an opaque
# origin), the inline styles mail is written in and nothing fetched, framed by this origin only.
# So mail HTML never runs as the app's own page, whatever a message holds.
MAIL_PAGE_CONTENT_SECURITY_POLICY = "; ".join([*_STRICT_DIRECTIVES, "frame-src 'self'"])
MAIL_PART_CONTENT_SECURITY_POLICY = "; ".join(
    ["default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "base-uri 'none'", "form-action 'none'",
     "frame-ancestors 'self'", "sandbox"]
)  # fmt: skip
HEADERS_BY_PATTERN = [
    (re.compile(r"^/dev/mail/\d+$"), {"Content-Security-Policy": MAIL_PAGE_CONTENT_SECURITY_POLICY}),
    (
        re.compile(r"^/dev/mail/\d+/html$"),
        {"Content-Security-Policy": MAIL_PART_CONTENT_SECURITY_POLICY, "X-Frame-Options": "SAMEORIGIN"},
    ),
]
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The token is in the path: no Referer may carry it anywhere, not even to our own assets.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
# Every response may carry a person's link, their case or who they are (pages, dashboard, API,
# sign-in), so no cache ever stores one; only the static assets, the same for everyone, may be kept.
PUBLIC_PREFIXES = ("/static/", "/assets/")

# A form body bigger than this is not a person typing: 64 KiB holds the longest evidence field.
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 400

CSRF_SALT = "assure.csrf.v1"
CSRF_MAX_AGE_SECONDS = 12 * 60 * 60  # a page left open over a working day still posts

# The paths whose next segment is a capability (a response-page link, a one-time sign-in link).
# One rule for all of them: tests/web/test_security_edges.py checks that every route with a
# ``{token}`` in its path starts with one of these, so a new kind of link cannot be forgotten.
TOKEN_PREFIXES = ("/r/", "/c/", "/sign-in/")  # the links that carry a personal token in their path
_TOKEN_IN_PATH = re.compile(rf"^({'|'.join(re.escape(prefix) for prefix in TOKEN_PREFIXES)})[^/]+")


# The pages and routes about one person name them in their path: the address is not logged.
PERSON_PREFIXES = ("/dashboard/people/", "/dashboard/hand-overs/", "/dashboard/registry/people/", "/api/people/",
                   "/api/hand-overs/", "/api/registry/people/")  # fmt: skip
_PERSON_IN_PATH = re.compile(rf"^({'|'.join(re.escape(prefix) for prefix in PERSON_PREFIXES)})[^/]+")


def redact_path(path: str) -> str:
    """The request path with any link token or person's address replaced, fit for a log line."""
    return _PERSON_IN_PATH.sub(r"\1<person>", _TOKEN_IN_PATH.sub(r"\1<token>", path))


def headers_for(path: str) -> dict[str, str]:
    """The security headers of a response to ``path``: the strict set, or a page's own policy."""
    if path in CSP_BY_PATH:
        return {**SECURITY_HEADERS, "Content-Security-Policy": CSP_BY_PATH[path]}
    for pattern, own in HEADERS_BY_PATTERN:
        if pattern.match(path):
            return {**SECURITY_HEADERS, **own}
    return SECURITY_HEADERS


class SecurityHeaders:
    """Adds the security headers to every response, and ``no-store`` to all but the static assets."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = not scope["path"].startswith(PUBLIC_PREFIXES)
        security_headers = headers_for(scope["path"])

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or not private
                ]
                headers += [(name.lower().encode(), value.encode()) for name, value in security_headers.items()]
                if private:
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses request bodies over ``MAX_BODY_BYTES`` with 413, declared or streamed; paths in
    ``larger`` (a plan upload) have their own limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send)
            return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await _too_large(send)


class BodyTooLarge(Exception):
    """A streamed body passed the limit."""


async def _too_large(send: Send) -> None:
    body = b"That was more than this form can take. Please shorten what you wrote and try again."
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One structured line per request: method, redacted path, status, milliseconds. No query string,
    no client details beyond the address, never the token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noted(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            log.info(
                "http_request",
                method=scope["method"],
                path=redact_path(scope["path"]),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


# --- CSRF -----------------------------------------------------------------------------------


class CsrfTokens:
    """Synchroniser tokens bound to the page they were issued on (its link token), signed and expiring.

    A response page is opened by a capability link, so there is no session to bind to; binding to
    the link token means a token from one person's page is useless on another's, and a forger
    without the link cannot make one. The Origin check below refuses cross-site posts outright.
    """

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=CSRF_SALT)

    @staticmethod
    def _binding(link_token: str) -> str:
        return hashlib.sha256(link_token.encode()).hexdigest()[:32]

    def issue(self, link_token: str) -> str:
        return self._serializer.dumps(self._binding(link_token))

    def valid(self, csrf_token: str | None, link_token: str) -> bool:
        if not csrf_token or len(csrf_token) > 500:
            return False
        try:
            bound = self._serializer.loads(csrf_token, max_age=CSRF_MAX_AGE_SECONDS)
        except BadData:
            return False
        return isinstance(bound, str) and hmac.compare_digest(bound, self._binding(link_token))


def same_origin(request: Request, base_url: str) -> bool:
    """False when the browser says the post came from another site (Sec-Fetch-Site, Origin).

    Under ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` even with a form posted
    from our own page, so ``null`` is accepted only when ``Sec-Fetch-Site`` (which a page cannot
    set) says same-origin, or is missing (older browsers; the CSRF token still guards them).
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    # ASSURE_BASE_URL alone: an origin built from the request (its Host header) is the caller's word.
    return origin.rstrip("/") == _origin_of(base_url)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- rate limits ----------------------------------------------------------------------------


class RateLimits:
    """Per-client moving-window limits for the token endpoints, held in this process's memory.

    Several web processes each keep their own count; behind a load balancer the effective limit
    is multiplied by their number, which still stops a guessing run.
    """

    def __init__(self, **limits: str) -> None:
        self._limits: dict[str, RateLimitItem] = {name: parse(value) for name, value in limits.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, bucket: str, client: str) -> int | None:
        """Count one request; None if allowed, else the seconds to wait before trying again."""
        item = self._limits[bucket]
        if self._limiter.hit(item, bucket, client):
            return None
        reset_at = self._limiter.get_window_stats(item, bucket, client).reset_time
        return max(1, int(reset_at - time.time()) + 1)


def client_address(request: Request) -> str:
    """The client's address: the connection's peer, or the one a trusted proxy named
    (``ASSURE_TRUSTED_PROXIES``, applied by uvicorn's proxy-headers middleware in ``assure web``)."""
    return request.client.host if request.client else "unknown"
