"""Tests for daemon.config: defaults, TOML loading, env overrides, one-line errors."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import re
import tomllib
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from daemon.cli import EXIT_USAGE, build_parser, main
from daemon.config import AlvhConfig, ConfigError, load_config
from daemon.exits import ExitStatus
from daemon.logs import configure_logging
from daemon.service import UNIT_TIMEOUT_STOP_S
from strategies.rules import AdjustRules, CondorRules, HedgeRules, RiskRules

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "alvh.example.toml"
UNIT = ROOT / "deploy" / "alvh.service"


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
    assert load_config(EXAMPLE) == load_config(None)


def _commented_keys(text: str) -> set[str]:
    """Dotted keys the example shows only as comments (``# key = ...`` or ``# [table...]``)."""
    section = ""
    found: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if header := re.match(r"^\[([^\]]+)\]", line):
            section = header[1]
        elif table := re.match(r"^#\s*\[([a-z_.]+)", line):
            found.add(table[1].rstrip("."))
        elif key := re.match(r"^#\s*([a-z][a-z0-9_]*)\s*=", line):
            found.add(f"{section}.{key[1]}")
    return found


def _keys_not_in_example(
    model: type[BaseModel], data: dict[str, Any], prefix: str, commented: set[str]
) -> list[str]:
    missing = []
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        sub = field.annotation
        if name in data:
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                missing += _keys_not_in_example(sub, data[name], path, commented)
        elif path not in commented or field.get_default(call_default_factory=True) not in (
            None,
            {},
        ):
            # Only keys without a value by default (None, {}) may appear as a comment.
            missing.append(path)
    return missing


def test_example_names_every_key_of_the_model() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert _keys_not_in_example(AlvhConfig, data, "", _commented_keys(text)) == []


def test_example_key_check_catches_a_key_missing_from_the_file() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("stop_grace_s = 60.0\n", "")
    data = tomllib.loads(text)
    assert _keys_not_in_example(AlvhConfig, data, "", _commented_keys(text)) == [
        "service.stop_grace_s"
    ]


def test_rules_match_pure_core_defaults_and_fields() -> None:
    config = load_config(None)
    assert config.condor.to_rules() == CondorRules()
    assert config.hedge.to_rules() == HedgeRules()
    assert config.adjust.to_rules() == AdjustRules()
    assert set(type(config.adjust).model_fields) == {
        f.name for f in dataclasses.fields(AdjustRules)
    }
    assert set(type(config.condor).model_fields) == {
        f.name for f in dataclasses.fields(CondorRules)
    }
    assert set(type(config.hedge).model_fields) == {f.name for f in dataclasses.fields(HedgeRules)}
    assert config.risk.to_rules() == RiskRules()
    assert set(type(config.risk).model_fields) == {f.name for f in dataclasses.fields(RiskRules)}


def test_removed_max_risk_dollars_names_its_replacement(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[condor]\nmax_risk_dollars = 25000.0\n"))
    assert message.startswith(f"{tmp_path / 'alvh.toml'}: condor: ")
    assert "max_risk_dollars was removed" in message
    assert "max_loss_pct_of_net_liq" in message


@pytest.mark.parametrize(
    ("module", "section", "defaults"),
    [
        ("rules", "CondorConfig", "_CONDOR_DEFAULTS"),
        ("rules", "HedgeConfig", "_HEDGE_DEFAULTS"),
        ("rules", "SignalsConfig", "_SIGNAL_DEFAULTS"),
        ("risk", "RiskConfig", "_RISK_DEFAULTS"),
        ("rules", "AdjustConfig", "_ADJUST_DEFAULTS"),
    ],
)
def test_rule_sections_take_every_default_from_the_dataclass(
    module: str, section: str, defaults: str
) -> None:
    """No number is retyped in daemon/config/<module>.py: each default is ``<defaults>.<name>``."""
    tree = ast.parse((ROOT / "daemon" / "config" / f"{module}.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == section)
    fields = [n for n in cls.body if isinstance(n, ast.AnnAssign)]
    assert fields
    for node in fields:
        assert isinstance(node.target, ast.Name) and node.value is not None
        value = node.value
        if isinstance(value, ast.Call):  # Field(default=..., bounds)
            value = next(k.value for k in value.keywords if k.arg == "default")
        assert isinstance(value, ast.Attribute), ast.unparse(node)
        assert isinstance(value.value, ast.Name) and value.value.id == defaults, ast.unparse(node)
        assert value.attr == node.target.id, ast.unparse(node)


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
    assert _error(path) == (
        f"{path}: condor.short_delta: must be greater than 0 and less than 0.5 (got 0.9)"
    )
    path = _write(tmp_path, "[condor]\nwing_width = 0\n")
    assert _error(path) == f"{path}: condor.wing_width: must be between 5 and 1000 (got 0)"


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
        _write(
            tmp_path,
            '[broker]\ntrading_mode = "live"\naccount = "U1234567"\nport = 4001\n'
            "market_data_type = 1\n",
        )
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
    assert "hedge.share: must be greater than 0 and at most 1 (got 1.5)" in _error(
        _write(tmp_path, "[hedge]\nshare = 1.5\n")
    )
    assert "hedge.min_dte: must be between 1 and 366 (got 400)" in _error(
        _write(tmp_path, "[hedge]\nmin_dte = 400\nmax_dte = 500\n")
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
        "must be greater than 0 and less than 0.5 (got 0.9)"
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


def test_bounds_say_what_is_valid_not_what_the_method_prefers(tmp_path: Path) -> None:
    """Values outside the method's usual ranges but meaningful are accepted."""
    config = load_config(
        _write(
            tmp_path,
            "[condor]\nshort_delta = 0.45\nwing_width = 1000\nmin_dte = 60\ntarget_dte = 120\n"
            "max_dte = 180\nmax_contracts = 5000\nmax_open_condors = 50\nstop_multiple = 30\n"
            "[hedge]\nshare = 0.5\notm_max = 1.5\nrungs = 5\n",
        )
    )
    assert config.condor.short_delta == 0.45 and config.condor.wing_width == 1000
    assert config.condor.max_dte == 180 and config.condor.stop_multiple == 30
    assert config.hedge.share == 0.5 and config.hedge.otm_max == 1.5
    assert "condor.short_delta" in _error(_write(tmp_path, "[condor]\nshort_delta = 0.5\n"))
    assert "condor.short_delta" in _error(_write(tmp_path, "[condor]\nshort_delta = 0\n"))
    assert "hedge.share" in _error(_write(tmp_path, "[hedge]\nshare = 0\n"))


# -- [service] stop_grace_s, [broker] open_order_policy ---------------------------------------


def test_stop_grace_defaults_to_60_s_below_the_unit_stop_timeout(tmp_path: Path) -> None:
    assert load_config(None).service.stop_grace_s == 60.0
    assert load_config(_write(tmp_path, "[service]\nstop_grace_s = 89.5\n")).service.stop_grace_s
    assert _error(_write(tmp_path, "[service]\nstop_grace_s = 90\n")) == (
        f"{tmp_path / 'alvh.toml'}: service.stop_grace_s: "
        "must be greater than 0 and less than 90 (got 90)"
    )
    assert "service.stop_grace_s" in _error(_write(tmp_path, "[service]\nstop_grace_s = 0\n"))


def test_stop_grace_bound_is_the_units_timeout_stop_sec() -> None:
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    (value,) = [ln.split("=", 1)[1] for ln in lines if ln.startswith("TimeoutStopSec=")]
    assert float(value) == UNIT_TIMEOUT_STOP_S == 90.0


def test_open_order_policy(tmp_path: Path) -> None:
    assert load_config(None).broker.open_order_policy == "adopt"
    config = load_config(_write(tmp_path, '[broker]\nopen_order_policy = "cancel"\n'))
    assert config.broker.open_order_policy == "cancel"
    assert _error(_write(tmp_path, '[broker]\nopen_order_policy = "ignore"\n')).endswith(
        "broker.open_order_policy: must be one of 'adopt' or 'cancel' (got 'ignore')"
    )


# -- live-mode safety -------------------------------------------------------------------------

LIVE_FILE = '[broker]\ntrading_mode = "live"\naccount = "U1234567"\nmarket_data_type = 1\n'


def test_environment_alone_cannot_turn_paper_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "live")
    monkeypatch.setenv("ALVH_BROKER__ACCOUNT", "U1234567")
    monkeypatch.setenv("ALVH_BROKER__MARKET_DATA_TYPE", "1")
    message = _error(None)
    assert message.startswith(
        "environment ALVH_BROKER__TRADING_MODE: broker.trading_mode: "
        "the environment alone cannot switch to 'live' (built-in defaults: "
    )
    assert "in the config file or pass --live" in message
    paper_file = _write(tmp_path, '[broker]\ntrading_mode = "paper"\n')
    assert "cannot switch to 'live'" in _error(paper_file)
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "LIVE")
    assert "cannot switch to 'live'" in _error(paper_file)


def test_environment_may_agree_with_the_file_or_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "live")
    assert load_config(_write(tmp_path, LIVE_FILE)).broker.trading_mode == "live"
    monkeypatch.setenv("ALVH_BROKER__ACCOUNT", "U1234567")
    monkeypatch.setenv("ALVH_BROKER__MARKET_DATA_TYPE", "1")
    assert load_config(None, live=True).broker.trading_mode == "live"
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "paper")
    assert load_config(None).broker.trading_mode == "paper"


def test_environment_cannot_turn_live_paper_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "paper")
    assert "cannot switch to 'paper'" in _error(_write(tmp_path, LIVE_FILE))


def test_environment_json_route_cannot_turn_paper_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ALVH_BROKER", '{"trading_mode": "live", "account": "U1", "market_data_type": 1}'
    )
    assert _error(None).startswith("environment ALVH_BROKER: broker.trading_mode: ")


def test_live_flag_sets_live_and_still_needs_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, live=True)
    assert str(info.value).startswith(
        "built-in defaults with --live: broker.account: required when trading_mode is 'live'"
    )
    path = _write(tmp_path, '[broker]\naccount = "U1234567"\nmarket_data_type = 1\n')
    assert load_config(path).broker.trading_mode == "paper"
    config = load_config(path, live=True)
    assert config.broker.trading_mode == "live" and config.broker.account == "U1234567"


@pytest.mark.parametrize("data_type", [3, 4])
def test_live_refuses_delayed_market_data(tmp_path: Path, data_type: int) -> None:
    path = _write(tmp_path, LIVE_FILE.replace("= 1", f"= {data_type}"))
    assert _error(path) == (
        f"{path}: broker.market_data_type: delayed data ({data_type}) is refused when "
        "trading_mode is 'live'; use 1 (live) or 2 (frozen)"
    )
    flagged = _write(tmp_path, f'[broker]\naccount = "U1"\nmarket_data_type = {data_type}\n')
    with pytest.raises(ConfigError, match=r"with --live: broker\.market_data_type: delayed"):
        load_config(flagged, live=True)
    # Paper keeps delayed data (the default 3 suits accounts without subscriptions).
    assert load_config(_write(tmp_path, f"[broker]\nmarket_data_type = {data_type}\n"))


def test_live_accepts_live_and_frozen_data(tmp_path: Path) -> None:
    for data_type in (1, 2):
        path = _write(tmp_path, LIVE_FILE.replace("= 1", f"= {data_type}"))
        assert load_config(path).broker.market_data_type == data_type


# -- alvh run --live ------------------------------------------------------------------------


@pytest.fixture
def _reset_logging() -> Iterator[None]:
    yield
    configure_logging("info", "json", io.StringIO())


@pytest.mark.usefixtures("_reset_logging")
def test_run_live_flag_without_account_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build_parser().parse_args(["run", "--live"]).live is True
    assert build_parser().parse_args(["run"]).live is False
    assert main(["run", "--live"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == (
        "alvh run: bad config: built-in defaults with --live: broker.account: "
        "required when trading_mode is 'live' (and 1 more problem)"
    )


@pytest.mark.usefixtures("_reset_logging")
def test_run_refuses_live_from_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALVH_BROKER__TRADING_MODE", "live")
    assert main(["run"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "ALVH_BROKER__TRADING_MODE" in err and "--live" in err


@pytest.mark.usefixtures("_reset_logging")
def test_run_live_flag_still_refuses_the_drill_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "alvh.sqlite"
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(journal))
    monkeypatch.setenv("ALVH_LOGGING__FORMAT", "json")
    path = _write(tmp_path, '[broker]\naccount = "U1234567"\nmarket_data_type = 1\n')
    code = main(["run", "--config", str(path), "--live", "--now", "2026-11-20T15:30:00-05:00"])
    assert code == ExitStatus.USAGE  # a usage mistake, not 4 (gateway unreachable)
    err = capsys.readouterr().err
    assert "--now is for drills" in err
    assert len(err.strip().splitlines()) == 1
    assert not journal.exists()


def test_wing_modes_validate(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[condor]\nwing_mode = "percent"\nwing_pct = 2.5\n'))
    assert config.condor.to_rules().wing_mode == "percent"
    assert config.condor.to_rules().wing_pct == 2.5
    assert "wing_mode" in _error(_write(tmp_path, '[condor]\nwing_mode = "ratio"\n'))
    assert "wing_pct" in _error(_write(tmp_path, "[condor]\nwing_pct = 25\n"))
    narrow = _write(tmp_path, "[condor]\nshort_delta = 0.10\nwing_delta = 0.10\n")
    assert "condor.wing_delta: must be less than condor.short_delta (0.1)" in _error(narrow)
