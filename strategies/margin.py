"""A documented margin model for defined-risk option structures (replay's buying power).

Live trading asks IB (``whatIfOrder``); replay has no broker to ask, so the
simulated broker uses this model of the strategy-based (Reg-T) rules of the
Cboe Margin Manual (2000, rev.) and FINRA Rule 4210(f)(2):

* **Long options** (and long debit spreads) are paid for in full: no margin
  beyond the premium, which leaves cash when the order fills.
* **Spreads** whose short legs are each covered by a long leg of the same
  underlying and expiry: the requirement is the maximum loss at expiry of the
  legs, *premium excluded*. A short put or call vertical needs its width x 100
  per spread; an **iron condor** needs only the **wider wing's width** x 100 per
  unit, because both sides cannot finish in the money at once (Cboe: "the
  margin requirement is the greater of the put spread or call spread
  requirement"). The credit received goes to cash, so it effectively applies
  against the requirement ("credit may apply").
* A net short call beyond the highest strike (or a naked short put) is not a
  defined-risk structure: the model reports it as unbounded (``inf``), and the
  margin gate refuses it.

The requirement is computed per (underlying, expiry) group as
``max(0, -min payoff)`` where the payoff of the group's legs at expiry is
piecewise linear in the underlying, so its minimum sits at a strike, at 0,
or (for a net short call) at infinity.

Equity with loan value (what margin is checked against) follows IB's
definition for a securities account: cash, plus securities with loan value;
US listed options have none, so for this book it is the cash balance (credits
received in, debits paid out). The gate: initial margin after the order <=
equity with loan after it (IB: available funds after the order >= 0).

Units: dollars; strikes and prices in index points; quantities signed contracts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from strategies.domain import Leg, OptionContract, Right

__all__ = ["MarginImpact", "holdings_after", "margin_impact", "margin_requirement"]


@dataclass(frozen=True, slots=True)
class MarginImpact:
    """What an order would do to the account's margin, dollars.

    Attributes:
        init_margin_before, init_margin_after: initial margin requirement
            before and after the order.
        equity_with_loan_after: equity with loan value after the order (IB's
            ``EquityWithLoanValue``; the funds margin is checked against).
        commission: the order's commission estimate, dollars (``nan`` unknown).
        source: ``"ib-what-if"`` or ``"reg-t-model"``.
    """

    init_margin_before: float
    init_margin_after: float
    equity_with_loan_after: float
    commission: float = math.nan
    source: str = "reg-t-model"

    @property
    def available_after(self) -> float:
        """Available funds after the order (equity with loan minus initial margin), dollars."""
        return self.equity_with_loan_after - self.init_margin_after


def _group_requirement(positions: Iterable[tuple[OptionContract, int]]) -> float:
    """Max expiry loss of one (underlying, expiry) group of signed contracts, dollars."""
    items = [(c, q) for c, q in positions if q]
    if not items:
        return 0.0
    call_slope = sum(q * c.multiplier for c, q in items if c.right is Right.CALL)
    if call_slope < 0:
        return math.inf  # net short calls: the loss grows without bound
    points = {0.0, *(c.strike for c, _ in items)}
    # q * c.intrinsic(s) * c.multiplier with the intrinsic value written out (the
    # same operations in the same order, without a method call per leg and point);
    # max(s - k, 0.0) as a comparison: for finite strikes s - k < 0 exactly when
    # s < k, and at s == k both give s - k (+0.0)
    terms = [(q, c.strike, c.multiplier, c.right is Right.CALL) for c, q in items]
    worst = min(
        sum(
            [
                q * ((0.0 if s < k else s - k) if call else (0.0 if k < s else k - s)) * m
                for q, k, m, call in terms
            ]
        )
        for s in points
    )
    return max(0.0, -worst)


#: Requirements of recent holdings, keyed by their (contract, quantity) pairs in
#: order (the order the groups are summed in). A replay asks about 11,000 times
#: for some 1,800 different books (the account after each fill, the book before
#: each order); cleared when full.
_REMEMBERED: dict[tuple[tuple[OptionContract, int], ...], float] = {}
_REMEMBER_AT_MOST = 256


def margin_requirement(holdings: Mapping[OptionContract, int]) -> float:
    """Initial margin of signed option holdings under the model above, dollars.

    Returns ``inf`` when a group holds net short calls (not defined risk).
    Equal holdings in the same order give the same float, so a recent
    answer is handed back (:data:`_REMEMBERED`).
    """
    key = tuple(holdings.items())
    known = _REMEMBERED.get(key)
    if known is not None:
        return known
    groups: dict[tuple[str, date], list[tuple[OptionContract, int]]] = {}
    for contract, qty in key:
        groups.setdefault((contract.symbol, contract.expiry), []).append((contract, qty))
    requirement = sum(_group_requirement(items) for items in groups.values())
    if len(_REMEMBERED) >= _REMEMBER_AT_MOST:
        _REMEMBERED.clear()
    _REMEMBERED[key] = requirement
    return requirement


def holdings_after(
    holdings: Mapping[OptionContract, int], legs: Iterable[Leg], quantity: int
) -> dict[OptionContract, int]:
    """``holdings`` plus ``quantity`` units of ``legs`` (signed contracts)."""
    out = dict(holdings)
    for leg in legs:
        out[leg.contract] = out.get(leg.contract, 0) + leg.ratio * quantity
    return {c: q for c, q in out.items() if q}


def margin_impact(
    holdings: Mapping[OptionContract, int],
    cash: float,
    legs: Iterable[Leg],
    quantity: int,
    limit_price: float,
    commission: float = 0.0,
) -> MarginImpact:
    """The model's answer to "what if this order filled at its limit", dollars.

    Args:
        holdings: signed contracts held now.
        cash: cash balance now, dollars (equity with loan before the order).
        legs, quantity: the order (signed ratios, combo units).
        limit_price: net price per unit, index points (+ debit, - credit); the
            premium moves cash by ``-limit_price x multiplier x quantity``.
        commission: the order's commissions and fees, dollars.
    """
    legs = tuple(legs)
    multiplier = legs[0].contract.multiplier if legs else 100
    after = holdings_after(holdings, legs, quantity)
    return MarginImpact(
        init_margin_before=margin_requirement(holdings),
        init_margin_after=margin_requirement(after),
        equity_with_loan_after=cash - limit_price * multiplier * quantity - commission,
        commission=commission,
    )
