"""Configuration from the environment: a bad value stops the process with its variable's name."""

from __future__ import annotations

import pytest

from settings import Settings, get_settings, settings_or_exit


@pytest.mark.parametrize("variable", ["ASSURE_STORE_WRITES_AT_ONCE", "ASSURE_MAIL_BATCHES_AT_ONCE"])
@pytest.mark.parametrize("value", ["0", "101", "two"])
def test_a_bad_background_limit_names_its_variable_and_exits_2(monkeypatch, capsys, variable, value):
    """How many store writes, and mail batches, a worker runs at once must be a whole number from 1
    to 100; anything else is refused before any worker starts, with the variable named."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        settings_or_exit()
    assert 2 == stopped.value.code
    assert f"configuration error in {variable}" in capsys.readouterr().err


def test_the_background_limits_are_read(monkeypatch):
    monkeypatch.setenv("ASSURE_STORE_WRITES_AT_ONCE", "5")
    monkeypatch.setenv("ASSURE_MAIL_BATCHES_AT_ONCE", "7")
    settings = settings_or_exit()
    assert (5, 7) == (settings.store_writes_at_once, settings.mail_batches_at_once)


@pytest.mark.parametrize("placeholder", ["change-me-run-the-python-command-above", "CHANGE-ME please"])
def test_a_placeholder_secret_key_stops_start_up_naming_its_variable(monkeypatch, capsys, placeholder):
    """The secret key of .env.example (any ``change-me…`` value) is refused with exit status 2 and
    the variable named, so no deployment signs links with a key anyone can read."""
    monkeypatch.setenv("ASSURE_SECRET_KEY", placeholder)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as stopped:
            settings_or_exit()
    finally:
        get_settings.cache_clear()
    assert 2 == stopped.value.code
    err = capsys.readouterr().err
    assert "configuration error in ASSURE_SECRET_KEY" in err and "placeholder" in err
    assert placeholder not in err


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", []), ("10.0.0.5", ["10.0.0.5/32"]), (" 10.0.0.0/8, ::1 ", ["10.0.0.0/8", "::1/128"])],
)
def test_trusted_proxies_are_addresses_or_networks_separated_by_commas(monkeypatch, value, expected):
    """ASSURE_TRUSTED_PROXIES reads as a list of networks; unset, nobody is trusted."""
    monkeypatch.setenv("ASSURE_TRUSTED_PROXIES", value)
    assert expected == Settings(_env_file=None).trusted_proxies
    monkeypatch.delenv("ASSURE_TRUSTED_PROXIES")
    assert [] == Settings(_env_file=None).trusted_proxies


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.1/8", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused(monkeypatch, capsys, value):
    """A host name or a malformed network is refused by name (uvicorn would quietly never match it)."""
    monkeypatch.setenv("ASSURE_TRUSTED_PROXIES", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit):
            settings_or_exit()
    finally:
        get_settings.cache_clear()
    assert (
        f"configuration error in ASSURE_TRUSTED_PROXIES: ASSURE_TRUSTED_PROXIES: {value!r}" in capsys.readouterr().err
    )
