"""Gates 1-3: the book's size limits (max loss, floor, kill switch, hedge cap).

Which decisions each applies to and why: :mod:`strategies.gates`. Amounts are
dollars; condor max loss is ``(wider wing - credit) x 100 x units``
(:func:`strategies.risk.condor_max_loss_points`).
"""

from __future__ import annotations

import math

from strategies.domain import CONTRACT_MULTIPLIER, Decision, Structure
from strategies.gates.base import _NEW, GateResult, Inputs, RiskSnapshot, _na, _off, _result, _usd
from strategies.portfolio import StructurePosition
from strategies.risk import condor_max_loss_points, condor_strikes
from strategies.rules import CondorRules, RiskRules


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
