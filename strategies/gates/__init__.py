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

Modules (each gate family beside the others, all re-exported here):

- :mod:`strategies.gates.base`: what every gate shares: the gated actions,
  :class:`RiskSnapshot` (what the gates look at), :class:`GateResult` and
  :class:`GateOutcome` (what they return).
- :mod:`strategies.gates.drawdown`: the drawdown kill switch's state and its
  update (:class:`DrawdownState`, :func:`update_drawdown`).
- :mod:`strategies.gates.limits`: gates 1-3, the book's size limits (max
  loss, floor, kill switch, hedge cap).
- :mod:`strategies.gates.scenario`: gate 4, the scenario grid of book plus
  order (:func:`book_after`, :func:`scenario_gate`).
- :mod:`strategies.gates.funding`: gates 5 and 8, whether the account can pay
  for the order (liquidity under stress, initial margin).
- :mod:`strategies.gates.quotes`: gates 6 and 7, the quality of the order's
  quotes (bid-ask width, put-call parity).
- :mod:`strategies.gates.evaluate`: :func:`evaluate_gates`, gates 1-7 in order.
"""

from __future__ import annotations

from strategies.gates.base import (
    GATED_ACTIONS,
    GateOutcome,
    GateResult,
    Inputs,
    RiskSnapshot,
    adds_risk,
)
from strategies.gates.drawdown import DrawdownState, update_drawdown
from strategies.gates.evaluate import evaluate_gates
from strategies.gates.funding import liquidity_gate, margin_gate
from strategies.gates.limits import floor_gate, hedge_cap_gate, kill_switch_gate, max_loss_gate
from strategies.gates.quotes import _median as _median
from strategies.gates.quotes import parity_gate, quote_width_gate
from strategies.gates.scenario import book_after, scenario_gate

__all__ = [
    "GATED_ACTIONS",
    "DrawdownState",
    "GateOutcome",
    "GateResult",
    "Inputs",
    "RiskSnapshot",
    "adds_risk",
    "book_after",
    "evaluate_gates",
    "floor_gate",
    "hedge_cap_gate",
    "kill_switch_gate",
    "liquidity_gate",
    "margin_gate",
    "max_loss_gate",
    "parity_gate",
    "quote_width_gate",
    "scenario_gate",
    "update_drawdown",
]
