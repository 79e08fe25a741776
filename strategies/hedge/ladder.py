"""The ladder: which rung to open, where, and how many contracts.

A rung is a long VIX call (or call spread) 8-12% above its *own* expiry's
future, 30-90 DTE, each rung on its own expiry so the ladder is time-shifted
(rungs age and roll at different times). Rung-1, the base rung, opens with
the condor; rung-2..N open only when the expansion triggers pass
(:mod:`strategies.hedge.triggers`) or, if ``pre_event_rung`` is on, on a
pre-event hedge check (FOMC/CPI/PPI). With ``n`` rungs held after the open,
the ladder may fill ``target * rules.rung_weight(n)`` (see
:mod:`strategies.hedge.sizing`), so the full ladder fills the target and
never more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    Leg,
    MarketContext,
    Structure,
)
from strategies.hedge.common import (
    EPS,
    CallPick,
    Inputs,
    pick_call,
    round_vix_price,
    rung_slot,
    rung_tag,
    spread_short_index,
)
from strategies.hedge.sizing import Exposure, slice_vix_dollars
from strategies.hedge.triggers import TriggerCheck
from strategies.rules import HedgeRules

LADDER_RULE = "hedge_ladder"


@dataclass(frozen=True, slots=True)
class HeldHedge:
    """A hedge structure held (or whose opening order may still fill).

    Attributes:
        id: structure id.
        tag: ``"rung-N"``, ``"recycle"`` or None (an untagged layer).
        expiry: earliest leg expiry.
        gain: dollars per spot-VIX point at current quotes (NaN if unknown).
    """

    id: str
    tag: str | None
    expiry: date
    gain: float


def rung_slots(held: Sequence[HeldHedge]) -> set[int]:
    """Slots of the rungs held."""
    return {s for h in held if (s := rung_slot(h.tag)) is not None}


def buy_hedge(
    rule: str,
    tag: str,
    pick: CallPick,
    gap: float,
    budget: float,
    rules: HedgeRules,
    inputs: Inputs,
    why: str,
    action: Action = Action.OPEN,
    position_id: str | None = None,
    spread: bool = False,
) -> Decision:
    """Size and build the order for a hedge at ``pick``; a SKIP when it comes to 0.

    ``contracts = ceil(gap / per_unit)``, capped at ``floor(budget / (ask *
    100))`` (the net ask: long ask minus short bid for a spread), so it never
    costs more than ``budget`` even filled at the ask. ``per_unit`` is the
    unit's gain per spot-VIX point (:func:`slice_vix_dollars`, long minus
    short). Limit: the unit's mid rounded to the VIX tick.
    """
    chain, i = pick.chain, pick.index
    forward = chain.forward
    j = spread_short_index(chain, i, rules.spread_short_otm) if spread else None
    long_gain = slice_vix_dollars(chain, i, rules)
    short_gain = slice_vix_dollars(chain, j, rules) if j is not None else 0.0
    per_unit = long_gain - short_gain
    ask = float(chain.ask[i]) - (float(chain.bid[j]) if j is not None else 0.0)
    mid = float(chain.mid[i]) - (float(chain.mid[j]) if j is not None else 0.0)
    strike = float(chain.strikes[i])
    inputs = {
        **inputs,
        "expiry": chain.expiry.isoformat(),
        "dte": chain.dte,
        "t_years": chain.t_years,
        "future": forward,
        "band_low": forward * (1.0 + rules.otm_min),
        "band_high": forward * (1.0 + rules.otm_max),
        "strike": strike,
        "short_strike": float(chain.strikes[j]) if j is not None else None,
        "otm_pct": (strike / forward - 1.0) * 100.0,
        "iv": float(chain.iv[i]),
        "delta": float(chain.delta[i]),
        "vega": float(chain.vega[i]),
        "ask": ask,
        "mid": mid,
        "strike_in_band": int(pick.in_band),
        "per_contract_dollars_per_vix_point": per_unit,
        "gap_dollars_per_vix_point": gap,
        "budget_dollars": budget,
        "tag": tag,
    }
    structure = Structure.HEDGE_LAYER
    if spread and j is None:
        return Decision(
            rule, Action.SKIP, structure, f"{why}; no VIX call above {strike:g} for the "
            "spread's short leg.", inputs, tag=tag,
        )  # fmt: skip
    if not (per_unit > 0 and ask > 0 and math.isfinite(mid)):
        return Decision(
            rule, Action.SKIP, structure, f"{why}; the VIX {strike:g} call has no usable "
            f"sensitivity or price (gain ${per_unit:.2f}/pt, ask {ask:.2f}).", inputs, tag=tag,
        )  # fmt: skip
    wanted = math.ceil(gap / per_unit - EPS)
    cap = math.floor(budget / (ask * CONTRACT_MULTIPLIER) + EPS)
    contracts = min(wanted, cap)
    inputs.update(contracts_wanted=wanted, contracts_cap=cap, contracts=contracts)
    if contracts <= 0:
        return Decision(
            rule, Action.SKIP, structure, f"{why}; 0 contracts: {wanted} wanted, the "
            f"${budget:,.0f} budget buys {cap} at {ask:.2f}.", inputs, tag=tag,
        )  # fmt: skip
    limit = round_vix_price(mid)
    inputs["limit_price"] = limit
    capped = f" (capped from {wanted} by the ${budget:,.0f} budget)" if contracts < wanted else ""
    what = (
        f"{strike:g}/{float(chain.strikes[j]):g} call spreads"
        if j is not None
        else (f"{strike:g} calls")
    )
    legs = (Leg(chain.contract(i), 1),) + ((Leg(chain.contract(j), -1),) if j is not None else ())
    reason = (
        f"{why}: buy {contracts} {tag} VIX {chain.expiry.isoformat()} {what}{capped} "
        f"({chain.dte} DTE, {(strike / forward - 1.0) * 100:.1f}% over the {forward:.2f} "
        f"future{'' if pick.in_band else ', nearest listed strike to the band'}) at "
        f"{limit:.2f}: each gains ${per_unit:,.2f} per spot-VIX point against a gap of "
        f"${gap:,.0f}."
    )
    return Decision(
        rule, action, structure, reason, inputs, legs=legs, quantity=contracts,
        limit_price=limit, position_id=position_id, tag=tag,
    )  # fmt: skip


def plan_ladder_entry(
    ctx: MarketContext,
    calls: Sequence[ChainSlice],
    held: Sequence[HeldHedge],
    exposure: Exposure,
    triggers: TriggerCheck,
    rules: HedgeRules,
    signal_inputs: Inputs,
    pre_event: bool = False,
) -> Decision:
    """Decide whether to open a rung now (one OPEN) or why not (SKIP).

    1. SKIP when the hedge is off, or the condors are not short VIX.
    2. The slot: rung-1 when it is not held (the base rung, with the condor);
       else the lowest free slot up to ``rules.rungs`` when the triggers pass
       (``triggers_enabled``) or on a pre-event check (``pre_event_rung``);
       else SKIP naming the triggers.
    3. Gap = ``target * rung_weight(rungs held + 1) - held gain``; SKIP when
       the hedge held already covers it.
    4. The call: :func:`pick_call` in ``[min_dte, max_dte]`` off the expiries
       other rungs hold; size and price: :func:`buy_hedge` with
       ``max_debit_dollars``.
    """
    slots = rung_slots(held)
    inputs: Inputs = {
        "session": ctx.session.isoformat(),
        "spx": ctx.spx,
        "vix": ctx.vix,
        **exposure.as_inputs(),
        **triggers.as_inputs(),
        "rungs_held": len(slots),
        "rungs": rules.rungs,
        "pre_event": int(pre_event),
        **signal_inputs,
    }

    def skip(reason: str) -> Decision:
        return Decision(LADDER_RULE, Action.SKIP, Structure.HEDGE_LAYER, reason, dict(inputs))

    if not rules.enabled:
        return skip("The hedge is switched off ([hedge] enabled = false).")
    if not math.isfinite(exposure.condor_loss) or not math.isfinite(exposure.hedge_gain):
        return skip("Cannot size a rung: a condor or hedge leg has no finite model greeks.")
    if exposure.condor_loss <= 0:
        return skip(
            f"No VIX exposure to hedge: the condors gain ${-exposure.condor_loss:,.0f} per "
            "VIX point."
        )
    free = [s for s in range(1, rules.rungs + 1) if s not in slots]
    if not free:
        return skip(f"All {rules.rungs} rungs are held; {triggers.text}.")
    slot = free[0]
    if slot == 1:
        why = "Base rung with the condor"
    elif pre_event and rules.pre_event_rung:
        why = f"Pre-event rung ({triggers.text})"
    elif rules.triggers_enabled and triggers.passed:
        why = f"Expansion rung: {triggers.text}"
    else:
        off = "" if rules.triggers_enabled else " (expansion triggers switched off)"
        return skip(f"No new rung: {len(slots)} held{off}; {triggers.text}.")
    weight = rules.rung_weight(len(slots) + 1)
    gap = exposure.gap(weight)
    inputs.update(slot=slot, weight=weight, gap_dollars_per_vix_point=gap)
    if gap <= 0:
        return skip(
            f"{why}: not needed, the hedge held gains ${exposure.hedge_gain:,.0f} per VIX point, "
            f"at least {weight:.0%} of the ${exposure.target:,.0f} target."
        )
    avoid = {h.expiry for h in held if rung_slot(h.tag) is not None}
    pick = pick_call(calls, rules.min_dte, rules.max_dte, rules.otm_min, rules.otm_max, avoid)
    if pick is None:
        listed = sorted({c.dte for c in calls})
        return skip(
            f"{why}: no free VIX call expiry in {rules.min_dte}-{rules.max_dte} DTE with a quoted "
            f"strike in or near the {rules.otm_min:.0%}-{rules.otm_max:.0%} band (listed DTEs: "
            f"{listed or 'none'}, held rung expiries: {sorted(d.isoformat() for d in avoid)})."
        )
    return buy_hedge(
        LADDER_RULE,
        rung_tag(slot),
        pick,
        gap,
        rules.max_debit_dollars,
        rules,
        inputs,
        f"{why}, {weight:.0%} of the ${exposure.target:,.0f} target "
        f"({rules.share:.0%} of the condors' ${exposure.condor_loss:,.0f} loss per VIX point)",
        spread=rules.structure == "call_spread",
    )
