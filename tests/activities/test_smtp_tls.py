"""SMTP over TLS: STARTTLS and implicit TLS to a relay with a private CA, and what a TLS mistake means."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import pytest
import trustme
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from activities.mail.smtp import TemporarySendFailure, send
from devtools.mailcatcher import CatchingHandler
from settings import Settings
from tests.activities.test_mail_delivery import inbox
from tests.helpers import TEST_SECRET_KEY, free_port


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A private certificate authority, as an internal mail relay might use."""
    return trustme.CA()


@pytest.fixture
def server_context(authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(authority, tmp_path) -> str:
    path = tmp_path / "relay-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


def _settings(database_url: str, port: int, tls: str, ca_file: str | None) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        smtp_host="localhost",
        smtp_port=port,
        smtp_tls=tls,
        smtp_ca_file=ca_file,
        secret_key=SecretStr(TEST_SECRET_KEY),
    )


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "assure@mktogether.example"
    message["To"] = "named.nurse@icb.example"
    message["Subject"] = "[CSPR-2023-01] New task"
    message.set_content("x")
    return message


class TestStartTls:
    @pytest.fixture
    def relay(self, database_url, server_context):
        port = free_port()
        controller = Controller(
            CatchingHandler(database_url),
            hostname="127.0.0.1",
            port=port,
            tls_context=server_context,
            require_starttls=True,
        )
        controller.start()
        yield port
        controller.stop()

    async def test_mail_goes_through_starttls_trusting_the_configured_ca(self, relay, database_url, ca_file):
        """With ASSURE_SMTP_TLS=starttls and the relay's CA configured, the message arrives."""
        await send(_settings(database_url, relay, "starttls", ca_file), _message())
        assert 1 == len(inbox(database_url, "named.nurse@icb.example"))

    async def test_a_relay_demanding_tls_refuses_plain_mail_as_our_problem(self, relay, database_url):
        """Sending without TLS to a relay that demands it is a temporary failure (fix the settings), not a bounce."""
        with pytest.raises(TemporarySendFailure):
            await send(_settings(database_url, relay, "none", None), _message())

    async def test_an_untrusted_certificate_is_not_accepted(self, relay, database_url):
        """Without the relay's CA the certificate is refused and nothing is sent."""
        with pytest.raises(TemporarySendFailure):
            await send(_settings(database_url, relay, "starttls", None), _message())
        assert [] == inbox(database_url)


class TestImplicitTls:
    async def test_mail_goes_through_implicit_tls(self, database_url, server_context, ca_file):
        """With ASSURE_SMTP_TLS=implicit the connection is TLS from the start and the message arrives."""
        port = free_port()
        controller = Controller(
            CatchingHandler(database_url), hostname="127.0.0.1", port=port, ssl_context=server_context
        )
        controller.start()
        try:
            await send(_settings(database_url, port, "implicit", ca_file), _message())
        finally:
            controller.stop()
        assert 1 == len(inbox(database_url, "named.nurse@icb.example"))


class TestSettings:
    def test_a_missing_ca_file_is_refused_with_its_name(self, database_url):
        """ASSURE_SMTP_CA_FILE naming no file is a configuration error that says which file."""
        with pytest.raises(ValueError, match="ASSURE_SMTP_CA_FILE '/nowhere/ca.pem' is not a readable file"):
            _settings(database_url, 25, "starttls", "/nowhere/ca.pem")
