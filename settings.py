"""Assure's settings, read once from the environment (prefix ``ASSURE_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.review_clocks import ReviewPolicy

# Where `assure dev` keeps its state (the dev server's SQLite file, the store, the development
# signing key). ASSURE_STATE_DIR moves it, for a second stack on one machine or a test.
STATE_DIR = Path(os.environ.get("ASSURE_STATE_DIR", ".assure"))


class Settings(BaseSettings):
    """Where Assure finds Temporal, its SQL store and its mail relay, and how it signs links."""

    model_config = SettingsConfigDict(env_prefix="ASSURE_", env_file=".env", extra="ignore")

    temporal_address: str = Field(default="localhost:7233", description="host:port of the Temporal frontend")
    temporal_namespace: str = Field(default="default", min_length=1)
    task_queue: str = Field(default="assurance", min_length=1)
    # What this worker process serves: the workflows and their decisions ("decisions"), the
    # background work (each transition's write to the store on <task_queue>-store, the sending of
    # its email on <task_queue>-mail: "mail"), or both. Split, the background work can run apart
    # (and under `nice`), so a burst of it never slows a decision.
    worker_serves: Literal["all", "decisions", "mail"] = "all"
    # How many writes to the store a worker runs at once. In a burst the rest wait their turn, and
    # a recommendation's decisions taken meanwhile go in its next write: fewer, fuller writes.
    store_writes_at_once: int = Field(default=2, ge=1, le=100)
    # How many mail batches a worker sends at once, each over its own connection to the relay.
    mail_batches_at_once: int = Field(default=4, ge=1, le=100)
    # Run workflow code in Temporal's sandbox, which stops some non-deterministic calls at the cost
    # of CPU on every workflow task. The tests always run it; production need not.
    workflow_sandbox: bool = False
    # A real cluster or Temporal Cloud: TLS (with a client certificate and key for mTLS, and a CA
    # for a private authority), or an API key (which implies TLS).
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: SecretStr | None = None
    database_url: str = Field(default=f"sqlite:///{STATE_DIR / 'assure.db'}")
    log_format: str = Field(default="console", description="console or json")
    # Where the worker serves Prometheus metrics (the SDK's and Assure's counters); empty: off.
    metrics_address: str = Field(default="", description="host:port of the worker's /metrics, e.g. 0.0.0.0:9464")

    # Email (delivery of the outbox) and the links in it.
    smtp_host: str = Field(default="127.0.0.1", min_length=1)
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "implicit"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # A CA bundle to trust for a relay whose certificate comes from a private authority.
    smtp_ca_file: Path | None = None
    mail_from: str = Field(default="Assure <assure@localhost>", min_length=3)
    base_url: str = Field(default="http://127.0.0.1:8000", description="links are <base_url>/r/<token>")
    # Signs the links in emails. Unset, a development key is made once under .assure/.
    secret_key: SecretStr | None = None
    link_valid_days: int = Field(default=30, ge=1, le=365)

    temporal_ui_port: int = Field(default=8233, ge=1, le=65535, description="Web UI of `assure dev`'s server")
    # The example plan `assure dev` imports on its first start ("" to start empty).
    example_plan: str = Field(default="examples/mk-together-2022-23.yaml")

    # The monthly board pack: sent on this day of each month at this time, London time.
    board_pack_day: int = Field(default=25, ge=1, le=28)
    board_pack_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # The partnership's review clocks (models.review_clocks): a JSON file {"clocks": [...]} in
    # place of the defaults, checked when the settings load. Unset: the defaults.
    review_clocks_file: Path | None = None
    # The partnership's name, as its annual report is published under.
    partnership_name: str = Field(default="MK Together Safeguarding Partnership", min_length=1, max_length=120)

    # The web app (response pages). Limits are per client address, in the `limits` notation.
    web_host: str = Field(default="127.0.0.1", min_length=1)
    web_port: int = Field(default=8000, ge=1, le=65535)
    rate_limit_pages: str = Field(default="120/minute", description="page views of /r/<token> per client")
    rate_limit_decisions: str = Field(default="30/minute", description="decisions posted per client")
    rate_limit_fresh_links: str = Field(default="5/hour", description="fresh-link requests per client")
    rate_limit_sign_in: str = Field(default="10/hour", description="dashboard sign-in requests per client")
    # The proxies in front of `assure web` (addresses or CIDR networks, comma-separated) whose
    # X-Forwarded-For names the client. From anyone else the header is ignored: a client could
    # otherwise name itself anew on every request and escape its rate limits.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"ASSURE_BASE_URL must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _not_the_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower().startswith("change-me"):
            raise ValueError(
                "ASSURE_SECRET_KEY is still the placeholder from .env.example; anyone who has read it could "
                "sign links. Make a key with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("ASSURE_TRUSTED_PROXIES must be addresses or networks separated by commas")
        networks = []
        for item in (str(entry).strip() for entry in items):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item)))  # an address is a network of one
            except ValueError as exc:
                raise ValueError(
                    f"ASSURE_TRUSTED_PROXIES: {item!r} is not an IP address or network such as 10.0.0.5 or "
                    f"172.16.0.0/12 ({exc})"
                ) from None
        return networks

    @field_validator("mail_from")
    @classmethod
    def _no_header_injection(cls, value: str) -> str:
        if "\r" in value or "\n" in value or "@" not in value:
            raise ValueError("ASSURE_MAIL_FROM must be one address such as 'Assure <assure@example.org>'")
        return value

    @field_validator("temporal_address")
    @classmethod
    def _address_has_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"ASSURE_TEMPORAL_ADDRESS must be host:port, got {value!r}")
        return value

    @field_validator("rate_limit_pages", "rate_limit_decisions", "rate_limit_fresh_links", "rate_limit_sign_in")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '30/minute' or '5 per hour'") from None
        return value

    @field_validator("smtp_ca_file", "temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca")
    @classmethod
    def _files_exist(cls, value: Path | None, info) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"ASSURE_{info.field_name.upper()} {str(value)!r} is not a readable file")
        return value

    @field_validator("review_clocks_file")
    @classmethod
    def _review_clocks_parse(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_review_policy(value)
        return value

    def review_policy(self) -> ReviewPolicy:
        """The partnership's review clocks: its file's, else the defaults."""
        return _read_review_policy(self.review_clocks_file) if self.review_clocks_file else ReviewPolicy()

    @field_validator("metrics_address")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if value and (not sep or not host or not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError(f"ASSURE_METRICS_ADDRESS must be host:port such as 0.0.0.0:9464, got {value!r}")
        return value

    @model_validator(mode="after")
    def _client_certificate_in_pairs(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                "ASSURE_TEMPORAL_TLS_CERT and ASSURE_TEMPORAL_TLS_KEY go together: set both for mTLS, or neither"
            )
        return self

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in {"console", "json"}:
            raise ValueError(f"ASSURE_LOG_FORMAT must be 'console' or 'json', got {value!r}")
        return value


@lru_cache(maxsize=8)
def _read_review_policy(path: Path) -> ReviewPolicy:
    """The clocks in ``path``, or a ValueError naming the file and what in it is wrong."""
    where = f"ASSURE_REVIEW_CLOCKS_FILE {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{where} cannot be read ({exc.strerror})") from None
    try:
        return ReviewPolicy.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"{where}: {problems}") from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()


def settings_or_exit() -> Settings:
    """The settings, or a message per bad variable on stderr and exit status 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule across variables: its message names them
                sys.stderr.write(f"configuration error: {message}\n")
                continue
            variable = "ASSURE_" + "_".join(str(part) for part in error["loc"]).upper()
            sys.stderr.write(f"configuration error in {variable}: {message}\n")
        raise SystemExit(2) from None
