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
        wing_width: largest distance from each short strike to its long wing,
            index points (``wing_mode = "points"``): the wing is the farthest
            listed strike within it.
        wing_pct: wing distance as a percent of SPX spot (2.0 = 2%), rounded
            to the nearest multiple of 5 points, at least 5 (``"percent"``).
        wing_delta: absolute delta of each long wing, below ``short_delta``
            (0.05 = 5 delta; ``"delta"``).
        min_credit: smallest acceptable net credit, index points per condor.
        max_loss_pct_of_net_liq: budget for the max loss of one condor
            position (wider wing minus credit, times 100 and contracts) as a
            percent of the account's *current* net liquidation (5.0 = 5%), so
            size follows the account down as well as up. Replaced the fixed
            ``max_risk_dollars`` budget (issue 9).
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
    max_loss_pct_of_net_liq: float = 5.0
    max_contracts: int = 10
    max_open_condors: int = 1
    profit_target_pct: float = 50.0
    stop_multiple: float = 2.0
    exit_dte: int = 2


#: Structure of a hedge rung: one long VIX call, or a VIX call spread (long the
#: band strike, short a further OTM call).
RungStructure = Literal["call", "call_spread"]

#: How the expansion triggers combine: ``"any"`` one enabled trigger fires,
#: ``"all"`` every enabled trigger fires, ``"at_least"`` ``trigger_min`` of them.
TriggerCombine = Literal["any", "all", "at_least"]

#: What happens to rungs and recycled calls while no condor is open.
NoCondorRule = Literal["close", "hold"]


@dataclass(frozen=True, slots=True)
class HedgeRules:
    """The ALVH ladder: VIX-call rungs sized against the condors' VIX exposure.

    Sizing (``strategies.hedge.sizing``): the target is ``share`` of the
    condors' dollar loss per 1-point rise in spot VIX, net of the hedge
    already held; rung ``k`` of ``rungs`` may fill the target up to the
    cumulative weight of rungs 1..k (``base_weight`` for rung-1, the rest
    split evenly among the extra rungs).

    Attributes:
        enabled: master switch of new hedge positions (rungs, recycle); the
            exit rules still manage what is held when it is off.
        share: decimal share of the condors' dollar loss per VIX point the
            ladder offsets (the method uses 0.30-0.40).
        condor_iv_beta: SPX implied vol points at the condor's (fixed) 16-delta
            strikes per VIX point, 14 DTE, measured by
            ``scripts/hedge_coefficients.py --start 2007-01-03`` through the
            replay's SPX surface on the bundle, 2007-2024: 0.576 (0.672 over
            2011-2024; the 14-day ATM vol moves 1.271: as SPX falls the short
            strikes slide along the skew).
        spx_return_per_vix: SPX daily return (decimal) per VIX point for the
            condor's delta term; 0 (the default) switches the term off. The
            same script measures -0.0047 (2011-2024), but with it on, the
            2007-2024 replay's hedge regresses at 0.70 of the condors' VIX
            slope instead of 0.44 without it (share 0.35): the condors'
            delta loss on VIX-up days is mostly cut by their stops, so the
            first-order delta term overstates their VIX exposure.
        vvix_log_beta: change of ln VVIX per VIX point (the VIX option vol
            scales with VVIX), same script (2011-2024: 0.0210); 0 switches
            the rungs' vol-of-vol term off.
        rungs: most rungs open at once (tags ``rung-1`` .. ``rung-N``).
        base_weight: share of the target the base rung (rung-1) fills; extra
            rungs fill the rest, evenly (1.0 with ``rungs = 1``).
        min_dte, max_dte: rung expiry window, calendar days.
        otm_min, otm_max: strike band as a fraction above the VIX future of
            the same expiry (0.08-0.12 = 8-12% out of the money).
        structure: ``"call"`` or ``"call_spread"``.
        spread_short_otm: the spread's short call, fraction above the future
            (0.5 = 50% OTM; ``structure = "call_spread"`` only).
        max_debit_dollars: most one hedge order may cost at the ask, dollars.
        close_dte: close any hedge with at most this many calendar days left
            instead of carrying it into the VIX settlement (always on).
        roll_enabled: roll a rung whose DTE falls below ``roll_dte``.
        roll_dte: a rung with fewer calendar days left is rolled forward.
        triggers_enabled: open extra rungs (rung-2..) on expansion signals.
        trigger_rsi: the RSI trigger is on.
        rsi_threshold: RSI(VIX) above this fires it, 0-100.
        trigger_macd: the VVIX MACD histogram turning up fires (when on).
        trigger_divergence: a bearish A/D divergence fires (when on).
        trigger_term: backwardation or a front-second spread above the
            signals' threshold fires (when on).
        trigger_combine: ``"any"``, ``"all"`` or ``"at_least"``.
        trigger_min: how many triggers ``"at_least"`` needs.
        pre_event_rung: a pre-event hedge check (FOMC/CPI/PPI) opens an extra
            rung without a signal.
        harvest_enabled: close a rung up ``harvest_gain`` or more.
        harvest_gain: decimal gain on the rung's cost that harvests it
            (1.5 = up 150%).
        recycle_enabled: after a harvest, buy ``recycle`` calls.
        recycle_pct: decimal share of the harvested gain spent on them.
        recycle_min_dte, recycle_max_dte: their expiry window, calendar days.
        when_no_condor: ``"close"`` hedges once no condor has been open for
            ``no_condor_grace_sessions`` sessions, or ``"hold"`` them.
        no_condor_grace_sessions: weekdays (numpy business days; exchange
            holidays are not subtracted) since the last condor closed. 0
            closes the ladder with the last condor, also when a stop or
            target the session's range reached closed it (replay books that
            exit after the close; the hedges are then sold at the close,
            :func:`daemon.manage.path_exits`), so no session starts with a
            hedge and no condor. ``scripts/hedge_diagnosis.py`` on the
            2007-2024 replay: at the default 2, sessions that start with a
            hedge and no condor carry +38 of the hedge's +122 $ per VIX point
            against -7 of the condors' -202 (hedge ratio 0.605); at 0 the
            ratio is 0.408 and the replay's P&L is $30.5k lower (the ladder
            is bought and sold with every condor: docs/hedge-ratio.md).
    """

    enabled: bool = True
    share: float = 0.35
    condor_iv_beta: float = 0.576
    spx_return_per_vix: float = 0.0
    vvix_log_beta: float = 0.021
    rungs: int = 3
    base_weight: float = 0.6
    min_dte: int = 30
    max_dte: int = 90
    otm_min: float = 0.08
    otm_max: float = 0.12
    structure: RungStructure = "call"
    spread_short_otm: float = 0.5
    max_debit_dollars: float = 5_000.0
    close_dte: int = 7
    roll_enabled: bool = True
    roll_dte: int = 30
    triggers_enabled: bool = True
    trigger_rsi: bool = True
    rsi_threshold: float = 70.0
    trigger_macd: bool = True
    trigger_divergence: bool = True
    trigger_term: bool = True
    trigger_combine: TriggerCombine = "at_least"
    trigger_min: int = 2
    pre_event_rung: bool = False
    harvest_enabled: bool = True
    harvest_gain: float = 1.5
    recycle_enabled: bool = True
    recycle_pct: float = 0.5
    recycle_min_dte: int = 45
    recycle_max_dte: int = 90
    when_no_condor: NoCondorRule = "close"
    no_condor_grace_sessions: int = 2

    def __post_init__(self) -> None:
        if self.rungs < 1:
            raise ValueError("rungs must be at least 1")
        if not 0.0 < self.base_weight <= 1.0:
            raise ValueError("base_weight must be in (0, 1]")
        if self.min_dte > self.max_dte or self.recycle_min_dte > self.recycle_max_dte:
            raise ValueError("a DTE window must have min_dte <= max_dte")
        if self.otm_min >= self.otm_max:
            raise ValueError("otm_min must be below otm_max")

    def rung_weight(self, slot: int) -> float:
        """Cumulative share of the target rungs 1..``slot`` may fill (1-based).

        ``base_weight`` for rung-1, plus ``(1 - base_weight) / (rungs - 1)``
        per extra rung; 1.0 at ``slot = rungs`` (and with one rung).
        """
        if self.rungs == 1:
            return 1.0
        extra = (1.0 - self.base_weight) / (self.rungs - 1)
        return min(1.0, self.base_weight + extra * (min(slot, self.rungs) - 1))


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


@dataclass(frozen=True, slots=True)
class RiskRules:
    """Pre-trade risk gates (``strategies.gates``): run before every order that adds risk.

    A gate that blocks turns the decision into a journaled SKIP naming the gate
    and its numbers; closes are never gated (risk reduction is never stopped).
    Every gate has its own ``*_enabled`` switch. The per-condor max-loss budget
    itself is :attr:`CondorRules.max_loss_pct_of_net_liq` (it sizes the entry);
    ``max_loss_enabled`` re-checks it on every condor order at send time.

    Attributes:
        max_loss_enabled: refuse a condor order whose max loss (wider wing
            minus credit, x 100 x units) exceeds
            ``CondorRules.max_loss_pct_of_net_liq`` % of current net liquidation.
        floor_enabled: refuse new risk while net liquidation is below the floor.
        floor_pct_of_start: the floor as a percent of starting equity (replay:
            the starting cash; live: the first net liquidation the engine saw),
            50.0 = half the account gone stops new risk.
        floor_dollars: an absolute floor, dollars; the higher of the two applies
            (0 = only the percent floor).
        kill_switch_enabled: refuse new risk once the drawdown from the
            high-water mark of net liquidation exceeds ``kill_switch_drawdown_pct``.
        kill_switch_drawdown_pct: the drawdown that trips the switch, percent
            of the high-water mark.
        kill_switch_cooloff_sessions: sessions (>= 1) the switch stays
            tripped; at the end of the cool-off the high-water mark resets to
            the current net liquidation (journaled) and new risk resumes. A
            restart does not reset it (the journal is folded again); an
            operator who wants entries sooner sets ``kill_switch_enabled =
            false``.
        margin_enabled: refuse an order whose initial margin after the order
            exceeds the equity with loan value after it (IB's what-if live;
            the Reg-T model of :mod:`strategies.margin` in replay).
        liquidity_enabled: refuse new risk unless free cash plus
            ``liquidity_theta_days`` of the book's theta covers
            ``liquidity_ratio`` x the stressed variation margin.
        liquidity_ratio: required coverage (1.5 = 150%).
        liquidity_theta_days: days of theta (dollars/day) counted as incoming cash.
        liquidity_spot_em, liquidity_vol_points: the stress scenario of the
            variation-margin estimate: spot moved by this many expected moves
            (negative = down) and SPX implied vol up by this many vol points.
        hedge_cap_enabled: cap hedge premium while VIX is high.
        hedge_cap_vix: VIX level (points) from which the cap applies (30 =
            the signals' stressed regime bound).
        hedge_cap_pct: hedge premium (held VIX hedges' opening cost plus the
            new order) at most this percent of the notional = the open
            condors' maximum loss, dollars.
        scenario_enabled: refuse a condor entry when the combined book loses
            more than ``scenario_budget_pct`` % of net liquidation in the
            configured scenario (the grid is journaled either way).
        scenario_spot_em, scenario_vol_points: the budgeted scenario (expected
            moves, vol points).
        scenario_budget_pct: the loss budget of that scenario, percent of net liquidation.
        quote_width_enabled: refuse an order with a leg whose bid-ask width
            exceeds ``max(quote_max_width_pct % of mid, quote_min_width_ticks
            ticks)``.
        quote_max_width_pct: widest acceptable spread, percent of the leg's mid.
        quote_min_width_ticks: a width of this many ticks always passes (cheap
            wings quote a few ticks wide whatever their mid); the tick is the
            exchange's minimum tick on the session (VIX: 0.05/0.10 before
            2022-10-03, 0.01/0.05 from then; SPX 0.05/0.10).
        parity_enabled: refuse an order when a leg's strike violates put-call
            parity (see :func:`strategies.gates.parity_gate`).
        parity_tolerance: allowed excess of the parity residual over the two
            options' half-spreads, index points.
    """

    max_loss_enabled: bool = True
    floor_enabled: bool = True
    floor_pct_of_start: float = 50.0
    floor_dollars: float = 0.0
    kill_switch_enabled: bool = True
    kill_switch_drawdown_pct: float = 20.0
    kill_switch_cooloff_sessions: int = 10
    margin_enabled: bool = True
    liquidity_enabled: bool = True
    liquidity_ratio: float = 1.5
    liquidity_theta_days: int = 5
    liquidity_spot_em: float = -2.0
    liquidity_vol_points: float = 10.0
    hedge_cap_enabled: bool = True
    hedge_cap_vix: float = 30.0
    hedge_cap_pct: float = 40.0
    scenario_enabled: bool = True
    scenario_spot_em: float = -2.0
    scenario_vol_points: float = 10.0
    scenario_budget_pct: float = 4.0
    quote_width_enabled: bool = True
    quote_max_width_pct: float = 15.0
    quote_min_width_ticks: int = 4
    parity_enabled: bool = True
    parity_tolerance: float = 0.5
