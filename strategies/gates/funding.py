"""Gates 5 and 8: can the account pay for the order (liquidity under stress, margin).

Gate 5 (liquidity) compares free cash plus theta with the stressed variation
margin on the grid of :mod:`strategies.gates.scenario`; gate 8 (margin) reads
the broker's margin estimate (IB's what-if live, the Reg-T model of
:mod:`strategies.margin` in replay) and is run last by the executor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from strategies.domain import Decision, LegQuote, OptionContract
from strategies.gates.base import _NEW, GateResult, Inputs, RiskSnapshot, _na, _off, _result, _usd
from strategies.gates.scenario import _cell_text, book_after
from strategies.margin import MarginImpact, margin_requirement
from strategies.rules import RiskRules
from strategies.scenarios import BookAfter


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
