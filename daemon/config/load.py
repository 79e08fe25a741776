"""The root configuration model and its loader (TOML file + ``ALVH_*`` environment)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.boundedio import MAX_CONFIG_BYTES, LimitedReadError, read_limited
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
from daemon.config.study import StudyConfig
from daemon.service import ServiceConfig
from daemon.strictmodel import coerce_env_text


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
    study: StudyConfig = StudyConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment overrides first, then the TOML values (passed as init kwargs).

        The environment's text values are read as the numbers and booleans
        their keys expect (:class:`_TypedEnv`), so the strict checks of
        :class:`daemon.strictmodel.StrictModel` refuse only a TOML string.
        """
        return (_TypedEnv(settings_cls, env_settings), init_settings)

    def to_json(self) -> str:
        """The effective configuration as compact JSON (for the journal's ``runs`` table)."""
        return self.model_dump_json()


class _TypedEnv(PydanticBaseSettingsSource):
    """The ``ALVH_*`` environment source, its text values read as their fields' scalars."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)  # pragma: no cover - unused

    def __call__(self) -> dict[str, Any]:
        return _typed(self._inner(), self.settings_cls)


def _typed(values: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``values`` with each text leaf converted by :func:`coerce_env_text` for its field."""
    out: dict[str, Any] = {}
    fields = model.model_fields
    for key, value in values.items():
        info = fields.get(key)
        if info is None:
            out[key] = value  # an unknown key: validation names it
            continue
        sub = info.annotation
        if isinstance(value, Mapping) and isinstance(sub, type) and issubclass(sub, BaseModel):
            out[key] = _typed(value, sub)
        elif isinstance(value, str):
            out[key] = coerce_env_text(value, sub)
        else:
            out[key] = value
    return out


def _check_env_json() -> None:
    """Refuse an ``ALVH_<SECTION>`` variable whose value is not a JSON object.

    pydantic-settings parses a whole-section variable (``ALVH_BROKER='{"port": 4001}'``)
    as JSON and would raise its own multi-line error.

    Raises:
        ConfigError: naming the variable and the JSON problem.
    """
    sections = {name.upper() for name in AlvhConfig.model_fields}
    for name, value in os.environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper[len(ENV_PREFIX) :] not in sections:
            continue
        try:
            parsed = json.loads(value)
        except RecursionError:
            raise ConfigError(f"environment {name}: JSON nested too deeply") from None
        except ValueError as exc:
            raise ConfigError(f"environment {name}: not valid JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ConfigError(
                f"environment {name}: must be a JSON object of the section's keys "
                f"(got {type(parsed).__name__})"
            )


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
    data = read_toml(path) if path is not None else {}
    return config_from_data(data, source, live=live)


def read_toml(path: Path, error: type[Exception] = ConfigError) -> dict[str, Any]:
    """The TOML table of ``path``, read with the config file's size bound.

    Raises:
        ``error`` (default :class:`ConfigError`): the file is unreadable, too
            large, not UTF-8 or not TOML; one line naming the file.
    """
    source = str(path)
    try:
        raw = read_limited(path, MAX_CONFIG_BYTES)
    except LimitedReadError as exc:
        raise error(f"{source}: {exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{source}: invalid TOML: nested too deeply") from None


def config_from_data(
    data: Mapping[str, Any], source: str = "built-in defaults", *, live: bool = False
) -> AlvhConfig:
    """Validate already parsed TOML ``data`` as :func:`load_config` validates a file.

    ``source`` names where the values came from in error messages (a file
    name, or e.g. ``"grid.toml point 3"``). The environment overrides and
    the trading-mode rules of :func:`load_config` apply.

    Raises:
        ConfigError: as :func:`load_config`, one line naming ``source`` and the key.
    """
    data = dict(data)
    mode = _trading_mode(data, live=live)
    if live:
        broker = data.get("broker", {})
        if isinstance(broker, dict):  # anything else is reported by validation below
            data["broker"] = {**broker, "trading_mode": "live"}
        source = f"{source} with --live"
    _check_env_trading_mode(mode, source)
    _check_env_json()
    try:
        config = AlvhConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None
    except SettingsError as exc:  # pragma: no cover - _check_env_json catches the known causes
        raise ConfigError(f"environment {ENV_PREFIX}*: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: a value is nested too deeply") from None
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
    got_text = "" if got is None or isinstance(got, dict) else f" (got {_short(got)})"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/config-reference.md)"
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
    if got is not None and (repr(got) in msg or _short(got) in msg):
        got_text = ""
    return f"{msg}{got_text}"


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 100k-character value stays one line)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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
