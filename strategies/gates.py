"""Pre-trade risk gates: pure checks run before every order that adds risk.

The executor (:mod:`daemon.execution`) asks the engine for a
:class:`RiskSnapshot` (account, book, quotes, market context) and runs
:func:`evaluate_gates` on each decision that adds risk (OPEN, ROLL, ADJUST)
before journaling it; a CLOSE is never gated, so risk reduction is never
stopped. Every gate puts its result and numbers into the decision's inputs
(keys ``gate_<name>...``); the first gate that blocks turns the decision into
a SKIP whose reason names the gate and its numbers. Parameters:
:class:`strategies.rules.RiskRules`, each gate switchable.

Gates, in the order they run (which decisions each applies to in brackets):

1. ``max_loss`` [condor OPEN/ROLL]: the order's max loss, (wider wing - credit)
   x 100 x units, at most ``CondorRules.max_loss_pct_of_net_liq`` % of current
   net liquidation. (The entry rule sizes to this budget; the gate re-checks
   every condor order at send time, whoever planned it.)
2. ``floor`` and ``kill_switch`` [condor OPEN/ROLL]: no new condor while net
   liquidation is below the floor (``max(floor_dollars, floor_pct_of_start %
   x starting equity)``) or while the drawdown kill switch is tripped
   (:class:`DrawdownState`). Hedges are exempt: buying protection for the
   book already held reduces risk.
3. ``hedge_cap`` [hedge OPEN/ROLL, VIX >= ``hedge_cap_vix``]: premium of the
   VIX hedges held (their opening cost, dollars; a ROLL's parent excluded: the
   plan's previous step closed it) plus the new order's debit at most
   ``hedge_cap_pct`` % of the **notional = the open condors' maximum loss,
   dollars** (the most the hedged book can lose at expiry). An order above the
   cap is sized down to what fits; below one unit it is skipped.
4. ``scenario`` [every OPEN/ROLL; budget on condors]: the combined book plus
   the order on the grid of :mod:`strategies.scenarios`; the worst cell and the
   grid are journaled; a condor is refused when the configured cell
   (``scenario_spot_em``, ``scenario_vol_points``) loses more than
   ``scenario_budget_pct`` % of net liquidation.
5. ``liquidity`` [every OPEN/ROLL]: free cash plus ``liquidity_theta_days``
   days of the book's theta (dollars/day, with the order) at least
   ``liquidity_ratio`` x the **stressed variation margin** = the combined
   book's loss in the scenario (``liquidity_spot_em``,
   ``liquidity_vol_points``): the cash a stress would call for before any
   position can be closed. Free cash = cash minus the initial margin in use
   (margin-locked cash cannot pay a variation call); an inf margin (net short calls) blocks.
6. ``quote_width`` [every OPEN/ROLL/ADJUST]: each leg's bid-ask width at most
   ``max(quote_max_width_pct % x mid, quote_min_width_ticks x tick)``; the
   tick is the exchange's minimum tick on the session
   (:func:`strategies.pricing.chain_builder.min_tick`: SPX 0.05 below 3.00,
   0.10 above; VIX 0.01 below 3.00, 0.05 above from 2022-10-03, 0.05 and
   0.10 before), so "a few ticks" means what the market could quote that
   day; a leg without a two-sided quote fails.
7. ``parity`` [every OPEN/ROLL/ADJUST]: put-call parity at each leg's strike,
   see :func:`parity_gate`.
8. ``margin`` [every OPEN/ROLL/ADJUST]: initial margin after the order at most
   the equity with loan value after it (IB's what-if live, the Reg-T model of
   :mod:`strategies.margin` in replay). Run last by the executor, on the
   order as sized by the gates above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    Decision,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
    Structure,
)
from strategies.margin import MarginImpact, holdings_after, margin_requirement
from strategies.portfolio import StructurePosition
from strategies.pricing.chain_builder import SPX_SPREAD, VIX_SPREAD, min_tick
from strategies.risk import condor_max_loss_points, condor_strikes
from strategies.rules import CondorRules, RiskRules
from strategies.scenarios import BookAfter, em_days, scenario_grid

__all__ = [
    "DrawdownState",
    "GateOutcome",
    "GateResult",
    "RiskSnapshot",
    "adds_risk",
    "book_after",
    "evaluate_gates",
    "margin_gate",
    "parity_gate",
    "update_drawdown",
]

Inputs = dict[str, float | int | str | None]

#: Actions the gates look at: every order that can add risk. CLOSE never.
GATED_ACTIONS = frozenset({Action.OPEN, Action.ROLL, Action.ADJUST})
_NEW = frozenset({Action.OPEN, Action.ROLL})


def adds_risk(decision: Decision) -> bool:
    """Whether ``decision`` sends an order the gates must check (OPEN, ROLL, ADJUST)."""
    return decision.places_order and decision.action in GATED_ACTIONS


def _usd(amount: float) -> str:
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


# ---------------------------------------------------------------- drawdown state


@dataclass(frozen=True, slots=True)
class DrawdownState:
    """The drawdown kill switch: high-water mark of net liquidation and whether it tripped.

    How it works (a trader's view): the high-water mark is the highest net
    liquidation seen at any check (every mark job and every gated order). When
    net liquidation falls more than ``kill_switch_drawdown_pct`` % below it,
    the switch trips: no new condor until it resets. It resets after
    ``kill_switch_cooloff_sessions`` further sessions: the high-water mark is
    then set to the net liquidation of that moment (the loss is accepted as
    the new base, the drawdown is measured afresh) and entries resume. A
    restart does not reset it: the engine folds the journaled end-of-session
    net liquidation again (:meth:`daemon.engine.TradingEngine.restore_risk`).
    An operator who wants entries back sooner switches the gate off
    (``[risk] kill_switch_enabled = false``, recorded in the run's
    configuration) and restarts. Trips and resets are journaled as
    ``risk_kill_switch`` decisions.

    Attributes:
        high_water: highest net liquidation since the last reset, dollars.
        tripped_on: session the switch tripped, ``None`` while armed.
        sessions_tripped: sessions seen since it tripped.
        last_session: the last session it was updated on.
    """

    high_water: float
    tripped_on: date | None = None
    sessions_tripped: int = 0
    last_session: date | None = None

    @property
    def tripped(self) -> bool:
        return self.tripped_on is not None

    def drawdown_pct(self, net_liq: float) -> float:
        """Drawdown of ``net_liq`` from the high-water mark, percent (0 at or above it)."""
        if self.high_water <= 0:
            return 0.0
        return max(0.0, (self.high_water - net_liq) / self.high_water * 100.0)


def update_drawdown(
    state: DrawdownState | None, session: date, net_liq: float, rules: RiskRules
) -> tuple[DrawdownState, str | None]:
    """Fold one net-liquidation observation into the kill switch.

    Returns the new state and ``"tripped"`` / ``"reset"`` when the switch
    changed (the engine journals it), else ``None``. See :class:`DrawdownState`.
    """
    if state is None:
        return DrawdownState(net_liq, last_session=session), None
    new_session = state.last_session != session
    if state.tripped:
        count = state.sessions_tripped + (1 if new_session else 0)
        if count >= rules.kill_switch_cooloff_sessions:
            return DrawdownState(net_liq, last_session=session), "reset"
        return (
            DrawdownState(state.high_water, state.tripped_on, count, session),
            None,
        )
    high = max(state.high_water, net_liq)
    armed = DrawdownState(high, last_session=session)
    if rules.kill_switch_enabled and armed.drawdown_pct(net_liq) > rules.kill_switch_drawdown_pct:
        return DrawdownState(high, session, 0, session), "tripped"
    return armed, None


# ---------------------------------------------------------------- snapshot, results


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """What the gates look at, gathered by the engine just before the order.

    Attributes:
        ctx: market levels now.
        net_liq, cash: account values now, dollars.
        start_equity: the account's starting equity (floor base), dollars.
        drawdown: the kill switch's state.
        positions: structures held (open), with what they hold.
        quotes: quotes of the book's legs, the decision's legs and, where
            available, the other right at each leg's strike (parity).
        forwards: ``(symbol, expiry) -> forward`` of the chains the decision
            came from (SPX forward, VIX future), index points.
        init_margin: initial margin in use now, dollars.
    """

    ctx: MarketContext
    net_liq: float
    cash: float
    start_equity: float
    drawdown: DrawdownState
    positions: Sequence[StructurePosition]
    quotes: Mapping[OptionContract, LegQuote]
    forwards: Mapping[tuple[str, date], float] = field(default_factory=dict)
    init_margin: float = 0.0

    def holdings(self) -> dict[OptionContract, int]:
        """Signed contracts held across the book."""
        net: dict[OptionContract, int] = {}
        for position in self.positions:
            for contract, qty in position.held.items():
                if qty:
                    net[contract] = net.get(contract, 0) + qty
        return {c: q for c, q in net.items() if q}


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict: ``status`` is ``pass``, ``block``, ``off`` or ``n/a``."""

    name: str
    status: str
    inputs: Inputs
    reason: str = ""
    quantity: int | None = None  # a smaller size that passes (hedge cap)

    @property
    def blocked(self) -> bool:
        return self.status == "block"


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """All gates' inputs, the quantity they allow, and the first block's reason."""

    inputs: Inputs
    quantity: int
    blocked_by: str | None = None
    reason: str | None = None


def _result(
    name: str, status: str, reason: str = "", /, **numbers: float | int | str | None
) -> GateResult:
    inputs: Inputs = {f"gate_{name}": status}
    inputs.update({f"gate_{name}_{k}": v for k, v in numbers.items()})
    return GateResult(name, status, inputs, reason)


def _off(name: str) -> GateResult:
    return _result(name, "off")


def _na(name: str) -> GateResult:
    return _result(name, "n/a")


# ---------------------------------------------------------------- gates


def max_loss_gate(
    decision: Decision, snap: RiskSnapshot, rules: RiskRules, condor: CondorRules
) -> GateResult:
    """Gate 1: a condor order's max loss within the % of current net liquidation."""
    name = "max_loss"
    if not rules.max_loss_enabled:
        return _off(name)
    if decision.structure is not Structure.CONDOR or decision.action not in _NEW:
        return _na(name)
    assert decision.limit_price is not None
    try:
        strikes = condor_strikes(decision.legs)
    except ValueError as exc:  # its max loss cannot be read: no unchecked condor risk
        return _result(name, "block", f"cannot read the order's max loss ({exc})")
    credit = -decision.limit_price
    loss = condor_max_loss_points(strikes, credit) * CONTRACT_MULTIPLIER * decision.quantity
    budget = condor.max_loss_pct_of_net_liq / 100.0 * snap.net_liq
    numbers: Inputs = {"dollars": round(loss, 2), "budget": round(budget, 2)}
    if loss > budget + 0.01:
        return _result(
            name,
            "block",
            f"max loss {_usd(loss)} of {decision.quantity} condor(s) exceeds "
            f"{condor.max_loss_pct_of_net_liq:g}% of net liquidation {_usd(snap.net_liq)} "
            f"= {_usd(budget)}",
            **numbers,
        )
    return _result(name, "pass", **numbers)


def floor_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 2a: no new condor below the net-liquidation floor."""
    name = "floor"
    if not rules.floor_enabled:
        return _off(name)
    if decision.structure is not Structure.CONDOR or decision.action not in _NEW:
        return _na(name)
    floor = max(rules.floor_dollars, rules.floor_pct_of_start / 100.0 * snap.start_equity)
    numbers: Inputs = {"dollars": round(floor, 2), "net_liq": round(snap.net_liq, 2)}
    if snap.net_liq < floor:
        return _result(
            name,
            "block",
            f"net liquidation {_usd(snap.net_liq)} is below the floor {_usd(floor)} "
            f"(max of {_usd(rules.floor_dollars)} and {rules.floor_pct_of_start:g}% of "
            f"starting equity {_usd(snap.start_equity)})",
            **numbers,
        )
    return _result(name, "pass", **numbers)


def kill_switch_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 2b: no new condor while the drawdown kill switch is tripped."""
    name = "kill_switch"
    if not rules.kill_switch_enabled:
        return _off(name)
    if decision.structure is not Structure.CONDOR or decision.action not in _NEW:
        return _na(name)
    state = snap.drawdown
    dd = state.drawdown_pct(snap.net_liq)
    numbers: Inputs = {
        "high_water": round(state.high_water, 2),
        "drawdown_pct": round(dd, 2),
        "limit_pct": rules.kill_switch_drawdown_pct,
    }
    if state.tripped:
        left = max(rules.kill_switch_cooloff_sessions - state.sessions_tripped, 0)
        resets = f"resets in {left} session(s)"
        return _result(
            name,
            "block",
            f"drawdown kill switch tripped on {state.tripped_on}: net liquidation "
            f"{_usd(snap.net_liq)} is {dd:.1f}% below the high-water mark "
            f"{_usd(state.high_water)} (limit {rules.kill_switch_drawdown_pct:g}%); {resets}",
            tripped_on=str(state.tripped_on),
            **numbers,
        )
    return _result(name, "pass", **numbers)


def _premium_dollars(position: StructurePosition) -> float:
    """What opening ``position`` cost, dollars (+ paid), for the units still held."""
    units = position.open_units
    if not units:
        return 0.0
    multiplier = position.legs[0].contract.multiplier
    return position.open_price * multiplier * min(position.held_units, units)


def hedge_cap_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 3: VIX hedge premium at most ``hedge_cap_pct`` % of the condors' max loss."""
    name = "hedge_cap"
    if not rules.hedge_cap_enabled:
        return _off(name)
    if decision.structure is not Structure.HEDGE_LAYER or decision.action not in _NEW:
        return _na(name)
    vix = snap.ctx.vix
    if vix < rules.hedge_cap_vix:
        return _result(name, "pass", vix=vix, applies_from_vix=rules.hedge_cap_vix)
    assert decision.limit_price is not None
    notional = 0.0
    for p in snap.positions:
        if p.kind is Structure.CONDOR and p.held_units > 0 and p.is_balanced:
            try:
                notional += (
                    condor_max_loss_points(condor_strikes(p.legs), -p.open_price)
                    * CONTRACT_MULTIPLIER
                    * p.held_units
                )
            except ValueError:  # not an iron condor's legs: its max loss is unknown
                continue
    held = sum(
        _premium_dollars(p)
        for p in snap.positions
        if p.kind is Structure.HEDGE_LAYER and p.id != decision.position_id
    )
    multiplier = decision.legs[0].contract.multiplier
    unit_cost = max(decision.limit_price, 0.0) * multiplier
    cap = rules.hedge_cap_pct / 100.0 * notional
    room = cap - held
    fits = math.floor(room / unit_cost + 1e-9) if unit_cost > 0 else decision.quantity
    allowed = max(0, min(decision.quantity, fits))
    numbers: Inputs = {
        "vix": vix,
        "notional": round(notional, 2),
        "cap": round(cap, 2),
        "held_premium": round(held, 2),
        "order_premium": round(unit_cost * decision.quantity, 2),
    }
    if allowed >= decision.quantity:
        return _result(name, "pass", **numbers)
    if allowed >= 1:
        resized = _result(
            name, "resized", resized_from=decision.quantity, resized_to=allowed, **numbers
        )
        return GateResult(name, "resized", resized.inputs, quantity=allowed)
    return _result(
        name,
        "block",
        f"VIX {vix:.1f} >= {rules.hedge_cap_vix:g}: hedge premium held {_usd(held)} plus "
        f"{_usd(unit_cost)} per unit exceeds the cap {_usd(cap)} = "
        f"{rules.hedge_cap_pct:g}% of the open condors' max loss {_usd(notional)}",
        **numbers,
    )


def _cell_text(cell: tuple[float, float]) -> str:
    return f"spot {cell[0]:+g} EM / vol {cell[1]:+g} pts"


def book_after(decision: Decision, snap: RiskSnapshot, quantity: int) -> BookAfter:
    """The book with ``quantity`` units of ``decision``'s order, and its scenario grid."""
    before = snap.holdings()
    after = holdings_after(before, decision.legs, quantity)
    em_dte = em_days([leg.contract for leg in decision.legs] + list(after), snap.ctx)
    return BookAfter(before, after, scenario_grid(after, snap.quotes, snap.ctx, em_dte))


def scenario_gate(
    decision: Decision,
    snap: RiskSnapshot,
    rules: RiskRules,
    quantity: int,
    book: BookAfter | None = None,
) -> GateResult:
    """Gate 4: the scenario grid of book + order, journaled; budget on condor entries.

    ``book``: :func:`book_after` of the same order and quantity, when the
    caller already has it (:func:`evaluate_gates` shares it with gate 5).
    """
    name = "scenario"
    if decision.action not in _NEW:
        return _na(name)
    if book is None:
        book = book_after(decision, snap, quantity)
    grid = book.grid
    worst_cell, worst = grid.worst
    loss = -book.cell(snap.quotes, snap.ctx, rules.scenario_spot_em, rules.scenario_vol_points)
    budget = rules.scenario_budget_pct / 100.0 * snap.net_liq
    numbers: Inputs = {
        "worst_pnl": round(worst, 2),
        "worst_cell": _cell_text(worst_cell),
        "em_points": round(grid.em_points, 2),
        "grid": grid.compact(),
        "budget_cell": _cell_text((rules.scenario_spot_em, rules.scenario_vol_points)),
        "budget_loss": round(loss, 2),
        "budget": round(budget, 2),
    }
    if grid.unpriced:
        numbers["unpriced"] = ",".join(grid.unpriced)
    if not rules.scenario_enabled or decision.structure is not Structure.CONDOR:
        status = "off" if not rules.scenario_enabled else "info"
        return _result(name, status, **numbers)
    if loss > budget:
        return _result(
            name,
            "block",
            f"the book with this condor loses {_usd(loss)} at "
            f"{_cell_text((rules.scenario_spot_em, rules.scenario_vol_points))} "
            f"(EM {grid.em_points:.1f} points), over the budget {_usd(budget)} = "
            f"{rules.scenario_budget_pct:g}% of net liquidation; worst cell "
            f"{_cell_text(worst_cell)} {_usd(worst)}",
            **numbers,
        )
    return _result(name, "pass", **numbers)


def _theta_dollars(
    holdings: Mapping[OptionContract, int], quotes: Mapping[OptionContract, LegQuote]
) -> float:
    total = 0.0
    for contract, qty in holdings.items():
        quote = quotes.get(contract)
        if quote is not None and math.isfinite(quote.theta):
            total += qty * quote.theta * contract.multiplier
    return total


def liquidity_gate(
    decision: Decision,
    snap: RiskSnapshot,
    rules: RiskRules,
    quantity: int,
    book: BookAfter | None = None,
) -> GateResult:
    """Gate 5: free cash + theta x days >= ratio x stressed variation margin.

    ``book``: as for :func:`scenario_gate`.
    """
    name = "liquidity"
    if not rules.liquidity_enabled:
        return _off(name)
    if decision.action not in _NEW:
        return _na(name)
    if book is None:
        book = book_after(decision, snap, quantity)
    after = book.after
    order_margin = margin_requirement(after) - margin_requirement(book.before)
    # the grid's EM is expected_move(spx, vix, em_days(order legs + after)): this
    # gate's EM too
    cell = book.cell(snap.quotes, snap.ctx, rules.liquidity_spot_em, rules.liquidity_vol_points)
    stress = max(0.0, -cell)
    theta = _theta_dollars(after, snap.quotes)
    assert decision.limit_price is not None
    premium = decision.limit_price * decision.legs[0].contract.multiplier * quantity
    free_cash = snap.cash - premium - snap.init_margin - order_margin
    available = free_cash + theta * rules.liquidity_theta_days
    need = rules.liquidity_ratio * stress
    numbers: Inputs = {
        "free_cash": round(free_cash, 2),
        "order_margin": round(order_margin, 2),
        "theta_per_day": round(theta, 2),
        "stress_loss": round(stress, 2),
        "required": round(need, 2),
        "available": round(available, 2),
    }
    if available < need:
        return _result(
            name,
            "block",
            f"free cash {_usd(free_cash)} + {rules.liquidity_theta_days} days of theta "
            f"{_usd(theta)}/day = {_usd(available)} is below {rules.liquidity_ratio:g} x the "
            f"stressed variation margin {_usd(stress)} "
            f"({_cell_text((rules.liquidity_spot_em, rules.liquidity_vol_points))})",
            **numbers,
        )
    return _result(name, "pass", **numbers)


def _tick(contract: OptionContract, price: float, session: date) -> float:
    """The contract's minimum tick at ``price`` on ``session`` (index points)."""
    return min_tick(VIX_SPREAD if contract.symbol == "VIX" else SPX_SPREAD, price, session)


def quote_width_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 6: each leg's bid-ask width within ``max(pct x mid, ticks x tick)``."""
    name = "quote_width"
    if not rules.quote_width_enabled:
        return _off(name)
    worst_ratio = 0.0
    worst_leg = ""
    for leg in decision.legs:
        quote = snap.quotes.get(leg.contract)
        sym = leg.contract.local_symbol
        if quote is None or not (
            math.isfinite(quote.bid) and math.isfinite(quote.ask) and 0 <= quote.bid <= quote.ask
        ):
            return _result(name, "block", f"{sym} has no two-sided quote", leg=sym)
        width = quote.ask - quote.bid
        mid = quote.mid
        allowed = max(
            rules.quote_max_width_pct / 100.0 * mid,
            rules.quote_min_width_ticks * _tick(leg.contract, mid, snap.ctx.session),
        )
        ratio = width / allowed if allowed > 0 else math.inf
        if ratio > worst_ratio:
            worst_ratio, worst_leg = ratio, sym
        if width > allowed + 1e-9:
            return _result(
                name,
                "block",
                f"{sym} quotes {quote.bid:.2f}/{quote.ask:.2f}: width {width:.2f} exceeds "
                f"{allowed:.2f} = max({rules.quote_max_width_pct:g}% of mid {mid:.2f}, "
                f"{rules.quote_min_width_ticks} ticks)",
                leg=sym,
                width=round(width, 4),
                allowed=round(allowed, 4),
            )
    return _result(name, "pass", widest_leg=worst_leg, widest_use=round(worst_ratio, 3))


def _median(values: Sequence[float]) -> float:
    """``float(np.median(values))`` of a few floats, without numpy's overhead.

    The same double: the middle value, or the mean of the two middle values as
    ``(a + b) / 2`` (what np.median's mean of two computes); NaN if any is NaN
    or there is none.
    """
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def parity_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 7: put-call parity at the legs' strikes.

    European options on one forward satisfy ``C - P = DF x (F - K)`` (Hull
    §11.4; SPX and VIX options are European). For each leg's strike the
    other right must be quoted too (the engine quotes it); a strike without it
    is left out and named. The residual ``(C_mid - P_mid) - DF (F - K)`` must
    stay within the two options' half-spreads plus ``parity_tolerance`` index
    points: a larger residual means one of the quotes is stale or wrong.

    ``F`` and ``DF``: with two or more strikes (a condor) they are fitted to
    the strikes' ``C - P = DF (F - K)`` robustly: ``DF`` = minus the median of
    the pairwise slopes (Theil-Sen; clipped to [0.9, 1]), ``F`` = the median of
    the implied forwards ``K + (C - P) / DF``. No outside rate or dividend is
    needed, the check is that the strikes agree on one forward, and one bad
    quote among four strikes cannot pull the fit onto itself. With one
    strike (a VIX call), ``F`` is the forward of the chain the decision came
    from (the VIX future) and ``DF = 1`` (a few weeks of discounting on a VIX
    future is below a tick). Without it the check is skipped (``n/a``).
    """
    name = "parity"
    if not rules.parity_enabled:
        return _off(name)
    rows: list[tuple[float, float, float]] = []  # strike, C - P, half spreads
    missing: list[str] = []
    seen: set[float] = set()
    for leg in decision.legs:
        c = leg.contract
        if c.strike in seen:
            continue
        seen.add(c.strike)
        other = OptionContract(
            c.symbol,
            c.trading_class,
            c.expiry,
            c.strike,
            Right.PUT if c.right is Right.CALL else Right.CALL,
            c.multiplier,
        )
        call, put = (c, other) if c.right is Right.CALL else (other, c)
        qc, qp = snap.quotes.get(call), snap.quotes.get(put)
        if qc is None or qp is None or not (math.isfinite(qc.mid) and math.isfinite(qp.mid)):
            missing.append(other.local_symbol)
            continue
        rows.append((c.strike, qc.mid - qp.mid, (qc.ask - qc.bid + qp.ask - qp.bid) / 2.0))
    if not rows:
        return _result(name, "n/a", note=f"other right not quoted: {','.join(missing)}")
    first = decision.legs[0].contract
    if len(rows) >= 2:
        # Theil-Sen: the median of the pairwise slopes, then the median implied
        # forward, so one bad quote cannot drag the fit onto itself.
        slopes = [(b[1] - a[1]) / (b[0] - a[0]) for i, a in enumerate(rows) for b in rows[i + 1 :]]
        df = min(max(-_median(slopes), 0.9), 1.0)
        forward = _median([strike + diff / df for strike, diff, _ in rows])
        source = "fitted"
    else:
        fwd = snap.forwards.get((first.symbol, first.expiry))
        if fwd is None:
            return _result(name, "n/a", note="one strike and no chain forward")
        forward, df, source = fwd, 1.0, "chain"
    worst_excess, worst_strike, worst_resid, worst_allowed = -math.inf, 0.0, 0.0, 0.0
    for strike, diff, half in rows:
        resid = diff - df * (forward - strike)
        excess = abs(resid) - half - rules.parity_tolerance
        if excess > worst_excess:
            worst_excess, worst_strike, worst_resid = excess, strike, resid
            worst_allowed = half + rules.parity_tolerance
    numbers: Inputs = {
        "forward": round(forward, 3),
        "df": round(df, 5),
        "forward_source": source,
        "worst_strike": worst_strike,
        "worst_residual": round(worst_resid, 4),
        "worst_allowed": round(worst_allowed, 4),
    }
    if missing:
        numbers["note"] = f"other right not quoted: {','.join(missing)}"
    if worst_excess > 0:
        return _result(
            name,
            "block",
            f"put-call parity broken at strike {worst_strike:g}: C - P differs from "
            f"DF x (F - K) by {worst_resid:+.2f} (F {forward:.2f}, DF {df:.4f}), more than the "
            f"half-spreads plus {rules.parity_tolerance:g}",
            **numbers,
        )
    return _result(name, "pass", **numbers)


def margin_gate(impact: MarginImpact | None, rules: RiskRules) -> GateResult:
    """Gate 8: initial margin after the order <= equity with loan after it."""
    name = "margin"
    if not rules.margin_enabled:
        return _off(name)
    if impact is None:
        return _result(name, "n/a", note="the broker gave no margin estimate")
    numbers: Inputs = {
        "init_after": round(impact.init_margin_after, 2),
        "equity_with_loan_after": round(impact.equity_with_loan_after, 2),
        "source": impact.source,
    }
    if not impact.init_margin_after <= impact.equity_with_loan_after:
        return _result(
            name,
            "block",
            f"initial margin after the order {_usd(impact.init_margin_after)} exceeds the "
            f"equity with loan value after it {_usd(impact.equity_with_loan_after)} "
            f"({impact.source})",
            **numbers,
        )
    return _result(name, "pass", **numbers)


# ---------------------------------------------------------------- all together


def evaluate_gates(
    decision: Decision,
    snap: RiskSnapshot,
    rules: RiskRules,
    condor: CondorRules,
) -> GateOutcome:
    """Run gates 1-7 on ``decision`` (the margin gate needs the broker: the executor
    runs :func:`margin_gate` after these, on the quantity they allow).

    Every gate runs and journals its numbers even
    after one blocked, so a skip shows the whole picture; the first block names
    the skip.
    """
    inputs: Inputs = {}
    quantity = decision.quantity
    results: list[GateResult] = [
        max_loss_gate(decision, snap, rules, condor),
        floor_gate(decision, snap, rules),
        kill_switch_gate(decision, snap, rules),
    ]
    cap = hedge_cap_gate(decision, snap, rules)
    results.append(cap)
    if cap.quantity is not None:
        quantity = cap.quantity
    # gates 4 and 5 price the same book: price its grid once
    book = book_after(decision, snap, quantity) if decision.action in _NEW else None
    results += [
        scenario_gate(decision, snap, rules, quantity, book),
        liquidity_gate(decision, snap, rules, quantity, book),
        quote_width_gate(decision, snap, rules),
        parity_gate(decision, snap, rules),
    ]
    first: GateResult | None = None
    for result in results:
        inputs.update(result.inputs)
        if result.blocked and first is None:
            first = result
    if first is None:
        return GateOutcome(inputs, quantity)
    return GateOutcome(inputs, quantity, first.name, f"risk gate {first.name}: {first.reason}")
