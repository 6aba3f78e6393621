"""structlog set-up shared by the worker, the CLI and the tests.

Log lines carry identifiers (workflow id, run id, recommendation ref, event kind), never
recommendation text, evidence or people's names: safeguarding data stays out of logs.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, fmt: str = "console", level: int = logging.INFO) -> None:
    """Route structlog (and the standard library's logging) to stderr in the chosen format."""
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # stderr, so a command's own output (``--json``) is all its stdout holds.
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")
    # aiosmtpd logs every envelope address at INFO: people's addresses stay out of logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
