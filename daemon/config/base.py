"""Shared pieces of the configuration sections: the base model, errors and bounds."""

from __future__ import annotations

import re
from typing import Final

from daemon.strictmodel import StrictModel

#: Prefix of environment variables that override configuration keys.
ENV_PREFIX = "ALVH_"
#: Separator between section and key in an environment variable name.
ENV_NESTED_DELIMITER = "__"

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

#: IB market data types that are delayed (3 delayed, 4 delayed-frozen); refused live.
DELAYED_MARKET_DATA_TYPES: Final = frozenset({3, 4})

#: Longest DTE, calendar days, of a listed SPX option (long-dated SPX
#: options run about five years out).
MAX_SPX_DTE = 1830
#: Longest DTE, calendar days, of a listed VIX option (listed about a year out).
MAX_VIX_DTE = 366


class ConfigError(ValueError):
    """The configuration cannot be loaded; ``str()`` is one human-readable line."""


class Section(StrictModel):
    """A TOML section: unknown keys are errors, values frozen and validated.

    Strict scalars (:class:`daemon.strictmodel.StrictModel`): a number key
    takes a number only (no ``true``, no string; a float key also takes a
    TOML integer), finite, within its bounds; a boolean key ``true``/``false``
    only; text has no control or bidi characters and a length limit. A new
    section inherits all of it by deriving from this class; give every
    number field both bounds (``tests/daemon/test_config_strict.py`` checks)
    and a docstring naming units (the config reference is generated from it).
    """
