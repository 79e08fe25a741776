"""The planner: (portfolio, market inputs, rules) -> plans. Pure code.

The engine gathers what a job needs (market context, chains, quotes) and asks
the planner what to do; the planner decides which rule applies to which
structure and sizes every close from what the portfolio holds now.

Rules of this module (the individual rules live in :mod:`strategies.condor`
and :mod:`strategies.hedge`):

* Exit valuation: a leg with no bid is valued at a bid of 0 (a worthless far
  wing is no reason to hold); a missing or negative bid counts as 0, and a
  long leg with no ask at all is worth its bid (0). A short leg with no ask
  cannot be priced and the rule holds.
* An expired structure (earliest expiry before the session) is never traded:
  it waits for its settlement.
* A structure whose legs are no longer in whole combo units (partial leg
  fills) is flattened leg by leg, each order for exactly what is held.
* Entry limits (``max_open_condors``, ``max_layers``) count structures that
  hold something and those whose opening order may still fill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from strategies.condor import SPX_COMBO_TICK, plan_condor_entry, plan_condor_exit, round_to_tick
from strategies.domain import (
    Action,
    ChainSlice,
    Decision,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Structure,
)
from strategies.hedge import (
    condor_short_vega_dollars,
    plan_hedge_exit,
    plan_hedge_layer,
    round_vix_price,
)
from strategies.plan import Plan
from strategies.portfolio import Portfolio, StructurePosition
from strategies.rules import CondorRules, HedgeRules

FLATTEN_RULE = "flatten_uneven"
SETTLEMENT_RULE = "await_settlement"

Quotes = Mapping[OptionContract, LegQuote]


def exit_quote(quote: LegQuote, ratio: int) -> LegQuote:
    """The quote an exit rule values a held leg with (see the module rules).

    ``ratio`` is the held sign (+ long, - short). Returns the quote unchanged
    when it has a finite bid >= 0 and a finite ask.
    """
    bid, ask = quote.bid, quote.ask
    bid_ok = math.isfinite(bid) and bid >= 0.0
    if bid_ok and math.isfinite(ask):
        return quote
    bid = bid if bid_ok else 0.0
    if not math.isfinite(ask):
        if ratio < 0:
            return replace(quote, bid=bid)  # a short leg with no ask cannot be priced
        ask = bid
    return replace(quote, bid=bid, ask=max(ask, bid))


def exit_quotes(position: StructurePosition, quotes: Quotes) -> dict[OptionContract, LegQuote]:
    """Quotes for every held leg of ``position``, valued by :func:`exit_quote`."""
    out: dict[OptionContract, LegQuote] = {}
    for contract, qty in position.held.items():
        quote = quotes.get(contract)
        if quote is not None and qty:
            out[contract] = exit_quote(quote, qty)
    return out


def open_or_pending(portfolio: Portfolio, kind: Structure) -> int:
    """Structures of ``kind`` held, or whose opening order may still fill (limits count both)."""
    return sum(1 for p in portfolio.unsettled() if p.kind is kind)


def plan_entry(
    ctx: MarketContext,
    puts: Sequence[ChainSlice],
    calls: Sequence[ChainSlice],
    portfolio: Portfolio,
    rules: CondorRules,
    blocked_reason: str | None,
    net_liq: float | None,
) -> Plan:
    """Plan a new iron condor (one OPEN) or a skip, sized from ``net_liq`` (dollars);
    see :func:`plan_condor_entry`."""
    open_condors = open_or_pending(portfolio, Structure.CONDOR)
    return Plan.of(
        plan_condor_entry(ctx, puts, calls, open_condors, rules, blocked_reason, net_liq=net_liq)
    )


def short_vega_dollars(portfolio: Portfolio, quotes: Quotes) -> float:
    """Net vega of every open condor held in whole units, dollars per SPX vol point."""
    return sum(
        condor_short_vega_dollars(p.view(), quotes)
        for p in portfolio.open_positions(Structure.CONDOR)
        if p.held_units > 0 and p.is_balanced
    )


def plan_hedge(
    ctx: MarketContext,
    vix_calls: Sequence[ChainSlice],
    portfolio: Portfolio,
    condor_vega_dollars: float,
    rules: HedgeRules,
) -> Plan:
    """Plan a hedge layer against the held condors' short vega; see :func:`plan_hedge_layer`."""
    layers = open_or_pending(portfolio, Structure.HEDGE_LAYER)
    return Plan.of(
        plan_hedge_layer(ctx, vix_calls, condor_vega_dollars, layers, rules, ctx.session)
    )


def plan_exit(
    position: StructurePosition,
    quotes: Quotes,
    session: date,
    condor_rules: CondorRules,
    hedge_rules: HedgeRules,
    condor_open: bool,
) -> Plan:
    """Plan the exit (or hold) of one held structure, sized from what it holds.

    Raises:
        ValueError: from the rules, for a structure they cannot read.
    """
    if position.expiry < session:
        return Plan.of(
            Decision(
                SETTLEMENT_RULE,
                Action.HOLD,
                position.kind,
                f"{position.kind.value} {position.id} expired on {position.expiry}; "
                "waiting for its settlement",
                {"expiry": position.expiry.isoformat(), "session": session.isoformat()},
                position_id=position.id,
            )
        )
    if not position.is_balanced:
        return plan_flatten(position, quotes, "legs are uneven after partial fills")
    valued = exit_quotes(position, quotes)
    view = position.view()
    if position.kind is Structure.CONDOR:
        return Plan.of(plan_condor_exit(view, valued, session, condor_rules))
    leg = view.legs[0]
    quote = valued.get(leg.contract)
    if quote is None:
        return Plan.of(
            Decision(
                "hedge_layer_exit",
                Action.HOLD,
                Structure.HEDGE_LAYER,
                f"Cannot price hedge layer {position.id}: no quote for "
                f"{leg.contract.local_symbol}.",
                {"session": session.isoformat()},
                position_id=position.id,
            )
        )
    return Plan.of(plan_hedge_exit(view, quote, session, hedge_rules, condor_open))


def plan_flatten(position: StructurePosition, quotes: Quotes, why: str) -> Plan:
    """Close everything ``position`` holds, one order per :meth:`closing_orders` entry.

    Each order's limit is its net mid (exit valuation), rounded to the
    product's tick (0.05 for SPX; VIX ticks for VIX); a leg that cannot be
    priced makes the plan a HOLD.
    """
    decisions = []
    for legs, units in position.closing_orders():
        described = ", ".join(f"{leg.ratio:+d} {leg.contract.local_symbol}" for leg in legs)
        limit = closing_limit(legs, quotes)
        if limit is None:
            return Plan.of(
                Decision(
                    FLATTEN_RULE,
                    Action.HOLD,
                    position.kind,
                    f"cannot price the close of {position.id} ({why}): a leg has no quote",
                    {"why": why},
                    position_id=position.id,
                )
            )
        decisions.append(
            Decision(
                FLATTEN_RULE,
                Action.CLOSE,
                position.kind,
                f"close {units} x {described} of {position.id}: {why}",
                {"why": why, "units": units, "limit_price": limit},
                legs=legs,
                quantity=units,
                limit_price=limit,
                position_id=position.id,
            )
        )
    return Plan.steps(FLATTEN_RULE, f"flatten {position.id}: {why}", decisions)


def closing_limit(legs: Sequence[Leg], quotes: Quotes) -> float | None:
    """Net mid of a closing combo (index points, + debit), rounded to its tick.

    ``None`` when a leg cannot be priced (see :func:`exit_quote`).
    """
    total = 0.0
    for leg in legs:
        quote = quotes.get(leg.contract)
        if quote is None:
            return None
        valued = exit_quote(quote, -leg.ratio)
        if not math.isfinite(valued.mid):
            return None
        total += leg.ratio * valued.mid
    if all(leg.contract.symbol == "VIX" for leg in legs):
        return math.copysign(round_vix_price(abs(total)), total)
    rounded = round_to_tick(total, SPX_COMBO_TICK)
    return rounded if rounded != 0 else SPX_COMBO_TICK
