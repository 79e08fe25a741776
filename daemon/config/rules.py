"""``[condor]``, ``[hedge]``, ``[signals]``, ``[adjust]``: the rule parameters, validated.

Defaults come from :mod:`strategies.rules` (their single source).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from daemon.config.base import MAX_SPX_DTE, MAX_VIX_DTE, Section
from strategies.rules import (
    AdjustRules,
    CondorRules,
    CondorTradingClass,
    HedgeRules,
    NoCondorRule,
    RungStructure,
    SignalParams,
    TriggerCombine,
    WingMode,
)

#: The rule parameters' defaults, from their single source (the pure core's dataclasses).
_CONDOR_DEFAULTS = CondorRules()
_HEDGE_DEFAULTS = HedgeRules()
_SIGNAL_DEFAULTS = SignalParams()
_ADJUST_DEFAULTS = AdjustRules()


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
    wing_width: float = Field(default=_CONDOR_DEFAULTS.wing_width, ge=5.0, le=1000.0)
    wing_pct: float = Field(default=_CONDOR_DEFAULTS.wing_pct, gt=0.0, le=20.0)
    wing_delta: float = Field(default=_CONDOR_DEFAULTS.wing_delta, gt=0.0, lt=0.5)
    min_credit: float = Field(default=_CONDOR_DEFAULTS.min_credit, gt=0.0, le=1000.0)
    max_loss_pct_of_net_liq: float = Field(
        default=_CONDOR_DEFAULTS.max_loss_pct_of_net_liq, gt=0.0, le=100.0
    )
    max_contracts: int = Field(default=_CONDOR_DEFAULTS.max_contracts, ge=1, le=10_000)
    max_open_condors: int = Field(default=_CONDOR_DEFAULTS.max_open_condors, ge=1, le=1000)
    profit_target_pct: float = Field(default=_CONDOR_DEFAULTS.profit_target_pct, gt=0.0, le=100.0)
    stop_multiple: float = Field(default=_CONDOR_DEFAULTS.stop_multiple, gt=1.0, le=100.0)
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
    source, where each field is documented); the bounds say what is valid,
    not what the method prefers. DTE values are calendar days (VIX options
    are listed at most :data:`MAX_VIX_DTE` days out), ``otm_min``/``otm_max``
    and ``spread_short_otm`` are decimal fractions above the VIX future,
    ``share``, ``base_weight``, ``recycle_pct`` and ``harvest_gain`` are
    decimals, ``max_debit_dollars`` is dollars. Every rule has a switch:
    ``enabled``, ``roll_enabled``, ``triggers_enabled`` and ``trigger_*``,
    ``pre_event_rung``, ``harvest_enabled``, ``recycle_enabled``,
    ``when_no_condor = "hold"``; ``spx_return_per_vix = 0`` and
    ``vvix_log_beta = 0`` drop the sizing's delta and vol-of-vol terms.
    """

    enabled: bool = Field(default=_HEDGE_DEFAULTS.enabled)
    share: float = Field(default=_HEDGE_DEFAULTS.share, gt=0.0, le=1.0)
    condor_iv_beta: float = Field(default=_HEDGE_DEFAULTS.condor_iv_beta, gt=0.0, le=5.0)
    spx_return_per_vix: float = Field(default=_HEDGE_DEFAULTS.spx_return_per_vix, ge=-0.1, le=0.0)
    vvix_log_beta: float = Field(default=_HEDGE_DEFAULTS.vvix_log_beta, ge=0.0, le=1.0)
    rungs: int = Field(default=_HEDGE_DEFAULTS.rungs, ge=1, le=10)
    base_weight: float = Field(default=_HEDGE_DEFAULTS.base_weight, gt=0.0, le=1.0)
    min_dte: int = Field(default=_HEDGE_DEFAULTS.min_dte, ge=1, le=MAX_VIX_DTE)
    max_dte: int = Field(default=_HEDGE_DEFAULTS.max_dte, ge=1, le=MAX_VIX_DTE)
    otm_min: float = Field(default=_HEDGE_DEFAULTS.otm_min, ge=0.0, le=2.0)
    otm_max: float = Field(default=_HEDGE_DEFAULTS.otm_max, gt=0.0, le=2.0)
    structure: RungStructure = Field(default=_HEDGE_DEFAULTS.structure)
    spread_short_otm: float = Field(default=_HEDGE_DEFAULTS.spread_short_otm, gt=0.0, le=5.0)
    max_debit_dollars: float = Field(default=_HEDGE_DEFAULTS.max_debit_dollars, gt=0.0, le=1e9)
    close_dte: int = Field(default=_HEDGE_DEFAULTS.close_dte, ge=0, le=MAX_VIX_DTE)
    roll_enabled: bool = Field(default=_HEDGE_DEFAULTS.roll_enabled)
    roll_dte: int = Field(default=_HEDGE_DEFAULTS.roll_dte, ge=1, le=MAX_VIX_DTE)
    triggers_enabled: bool = Field(default=_HEDGE_DEFAULTS.triggers_enabled)
    trigger_rsi: bool = Field(default=_HEDGE_DEFAULTS.trigger_rsi)
    rsi_threshold: float = Field(default=_HEDGE_DEFAULTS.rsi_threshold, ge=0.0, le=100.0)
    trigger_macd: bool = Field(default=_HEDGE_DEFAULTS.trigger_macd)
    trigger_divergence: bool = Field(default=_HEDGE_DEFAULTS.trigger_divergence)
    trigger_term: bool = Field(default=_HEDGE_DEFAULTS.trigger_term)
    trigger_combine: TriggerCombine = Field(default=_HEDGE_DEFAULTS.trigger_combine)
    trigger_min: int = Field(default=_HEDGE_DEFAULTS.trigger_min, ge=1, le=4)
    pre_event_rung: bool = Field(default=_HEDGE_DEFAULTS.pre_event_rung)
    harvest_enabled: bool = Field(default=_HEDGE_DEFAULTS.harvest_enabled)
    harvest_gain: float = Field(default=_HEDGE_DEFAULTS.harvest_gain, gt=0.0, le=10.0)
    recycle_enabled: bool = Field(default=_HEDGE_DEFAULTS.recycle_enabled)
    recycle_pct: float = Field(default=_HEDGE_DEFAULTS.recycle_pct, gt=0.0, le=1.0)
    recycle_min_dte: int = Field(default=_HEDGE_DEFAULTS.recycle_min_dte, ge=1, le=MAX_VIX_DTE)
    recycle_max_dte: int = Field(default=_HEDGE_DEFAULTS.recycle_max_dte, ge=1, le=MAX_VIX_DTE)
    when_no_condor: NoCondorRule = Field(default=_HEDGE_DEFAULTS.when_no_condor)
    no_condor_grace_sessions: int = Field(
        default=_HEDGE_DEFAULTS.no_condor_grace_sessions, ge=0, le=60
    )

    @field_validator("max_dte")
    @classmethod
    def _max_after_min(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("min_dte")
        if lo is not None and value < lo:
            raise ValueError(f"must be >= hedge.min_dte ({lo})")
        return value

    @field_validator("recycle_max_dte")
    @classmethod
    def _recycle_max_after_min(cls, value: int, info: ValidationInfo) -> int:
        lo = info.data.get("recycle_min_dte")
        if lo is not None and value < lo:
            raise ValueError(f"must be >= hedge.recycle_min_dte ({lo})")
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

    @field_validator("roll_dte")
    @classmethod
    def _roll_after_close(cls, value: int, info: ValidationInfo) -> int:
        close = info.data.get("close_dte")
        if close is not None and value <= close:
            raise ValueError(f"must be greater than hedge.close_dte ({close})")
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


# --------------------------------------------------------------------------- adjust


class AdjustConfig(Section):
    """``[adjust]``: the fields of :class:`strategies.rules.AdjustRules`, validated.

    Condor adjustments: the wing shift (``shift_delta`` an absolute delta,
    ``shift_points`` 5 or 10 index points, ``max_shifts`` per condor) and the
    condor roll (``roll_trigger`` a multiple of the condor's credit; keep it
    below ``condor.stop_multiple - 1`` or the stop always closes first).
    Each rule has its own switch. Defaults come from
    :class:`~strategies.rules.AdjustRules` (the single source).
    """

    wing_shift_enabled: bool = _ADJUST_DEFAULTS.wing_shift_enabled
    shift_delta: float = Field(default=_ADJUST_DEFAULTS.shift_delta, gt=0.0, lt=1.0)
    shift_points: float = Field(default=_ADJUST_DEFAULTS.shift_points, ge=5.0, le=10.0)
    max_shifts: int = Field(default=_ADJUST_DEFAULTS.max_shifts, ge=0, le=20)
    roll_enabled: bool = _ADJUST_DEFAULTS.roll_enabled
    roll_trigger: float = Field(default=_ADJUST_DEFAULTS.roll_trigger, gt=0.0, le=10.0)

    @field_validator("shift_points")
    @classmethod
    def _shift_on_strike_grid(cls, value: float) -> float:
        if abs(value / 5.0 - round(value / 5.0)) > 1e-9:
            raise ValueError("must be 5 or 10 (SPX strike spacing)")
        return value

    def to_rules(self) -> AdjustRules:
        """The pure-core rule parameters with these values."""
        return AdjustRules(**self.model_dump())
