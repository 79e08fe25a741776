"""Validated daemon configuration: TOML file + ``ALVH_*`` environment overrides.

The configuration is a tree of frozen pydantic models, one per TOML section.
:func:`load_config` reads a TOML file (or uses the built-in defaults, which are
exactly the values shipped in ``config/alvh.example.toml``), applies
environment overrides such as ``ALVH_BROKER__PORT=4001`` (prefix ``ALVH_``,
``__`` between section and key) and validates everything. Environment values
win over the file, with one exception: the environment cannot change the
trading mode; live trading is stated in the file or by ``alvh run --live``.

Defaults have one source each: the ``[condor]`` and ``[hedge]`` defaults are
those of :class:`strategies.rules.CondorRules` and
:class:`strategies.rules.HedgeRules`; every other default is written once,
in the section model here (``[events]`` in :mod:`daemon.calendars.event_rules`,
``[service]`` in :mod:`daemon.service`). The example file is tested to equal
them and to name every key. Bounds say what is valid, not what the method
prefers.

Every problem is reported as a :class:`ConfigError` whose message is one line
naming the source, the key path and the problem, for example::

    config/alvh.toml: condor.short_delta: must be greater than 0 and less than 0.5 (got 0.9)

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
from typing import Any, Final, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.calendars.event_rules import EventRulesConfig
from daemon.service import ServiceConfig
from strategies.rules import CondorRules, CondorTradingClass, HedgeRules, WingMode

__all__ = [
    "DELAYED_MARKET_DATA_TYPES",
    "ENV_PREFIX",
    "MAX_SPX_DTE",
    "MAX_VIX_DTE",
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
    "ServiceConfig",
    "load_config",
]

#: Prefix of environment variables that override configuration keys.
ENV_PREFIX = "ALVH_"
#: Separator between section and key in an environment variable name.
ENV_NESTED_DELIMITER = "__"

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

#: IB market data types that are delayed (3 delayed, 4 delayed-frozen); refused live.
DELAYED_MARKET_DATA_TYPES: Final = frozenset({3, 4})

#: The rule parameters' defaults, from their single source (the pure core's dataclasses).
_CONDOR_DEFAULTS = CondorRules()
_HEDGE_DEFAULTS = HedgeRules()

#: Longest DTE, calendar days, of a listed SPX option (long-dated SPX
#: options run about five years out).
MAX_SPX_DTE = 1830
#: Longest DTE, calendar days, of a listed VIX option (listed about a year out).
MAX_VIX_DTE = 366


class ConfigError(ValueError):
    """The configuration cannot be loaded; ``str()`` is one human-readable line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- broker


class BrokerConfig(_Section):
    """``[broker]``: how to reach TWS / IB Gateway.

    ``trading_mode`` defaults to ``"paper"``; ``"live"`` requires an explicit
    live ``account`` (paper accounts start with ``DU``) and can only come from
    the config file or ``alvh run --live``, never from the environment alone
    (see :func:`load_config`). ``market_data_type`` is IB's code: 1 live,
    2 frozen, 3 delayed, 4 delayed-frozen; the default 3 lets a paper account
    without market-data subscriptions run, and live trading refuses 3 and 4.
    ``open_order_policy`` is what start-up reconciliation does with a working
    order at the gateway whose ``orderRef`` belongs to this journal:
    ``"adopt"`` (default) keeps it working and follows it to its end,
    ``"cancel"`` cancels it (fills that already happened are still journaled).
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
    market_data_lines_budget: int = Field(default=80, ge=1, le=10_000)
    max_msgs_per_s: int = Field(default=45, ge=1, le=50)
    strike_window_sd: float = Field(default=2.0, gt=0, le=5)
    quote_timeout_s: float = Field(default=5.0, gt=0, le=60)
    walk_step: float = Field(default=0.05, gt=0, le=5)
    walk_interval_s: float = Field(default=10.0, gt=0, le=300)
    walk_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    combo_tick: float = Field(default=0.05, gt=0, le=1)
    commission_wait_s: float = Field(default=5.0, gt=0, le=60)
    connect_attempts: int = Field(default=3, ge=1, le=100)
    reconnect_initial_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=600)
    link_grace_s: float = Field(default=30.0, gt=0, le=600)
    order_disconnect_grace_s: float = Field(default=300.0, gt=0, le=3600)
    vix_futures_count: int = Field(default=8, ge=1, le=12)
    vix_option_iv: float = Field(default=1.0, gt=0, le=5)
    open_order_policy: Literal["adopt", "cancel"] = "adopt"

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

    @field_validator("market_data_type")
    @classmethod
    def _live_needs_live_data(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("trading_mode") == "live" and value in DELAYED_MARKET_DATA_TYPES:
            raise ValueError(
                f"delayed data ({value}) is refused when trading_mode is 'live'; "
                "use 1 (live) or 2 (frozen)"
            )
        return value


# --------------------------------------------------------------------------- condor


class CondorConfig(_Section):
    """``[condor]``: the fields of :class:`strategies.rules.CondorRules`, validated.

    Defaults come from :class:`~strategies.rules.CondorRules` (the single
    source); the bounds say what is valid, not what the method prefers.
    DTE values are calendar days, ``short_delta`` is an absolute delta
    (below 0.5, so the short put stays below the short call),
    ``wing_mode`` picks how wings are placed (``"points"``: ``wing_width``
    index points; ``"percent"``: ``wing_pct`` percent of SPX spot, at most
    20; ``"delta"``: long wings at absolute delta ``wing_delta``, below
    ``short_delta``), ``wing_width`` and ``min_credit`` are index points, ``max_risk_dollars``
    is dollars, ``profit_target_pct`` is percent of the credit.
    Expiries are at most :data:`MAX_SPX_DTE` calendar days out.
    """

    trading_class: CondorTradingClass = _CONDOR_DEFAULTS.trading_class
    min_dte: int = Field(default=_CONDOR_DEFAULTS.min_dte, ge=1, le=MAX_SPX_DTE)
    max_dte: int = Field(default=_CONDOR_DEFAULTS.max_dte, ge=1, le=MAX_SPX_DTE)
    target_dte: int = Field(default=_CONDOR_DEFAULTS.target_dte, ge=1, le=MAX_SPX_DTE)
    short_delta: float = Field(default=_CONDOR_DEFAULTS.short_delta, gt=0.0, lt=0.5)
    wing_mode: WingMode = _CONDOR_DEFAULTS.wing_mode
    wing_width: float = Field(default=_CONDOR_DEFAULTS.wing_width, ge=5.0)
    wing_pct: float = Field(default=_CONDOR_DEFAULTS.wing_pct, gt=0.0, le=20.0)
    wing_delta: float = Field(default=_CONDOR_DEFAULTS.wing_delta, gt=0.0, lt=0.5)
    min_credit: float = Field(default=_CONDOR_DEFAULTS.min_credit, gt=0.0)
    max_risk_dollars: float = Field(default=_CONDOR_DEFAULTS.max_risk_dollars, gt=0.0)
    max_contracts: int = Field(default=_CONDOR_DEFAULTS.max_contracts, ge=1)
    max_open_condors: int = Field(default=_CONDOR_DEFAULTS.max_open_condors, ge=1)
    profit_target_pct: float = Field(default=_CONDOR_DEFAULTS.profit_target_pct, gt=0.0, le=100.0)
    stop_multiple: float = Field(default=_CONDOR_DEFAULTS.stop_multiple, gt=1.0)
    exit_dte: int = Field(default=_CONDOR_DEFAULTS.exit_dte, ge=0, le=MAX_SPX_DTE)

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

    @field_validator("wing_delta")
    @classmethod
    def _wing_beyond_short(cls, value: float, info: ValidationInfo) -> float:
        short = info.data.get("short_delta")
        if short is not None and value >= short:
            raise ValueError(f"must be less than condor.short_delta ({short:g})")
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

    Defaults come from :class:`~strategies.rules.HedgeRules` (the single
    source); the bounds say what is valid, not what the method prefers.
    DTE values are calendar days (VIX options are listed at most
    :data:`MAX_VIX_DTE` days out), ``otm_min``/``otm_max`` are decimal
    fractions above the VIX future, ``vega_share`` is a decimal share of the
    condor's short vega (0 < share <= 1; the method uses 0.30-0.40),
    ``max_debit_dollars`` is dollars.
    """

    min_dte: int = Field(default=_HEDGE_DEFAULTS.min_dte, ge=1, le=MAX_VIX_DTE)
    max_dte: int = Field(default=_HEDGE_DEFAULTS.max_dte, ge=1, le=MAX_VIX_DTE)
    otm_min: float = Field(default=_HEDGE_DEFAULTS.otm_min, ge=0.0)
    otm_max: float = Field(default=_HEDGE_DEFAULTS.otm_max, gt=0.0)
    vega_share: float = Field(default=_HEDGE_DEFAULTS.vega_share, gt=0.0, le=1.0)
    max_layers: int = Field(default=_HEDGE_DEFAULTS.max_layers, ge=1)
    max_debit_dollars: float = Field(default=_HEDGE_DEFAULTS.max_debit_dollars, gt=0.0)
    close_dte: int = Field(default=_HEDGE_DEFAULTS.close_dte, ge=0, le=MAX_VIX_DTE)

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


def load_config(path: Path | None = None, *, live: bool = False) -> AlvhConfig:
    """Load, override from the environment and validate the configuration.

    Live trading needs an explicit statement: ``broker.trading_mode`` is
    ``"live"`` when the file says so or when ``live=True`` (``alvh run
    --live``), and is ``"paper"`` otherwise. The environment can only agree:
    ``ALVH_BROKER__TRADING_MODE`` may restate that mode but never change it,
    so an exported variable alone cannot turn a paper configuration live.

    Args:
        path: a TOML file; ``None`` uses the built-in defaults (identical to
            ``config/alvh.example.toml``). Environment variables ``ALVH_*``
            override either, except the trading mode (see above).
        live: the command line asked for live trading (``--live``); sets
            ``broker.trading_mode = "live"`` whatever the file says. The live
            checks (a live ``broker.account``, no delayed market data) apply.

    Returns:
        The validated, immutable configuration.

    Raises:
        ConfigError: the file is missing or unreadable, is not valid TOML
            (the message gives the line), has an unknown key, a value is
            out of range or inconsistent, or the environment disagrees with
            the trading mode of the file or the flag. The message is a
            single line.
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
    mode = _trading_mode(data, live=live)
    if live:
        broker = data.get("broker", {})
        if isinstance(broker, dict):  # anything else is reported by validation below
            data["broker"] = {**broker, "trading_mode": "live"}
        source = f"{source} with --live"
    _check_env_trading_mode(mode, source)
    try:
        config = AlvhConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None
    if config.broker.trading_mode != mode:
        # The environment changed the mode by a route other than the plain variable
        # (e.g. ALVH_BROKER as a JSON object).
        raise ConfigError(_mode_from_env_message(f"environment {ENV_PREFIX}BROKER", mode, source))
    return config


#: The environment variable that would set ``broker.trading_mode``.
_TRADING_MODE_ENV = f"{ENV_PREFIX}BROKER{ENV_NESTED_DELIMITER}TRADING_MODE"


def _trading_mode(data: Mapping[str, Any], *, live: bool) -> str:
    """``"live"`` if the flag or the file says live, else ``"paper"``."""
    if live:
        return "live"
    broker = data.get("broker")
    stated = broker.get("trading_mode") if isinstance(broker, Mapping) else None
    return "live" if stated == "live" else "paper"


def _check_env_trading_mode(mode: str, source: str) -> None:
    """Refuse an ``ALVH_BROKER__TRADING_MODE`` that disagrees with the file or the flag."""
    for name, value in os.environ.items():
        if name.upper() != _TRADING_MODE_ENV:
            continue
        stated = value.strip().lower()
        if stated in ("paper", "live") and stated != mode:
            raise ConfigError(_mode_from_env_message(f"environment {name}", mode, source))


def _mode_from_env_message(where: str, mode: str, source: str) -> str:
    """One line: the environment tried to change the trading mode of ``source``."""
    if mode == "paper":
        return (
            f"{where}: broker.trading_mode: the environment alone cannot switch to 'live' "
            f"({source}: trading_mode = 'paper'); set trading_mode = \"live\" in the "
            "config file or pass --live"
        )
    return (
        f"{where}: broker.trading_mode: the environment cannot switch to 'paper' "
        f"({source}: trading_mode = 'live'); change the config file or drop --live"
    )


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
        low, high = _bounds(loc)
        if low is not None and high is not None and not low[1] and not high[1]:
            return f"must be between {low[0]:g} and {high[0]:g}{got_text}"
        parts = []
        if low is not None:
            parts.append(f"greater than {low[0]:g}" if low[1] else f"at least {low[0]:g}")
        if high is not None:
            parts.append(f"less than {high[0]:g}" if high[1] else f"at most {high[0]:g}")
        if parts:
            return f"must be {' and '.join(parts)}{got_text}"
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
) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """``(low, high)`` declared on the field at ``loc``; each ``(value, exclusive)`` or ``None``."""
    model: type[BaseModel] = AlvhConfig
    info: FieldInfo | None = None
    for part in loc:
        fields = model.model_fields
        if not isinstance(part, str) or part not in fields:
            return None, None
        info = fields[part]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    if info is None:
        return None, None
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
    return low, high
