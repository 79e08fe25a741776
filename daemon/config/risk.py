"""``[risk]``: the pre-trade risk gates (:mod:`strategies.gates`), validated.

Defaults come from :class:`strategies.rules.RiskRules` (their single source).
Percents are percent (5.0 = 5%), money is dollars, scenario coordinates are
expected moves (spot) and vol points (SPX implied vol), ``*_sessions`` count
exchange sessions, ``*_days`` calendar days.
"""

from __future__ import annotations

from pydantic import Field

from daemon.config.base import Section
from strategies.rules import RiskRules

#: The gates' defaults, from their single source.
_RISK_DEFAULTS = RiskRules()


class RiskConfig(Section):
    """``[risk]``: the fields of :class:`strategies.rules.RiskRules`, validated.

    Every gate has an ``*_enabled`` switch; the bounds say what is valid, not
    what the method prefers (upper bounds are far above any sensible value:
    they refuse corrupt input such as ``floor_dollars = 1e300``).
    """

    max_loss_enabled: bool = _RISK_DEFAULTS.max_loss_enabled
    floor_enabled: bool = _RISK_DEFAULTS.floor_enabled
    floor_pct_of_start: float = Field(default=_RISK_DEFAULTS.floor_pct_of_start, ge=0.0, le=100.0)
    floor_dollars: float = Field(default=_RISK_DEFAULTS.floor_dollars, ge=0.0, le=1e10)
    kill_switch_enabled: bool = _RISK_DEFAULTS.kill_switch_enabled
    kill_switch_drawdown_pct: float = Field(
        default=_RISK_DEFAULTS.kill_switch_drawdown_pct, gt=0.0, lt=100.0
    )
    kill_switch_cooloff_sessions: int = Field(
        default=_RISK_DEFAULTS.kill_switch_cooloff_sessions, ge=1, le=252
    )
    margin_enabled: bool = _RISK_DEFAULTS.margin_enabled
    liquidity_enabled: bool = _RISK_DEFAULTS.liquidity_enabled
    liquidity_ratio: float = Field(default=_RISK_DEFAULTS.liquidity_ratio, gt=0.0, le=100.0)
    liquidity_theta_days: int = Field(default=_RISK_DEFAULTS.liquidity_theta_days, ge=0, le=30)
    liquidity_spot_em: float = Field(default=_RISK_DEFAULTS.liquidity_spot_em, ge=-5.0, le=5.0)
    liquidity_vol_points: float = Field(
        default=_RISK_DEFAULTS.liquidity_vol_points, ge=0.0, le=100.0
    )
    hedge_cap_enabled: bool = _RISK_DEFAULTS.hedge_cap_enabled
    hedge_cap_vix: float = Field(default=_RISK_DEFAULTS.hedge_cap_vix, ge=0.0, le=200.0)
    hedge_cap_pct: float = Field(default=_RISK_DEFAULTS.hedge_cap_pct, ge=0.0, le=1000.0)
    scenario_enabled: bool = _RISK_DEFAULTS.scenario_enabled
    scenario_spot_em: float = Field(default=_RISK_DEFAULTS.scenario_spot_em, ge=-5.0, le=5.0)
    scenario_vol_points: float = Field(default=_RISK_DEFAULTS.scenario_vol_points, ge=0.0, le=100.0)
    scenario_budget_pct: float = Field(default=_RISK_DEFAULTS.scenario_budget_pct, gt=0.0, le=100.0)
    quote_width_enabled: bool = _RISK_DEFAULTS.quote_width_enabled
    quote_max_width_pct: float = Field(
        default=_RISK_DEFAULTS.quote_max_width_pct, gt=0.0, le=1000.0
    )
    quote_min_width_ticks: int = Field(default=_RISK_DEFAULTS.quote_min_width_ticks, ge=0, le=1000)
    parity_enabled: bool = _RISK_DEFAULTS.parity_enabled
    parity_tolerance: float = Field(default=_RISK_DEFAULTS.parity_tolerance, ge=0.0, le=100.0)

    def to_rules(self) -> RiskRules:
        """The pure-core gate parameters with these values."""
        return RiskRules(**self.model_dump())
