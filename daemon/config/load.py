"""The root configuration model and its loader (TOML file + ``ALVH_*`` environment)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.calendars.event_rules import EventRulesConfig
from daemon.config.alerts import AlertsConfig
from daemon.config.base import ENV_NESTED_DELIMITER, ENV_PREFIX, ConfigError
from daemon.config.broker import BrokerConfig
from daemon.config.risk import RiskConfig
from daemon.config.rules import AdjustConfig, CondorConfig, HedgeConfig, SignalsConfig
from daemon.config.sections import (
    JournalConfig,
    LoggingConfig,
    ReplayConfig,
    ScheduleConfig,
    WebConfig,
)
from daemon.service import ServiceConfig


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
    signals: SignalsConfig = SignalsConfig()
    adjust: AdjustConfig = AdjustConfig()
    risk: RiskConfig = RiskConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    replay: ReplayConfig = ReplayConfig()
    journal: JournalConfig = JournalConfig()
    logging: LoggingConfig = LoggingConfig()
    events: EventRulesConfig = EventRulesConfig()
    service: ServiceConfig = ServiceConfig()
    alerts: AlertsConfig = AlertsConfig()
    web: WebConfig = WebConfig()

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
    if tuple(loc[:2]) == ("alerts", "urls"):
        got = None  # an apprise URL may carry a token: never echo it
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
