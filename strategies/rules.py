"""Parameters of the mechanical rules, as plain frozen dataclasses.

The daemon's validated configuration (``daemon.config``) is converted into
these, so the pure core never depends on pydantic or on file formats.

The defaults here are the single source of the rule parameters' defaults:
``daemon.config``'s ``[condor]`` and ``[hedge]`` sections take their defaults
from these classes, and ``config/alvh.example.toml`` is tested to equal them.
Change a default here and nowhere else (then update the example file, which
the tests check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: SPX option trading classes a condor can be built from: ``"SPXW"``
#: (PM-settled weeklies and dailies) or ``"SPX"`` (AM-settled monthlies).
CondorTradingClass = Literal["SPXW", "SPX"]

#: How the condor's long wings are placed (see :func:`strategies.condor.plan_condor_entry`):
#: ``"points"`` a fixed ``wing_width`` in index points; ``"percent"`` ``wing_pct``
#: percent of SPX spot, rounded to the 5-point strike grid; ``"delta"`` the
#: quoted strike beyond each short whose |delta| is closest to ``wing_delta``.
WingMode = Literal["points", "percent", "delta"]


@dataclass(frozen=True, slots=True)
class CondorRules:
    """SPX iron-condor entry, sizing and exit rules.

    Attributes:
        trading_class: option trading class traded: ``"SPXW"`` (PM-settled)
            or ``"SPX"`` (AM-settled monthlies).
        min_dte, max_dte: expiry window, calendar days (inclusive).
        target_dte: preferred DTE inside the window (closest wins).
        short_delta: absolute delta of both short strikes (0.16 = 16 delta).
        wing_mode: how the long wings are placed: ``"points"`` (``wing_width``
            index points), ``"percent"`` (``wing_pct`` % of SPX spot, so the
            wing means the same at SPX 1,400 and 5,500) or ``"delta"`` (long
            wing at ``wing_delta``). The default ``"points"`` keeps replay
            results unchanged; issue 9 leaves the choice of default to the lead.
        wing_width: distance from each short strike to its long wing, index
            points (``wing_mode = "points"``).
        wing_pct: wing distance as a percent of SPX spot (2.0 = 2%), rounded
            to the nearest multiple of 5 points, at least 5 (``"percent"``).
        wing_delta: absolute delta of each long wing, below ``short_delta``
            (0.05 = 5 delta; ``"delta"``).
        min_credit: smallest acceptable net credit, index points per condor.
        max_risk_dollars: budget for max loss (wing width minus credit, times
            100 and contracts) across one condor position, dollars.
        max_contracts: hard cap on condors per position.
        max_open_condors: how many condor positions may be open at once.
        profit_target_pct: close when the debit to close is at most
            ``(1 - pct/100) * credit`` (50 = take half the credit).
        stop_multiple: close when the debit to close reaches ``stop_multiple * credit``
            (2.0 = lose one credit on top of the credit received).
        exit_dte: close any condor with at most this many calendar days left.
    """

    trading_class: CondorTradingClass = "SPXW"
    min_dte: int = 7
    max_dte: int = 21
    target_dte: int = 14
    short_delta: float = 0.16
    wing_mode: WingMode = "points"
    wing_width: float = 50.0
    wing_pct: float = 2.0
    wing_delta: float = 0.05
    min_credit: float = 1.0
    max_risk_dollars: float = 25_000.0
    max_contracts: int = 10
    max_open_condors: int = 1
    profit_target_pct: float = 50.0
    stop_multiple: float = 2.0
    exit_dte: int = 2


@dataclass(frozen=True, slots=True)
class HedgeRules:
    """First ALVH layer: long VIX calls sized against the condor's short vega.

    Attributes:
        min_dte, max_dte: VIX option expiry window, calendar days.
        otm_min, otm_max: strike band as a fraction above the VIX future of the
            same expiry (0.08-0.12 = 8-12% out of the money).
        vega_share: decimal share of the condor's short vega (dollars per SPX
            vol point) that the layer offsets; the method uses 0.30-0.40.
        max_layers: how many hedge layers may be open at once.
        max_debit_dollars: most that one layer may cost, dollars.
        close_dte: close a layer with at most this many calendar days left
            instead of carrying it into settlement.
    """

    min_dte: int = 45
    max_dte: int = 90
    otm_min: float = 0.08
    otm_max: float = 0.12
    vega_share: float = 0.35
    max_layers: int = 1
    max_debit_dollars: float = 5_000.0
    close_dte: int = 7


@dataclass(frozen=True, slots=True)
class SignalParams:
    """Parameters of the hedge signals (``strategies.signals``).

    Attributes:
        rsi_period: Wilder RSI look-back of the VIX close, sessions.
        macd_fast, macd_slow, macd_signal: Appel MACD periods of the VVIX
            close, sessions (fast EMA, slow EMA, EMA of the MACD line).
        divergence_lookback: N of the A/D divergence: SPX at its N-session
            closing high (the decision session included), sessions.
        divergence_tolerance: how far the A/D line must sit below its own
            N-session high for a divergence, NYSE issues (the A/D line is a
            running sum of advancing minus declining issues).
        term_spread_threshold: the front future above the second by more than
            this (``M1 - M2 > threshold``, backwardation) sets
            ``front_second_above``, VIX points.
        regime_calm_below: VIX close below this is ``"calm"``, VIX points.
        regime_stressed_above: VIX close above this is ``"stressed"``; from
            ``regime_calm_below`` up to this (both inclusive) is
            ``"elevated"``, VIX points.
    """

    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    divergence_lookback: int = 20
    divergence_tolerance: float = 250.0
    term_spread_threshold: float = 1.5
    regime_calm_below: float = 20.0
    regime_stressed_above: float = 30.0

    def __post_init__(self) -> None:
        if self.rsi_period < 1 or self.macd_fast < 1 or self.macd_signal < 1:
            raise ValueError("signal periods must be at least 1 session")
        if self.macd_fast >= self.macd_slow:
            raise ValueError("macd_fast must be shorter than macd_slow")
        if self.divergence_lookback < 2:
            raise ValueError("divergence_lookback must be at least 2 sessions")
        if self.divergence_tolerance < 0 or self.term_spread_threshold < 0:
            raise ValueError("divergence_tolerance and term_spread_threshold must be >= 0")
        if self.regime_calm_below > self.regime_stressed_above:
            raise ValueError("regime_calm_below must not exceed regime_stressed_above")


@dataclass(frozen=True, slots=True)
class AdjustRules:
    """Condor adjustments (issue 9, deliverable 5): wing shift and condor roll.

    See :mod:`strategies.adjustments` for the rules. Why these defaults
    (replay 2007-2024 at defaults otherwise, $100k; see the README's
    ``[adjust]`` table for the figures): a wing shift at 35 delta did better
    than none (30 and 25 delta did worse: they pay to move sides that would
    have recovered; 40 did a little better than 35, which is kept as the less
    fitted value), 10 points beat 5 at 40 delta and 2 shifts beat 1; the roll
    lost money at every trigger tried while no hedge rungs offset the loss
    (G = 0), least at 0.9, just below the stop's 1.0.

    Attributes:
        wing_shift_enabled: shift a threatened side's strikes away from the money.
        shift_delta: a side is threatened when its short strike's |delta|
            reaches this (0.35 = 35 delta; the shorts open at
            ``CondorRules.short_delta``, 16 delta by default).
        shift_points: how far the threatened side's short and long strikes
            move away from the money, index points (5-10, on the 5-point
            SPX strike grid); the wing width is kept.
        max_shifts: completed wing shifts allowed per condor; at the cap a
            threatened side holds (the stop or the roll decides).
        roll_enabled: roll the whole condor to a later expiry when the loss
            exceeds what the first two hedge rungs cover.
        roll_trigger: roll when ``L - G > roll_trigger x C`` (condor loss L,
            gain G of the open rungs ``rung-1``/``rung-2``, floored at 0,
            condor credit C, all dollars); below the stop's
            ``CondorRules.stop_multiple - 1`` (the loss at which the stop
            closes), or the stop always comes first.
    """

    wing_shift_enabled: bool = True
    shift_delta: float = 0.35
    shift_points: float = 10.0
    max_shifts: int = 2
    roll_enabled: bool = True
    roll_trigger: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 < self.shift_delta < 1.0:
            raise ValueError("shift_delta must be an absolute delta between 0 and 1")
        if not 5.0 <= self.shift_points <= 10.0 or self.shift_points % 5.0:
            raise ValueError("shift_points must be 5 or 10 index points (the SPX strike grid)")
        if self.max_shifts < 0 or self.roll_trigger <= 0.0:
            raise ValueError("max_shifts must be >= 0 and roll_trigger > 0")
