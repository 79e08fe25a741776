"""The planner: (portfolio, market inputs, rules) -> plans. Pure code.

The engine gathers what a job needs (market context, chains, quotes) and asks
the planner what to do; the planner decides which rule applies to which
structure and sizes every close from what the portfolio holds now.

Rules of this module (the individual rules live in :mod:`strategies.condor`
and the :mod:`strategies.hedge` package):

* Exit valuation: a leg with no bid is valued at a bid of 0 (a worthless far
  wing is no reason to hold); a missing or negative bid counts as 0, and a
  long leg with no ask at all is worth its bid (0). A short leg with no ask
  cannot be priced and the rule holds.
* An expired structure (earliest expiry before the session) is never traded:
  it waits for its settlement.
* A structure whose legs are no longer in whole combo units (partial leg
  fills) is flattened leg by leg, each order for exactly what is held.
* Entry limits (``max_open_condors``, the ladder's ``rungs``) count
  structures that hold something and those whose opening order may still fill.
* The hedge's exposure (:func:`hedge_exposure`) counts condors held in whole
  units and every hedge held or pending; a hedge leg without a quote is valued
  from the VIX chain when one was fetched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date

import numpy as np

from strategies.condor import SPX_COMBO_TICK, plan_condor_entry, plan_condor_exit, round_to_tick
from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    FloatArray,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Structure,
    natural_price,
)
from strategies.exit_path import SessionPath
from strategies.hedge import (
    EXIT_RULE,
    Exposure,
    HeldHedge,
    condor_loss_of,
    evaluate_triggers,
    hedge_vix_dollars,
    plan_hedge_manage,
    plan_ladder_entry,
    round_vix_price,
    rung_slot,
)
from strategies.plan import Plan
from strategies.portfolio import Portfolio, StructurePosition
from strategies.rules import CondorRules, HedgeRules
from strategies.signals import HedgeSignals

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


def chain_quotes(calls: Sequence[ChainSlice]) -> dict[OptionContract, LegQuote]:
    """Every strike of ``calls`` as a :class:`LegQuote` (to value a hedge bought this job)."""
    out: dict[OptionContract, LegQuote] = {}
    for chain in calls:
        # tolist() gives the same Python floats as float(array[i]), in one pass per array
        columns = zip(
            chain.strikes.tolist(),
            chain.bid.tolist(),
            chain.ask.tolist(),
            chain.iv.tolist(),
            chain.delta.tolist(),
            chain.gamma.tolist(),
            chain.vega.tolist(),
            chain.theta.tolist(),
            strict=True,
        )
        symbol, trading_class, expiry, right = (
            chain.symbol,
            chain.trading_class,
            chain.expiry,
            chain.right,
        )
        for strike, bid, ask, iv, delta, gamma, vega, theta in columns:
            contract = OptionContract(symbol, trading_class, expiry, strike, right)
            out[contract] = LegQuote(contract, bid, ask, iv, delta, gamma, vega, theta)
    return out


class ChainQuotes(Mapping[OptionContract, LegQuote]):
    """``{**chain_quotes(calls), **quotes}`` without building a quote per chain strike.

    A job's VIX chain holds hundreds of strikes and the sizing reads a few:
    ``quotes`` first, then the last chain slice listing the contract, whose
    :class:`LegQuote` is built on first use with the numbers
    :func:`chain_quotes` gives it. Iterating builds the whole mapping, in its order.
    """

    def __init__(self, calls: Sequence[ChainSlice], quotes: Quotes) -> None:
        self._calls = calls
        self._quotes = quotes
        self._built: dict[OptionContract, LegQuote] = {}
        self._strikes: dict[int, dict[float, int]] = {}
        self._whole: dict[OptionContract, LegQuote] | None = None

    def __getitem__(self, contract: OptionContract) -> LegQuote:
        if contract in self._quotes:
            return self._quotes[contract]
        built = self._built.get(contract)
        if built is not None:
            return built
        if contract.multiplier == CONTRACT_MULTIPLIER:
            for n in range(len(self._calls) - 1, -1, -1):  # the last listing wins, as in a dict
                chain = self._calls[n]
                if (
                    chain.expiry != contract.expiry
                    or chain.right is not contract.right
                    or chain.symbol != contract.symbol
                    or chain.trading_class != contract.trading_class
                ):
                    continue
                index = self._strikes.get(n)
                if index is None:
                    index = self._strikes[n] = {k: i for i, k in enumerate(chain.strikes.tolist())}
                i = index.get(contract.strike)
                if i is None:
                    continue
                quote = LegQuote(
                    OptionContract(
                        chain.symbol, chain.trading_class, chain.expiry, float(chain.strikes[i]),
                        chain.right,
                    ),
                    *(float(column[i]) for column in _chain_columns(chain)),
                )  # fmt: skip
                self._built[contract] = quote
                return quote
        raise KeyError(contract)

    def _all(self) -> dict[OptionContract, LegQuote]:
        if self._whole is None:
            self._whole = {**chain_quotes(self._calls), **self._quotes}
        return self._whole

    def __iter__(self) -> Iterator[OptionContract]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _chain_columns(chain: ChainSlice) -> tuple[FloatArray, ...]:
    """The quote columns of a chain slice in :class:`LegQuote`'s field order after the contract."""
    return (chain.bid, chain.ask, chain.iv, chain.delta, chain.gamma, chain.vega, chain.theta)


def hedge_exposure(
    portfolio: Portfolio,
    quotes: Quotes,
    spx: float,
    session: date,
    rules: HedgeRules,
    calls: Sequence[ChainSlice] = (),
) -> tuple[Exposure, list[HeldHedge]]:
    """The book's VIX exposure and the hedges held (see :mod:`strategies.hedge.sizing`).

    Condors count when held in whole units; hedges count when held or pending
    (a pending opening order has no gain yet but holds its rung slot).

    Raises:
        ValueError: if a condor leg has no quote.
    """
    known = ChainQuotes(calls, quotes) if calls else quotes
    condor_loss = sum(
        condor_loss_of(p.view(), known, spx, rules)
        for p in portfolio.open_positions(Structure.CONDOR)
        if p.held_units > 0 and p.is_balanced
    )
    held = []
    for p in portfolio.unsettled():
        if p.kind is not Structure.HEDGE_LAYER:
            continue
        gain = (
            hedge_vix_dollars(p.view(), known, session, rules)
            if p.held_units > 0 and p.is_balanced
            else 0.0
        )
        held.append(HeldHedge(p.id, p.tag, p.expiry, gain))
    exposure = Exposure(condor_loss, sum(h.gain for h in held), rules.share)
    return exposure, held


def plan_hedge(
    ctx: MarketContext,
    vix_calls: Sequence[ChainSlice],
    portfolio: Portfolio,
    quotes: Quotes,
    rules: HedgeRules,
    signals: HedgeSignals | None = None,
    pre_event: bool = False,
) -> Plan:
    """Plan the ladder's next rung; see :func:`strategies.hedge.plan_ladder_entry`."""
    exposure, held = hedge_exposure(portfolio, quotes, ctx.spx, ctx.session, rules, vix_calls)
    triggers = evaluate_triggers(signals, rules)
    signal_inputs: dict[str, float | int | str | None] = dict(_signal_inputs(signals))
    return Plan.of(
        plan_ladder_entry(ctx, vix_calls, held, exposure, triggers, rules, signal_inputs, pre_event)
    )


def ladder_wants_chain(
    portfolio: Portfolio, rules: HedgeRules, signals: HedgeSignals | None, pre_event: bool
) -> bool:
    """Whether a hedge check may open a rung (so the VIX chain is worth fetching)."""
    if not rules.enabled:
        return False
    slots = {rung_slot(p.tag) for p in portfolio.unsettled() if p.kind is Structure.HEDGE_LAYER}
    free = [s for s in range(1, rules.rungs + 1) if s not in slots]
    if not free:
        return False
    if free[0] == 1:
        return True
    return (pre_event and rules.pre_event_rung) or (
        rules.triggers_enabled and evaluate_triggers(signals, rules).passed
    )


def sessions_without_condor(portfolio: Portfolio, since: date, session: date) -> int:
    """Weekdays from the last condor's close (or ``since``, if later) to ``session``.

    0 while a condor is held. Counted with :func:`numpy.busday_count`
    (Monday-Friday; exchange holidays are not subtracted, so a grace spanning
    a holiday ends a session early).
    """
    if portfolio.open_positions(Structure.CONDOR):
        return 0
    last = portfolio.last_close(Structure.CONDOR)
    start = since if last is None else max(since, last)
    return int(np.busday_count(start, session)) if session > start else 0


def hedge_manage_wants_chain(
    portfolio: Portfolio, quotes: Quotes, session: date, rules: HedgeRules
) -> bool:
    """Whether a manage job may roll or recycle a hedge (so the VIX chain is worth fetching).

    True when a rung is below ``roll_dte`` (roll on) or a hedge is at its
    harvest level (recycle on), judged at the quotes' mids.
    """
    if not rules.enabled:
        return False
    for p in portfolio.open_positions(Structure.HEDGE_LAYER):
        if p.expiry < session or not p.is_balanced or p.held_units <= 0:
            continue
        dte = (p.expiry - session).days
        if dte <= rules.close_dte:
            continue
        if rules.roll_enabled and rung_slot(p.tag) is not None and dte < rules.roll_dte:
            return True
        if rules.harvest_enabled and rules.recycle_enabled and p.open_price > 0:
            mids = [
                quotes[leg.contract].mid if leg.contract in quotes else math.nan for leg in p.legs
            ]
            value = sum(leg.ratio * m for leg, m in zip(p.legs, mids, strict=True))
            if math.isfinite(value) and value / p.open_price - 1.0 >= rules.harvest_gain:
                return True
    return False


def plan_exit(
    position: StructurePosition,
    quotes: Quotes,
    session: date,
    condor_rules: CondorRules,
    hedge_rules: HedgeRules,
    condor_open: bool,
    *,
    portfolio: Portfolio | None = None,
    spx: float = math.nan,
    vix_calls: Sequence[ChainSlice] = (),
    signals: HedgeSignals | None = None,
    path: Sequence[SessionPath] = (),
) -> Plan:
    """Plan the exit (or hold) of one held structure, sized from what it holds.

    Condors: :func:`strategies.condor.plan_condor_exit` (with ``path``, the
    market seen since the last check: :mod:`strategies.exit_path`). Hedges:
    :func:`strategies.hedge.plan_hedge_manage`, with the exposure of
    ``portfolio`` (without one, the hedge alone: no condor loss, so no roll
    successor and no recycle), ``spx`` for the condors' delta term and
    ``vix_calls`` to roll or recycle into.

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
        return Plan.of(plan_condor_exit(view, valued, session, condor_rules, path))
    if portfolio is None:
        gain = hedge_vix_dollars(view, {**chain_quotes(vix_calls), **quotes}, session, hedge_rules)
        held = [HeldHedge(position.id, position.tag, position.expiry, gain)]
        exposure = Exposure(0.0, gain, hedge_rules.share)
        idle = 0 if condor_open else int(np.busday_count(position.opened_session, session))
    else:
        exposure, held = hedge_exposure(portfolio, quotes, spx, session, hedge_rules, vix_calls)
        idle = sessions_without_condor(portfolio, position.opened_session, session)
    missing = [leg.contract.local_symbol for leg in view.legs if leg.contract not in valued]
    if missing:
        return Plan.of(
            Decision(
                EXIT_RULE,
                Action.HOLD,
                Structure.HEDGE_LAYER,
                f"Cannot price hedge {position.id}: no quote for {', '.join(missing)}.",
                {"session": session.isoformat()},
                position_id=position.id,
            )
        )
    return plan_hedge_manage(
        view,
        position.tag,
        valued,
        session,
        exposure,
        held,
        hedge_rules,
        condor_open,
        idle,
        vix_calls,
        dict(_signal_inputs(signals)),
    )


#: The last signals' inputs and the signals they are of: every hedge decision of a
#: session carries them, and the engine hands the same (frozen) signals to its jobs.
_last_signals: tuple[HedgeSignals | None, Mapping[str, float | str]] = (None, {})


def _signal_inputs(signals: HedgeSignals | None) -> Mapping[str, float | str]:
    """``signals.as_inputs()`` (empty without signals); read it, copy it to change it."""
    global _last_signals
    last = _last_signals
    if last[0] is signals:
        return last[1]
    inputs = signals.as_inputs() if signals is not None else {}
    _last_signals = (signals, inputs)
    return inputs


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
        natural = natural_price(legs, quotes)
        decisions.append(
            Decision(
                FLATTEN_RULE,
                Action.CLOSE,
                position.kind,
                f"close {units} x {described} of {position.id}: {why}",
                {"why": why, "units": units, "limit_price": limit, "natural_price": natural},
                legs=legs,
                quantity=units,
                limit_price=limit,
                position_id=position.id,
                natural_price=natural,
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
