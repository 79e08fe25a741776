"""What happens to a held hedge: settlement exit, no-condor rule, harvest and recycle, roll.

Rules, in the order they are checked (the first that applies makes the plan):

1. **Settlement exit** (always on): DTE <= ``close_dte`` closes the hedge
   rather than carrying it into the VIX special opening quotation, whose
   settlement can differ a lot from the last traded future.
2. **No condor** (``when_no_condor``): ``"close"`` closes every hedge once no
   condor has been open for ``no_condor_grace_sessions`` sessions (the grace
   carries the ladder over the usual one-session gap between a condor's exit
   and the next entry instead of paying the spread twice); ``"hold"`` keeps
   them. Default ``"close"``: a hedge with nothing to hedge is a naked
   long-vol bet that decays, and the replay of the one-layer hedge showed
   spike gains given back by layers left on after their condor stopped.
   A grace of 0 closes them with the condor (in replay also right after a
   range stop or target: :func:`daemon.manage.path_exits`).
3. **Harvest** (``harvest_enabled``, rungs and untagged layers): a hedge
   whose mid value is at least ``(1 + harvest_gain)`` times its cost is
   closed. **Recycle** (``recycle_enabled``, condor open): in the same plan,
   after the close, ``recycle`` calls (``recycle_min_dte``-``recycle_max_dte``,
   8-12% over their future) sized to restore the target without the
   harvested rung (``target - other hedges' gain``), never costing more than
   ``recycle_pct`` of the realised gain (estimated at the close's mid).
4. **Roll** (``roll_enabled``, ``rung-N`` tags, condor open): a rung with
   fewer than ``roll_dte`` days left is closed and, in the same plan, a ROLL
   opens its successor (same tag, parent = the old rung) on a later expiry in
   ``[min_dte, max_dte]`` that no other rung holds, sized to the rung's share
   of the target without it; only the close when the target is already met.
5. Otherwise HOLD.

Closing a hedge sells it at its mid: the closing combo's net price is
``-value`` (a credit) with ``value = sum(ratio * mid)`` per unit, rounded to
the VIX tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    LegQuote,
    OptionContract,
    Structure,
    natural_price,
)
from strategies.hedge.common import (
    RECYCLE_TAG,
    Inputs,
    pick_call,
    round_vix_price,
    rung_slot,
    usd,
)
from strategies.hedge.ladder import HeldHedge, buy_hedge, rung_slots
from strategies.hedge.sizing import Exposure
from strategies.plan import Plan
from strategies.positions import OpenStructure
from strategies.rules import HedgeRules

EXIT_RULE = "hedge_exit"
NO_CONDOR_RULE = "hedge_no_condor"
HARVEST_RULE = "hedge_harvest"
ROLL_RULE = "hedge_roll"

#: Builds the CLOSE of the hedge being managed: ``close(rule, why)``.
Closer = Callable[[str, str], Decision]


def plan_hedge_manage(
    hedge: OpenStructure,
    tag: str | None,
    quotes: dict[OptionContract, LegQuote],
    session: date,
    exposure: Exposure,
    held: Sequence[HeldHedge],
    rules: HedgeRules,
    condor_open: bool,
    sessions_without_condor: int,
    calls: Sequence[ChainSlice],
    signal_inputs: Inputs,
) -> Plan:
    """Plan what to do with one held hedge (module rules, in order).

    Args:
        hedge: the hedge at the units it holds.
        tag: its ladder tag.
        quotes: exit-valued quotes of its legs.
        session: the decision session.
        exposure: the book's VIX exposure (hedge gain includes this hedge).
        held: every hedge held, this one included.
        rules: the hedge rules.
        condor_open: whether a condor is held.
        sessions_without_condor: sessions since the last condor closed (0
            while one is open).
        calls: VIX call slices for a roll or recycle (may be empty: then no
            successor is bought and the reason says so).
        signal_inputs: ``HedgeSignals.as_inputs()`` (empty without signals).

    Raises:
        ValueError: if ``hedge`` is not a hedge layer.
    """
    if hedge.structure is not Structure.HEDGE_LAYER:
        raise ValueError(f"position {hedge.id!r} is not a hedge layer")
    dte = hedge.dte(session)
    this = next((h for h in held if h.id == hedge.id), None)
    this_gain = this.gain if this is not None and math.isfinite(this.gain) else 0.0
    inputs: Inputs = {
        "session": session.isoformat(),
        "tag": tag,
        "opened_session": hedge.opened_session.isoformat(),
        "expiry": hedge.expiry.isoformat(),
        "dte": dte,
        "close_dte": rules.close_dte,
        "roll_dte": rules.roll_dte,
        "quantity": hedge.quantity,
        "open_price": hedge.open_price,
        "condor_open": int(condor_open),
        "sessions_without_condor": sessions_without_condor,
        "gain_per_vix_point": this_gain,
        **exposure.as_inputs(),
        **signal_inputs,
    }
    name = f"{tag or 'hedge'} {hedge.id}"
    mids = [quotes[leg.contract].mid if leg.contract in quotes else math.nan for leg in hedge.legs]
    value = sum(leg.ratio * m for leg, m in zip(hedge.legs, mids, strict=True))
    inputs["value"] = value
    if not math.isfinite(value):
        return Plan.of(
            Decision(
                EXIT_RULE, Action.HOLD, Structure.HEDGE_LAYER,
                f"Cannot price {name}: a leg has no usable quote.", inputs, position_id=hedge.id,
            )
        )  # fmt: skip
    pnl = (value - hedge.open_price) * CONTRACT_MULTIPLIER * hedge.quantity
    gain_pct = value / hedge.open_price - 1.0 if hedge.open_price > 0 else math.nan
    inputs.update(pnl_dollars=pnl, gain_pct=gain_pct * 100.0)
    state = f"mid {value:.2f} vs paid {hedge.open_price:.2f}, P&L {usd(pnl)}"

    def close(rule: str, why: str) -> Decision:
        limit = -round_vix_price(max(value, 0.0))
        legs = hedge.closing_legs()
        natural = natural_price(legs, quotes)
        return Decision(
            rule, Action.CLOSE, Structure.HEDGE_LAYER, f"Close {name}: {why} ({state}).",
            {**inputs, "limit_price": limit, "natural_price": natural}, legs=legs,
            quantity=hedge.quantity, limit_price=limit, position_id=hedge.id, tag=tag,
            natural_price=natural,
        )  # fmt: skip

    if dte <= rules.close_dte:
        return Plan.of(close(EXIT_RULE, f"{dte} DTE <= {rules.close_dte}, before VIX settlement"))
    if (
        not condor_open
        and rules.when_no_condor == "close"
        and sessions_without_condor >= rules.no_condor_grace_sessions
    ):
        return Plan.of(
            close(
                NO_CONDOR_RULE,
                f"no condor open for {sessions_without_condor} session(s) (grace "
                f"{rules.no_condor_grace_sessions}, when_no_condor = close)",
            )
        )
    slot = rung_slot(tag)
    if (
        rules.harvest_enabled
        and tag != RECYCLE_TAG
        and math.isfinite(gain_pct)
        and gain_pct >= rules.harvest_gain
    ):
        return _harvest(close, hedge, value, exposure, held, rules, condor_open, calls, inputs)
    if rules.roll_enabled and slot is not None and dte < rules.roll_dte and condor_open:
        return _roll(close, hedge, tag or "", exposure, held, rules, calls, inputs, this_gain)
    return Plan.of(
        Decision(
            EXIT_RULE, Action.HOLD, Structure.HEDGE_LAYER,
            f"Hold {name} ({hedge.quantity} units): {dte} DTE, {state}.", inputs,
            position_id=hedge.id,
        )
    )  # fmt: skip


def _harvest(
    close: Closer,
    hedge: OpenStructure,
    value: float,
    exposure: Exposure,
    held: Sequence[HeldHedge],
    rules: HedgeRules,
    condor_open: bool,
    calls: Sequence[ChainSlice],
    inputs: Inputs,
) -> Plan:
    gain = (value - hedge.open_price) * CONTRACT_MULTIPLIER * hedge.quantity
    this = next((h for h in held if h.id == hedge.id), None)
    this_gain = this.gain if this is not None and math.isfinite(this.gain) else 0.0
    harvested = close(
        HARVEST_RULE,
        f"up {value / hedge.open_price - 1.0:.0%} >= the {rules.harvest_gain:.0%} harvest gain",
    )
    budget = min(rules.recycle_pct * gain, rules.max_debit_dollars)
    gap = exposure.gap(1.0, without=this_gain)
    recycle_inputs: Inputs = {
        **inputs,
        "realised_gain_dollars": gain,
        "recycle_pct": rules.recycle_pct,
        "recycle_budget_dollars": budget,
    }
    why_not = None
    if not rules.recycle_enabled or not rules.enabled:
        why_not = "recycling is switched off"
    elif not condor_open:
        why_not = "no condor is open"
    elif gap <= 0:
        why_not = (
            f"the other hedges gain ${exposure.hedge_gain - this_gain:,.0f} per VIX point, "
            f"the ${exposure.target:,.0f} target is met"
        )
    if why_not is None:
        pick = pick_call(
            calls, rules.recycle_min_dte, rules.recycle_max_dte, rules.otm_min, rules.otm_max
        )
        if pick is None:
            why_not = (
                f"no quoted VIX call {rules.recycle_min_dte}-{rules.recycle_max_dte} DTE in or "
                "near the band"
            )
    if why_not is not None:
        return Plan.steps(HARVEST_RULE, f"{harvested.reason} No recycle: {why_not}.", [harvested])
    assert pick is not None
    recycle = buy_hedge(
        HARVEST_RULE,
        RECYCLE_TAG,
        pick,
        gap,
        budget,
        rules,
        recycle_inputs,
        f"Recycle {rules.recycle_pct:.0%} of the {usd(gain)} harvested from {hedge.id}",
    )
    if not recycle.places_order:
        return Plan.steps(HARVEST_RULE, f"{harvested.reason} {recycle.reason}", [harvested])
    return Plan.steps(HARVEST_RULE, f"{harvested.reason} {recycle.reason}", [harvested, recycle])


def _roll(
    close: Closer,
    hedge: OpenStructure,
    tag: str,
    exposure: Exposure,
    held: Sequence[HeldHedge],
    rules: HedgeRules,
    calls: Sequence[ChainSlice],
    inputs: Inputs,
    this_gain: float,
) -> Plan:
    weight = rules.rung_weight(len(rung_slots(held)))
    gap = exposure.gap(weight, without=this_gain)
    closing = close(ROLL_RULE, f"{inputs['dte']} DTE < the {rules.roll_dte}-day rung floor")
    if gap <= 0:
        return Plan.steps(
            ROLL_RULE,
            f"{closing.reason} No successor: the other hedges gain "
            f"${exposure.hedge_gain - this_gain:,.0f} per VIX point, at least {weight:.0%} of the "
            f"${exposure.target:,.0f} target.",
            [closing],
        )
    avoid = {h.expiry for h in held if rung_slot(h.tag) is not None and h.id != hedge.id}
    pick = pick_call(
        calls, rules.min_dte, rules.max_dte, rules.otm_min, rules.otm_max, avoid, hedge.expiry
    )
    if pick is None:
        return Plan.of(
            Decision(
                ROLL_RULE, Action.HOLD, Structure.HEDGE_LAYER,
                f"Cannot roll {tag} {hedge.id}: no later free VIX call expiry in "
                f"{rules.min_dte}-{rules.max_dte} DTE with a strike in or near the band; held "
                "until its exit.", inputs, position_id=hedge.id,
            )
        )  # fmt: skip
    successor = buy_hedge(
        ROLL_RULE,
        tag,
        pick,
        gap,
        rules.max_debit_dollars,
        rules,
        {**inputs, "weight": weight},
        f"Roll {tag} {hedge.id} forward",
        action=Action.ROLL,
        position_id=hedge.id,
        spread=rules.structure == "call_spread",
    )
    if not successor.places_order:
        return Plan.steps(ROLL_RULE, f"{closing.reason} {successor.reason}", [closing])
    return Plan.steps(ROLL_RULE, f"{closing.reason} {successor.reason}", [closing, successor])
