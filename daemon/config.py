"""Validated daemon configuration: TOML file + ``ALVH_*`` environment overrides.

The configuration is a tree of frozen pydantic models, one per TOML section.
:func:`load_config` reads a TOML file (or uses the built-in defaults, which are
exactly the values shipped in ``config/alvh.example.toml``), applies
environment overrides such as ``ALVH_BROKER__PORT=4001`` (prefix ``ALVH_``,
``__`` between section and key) and validates everything. Environment values
win over the file.

Every problem is reported as a :class:`ConfigError` whose message is one line
naming the source, the key path and the problem, for example::

    config/alvh.toml: condor.short_delta: must be between 0.01 and 0.5 (got 0.9)

Unknown keys are errors, so typos never silently fall back to a default.

Units: times are ``HH:MM`` in America/New_York; DTE values are calendar days;
option prices are index points; money is US dollars; rates and shares are
decimals (0.25 = 25 %).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.calendars.event_rules import EventRulesConfig
from daemon.service import ServiceConfig
from strategies.rules import CondorRules, HedgeRules

__all__ = [
    "ENV_PREFIX",
    "AlvhConfig",
    "BrokerConfig",
    "CondorConfig",
    "ConfigError",
    "EventRulesConfig",
    "HedgeConfig",
    "JournalConfig",
    "LoggingConfig",
    "ReplayConfig",
    "ScheduleConfig",
    "load_config",
]

#: Prefix of environment variables that override configuration keys.
ENV_PREFIX = "ALVH_"
#: Separator between section and key in an environment variable name.
ENV_NESTED_DELIMITER = "__"

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ConfigError(ValueError):
    """The configuration cannot be loaded; ``str()`` is one human-readable line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- broker


class BrokerConfig(_Section):
    """``[broker]``: how to reach TWS / IB Gateway.

    ``trading_mode`` defaults to ``"paper"``; ``"live"`` requires an explicit
    live ``account`` (paper accounts start with ``DU``). ``market_data_type``
    is IB's code: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.
    ``connect_timeout_s`` is in seconds. The remaining keys tune the
    Interactive Brokers adapter (:class:`daemon.brokers.ib.adapter.IBSettings`
    documents each): market-data line budget and pacing, the strike window in
    expected moves, limit-price walking (``walk_step`` index points every
    ``walk_interval_s`` seconds, cancelled after ``walk_timeout_s``), and
    reconnect behaviour.
    """

    trading_mode: Literal["paper", "live"] = "paper"
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=17, ge=0, le=2_147_483_647)
    account: str | None = None
    market_data_type: int = Field(default=3, ge=1, le=4)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    request_timeout_s: float = Field(default=15.0, gt=0, le=120)
    market_data_lines: int = Field(default=100, ge=1, le=10_000)
    max_msgs_per_s: int = Field(default=45, ge=1, le=50)
    strike_window_sd: float = Field(default=2.0, gt=0, le=5)
    quote_timeout_s: float = Field(default=5.0, gt=0, le=60)
    walk_step: float = Field(default=0.05, gt=0, le=5)
    walk_interval_s: float = Field(default=10.0, gt=0, le=300)
    walk_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    combo_tick: float = Field(default=0.05, gt=0, le=1)
    commission_wait_s: float = Field(default=5.0, gt=0, le=60)
    connect_attempts: int = Field(default=3, ge=1, le=100)
    client_id_attempts: int = Field(default=3, ge=1, le=32)
    reconnect_initial_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=600)
    link_grace_s: float = Field(default=30.0, gt=0, le=600)
    order_disconnect_grace_s: float = Field(default=300.0, gt=0, le=3600)
    vix_futures_count: int = Field(default=8, ge=1, le=12)
    vix_option_iv: float = Field(default=1.0, gt=0, le=5)

    @field_validator("account")
    @classmethod
    def _live_needs_live_account(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            value = value.strip() or None
        if info.data.get("trading_mode") == "live":
            if value is None:
                raise ValueError("required when trading_mode is 'live'")
            if value.upper().startswith("DU"):
                raise ValueError(
                    f"'{value}' is a paper account (DU...); use a live account or "
                    "trading_mode = 'paper'"
                )
        return value


# --------------------------------------------------------------------------- condor


class CondorConfig(_Section):
    """``[condor]``: the fields of :class:`strategies.rules.CondorRules`, validated.

    DTE values are calendar days, ``short_delta`` is an absolute delta,
    ``wing_width`` and ``min_credit`` are index points, ``max_risk_dollars`` is
    dollars, ``profit_target_pct`` is percent of the credit.
    """

    trading_class: Literal["SPXW", "SPX"] = "SPXW"
    min_dte: int = Field(default=7, ge=1, le=60)
    max_dte: int = Field(default=21, ge=1, le=90)
    target_dte: int = Field(default=14, ge=1, le=90)
    short_delta: float = Field(default=0.16, ge=0.01, le=0.5)
    wing_width: float = Field(default=50.0, ge=5.0, le=500.0)
    min_credit: float = Field(default=1.0, gt=0.0, le=500.0)
    max_risk_dollars: float = Field(default=25_000.0, gt=0.0, le=10_000_000.0)
    max_contracts: int = Field(default=10, ge=1, le=1000)
    max_open_condors: int = Field(default=1, ge=1, le=20)
    profit_target_pct: float = Field(default=50.0, gt=0.0, le=100.0)
    stop_multiple: float = Field(default=2.0, gt=1.0, le=20.0)
    exit_dte: int = Field(default=2, ge=0, le=60)

    @field_validator("max_dte")
    @classmethod
    def _max_after_min(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("min_dte")
        if lo is not None and value < lo:
            raise ValueError(f"must be >= condor.min_dte ({lo})")
        return value

    @field_validator("target_dte")
    @classmethod
    def _target_inside_window(cls, value: int, info: ValidationInfo) -> int:
        lo, hi = info.data.get("min_dte"), info.data.get("max_dte")
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise ValueError(f"must be between condor.min_dte ({lo}) and condor.max_dte ({hi})")
        return value

    @field_validator("wing_width")
    @classmethod
    def _wing_on_strike_grid(cls, value: float) -> float:
        if abs(value / 5.0 - round(value / 5.0)) > 1e-9:
            raise ValueError("must be a multiple of 5 (SPX strike spacing)")
        return value

    @field_validator("min_credit")
    @classmethod
    def _credit_below_width(cls, value: float, info: ValidationInfo) -> float:
        width = info.data.get("wing_width")
        if width is not None and value >= width:
            raise ValueError(f"must be less than condor.wing_width ({width:g})")
        return value

    @field_validator("exit_dte")
    @classmethod
    def _exit_before_entry(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("min_dte")
        if lo is not None and value >= lo:
            raise ValueError(f"must be less than condor.min_dte ({lo})")
        return value

    def to_rules(self) -> CondorRules:
        """The pure-core rule parameters with these values."""
        return CondorRules(**self.model_dump())


# --------------------------------------------------------------------------- hedge


class HedgeConfig(_Section):
    """``[hedge]``: the fields of :class:`strategies.rules.HedgeRules`, validated.

    DTE values are calendar days, ``otm_min``/``otm_max`` are decimal fractions
    above the VIX future, ``vega_share`` is a decimal share (0.30-0.40),
    ``max_debit_dollars`` is dollars.
    """

    min_dte: int = Field(default=45, ge=1, le=365)
    max_dte: int = Field(default=90, ge=1, le=365)
    otm_min: float = Field(default=0.08, ge=0.0, le=1.0)
    otm_max: float = Field(default=0.12, gt=0.0, le=1.0)
    vega_share: float = Field(default=0.35, ge=0.30, le=0.40)
    max_layers: int = Field(default=1, ge=1, le=10)
    max_debit_dollars: float = Field(default=5_000.0, gt=0.0, le=10_000_000.0)
    close_dte: int = Field(default=7, ge=0, le=365)

    @field_validator("max_dte")
    @classmethod
    def _max_after_min(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("min_dte")
        if lo is not None and value < lo:
            raise ValueError(f"must be >= hedge.min_dte ({lo})")
        return value

    @field_validator("otm_max")
    @classmethod
    def _band_ordered(cls, value: float, info: ValidationInfo) -> float:
        lo = info.data.get("otm_min")
        if lo is not None and value <= lo:
            raise ValueError(f"must be greater than hedge.otm_min ({lo:g})")
        return value

    @field_validator("close_dte")
    @classmethod
    def _close_before_entry(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("min_dte")
        if lo is not None and value >= lo:
            raise ValueError(f"must be less than hedge.min_dte ({lo})")
        return value

    def to_rules(self) -> HedgeRules:
        """The pure-core rule parameters with these values."""
        return HedgeRules(**self.model_dump())


# --------------------------------------------------------------------------- schedule


class ScheduleConfig(_Section):
    """``[schedule]``: daily job times (``HH:MM``, exchange time America/New_York).

    These become APScheduler cron triggers. ``misfire_grace_s`` (seconds) is
    how late a job may still run after a missed trigger (e.g. after sleep).
    Entry, hedge check and management run inside the SPX options session
    (09:30-16:15); the mark runs no earlier than the management job.
    """

    timezone: Literal["America/New_York"] = "America/New_York"
    entry_time: str = "15:30"
    hedge_check_time: str = "15:40"
    manage_time: str = "15:45"
    mark_time: str = "16:15"
    misfire_grace_s: int = Field(default=300, ge=1, le=3600)

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as exc:  # pragma: no cover - needs a broken tzdata
            raise ValueError(f"time zone database has no '{value}'") from exc
        return value

    @field_validator("entry_time", "hedge_check_time", "manage_time", "mark_time")
    @classmethod
    def _hhmm(cls, value: str, info: ValidationInfo) -> str:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValueError("must be a 24-hour time 'HH:MM'")
        if info.field_name != "mark_time" and not "09:30" <= value <= "16:15":
            raise ValueError("must be inside the SPX options session 09:30-16:15 ET")
        if info.field_name == "mark_time":
            manage = info.data.get("manage_time")
            if manage is not None and value < manage:
                raise ValueError(f"must not be before schedule.manage_time ({manage})")
        return value

    def times(self) -> dict[str, time]:
        """Job name (``"entry"``, ``"hedge_check"``, ``"manage"``, ``"mark"``) -> time of day."""
        return {
            "entry": time.fromisoformat(self.entry_time),
            "hedge_check": time.fromisoformat(self.hedge_check_time),
            "manage": time.fromisoformat(self.manage_time),
            "mark": time.fromisoformat(self.mark_time),
        }


# --------------------------------------------------------------------------- replay


class ReplayConfig(_Section):
    """``[replay]``: the simulated broker's account, fills and costs.

    ``starting_cash`` dollars; ``slippage_pct_of_half_spread`` is the decimal
    share (0..1) of the half spread conceded from mid on every fill;
    ``commission_per_contract`` is the broker commission and
    ``spx_fee_per_contract``/``vix_fee_per_contract`` the exchange, regulatory
    and clearing fees, dollars per contract; ``rate`` the annual risk-free
    rate as a decimal, used for forwards and discounting.
    """

    starting_cash: float = Field(default=100_000.0, gt=0.0)
    slippage_pct_of_half_spread: float = Field(default=0.25, ge=0.0, le=1.0)
    commission_per_contract: float = Field(default=0.65, ge=0.0, le=10.0)
    spx_fee_per_contract: float = Field(default=0.66, ge=0.0, le=10.0)
    vix_fee_per_contract: float = Field(default=0.40, ge=0.0, le=10.0)
    rate: float = Field(default=0.0, ge=-0.05, le=0.25)


# --------------------------------------------------------------------------- journal, logging


class JournalConfig(_Section):
    """``[journal]``: SQLite journal file; a relative path is relative to the working directory."""

    path: Path = Path("alvh.sqlite")


class LoggingConfig(_Section):
    """``[logging]``: log level and output format (see :mod:`daemon.logs`)."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- root


class AlvhConfig(BaseSettings):
    """The whole configuration. Build it with :func:`load_config`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    broker: BrokerConfig = BrokerConfig()
    condor: CondorConfig = CondorConfig()
    hedge: HedgeConfig = HedgeConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    replay: ReplayConfig = ReplayConfig()
    journal: JournalConfig = JournalConfig()
    logging: LoggingConfig = LoggingConfig()
    events: EventRulesConfig = EventRulesConfig()
    service: ServiceConfig = ServiceConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment overrides first, then the TOML values (passed as init kwargs)."""
        return (env_settings, init_settings)

    def to_json(self) -> str:
        """The effective configuration as compact JSON (for the journal's ``runs`` table)."""
        return self.model_dump_json()


# --------------------------------------------------------------------------- loading


def load_config(path: Path | None = None) -> AlvhConfig:
    """Load, override from the environment and validate the configuration.

    Args:
        path: a TOML file; ``None`` uses the built-in defaults (identical to
            ``config/alvh.example.toml``). Environment variables ``ALVH_*``
            override either.

    Returns:
        The validated, immutable configuration.

    Raises:
        ConfigError: the file is missing or unreadable, is not valid TOML
            (the message gives the line), has an unknown key, or a value is
            out of range or inconsistent. The message is a single line.
    """
    source = str(path) if path is not None else "built-in defaults"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read file ({exc.strerror or exc})") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    try:
        return AlvhConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def _one_line(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    key = ".".join(str(p) for p in loc) or "(root)"
    env_name = _env_name(loc)
    where = f"environment {env_name}" if env_name else source
    text = f"{where}: {key}: {_describe(first)}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def _env_name(loc: Sequence[int | str]) -> str | None:
    """The environment variable that supplied ``loc``, if one did."""
    if not loc:
        return None
    wanted = (ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(p) for p in loc)).upper()
    for name in os.environ:
        if name.upper() == wanted:
            return name
    return None


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    got = error.get("input")
    got_text = "" if got is None or isinstance(got, dict) else f" (got {got!r})"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the README configuration reference)"
    if kind == "missing":
        return "required key is missing"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = _bounds(loc)
        if bounds is not None:
            (low, low_open), (high, high_open) = bounds
            if not low_open and not high_open:
                return f"must be between {low:g} and {high:g}{got_text}"
            low_text = f"greater than {low:g}" if low_open else f"at least {low:g}"
            high_text = f"less than {high:g}" if high_open else f"at most {high:g}"
            return f"must be {low_text} and {high_text}{got_text}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"must be one of {expected}{got_text}"
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if got is not None and repr(got) in msg:
        got_text = ""
    return f"{msg}{got_text}"


def _bounds(
    loc: Sequence[int | str],
) -> tuple[tuple[float, bool], tuple[float, bool]] | None:
    """``((low, exclusive), (high, exclusive))`` declared on the field at ``loc``, if both exist."""
    model: type[BaseModel] = AlvhConfig
    info: FieldInfo | None = None
    for part in loc:
        fields = model.model_fields
        if not isinstance(part, str) or part not in fields:
            return None
        info = fields[part]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    if info is None:
        return None
    low: tuple[float, bool] | None = None
    high: tuple[float, bool] | None = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            low = (float(cast(float, meta.ge)), False)
        elif isinstance(meta, annotated_types.Gt):
            low = (float(cast(float, meta.gt)), True)
        elif isinstance(meta, annotated_types.Le):
            high = (float(cast(float, meta.le)), False)
        elif isinstance(meta, annotated_types.Lt):
            high = (float(cast(float, meta.lt)), True)
    if low is None or high is None:
        return None
    return low, high
