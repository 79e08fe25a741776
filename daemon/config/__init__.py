"""Validated daemon configuration: TOML file + ``ALVH_*`` environment overrides.

The configuration is a tree of frozen pydantic models, one per TOML section.
:func:`load_config` reads a TOML file (or uses the built-in defaults, which are
exactly the values shipped in ``config/alvh.example.toml``), applies
environment overrides such as ``ALVH_BROKER__PORT=4001`` (prefix ``ALVH_``,
``__`` between section and key) and validates everything. Environment values
win over the file, with one exception: the environment cannot change the
trading mode; live trading is stated in the file or by ``alvh run --live``.

Defaults have one source each: the ``[condor]``, ``[hedge]``, ``[signals]``
and ``[risk]`` defaults are those of :class:`strategies.rules.CondorRules`,
:class:`strategies.rules.HedgeRules`, :class:`strategies.rules.SignalParams`
and :class:`strategies.rules.RiskRules`; every other default is written once,
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

from daemon.calendars.event_rules import EventRulesConfig
from daemon.config.alerts import ALERT_KINDS, AlertKind, AlertsConfig
from daemon.config.base import (
    DELAYED_MARKET_DATA_TYPES,
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    MAX_SPX_DTE,
    MAX_VIX_DTE,
    ConfigError,
)
from daemon.config.broker import BrokerConfig
from daemon.config.load import AlvhConfig, config_from_data, load_config
from daemon.config.risk import RiskConfig
from daemon.config.rules import CondorConfig, HedgeConfig, SignalsConfig
from daemon.config.sections import (
    JournalConfig,
    LoggingConfig,
    ReplayConfig,
    ScheduleConfig,
    WebConfig,
)
from daemon.service import ServiceConfig

__all__ = [
    "ALERT_KINDS",
    "DELAYED_MARKET_DATA_TYPES",
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "MAX_SPX_DTE",
    "MAX_VIX_DTE",
    "AlertKind",
    "AlertsConfig",
    "AlvhConfig",
    "BrokerConfig",
    "CondorConfig",
    "ConfigError",
    "EventRulesConfig",
    "HedgeConfig",
    "JournalConfig",
    "LoggingConfig",
    "ReplayConfig",
    "RiskConfig",
    "ScheduleConfig",
    "ServiceConfig",
    "SignalsConfig",
    "WebConfig",
    "config_from_data",
    "load_config",
]
