"""``[schedule]``, ``[replay]``, ``[journal]``, ``[logging]`` and ``[web]``."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from daemon.brokers.fill_model import SimulationCosts
from daemon.config.base import HHMM, Section


class ScheduleConfig(Section):
    """``[schedule]``: daily job times (``HH:MM``, exchange time America/New_York).

    These become APScheduler cron triggers. ``misfire_grace_s`` (seconds) is
    how late a job may still run after a missed trigger (e.g. after sleep).
    Entry, hedge check and management run inside the SPX options session
    (09:30-16:15); the mark runs no earlier than the management job. In
    replay a job before the session's close sees its open and the mark after
    the close sees the close (:mod:`daemon.marketdata.visibility`).
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
        if not isinstance(value, str) or not HHMM.match(value):
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

#: The fill and cost model's defaults (one source: :class:`SimulationCosts`).
_COSTS = SimulationCosts()


class ReplayConfig(Section):
    """``[replay]``: the simulated broker's account, fills and costs.

    ``alvh run --dry-run`` uses the same fill and cost model and starting cash.

    ``starting_cash`` dollars, default $1,000,000: one SPX condor contract
    carries about $100 x the wing width of risk, so at 5% of net liquidation
    per condor ([condor] ``max_loss_pct_of_net_liq``) a $100,000 account
    trades one contract, and the hedge ladder cannot be sized to a share of
    it (one VIX call offsets about 60% of a 1-lot condor's loss per VIX point:
    the 2007-2024 replay measured 0.74 against the 0.35 target at $100,000,
    0.40 at $1,000,000). ``slippage_pct_of_half_spread`` is the decimal
    share (0..1) of the half spread conceded from mid on every fill (default
    0.5, conservative; evidence in :mod:`daemon.brokers.fill_model`);
    ``commission_per_contract`` is the broker commission and
    ``spx_fee_per_contract``/``vix_fee_per_contract`` the exchange, regulatory
    and clearing fees, dollars per contract; ``rate`` the annual risk-free
    rate as a decimal, used for the option models' forwards and discounting.

    ``cash_rate`` is what the cash balance earns: ``"tbill"`` (default) the
    3-month T-bill rate of the bundled FRED DTB3 series, converted from its
    discount basis to a bond-equivalent yield (:mod:`daemon.marketdata.tbill`);
    a number is a fixed annual rate, decimal (0 = no interest). Interest is
    simple, actual/365, credited every session on the whole balance
    (:mod:`daemon.brokers.interest`) and journaled (``interest`` table).
    """

    starting_cash: float = Field(default=1_000_000.0, gt=0.0, le=1e10)
    slippage_pct_of_half_spread: float = Field(
        default=_COSTS.slippage_pct_of_half_spread, ge=0.0, le=1.0
    )
    commission_per_contract: float = Field(default=_COSTS.commission_per_contract, ge=0.0, le=10.0)
    spx_fee_per_contract: float = Field(default=_COSTS.spx_fee_per_contract, ge=0.0, le=10.0)
    vix_fee_per_contract: float = Field(default=_COSTS.vix_fee_per_contract, ge=0.0, le=10.0)
    rate: float = Field(default=0.0, ge=-0.05, le=0.25)
    cash_rate: Literal["tbill"] | float = "tbill"

    @field_validator("cash_rate")
    @classmethod
    def _cash_rate(cls, value: str | float) -> str | float:
        if isinstance(value, float) and not -0.05 <= value <= 0.25:
            raise ValueError('must be "tbill" or an annual rate, decimal, in -0.05..0.25')
        return value

    def costs(self) -> SimulationCosts:
        """The fill and cost model of replay and of ``alvh run --dry-run``."""
        return SimulationCosts(
            slippage_pct_of_half_spread=self.slippage_pct_of_half_spread,
            commission_per_contract=self.commission_per_contract,
            spx_fee_per_contract=self.spx_fee_per_contract,
            vix_fee_per_contract=self.vix_fee_per_contract,
        )


# --------------------------------------------------------------------------- journal, logging


class JournalConfig(Section):
    """``[journal]``: SQLite journal file; a relative path is relative to the working directory."""

    path: Path = Path("alvh.sqlite")


class LoggingConfig(Section):
    """``[logging]``: log level and output format (see :mod:`daemon.logs`)."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- web


class WebConfig(Section):
    """``[web]``: the ``alvh web`` dashboard.

    ``token``: a shared secret, 16-256 printable characters without spaces,
    default none. ``alvh web`` binds a host other than loopback (127.0.0.0/8,
    ``::1``, ``localhost``) only when a token is set; every request then
    carries it (``Authorization: Bearer TOKEN`` or ``?token=TOKEN``). It is a
    ``SecretStr``: printed and journaled (``runs.config_json``) as ``**********``.
    """

    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if not 16 <= len(text) <= 256:
            raise ValueError(f"must be 16 to 256 characters long (got {len(text)})")
        if not text.isprintable() or any(c.isspace() for c in text):
            raise ValueError("must be printable characters without spaces")
        return value
