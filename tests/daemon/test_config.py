"""Tests for daemon.config: defaults, TOML loading, env overrides, one-line errors."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import time
from pathlib import Path

import pytest

from daemon.config import AlvhConfig, ConfigError, load_config
from strategies.rules import CondorRules, HedgeRules

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "alvh.example.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alvh.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path | None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_builtin_defaults_equal_shipped_example() -> None:
    assert load_config(None) == load_config(EXAMPLE)


def test_example_sets_every_key_explicitly() -> None:
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, field in AlvhConfig.model_fields.items():
        model = field.annotation
        assert model is not None
        keys = set(model.model_fields)
        optional_unset = {
            "broker": {"account"},
            "events": {"user_calendar", "custom"},
            "service": {"max_loop_lag_s"},
        }.get(section, set())
        assert set(data[section]) == keys - optional_unset, section


def test_rules_match_pure_core_defaults_and_fields() -> None:
    config = load_config(None)
    assert config.condor.to_rules() == CondorRules()
    assert config.hedge.to_rules() == HedgeRules()
    assert set(type(config.condor).model_fields) == {
        f.name for f in dataclasses.fields(CondorRules)
    }
    assert set(type(config.hedge).model_fields) == {f.name for f in dataclasses.fields(HedgeRules)}


def test_paper_is_the_safe_default() -> None:
    broker = load_config(None).broker
    assert broker.trading_mode == "paper"
    assert broker.port == 4002
    assert broker.account is None
    assert broker.market_data_type == 3


def test_toml_values_are_applied(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[condor]\nshort_delta = 0.12\nwing_width = 25\n[schedule]\nentry_time = "14:00"\n'
        '[journal]\npath = "x/j.sqlite"\n',
    )
    config = load_config(path)
    assert config.condor.to_rules().short_delta == 0.12
    assert config.condor.wing_width == 25.0
    assert config.schedule.times()["entry"] == time(14, 0)
    assert config.journal.path == Path("x/j.sqlite")
    assert config.hedge == load_config(None).hedge


def test_range_error_names_file_key_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "[condor]\nshort_delta = 0.9\n")
    assert _error(path) == f"{path}: condor.short_delta: must be between 0.01 and 0.5 (got 0.9)"


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "[condor]\nshort_delt = 0.2\n")
    message = _error(path)
    assert message.startswith(f"{path}: condor.short_delt: unknown key")


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[brokr]\nport = 1\n"))
    assert ": brokr: unknown key" in message


def test_invalid_toml_reports_line(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[broker]\nport = 4002\nhost = \n"))
    assert "invalid TOML" in message
    assert "line 3" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert _error(path) == f"{path}: file not found"


def test_wrong_type(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, '[broker]\nport = "four"\n'))
    assert "broker.port:" in message
    assert "'four'" in message


def test_live_requires_live_account(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, '[broker]\ntrading_mode = "live"\n'))
    assert "broker.account: required when trading_mode is 'live'" in message
    message = _error(_write(tmp_path, '[broker]\ntrading_mode = "live"\naccount = "DU999"\n'))
    assert "broker.account:" in message
    assert "paper account" in message
    config = load_config(
        _write(tmp_path, '[broker]\ntrading_mode = "live"\naccount = "U1234567"\nport = 4001\n')
    )
    assert config.broker.trading_mode == "live"
    assert config.broker.account == "U1234567"


def test_condor_cross_field_bounds(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[condor]\nmin_dte = 10\nmax_dte = 20\ntarget_dte = 25\n"))
    assert "condor.target_dte: must be between condor.min_dte (10) and condor.max_dte (20)" in (
        message
    )
    assert "condor.max_dte" in _error(_write(tmp_path, "[condor]\nmin_dte = 10\nmax_dte = 8\n"))
    assert "multiple of 5" in _error(_write(tmp_path, "[condor]\nwing_width = 12\n"))
    assert "condor.exit_dte" in _error(_write(tmp_path, "[condor]\nexit_dte = 7\n"))
    assert "condor.min_credit" in _error(
        _write(tmp_path, "[condor]\nwing_width = 10\nmin_credit = 10\n")
    )
    assert "greater than 1" in _error(_write(tmp_path, "[condor]\nstop_multiple = 1.0\n"))


def test_hedge_bounds(tmp_path: Path) -> None:
    assert "hedge.vega_share: must be between 0.3 and 0.4 (got 0.5)" in _error(
        _write(tmp_path, "[hedge]\nvega_share = 0.5\n")
    )
    assert "hedge.otm_max: must be greater than hedge.otm_min (0.1)" in _error(
        _write(tmp_path, "[hedge]\notm_min = 0.10\notm_max = 0.10\n")
    )


def test_schedule_validation(tmp_path: Path) -> None:
    assert "schedule.entry_time: must be a 24-hour time 'HH:MM'" in _error(
        _write(tmp_path, '[schedule]\nentry_time = "3:30pm"\n')
    )
    assert "schedule.entry_time: must be inside the SPX options session" in _error(
        _write(tmp_path, '[schedule]\nentry_time = "08:00"\n')
    )
    assert "schedule.timezone" in _error(_write(tmp_path, '[schedule]\ntimezone = "UTC"\n'))
    assert "schedule.mark_time" in _error(_write(tmp_path, '[schedule]\nmark_time = "15:00"\n'))


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "[broker]\nport = 7497\n[condor]\nshort_delta = 0.2\n")
    monkeypatch.setenv("ALVH_BROKER__PORT", "4001")
    monkeypatch.setenv("ALVH_LOGGING__FORMAT", "json")
    config = load_config(path)
    assert config.broker.port == 4001
    assert config.condor.short_delta == 0.2  # untouched file value survives the merge
    assert config.logging.format == "json"
    assert load_config(None).broker.port == 4001


def test_env_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_CONDOR__SHORT_DELTA", "0.9")
    assert _error(None) == (
        "environment ALVH_CONDOR__SHORT_DELTA: condor.short_delta: "
        "must be between 0.01 and 0.5 (got '0.9')"
    )


def test_env_unknown_key_in_section_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_CONDOR__SHORTDELTA", "0.2")
    assert "condor.shortdelta: unknown key" in _error(None)


def test_config_is_frozen_and_serialisable() -> None:
    config = load_config(None)
    with pytest.raises(ValueError):
        config.broker.port = 1
    dumped = json.loads(config.to_json())
    assert dumped["condor"]["short_delta"] == 0.16
    assert dumped["replay"]["spx_fee_per_contract"] == 0.66
    assert dumped["journal"]["path"] == "alvh.sqlite"


def test_several_problems_are_counted_on_one_line(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[broker]\nport = 0\nclient_id = -1\n"))
    assert message.startswith(f"{tmp_path / 'alvh.toml'}: broker.port:")
    assert message.endswith("(and 1 more problem)")
