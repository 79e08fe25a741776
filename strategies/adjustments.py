"""Condor adjustments (issue 9, deliverable 5): wing shift and condor roll. Pure code.

:func:`plan_condor_manage` is the whole manage rule of one held condor, in
this order (the first that acts wins):

1. **Settlement hold / uneven flatten** (:func:`strategies.planner.plan_exit`):
   an expired condor waits for its settlement; legs left uneven by partial
   fills are closed leg by leg. Nothing else is safe to do with such a book.
2. **Exits** (:func:`strategies.condor.plan_condor_exit`): DTE floor, stop,
   profit target. They cap risk or bank the gain; an adjustment never
   overrides them (a stopped condor is not rolled: the stop is the loss
   budget, and a roll would carry the loss into a new position).
3. **Condor roll** (:func:`roll_measure`): the loss has outgrown what the
   first two hedge rungs cover. It is the bigger move, and it replaces every
   leg, so a wing shift on the same day would be wasted.
4. **Wing shift** (:func:`plan_wing_shift`): one side is threatened (its
   short's |delta| passed ``shift_delta``) but the book as a whole is not
   in trouble: move that side ``shift_points`` away from the money.
5. Otherwise the exit rule's HOLD, with the adjustment measures added to
   its inputs.

Definitions (dollars; index points x 100 x combo units):

* C, the condor's credit: the opening order's net credit x 100 x units.
* L, its loss: ``(debit to close + adjustments paid - credit) x 100 x
  units``, the debit at exit valuation (:func:`strategies.planner.exit_quote`)
  and the wing shifts' net price per unit (:attr:`StructurePosition.adjusted_price`);
  > 0 when losing. It is measured as the exit rule measures it, so the stop
  closes at ``L >= (stop_multiple - 1) x C`` whether or not a wing moved.
* G, the unrealised gain of the open hedge structures tagged ``rung-1`` and
  ``rung-2`` (the "first two rungs"): their P&L at mid (cash flows plus the
  mark of what they hold), summed and floored at 0 (a losing rung covers
  nothing; it must not make the roll come sooner).
* Roll when ``L - G > roll_trigger x C``, the condor has more than
  ``exit_dte`` days left, and the stop has not hit (the exits come first).

A rule that needs market data it was not given returns a
:class:`MarketRequest` (quotes of named contracts, or a chain); the engine
fetches it and asks again with an :class:`AdjustData`, so chains are
fetched only when a rule needs them. Every decision carries the numbers
looked at in its inputs and a reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from strategies.condor import (
    EXIT_RULE,
    SPX_COMBO_TICK,
    pick_condor_strikes,
    pick_expiry,
    round_to_tick,
)
from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
    Structure,
    natural_price,
)
from strategies.exit_path import SessionPath
from strategies.plan import Plan
from strategies.planner import closing_limit, exit_quote, exit_quotes, plan_exit
from strategies.portfolio import StructurePosition, adjusted_legs, leg_ratios
from strategies.risk import CondorStrikes, condor_max_loss_points
from strategies.rules import AdjustRules, CondorRules, HedgeRules

WING_SHIFT_RULE = "wing_shift"
ROLL_RULE = "condor_roll"
#: Tags of the hedge structures whose gain counts against the roll (the first two rungs).
ROLL_RUNG_TAGS = ("rung-1", "rung-2")

Quotes = Mapping[OptionContract, LegQuote]
Inputs = dict[str, float | int | str | None]


@dataclass(frozen=True, slots=True)
class ChainRequest:
    """An option chain a rule needs: expiries with ``min_dte <= DTE <= max_dte`` (calendar days)."""

    symbol: str
    trading_class: str
    min_dte: int
    max_dte: int


@dataclass(frozen=True, slots=True)
class MarketRequest:
    """Market data a rule needs before it can decide.

    Attributes:
        why: what the data is for (logged).
        contracts: contracts to quote.
        chain: a chain to fetch, with the market context.
    """

    why: str
    contracts: tuple[OptionContract, ...] = ()
    chain: ChainRequest | None = None


@dataclass(frozen=True, slots=True)
class AdjustData:
    """Market data the engine gathered on a rule's :class:`MarketRequest`.

    ``chain`` is ``None`` until fetched; ``chain_error`` / ``quote_error``
    say why a request failed (the rule then holds with that reason).
    """

    ctx: MarketContext | None = None
    chain: tuple[ChainSlice, ...] | None = None
    chain_error: str | None = None
    quotes: Mapping[OptionContract, LegQuote] = field(default_factory=dict)
    quote_error: str | None = None


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True, slots=True)
class RollMeasure:
    """The roll rule's numbers for one condor (dollars unless named).

    Attributes:
        credit: C. loss: L. rung_gain: G (floored at 0). units: combo units held.
        debit: debit to close per unit plus the adjustments paid, index points.
        dte: calendar days left.
    """

    credit: float
    loss: float
    rung_gain: float
    units: int
    debit: float
    dte: int

    def triggers(self, rules: AdjustRules) -> bool:
        """``L - G > roll_trigger x C`` with a positive credit."""
        return self.credit > 0 and self.loss - self.rung_gain > rules.roll_trigger * self.credit

    def inputs(self, rules: AdjustRules) -> Inputs:
        return {
            "roll_credit_dollars": round(self.credit, 2),
            "roll_loss_dollars": round(self.loss, 2),
            "roll_rung_gain_dollars": round(self.rung_gain, 2),
            "roll_trigger": rules.roll_trigger,
            "roll_threshold_dollars": round(rules.roll_trigger * self.credit, 2),
        }


def roll_measure(
    position: StructurePosition,
    quotes: Quotes,
    hedges: Sequence[StructurePosition],
    session: date,
) -> RollMeasure | None:
    """C, L and G of a balanced condor (see the module doc); ``None`` if a leg has no mid.

    ``hedges`` are the open hedge structures; only those tagged
    :data:`ROLL_RUNG_TAGS` count, valued at mid (a missing quote counts 0).
    """
    units = position.held_units
    valued = exit_quotes(position, quotes)
    mids = [
        valued[leg.contract].mid if leg.contract in valued else math.nan for leg in position.legs
    ]
    if not units or not all(math.isfinite(m) for m in mids):
        return None
    debit = -sum(leg.ratio * m for leg, m in zip(position.legs, mids, strict=True))
    debit += position.adjusted_price
    credit_pts = position.adjusted_price - position.open_price
    scale = CONTRACT_MULTIPLIER * units
    gain = sum(h.pnl(quotes) for h in hedges if h.tag in ROLL_RUNG_TAGS and not h.is_flat)
    return RollMeasure(
        credit=credit_pts * scale,
        loss=(debit - credit_pts) * scale,
        rung_gain=max(0.0, gain),
        units=units,
        debit=debit,
        dte=(position.expiry - session).days,
    )


@dataclass(frozen=True, slots=True)
class CondorSide:
    """One side of an iron condor: its short and long leg (ratios -1 and +1)."""

    right: Right
    short: OptionContract
    long: OptionContract

    @property
    def width(self) -> float:
        """Wing width, index points."""
        return abs(self.short.strike - self.long.strike)


def condor_sides(legs: Sequence[Leg]) -> dict[Right, CondorSide] | None:
    """The put and call sides of a plain iron condor, or ``None`` for any other shape.

    Plain: per right exactly one short (-1) and one long (+1) leg, the long
    further from the money (put below, call above), short put below short call.
    """
    sides: dict[Right, CondorSide] = {}
    for right in (Right.PUT, Right.CALL):
        shorts = [leg.contract for leg in legs if leg.contract.right is right and leg.ratio == -1]
        longs = [leg.contract for leg in legs if leg.contract.right is right and leg.ratio == 1]
        if len(shorts) != 1 or len(longs) != 1:
            return None
        short, long_ = shorts[0], longs[0]
        beyond = long_.strike < short.strike if right is Right.PUT else long_.strike > short.strike
        if not beyond:
            return None
        sides[right] = CondorSide(right, short, long_)
    if len(legs) != 4 or sides[Right.PUT].short.strike >= sides[Right.CALL].short.strike:
        return None
    return sides


# --------------------------------------------------------------------------- wing shift


def _moved(contract: OptionContract, points: float) -> OptionContract:
    return replace(contract, strike=contract.strike + points)


def _two_sided(quote: LegQuote | None) -> bool:
    """A finite quote with 0 <= bid <= ask (what a new leg needs to be priced)."""
    return (
        quote is not None
        and math.isfinite(quote.bid)
        and math.isfinite(quote.ask)
        and 0.0 <= quote.bid <= quote.ask
    )


def threatened_side(
    position: StructurePosition, quotes: Quotes, rules: AdjustRules
) -> tuple[CondorSide, float, Inputs] | None:
    """The side whose short's |delta| reached ``rules.shift_delta`` (the larger if both).

    Returns ``(side, |delta|, inputs)`` or ``None``; a short without a
    finite delta is not judged.
    """
    sides = condor_sides(position.legs)
    if sides is None:
        return None
    best: tuple[CondorSide, float] | None = None
    inputs: Inputs = {"shift_delta": rules.shift_delta}
    for right, side in sides.items():
        quote = quotes.get(side.short)
        delta = abs(quote.delta) if quote is not None else math.nan
        inputs[f"short_{'put' if right is Right.PUT else 'call'}_abs_delta"] = (
            round(delta, 4) if math.isfinite(delta) else None
        )
        if (
            math.isfinite(delta)
            and delta >= rules.shift_delta
            and (best is None or delta > best[1])
        ):
            best = (side, delta)
    return (best[0], best[1], inputs) if best else None


def plan_wing_shift(
    position: StructurePosition,
    quotes: Quotes,
    rules: AdjustRules,
    data: AdjustData,
    threat: tuple[CondorSide, float, Inputs],
) -> Decision | MarketRequest:
    """Shift the threatened side ``rules.shift_points`` away from the money (one ADJUST).

    The short and the long of that side move together (put side down, call
    side up), so the wing width is kept: the order buys back the old short,
    sells the old long, sells the new short and buys the new long, as one
    combo of ``held_units`` units, at a limit of the net mid (exit valuation
    for the legs closed, mid for the new ones; + debit) rounded to the 0.05
    SPX combo tick. A HOLD with the reason when the cap of
    ``rules.max_shifts`` is reached, the new legs would not be a plain
    defined-risk iron condor (never a naked short), or a leg cannot be priced.
    """
    side, delta, inputs = threat
    label = "put" if side.right is Right.PUT else "call"
    points = -rules.shift_points if side.right is Right.PUT else rules.shift_points
    new_short, new_long = _moved(side.short, points), _moved(side.long, points)
    units = position.held_units
    inputs = {
        **inputs,
        "side": label,
        "short_abs_delta": round(delta, 4),
        "shift_points": rules.shift_points,
        "shifts_done": position.adjustments,
        "max_shifts": rules.max_shifts,
        "old_short_strike": side.short.strike,
        "old_long_strike": side.long.strike,
        "new_short_strike": new_short.strike,
        "new_long_strike": new_long.strike,
        "wing_width": side.width,
        "units": units,
    }

    def hold(why: str) -> Decision:
        return Decision(
            WING_SHIFT_RULE,
            Action.HOLD,
            Structure.CONDOR,
            f"{label} side of condor {position.id} is threatened (short {side.short.strike:g} at "
            f"|delta| {delta:.2f} >= {rules.shift_delta:g}) but no wing shift: {why}.",
            inputs,
            position_id=position.id,
        )

    if position.adjustments >= rules.max_shifts:
        return hold(f"{position.adjustments} shift(s) done, the cap is {rules.max_shifts}")
    if new_long.strike <= 0:
        return hold(f"the shifted long strike {new_long.strike:g} does not exist")
    legs = tuple(
        Leg(c, r)
        for c, r in leg_ratios(
            [Leg(side.short, 1), Leg(side.long, -1), Leg(new_short, -1), Leg(new_long, 1)]
        ).items()
    )
    after = adjusted_legs(position.legs, legs)
    if condor_sides(after) is None:
        return hold(
            "the shifted legs would not be a defined-risk iron condor "
            "(every short needs its long wing, short put below short call)"
        )
    if not all(c in data.quotes for c in (new_short, new_long)) and data.quote_error is None:
        return MarketRequest(
            f"price a {rules.shift_points:g}-point {label} wing shift of {position.id}",
            contracts=(new_short, new_long),
        )
    if data.quote_error is not None:
        return hold(f"the new strikes could not be quoted: {data.quote_error}")
    net = 0.0
    priced: dict[OptionContract, LegQuote] = {}
    for leg in legs:
        if leg.contract in (new_short, new_long):
            quote = data.quotes.get(leg.contract)
            if not _two_sided(quote):
                return hold(f"no two-sided quote for {leg.contract.local_symbol}")
            assert quote is not None
        else:
            held_quote = quotes.get(leg.contract)
            if held_quote is None:
                return hold(f"no quote for {leg.contract.local_symbol}")
            quote = exit_quote(held_quote, -leg.ratio)
        mid = quote.mid
        if not math.isfinite(mid):
            return hold(f"{leg.contract.local_symbol} cannot be priced")
        priced[leg.contract] = quote
        inputs[f"mid {leg.contract.local_symbol}"] = round(mid, 4)
        net += leg.ratio * mid
    limit = round_to_tick(net, SPX_COMBO_TICK)
    natural = natural_price(legs, priced)
    inputs.update(net_mid=round(net, 4), limit_price=limit, natural_price=natural)
    described = ", ".join(f"{leg.ratio:+d} {leg.contract.local_symbol}" for leg in legs)
    return Decision(
        WING_SHIFT_RULE,
        Action.ADJUST,
        Structure.CONDOR,
        f"Shift the {label} side of condor {position.id} {rules.shift_points:g} points away "
        f"from the money: short {side.short.strike:g} at |delta| {delta:.2f} >= "
        f"{rules.shift_delta:g}; {side.short.strike:g}/{side.long.strike:g} -> "
        f"{new_short.strike:g}/{new_long.strike:g} (width {side.width:g} kept), {units} x "
        f"[{described}] at {limit:+.2f} (+ debit), shift {position.adjustments + 1} of "
        f"{rules.max_shifts}.",
        inputs,
        legs=legs,
        quantity=units,
        limit_price=limit,
        position_id=position.id,
        natural_price=natural,
    )


# --------------------------------------------------------------------------- roll


def roll_chain_request(
    position: StructurePosition, measure: RollMeasure, rules: CondorRules
) -> ChainRequest | None:
    """The chain a roll of ``position`` picks from: later expiries inside the condor window.

    ``None`` when no later expiry can be inside ``[min_dte, max_dte]``.
    """
    low = max(rules.min_dte, measure.dte + 1)
    if low > rules.max_dte:
        return None
    return ChainRequest("SPX", rules.trading_class, low, rules.max_dte)


def plan_roll(
    position: StructurePosition,
    quotes: Quotes,
    measure: RollMeasure,
    ctx: MarketContext,
    chain: Sequence[ChainSlice],
    condor_rules: CondorRules,
    inputs: Inputs,
) -> Plan | str:
    """CLOSE the condor (sized from what it holds), then ROLL into its successor.

    The successor: the eligible expiry later than the condor's (condor
    DTE window, closest to ``target_dte``), strikes by
    :func:`strategies.condor.pick_condor_strikes` (short delta, wing rule),
    the same units (pre-trade gates may size it down), limit = -credit.

    Returns:
        The plan, or the reason no roll can be built.
    """
    puts = [s for s in chain if s.right is Right.PUT]
    calls = [s for s in chain if s.right is Right.CALL]
    picked = pick_expiry(puts, calls, condor_rules, after=position.expiry)
    if picked is None:
        return (
            f"no {condor_rules.trading_class} expiry after {position.expiry} between "
            f"{condor_rules.min_dte} and {condor_rules.max_dte} DTE"
        )
    put_chain, call_chain = picked
    new: Inputs = {"new_expiry": put_chain.expiry.isoformat(), "new_dte": put_chain.dte}
    pick = pick_condor_strikes(ctx.spx, put_chain, call_chain, condor_rules, new)
    inputs.update({f"roll_{k}": v for k, v in new.items()})
    if isinstance(pick, str):
        return pick
    if pick.credit < condor_rules.min_credit:
        return f"the new condor's credit {pick.credit:.2f} is below {condor_rules.min_credit:.2f}"
    s: CondorStrikes = pick.strikes
    if condor_max_loss_points(s, pick.credit) <= 0:
        return f"the new condor's credit {pick.credit:.2f} is not below its wing width"
    closing = tuple(Leg(leg.contract, -leg.ratio) for leg in position.legs)
    close_limit = closing_limit(closing, quotes)
    if close_limit is None:
        return "the close cannot be priced"
    close_natural = natural_price(closing, quotes)
    units = measure.units
    why = (
        f"loss ${measure.loss:,.0f} less rung gain ${measure.rung_gain:,.0f} exceeds "
        f"{inputs['roll_trigger']} x credit ${measure.credit:,.0f}"
    )
    close = Decision(
        ROLL_RULE,
        Action.CLOSE,
        Structure.CONDOR,
        f"Close {units} condor(s) {position.id} to roll it: {why}; debit incl. adjustments "
        f"{measure.debit:.2f}, limit {close_limit:.2f}.",
        {**inputs, "limit_price": close_limit, "natural_price": close_natural, "units": units},
        legs=closing,
        quantity=units,
        limit_price=close_limit,
        position_id=position.id,
        natural_price=close_natural,
    )
    roll = Decision(
        ROLL_RULE,
        Action.ROLL,
        Structure.CONDOR,
        f"Roll condor {position.id} to {put_chain.expiry.isoformat()} ({put_chain.dte} DTE): "
        f"{units} x {s.long_put:g}/{s.short_put:g}P {s.short_call:g}/{s.long_call:g}C for a "
        f"{pick.credit:.2f} credit (short deltas {pick.short_put_delta:+.3f}/"
        f"{pick.short_call_delta:+.3f}); {why}.",
        {**inputs, "limit_price": -pick.credit, "units": units},
        legs=pick.legs,
        quantity=units,
        limit_price=-pick.credit,
        position_id=position.id,
    )
    return Plan.steps(ROLL_RULE, f"roll condor {position.id}: {why}", [close, roll])


# --------------------------------------------------------------------------- the manage rule


def plan_condor_manage(
    position: StructurePosition,
    quotes: Quotes,
    session: date,
    condor_rules: CondorRules,
    hedge_rules: HedgeRules,
    rules: AdjustRules,
    hedges: Sequence[StructurePosition],
    data: AdjustData | None = None,
    path: Sequence[SessionPath] = (),
) -> Plan | MarketRequest:
    """The manage rule of one held condor, in the order of the module doc.

    Args:
        position: the condor.
        quotes: quotes of every held structure's legs (the manage job's).
        session: the session date.
        hedges: the open hedge structures (for the roll's G).
        data: what the engine gathered on an earlier :class:`MarketRequest`.
        path: the market since the last check (:mod:`strategies.exit_path`),
            for the stop and target.

    Returns:
        A plan, or the market data needed first.

    Raises:
        ValueError: from the rules, for a structure they cannot read.
    """
    data = data or AdjustData()
    exit_plan = plan_exit(position, quotes, session, condor_rules, hedge_rules, True, path=path)
    first = exit_plan.decisions[0] if exit_plan.decisions else None
    if (
        first is None
        or exit_plan.trades
        or first.rule != EXIT_RULE
        or first.action is not Action.HOLD
        or "debit" not in first.inputs  # the exit rule could not price it
        or not (rules.roll_enabled or rules.wing_shift_enabled)
    ):
        return exit_plan
    extra: Inputs = {}
    held_back: list[str] = []

    measure = roll_measure(position, quotes, hedges, session)
    if rules.roll_enabled and measure is not None:
        extra.update(measure.inputs(rules))
        if measure.triggers(rules) and measure.dte > condor_rules.exit_dte:
            request = roll_chain_request(position, measure, condor_rules)
            if request is None:
                held_back.append(
                    f"roll: no expiry after {measure.dte} DTE within max_dte {condor_rules.max_dte}"
                )
            elif data.chain is None and data.chain_error is None:
                return MarketRequest(f"roll condor {position.id}", chain=request)
            elif data.chain is None or data.chain_error is not None or data.ctx is None:
                held_back.append(f"roll: no chain ({data.chain_error or 'no market context'})")
            else:
                inputs = {**first.inputs, **extra}
                rolled = plan_roll(
                    position, quotes, measure, data.ctx, data.chain, condor_rules, inputs
                )
                if isinstance(rolled, Plan):
                    return rolled
                held_back.append(f"roll: {rolled}")

    if rules.wing_shift_enabled:
        threat = threatened_side(position, quotes, rules)
        if threat is not None:
            shifted = plan_wing_shift(position, quotes, rules, data, threat)
            if isinstance(shifted, MarketRequest):
                return shifted
            if shifted.action is Action.ADJUST or not held_back:
                return Plan.of(replace(shifted, inputs={**first.inputs, **extra, **shifted.inputs}))
            held_back.append(f"wing shift: {shifted.reason}")

    if held_back:
        return Plan.of(
            Decision(
                ROLL_RULE if held_back[0].startswith("roll") else WING_SHIFT_RULE,
                Action.HOLD,
                Structure.CONDOR,
                f"Condor {position.id} needs an adjustment but none can be made: "
                + "; ".join(held_back),
                {**first.inputs, **extra},
                position_id=position.id,
            )
        )
    return Plan.of(replace(first, inputs={**first.inputs, **extra}))
