"""``[condor]``, ``[hedge]`` and ``[signals]``: the pure core's rule parameters, validated.

Defaults come from :mod:`strategies.rules` (their single source).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from daemon.config.base import MAX_SPX_DTE, MAX_VIX_DTE, Section
from strategies.rules import (
    CondorRules,
    CondorTradingClass,
    HedgeRules,
    SignalParams,
    WingMode,
)

#: The rule parameters' defaults, from their single source (the pure core's dataclasses).
_CONDOR_DEFAULTS = CondorRules()
_HEDGE_DEFAULTS = HedgeRules()
_SIGNAL_DEFAULTS = SignalParams()


class CondorConfig(Section):
    """``[condor]``: the fields of :class:`strategies.rules.CondorRules`, validated.

    Defaults come from :class:`~strategies.rules.CondorRules` (the single
    source); the bounds say what is valid, not what the method prefers.
    DTE values are calendar days, ``short_delta`` is an absolute delta
    (below 0.5, so the short put stays below the short call),
    ``wing_mode`` picks how wings are placed (``"points"``: ``wing_width``
    index points; ``"percent"``: ``wing_pct`` percent of SPX spot, at most
    20; ``"delta"``: long wings at absolute delta ``wing_delta``, below
    ``short_delta``), ``wing_width`` and ``min_credit`` are index points,
    ``max_loss_pct_of_net_liq`` is percent of current net liquidation (the old
    ``max_risk_dollars`` key is refused with a line naming it),
    ``profit_target_pct`` is percent of the credit.
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
    max_loss_pct_of_net_liq: float = Field(
        default=_CONDOR_DEFAULTS.max_loss_pct_of_net_liq, gt=0.0, le=100.0
    )
    max_contracts: int = Field(default=_CONDOR_DEFAULTS.max_contracts, ge=1)
    max_open_condors: int = Field(default=_CONDOR_DEFAULTS.max_open_condors, ge=1)
    profit_target_pct: float = Field(default=_CONDOR_DEFAULTS.profit_target_pct, gt=0.0, le=100.0)
    stop_multiple: float = Field(default=_CONDOR_DEFAULTS.stop_multiple, gt=1.0)
    exit_dte: int = Field(default=_CONDOR_DEFAULTS.exit_dte, ge=0, le=MAX_SPX_DTE)

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_risk_dollars" in data:
            raise ValueError(
                "max_risk_dollars was removed: the budget is now max_loss_pct_of_net_liq "
                f"(percent of current net liquidation, default "
                f"{_CONDOR_DEFAULTS.max_loss_pct_of_net_liq:g})"
            )
        return data

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


class HedgeConfig(Section):
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


# --------------------------------------------------------------------------- signals


class SignalsConfig(Section):
    """``[signals]``: the fields of :class:`strategies.rules.SignalParams`, validated.

    Periods are sessions; ``divergence_tolerance`` is NYSE issues;
    ``term_spread_threshold`` and the regime bounds are VIX points. Defaults
    come from :class:`~strategies.rules.SignalParams` (the single source).
    """

    rsi_period: int = Field(default=_SIGNAL_DEFAULTS.rsi_period, ge=2, le=200)
    macd_fast: int = Field(default=_SIGNAL_DEFAULTS.macd_fast, ge=1, le=200)
    macd_slow: int = Field(default=_SIGNAL_DEFAULTS.macd_slow, ge=2, le=200)
    macd_signal: int = Field(default=_SIGNAL_DEFAULTS.macd_signal, ge=1, le=200)
    divergence_lookback: int = Field(default=_SIGNAL_DEFAULTS.divergence_lookback, ge=2, le=200)
    divergence_tolerance: float = Field(
        default=_SIGNAL_DEFAULTS.divergence_tolerance, ge=0.0, le=100_000.0
    )
    term_spread_threshold: float = Field(
        default=_SIGNAL_DEFAULTS.term_spread_threshold, ge=0.0, le=50.0
    )
    regime_calm_below: float = Field(default=_SIGNAL_DEFAULTS.regime_calm_below, gt=0.0, le=200.0)
    regime_stressed_above: float = Field(
        default=_SIGNAL_DEFAULTS.regime_stressed_above, gt=0.0, le=200.0
    )

    @field_validator("macd_slow")
    @classmethod
    def _slow_after_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("macd_fast")
        if fast is not None and value <= fast:
            raise ValueError(f"must be greater than signals.macd_fast ({fast})")
        return value

    @field_validator("regime_stressed_above")
    @classmethod
    def _stressed_above_calm(cls, value: float, info: ValidationInfo) -> float:
        calm = info.data.get("regime_calm_below")
        if calm is not None and value < calm:
            raise ValueError(f"must not be below signals.regime_calm_below ({calm:g})")
        return value

    def to_params(self) -> SignalParams:
        """The pure-core signal parameters with these values."""
        return SignalParams(**self.model_dump())
