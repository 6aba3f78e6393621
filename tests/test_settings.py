"""Configuration from the environment: a bad value stops the process with its variable's name."""

from __future__ import annotations

import pytest

from settings import settings_or_exit


@pytest.mark.parametrize("value", ["0", "101", "two"])
def test_a_bad_store_writes_at_once_names_its_variable_and_exits_2(monkeypatch, capsys, value):
    """ASSURE_STORE_WRITES_AT_ONCE must be a whole number from 1 to 100; anything else is refused
    before any worker starts, with the variable named."""
    monkeypatch.setenv("ASSURE_STORE_WRITES_AT_ONCE", value)
    with pytest.raises(SystemExit) as stopped:
        settings_or_exit()
    assert 2 == stopped.value.code
    assert "configuration error in ASSURE_STORE_WRITES_AT_ONCE" in capsys.readouterr().err


def test_the_store_writes_at_once_setting_is_read(monkeypatch):
    monkeypatch.setenv("ASSURE_STORE_WRITES_AT_ONCE", "5")
    assert 5 == settings_or_exit().store_writes_at_once
