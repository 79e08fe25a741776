"""Strict config values: no coercion, finite and bounded numbers, clean text, one-line errors."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel, Field

from daemon.config import AlvhConfig, ConfigError, load_config
from daemon.config.base import Section
from daemon.strictmodel import scalar_kinds


def _error(tmp_path: Path, body: str) -> str:
    path = tmp_path / "alvh.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[broker]\nport = true\n", "broker.port: must be a number, not true"),
        ("[condor]\nmax_contracts = false\n", "condor.max_contracts: must be a number, not false"),
        ('[broker]\nport = "4001"\n', "broker.port: must be a number, not the text '4001'"),
        ("[replay]\nstarting_cash = inf\n", "replay.starting_cash: must be a finite number"),
        ("[replay]\nstarting_cash = nan\n", "replay.starting_cash: must be a finite number"),
        ("[broker]\nclient_id = 1.5\n", "broker.client_id: must be a whole number"),
        ("[events]\nenabled = 1\n", "events.enabled: must be true or false"),
        (
            '[broker]\nhost = "a\\u0000b"\n',
            "broker.host: text contains the control character U+0000",
        ),
        (
            '[broker]\nhost = "\\u202eevil"\n',
            "broker.host: text contains the control character U+202E",
        ),
        ("[replay]\nstarting_cash = 1e11\n", "replay.starting_cash: must be greater than 0"),
        (
            "[broker]\nreconnect_initial_s = 30\nreconnect_max_s = 5\n",
            "broker.reconnect_max_s: must not be below broker.reconnect_initial_s (30)",
        ),
        (
            "[broker]\nmarket_data_lines = 50\nmarket_data_lines_budget = 60\n",
            "broker.market_data_lines_budget: must not exceed broker.market_data_lines (50)",
        ),
        (
            "[broker]\nwalk_interval_s = 100\nwalk_timeout_s = 10\n",
            "broker.walk_timeout_s: must not be below broker.walk_interval_s (100)",
        ),
    ],
)
def test_nonsense_values_are_refused_with_one_line(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert expected in _error(tmp_path, body)


def test_host_length_is_limited(tmp_path: Path) -> None:
    text = _error(tmp_path, f'[broker]\nhost = "{"x" * 100_000}"\n')
    assert "broker.host: text is too long (100000 characters, at most 253)" in text
    assert len(text) < 300


def test_float_keys_still_take_toml_integers(tmp_path: Path) -> None:
    path = tmp_path / "alvh.toml"
    path.write_text("[replay]\nstarting_cash = 50000\n[broker]\nconnect_timeout_s = 20\n")
    config = load_config(path)
    assert config.replay.starting_cash == 50_000.0
    assert config.broker.connect_timeout_s == 20


def test_environment_text_still_sets_numbers_and_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_BROKER__PORT", "4001")
    monkeypatch.setenv("ALVH_REPLAY__STARTING_CASH", "2.5e5")
    monkeypatch.setenv("ALVH_EVENTS__ENABLED", "false")
    config = load_config(None)
    assert config.broker.port == 4001
    assert config.replay.starting_cash == 250_000.0
    assert config.events.enabled is False


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "ALVH_BROKER__PORT",
            "true",
            "environment ALVH_BROKER__PORT: broker.port: must be a number",
        ),
        ("ALVH_REPLAY__STARTING_CASH", "inf", "replay.starting_cash: must be a finite number"),
        ("ALVH_BROKER", "{bad", "environment ALVH_BROKER: not valid JSON"),
        ("ALVH_BROKER", "[1, 2]", "environment ALVH_BROKER: must be a JSON object"),
        ("ALVH_CONDOR", '{"a":' * 100_000 + "1" + "}" * 100_000, "environment ALVH_CONDOR:"),
    ],
)
def test_bad_environment_values_give_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_config(None)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_toml_is_one_line(tmp_path: Path, depth: int) -> None:
    text = _error(tmp_path, "x = " + "[" * depth + "]" * depth + "\n")
    assert "invalid TOML" in text or "unknown key" in text


def test_unreadable_config_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(Path("/dev/zero"))
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(ConfigError, match="file too large"):
        load_config(big)


def _sections() -> list[tuple[str, type[BaseModel]]]:
    out: list[tuple[str, type[BaseModel]]] = []

    def walk(prefix: str, model: type[BaseModel]) -> None:
        out.append((prefix, model))
        for name, info in model.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(f"{prefix}.{name}", ann)
            elif typing.get_origin(ann) is dict:
                value = typing.get_args(ann)[1]
                if isinstance(value, type) and issubclass(value, BaseModel):
                    walk(f"{prefix}.{name}.*", value)

    for name, info in AlvhConfig.model_fields.items():
        assert isinstance(info.annotation, type)
        walk(name, info.annotation)
    return out


def test_every_number_key_has_both_bounds() -> None:
    """A number without a declared range would accept values outside any documented one."""
    missing = []
    for prefix, model in _sections():
        for name, info in model.model_fields.items():
            kinds = scalar_kinds(info.annotation)
            if not kinds & {int, float} or kinds & {str, bool}:
                continue
            low = any(isinstance(m, annotated_types.Ge | annotated_types.Gt) for m in info.metadata)
            high = any(
                isinstance(m, annotated_types.Le | annotated_types.Lt) for m in info.metadata
            )
            if not (low and high):
                missing.append(f"{prefix}.{name}")
    assert missing == [], f"give these keys ge/gt and le/lt bounds: {missing}"


def test_every_section_is_strict() -> None:
    from daemon.strictmodel import StrictModel

    for prefix, model in _sections():
        assert issubclass(model, StrictModel), f"[{prefix}] must derive from Section/StrictModel"


def test_a_new_section_inherits_the_checks() -> None:
    class Later(Section):
        size: float = Field(default=1.0, gt=0, le=10)
        name: str = "x"

    for bad in ({"size": True}, {"size": "2"}, {"size": float("inf")}, {"name": "a\x00"}):
        with pytest.raises(ValueError):
            Later(**bad)
    assert Later(size=2).size == 2.0


def test_every_default_passes_the_strict_checks() -> None:
    config: Any = AlvhConfig()
    assert config.broker.port == 4002
