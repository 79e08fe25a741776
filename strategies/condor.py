"""SPX iron-condor entry and exit rules.

The condor is the income leg of the strategy: sell an out-of-the-money put and
call on the same SPXW expiry near a target delta, buy wings further out (a
fixed width, a percent of spot or a target delta: ``wing_mode``) so every
short has a long protecting it, and manage the position with three
mechanical exits (profit target, stop, DTE floor). The parameters
and their defaults live in :class:`strategies.rules.CondorRules`.

Prices are in index points per share; a combo's net price is positive for a
debit and negative for a credit (see :mod:`strategies.domain`). Dollar amounts
use the 100 dollar contract multiplier. Both rules are pure: dates come in as
arguments and every decision records the numbers it looked at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    Leg,
    MarketContext,
    Structure,
    natural_price,
)
from strategies.exit_path import PathTrigger, SessionPath, condor_path_exit
from strategies.positions import OpenStructure
from strategies.risk import (
    CondorStrikes,
    QuoteSource,
    break_evens,
    condor_max_loss_points,
    quote_map,
)
from strategies.rules import CondorRules

#: Minimum net price increment of SPX/SPXW complex (multi-leg) orders, index points.
SPX_COMBO_TICK = 0.05

ENTRY_RULE = "condor_entry"
EXIT_RULE = "condor_exit"

_EPS = 1e-9

Inputs = dict[str, float | int | str | None]


def _usd(amount: float) -> str:
    """Dollars for reasons, sign first: ``-$1,550``."""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


def round_to_tick(price: float, tick: float) -> float:
    """Round ``price`` (index points) to the nearest multiple of ``tick``.

    The result is rounded to 2 decimals to remove binary floating-point noise
    (``2.35`` rather than ``2.3500000000000001``).

    Raises:
        ValueError: if ``tick`` is not positive or ``price`` is not finite.
    """
    if tick <= 0:
        raise ValueError(f"tick must be positive, got {tick}")
    if not math.isfinite(price):
        raise ValueError(f"cannot round a non-finite price {price}")
    return round(round(price / tick) * tick, 2)


def _skip(reason: str, inputs: Inputs) -> Decision:
    return Decision(ENTRY_RULE, Action.SKIP, Structure.CONDOR, reason, dict(inputs))


def _closest_delta(chain: ChainSlice, target: float, mask: np.ndarray | None = None) -> int | None:
    """Index of the quoted strike whose |delta| is closest to ``target``.

    Ties go to the smaller |delta| (further out of the money, the more
    conservative short). ``mask`` (optional) narrows the strikes considered.
    ``None`` if no strike is quoted.
    """
    quoted = chain.quoted() if mask is None else chain.quoted() & mask
    candidates = np.flatnonzero(quoted)
    if candidates.size == 0:
        return None
    abs_delta = np.abs(chain.delta[candidates])
    # Round away binary noise so equal distances tie (|0.14-0.16| vs |0.18-0.16|).
    distance = np.round(np.abs(abs_delta - target), 9)
    order = np.lexsort((abs_delta, distance))  # primary: distance, then |delta|
    return int(candidates[order[0]])


def _wing_index(chain: ChainSlice, short_index: int, width: float, below: bool) -> int | None:
    """Index of the long wing: the quoted strike farthest from the short within ``width``.

    ``below=True`` searches strikes in ``[short - width, short)`` (put wing)
    and takes the lowest; otherwise ``(short, short + width]`` (call wing), the
    highest. A wing that would land between listed strikes thus takes the
    listed strike just inside it: the defined risk is never wider than
    configured. ``None`` when no quoted strike lies within ``width``.
    """
    short = float(chain.strikes[short_index])
    quoted = chain.quoted()
    if below:
        mask = quoted & (chain.strikes >= short - width - _EPS) & (chain.strikes < short - _EPS)
        found = np.flatnonzero(mask)
        return int(found[0]) if found.size else None
    mask = quoted & (chain.strikes <= short + width + _EPS) & (chain.strikes > short + _EPS)
    found = np.flatnonzero(mask)
    return int(found[-1]) if found.size else None


#: SPX strike grid the percent-of-spot wing is rounded to, index points.
SPX_WING_GRID = 5.0


def percent_wing_points(spot: float, wing_pct: float) -> float:
    """Wing distance for ``wing_mode = "percent"``: ``wing_pct`` % of ``spot``.

    Rounded to the nearest multiple of :data:`SPX_WING_GRID` (5 index points)
    and at least one grid step: SPX 1,450 at 2% is 30 points, SPX 5,500 is 110.
    """
    raw = spot * wing_pct / 100.0
    return max(SPX_WING_GRID, round(raw / SPX_WING_GRID) * SPX_WING_GRID)


def _delta_wing_index(
    chain: ChainSlice, short_index: int, wing_delta: float, below: bool
) -> int | None:
    """Long wing for ``wing_mode = "delta"``: the quoted strike strictly beyond the
    short (below it for puts, above for calls) whose |delta| is closest to
    ``wing_delta``; ``None`` if there is none."""
    short = float(chain.strikes[short_index])
    beyond = chain.strikes < short - _EPS if below else chain.strikes > short + _EPS
    return _closest_delta(chain, wing_delta, beyond)


def pick_expiry(
    puts: Sequence[ChainSlice],
    calls: Sequence[ChainSlice],
    rules: CondorRules,
    after: date | None = None,
) -> tuple[ChainSlice, ChainSlice] | None:
    """The (put, call) slices of the eligible expiry closest to ``target_dte``.

    Eligible: trading class ``rules.trading_class``, both rights present, DTE
    in ``[min_dte, max_dte]`` and, when ``after`` is given, an expiry later
    than ``after`` (a roll's successor). Ties go to the shorter DTE (more
    theta per day, less time exposed).
    """
    call_by_expiry = {c.expiry: c for c in calls if c.trading_class == rules.trading_class}
    pairs = [
        (p, call_by_expiry[p.expiry])
        for p in puts
        if p.trading_class == rules.trading_class
        and p.expiry in call_by_expiry
        and rules.min_dte <= p.dte <= rules.max_dte
        and (after is None or p.expiry > after)
    ]
    if not pairs:
        return None
    return min(pairs, key=lambda pair: (abs(pair[0].dte - rules.target_dte), pair[0].dte))


@dataclass(frozen=True, slots=True)
class CondorPick:
    """The strikes :func:`pick_condor_strikes` chose on one expiry.

    Attributes:
        legs: long put (+1), short put (-1), short call (-1), long call (+1).
        strikes: the four strikes, index points.
        credit: net mid credit per condor rounded to the 0.05 combo tick,
            index points (positive).
        short_put_delta, short_call_delta: the shorts' deltas (signed).
    """

    legs: tuple[Leg, ...]
    strikes: CondorStrikes
    credit: float
    short_put_delta: float
    short_call_delta: float


def pick_condor_strikes(
    spx: float,
    put_chain: ChainSlice,
    call_chain: ChainSlice,
    rules: CondorRules,
    inputs: Inputs,
) -> CondorPick | str:
    """Shorts at ``rules.short_delta`` and wings by ``rules.wing_mode`` on one expiry.

    The strike picking of :func:`plan_condor_entry` (steps 3-5 there), shared
    with the condor roll (:mod:`strategies.adjustments`). Every number looked
    at goes into ``inputs``. ``spx`` (index points) sizes a percent wing.

    Returns:
        The pick, or the reason no condor can be built (a SKIP's reason).
    """
    sp = _closest_delta(put_chain, rules.short_delta)
    sc = _closest_delta(call_chain, rules.short_delta)
    if sp is None or sc is None:
        return (
            f"The {put_chain.expiry.isoformat()} chain has no quoted "
            f"{'puts' if sp is None else 'calls'} to sell."
        )
    short_put = float(put_chain.strikes[sp])
    short_call = float(call_chain.strikes[sc])
    inputs.update(
        short_put_strike=short_put,
        short_put_delta=float(put_chain.delta[sp]),
        short_put_mid=float(put_chain.mid[sp]),
        short_call_strike=short_call,
        short_call_delta=float(call_chain.delta[sc]),
        short_call_mid=float(call_chain.mid[sc]),
    )
    if short_put >= short_call:
        return (
            f"Short put {short_put:g} is not below short call {short_call:g}; "
            "the chain's deltas are inconsistent."
        )

    if rules.wing_mode == "delta":
        lp = _delta_wing_index(put_chain, sp, rules.wing_delta, below=True)
        lc = _delta_wing_index(call_chain, sc, rules.wing_delta, below=False)
        if lp is None or lc is None:
            side = "put" if lp is None else "call"
            return (
                f"No quoted {side} beyond the short {side} for a {rules.wing_delta:g}-delta "
                "wing; never selling a short without its long wing."
            )
    else:
        width = (
            rules.wing_width
            if rules.wing_mode == "points"
            else percent_wing_points(spx, rules.wing_pct)
        )
        inputs["wing_target_points"] = width
        lp = _wing_index(put_chain, sp, width, below=True)
        lc = _wing_index(call_chain, sc, width, below=False)
        if lp is None or lc is None:
            side = "put" if lp is None else "call"
            target = short_put - width if lp is None else short_call + width
            return (
                f"No quoted {side} wing between the short {side} and {target:g} ({width:g} "
                f"points from it, wing_mode {rules.wing_mode}); never selling a short "
                "without its long wing."
            )
    strikes = CondorStrikes(
        long_put=float(put_chain.strikes[lp]),
        short_put=short_put,
        short_call=short_call,
        long_call=float(call_chain.strikes[lc]),
    )
    long_put_mid = float(put_chain.mid[lp])
    long_call_mid = float(call_chain.mid[lc])
    credit_mid = float(put_chain.mid[sp]) - long_put_mid + float(call_chain.mid[sc]) - long_call_mid
    credit = round_to_tick(credit_mid, SPX_COMBO_TICK)
    inputs.update(
        long_put_strike=strikes.long_put,
        long_put_delta=float(put_chain.delta[lp]),
        long_put_mid=long_put_mid,
        long_call_strike=strikes.long_call,
        long_call_delta=float(call_chain.delta[lc]),
        long_call_mid=long_call_mid,
        put_width=strikes.put_width,
        call_width=strikes.call_width,
        credit_mid=credit_mid,
        credit=credit,
    )
    legs = (
        Leg(put_chain.contract(lp), 1),
        Leg(put_chain.contract(sp), -1),
        Leg(call_chain.contract(sc), -1),
        Leg(call_chain.contract(lc), 1),
    )
    return CondorPick(
        legs, strikes, credit, float(put_chain.delta[sp]), float(call_chain.delta[sc])
    )


def plan_condor_entry(
    ctx: MarketContext,
    puts: Sequence[ChainSlice],
    calls: Sequence[ChainSlice],
    open_condors: int,
    rules: CondorRules,
    blocked_reason: str | None = None,
    *,
    net_liq: float | None,
) -> Decision:
    """Decide whether to open an SPX iron condor now, and exactly which one.

    Steps (each failure is a SKIP whose reason names the numbers):

    1. SKIP if ``blocked_reason`` is given (e.g. an FOMC/CPI day the calendar
       filter blocks) or ``open_condors >= rules.max_open_condors``.
    2. Expiry: among slices of ``rules.trading_class`` with both a put and a
       call slice and DTE (calendar days, ``ChainSlice.dte``) in
       ``[min_dte, max_dte]``, the one closest to ``target_dte``; ties go to
       the shorter DTE.
    3. Shorts: the quoted put and the quoted call whose |delta| is closest to
       ``short_delta`` (ties: the smaller |delta|). A strike is quoted when bid
       and ask are finite, ``0 <= bid <= ask``, and delta is finite. SKIP if
       the short put is not below the short call.
    4. Wings, by ``rules.wing_mode``. ``"points"``: width ``W = wing_width``
       index points. ``"percent"``: ``W = wing_pct`` % of SPX spot
       (``ctx.spx``) rounded to the 5-point strike grid
       (:func:`percent_wing_points`). For both, long put = lowest quoted
       strike in ``[short put - W, short put)``, long call = highest quoted
       strike in ``(short call, short call + W]``: where listed strikes are
       coarser than the width lands, the listed strike just inside it, so the
       defined risk is never wider than configured (the replay lists only
       real strikes: 10-100 points apart away from the money);
       ``W`` is recorded as ``wing_target_points``. ``"delta"``: each long
       wing is the quoted strike beyond its short whose |delta| is closest to
       ``wing_delta``. SKIP if either wing is missing: a short is never sold
       without its long wing.
    5. Credit (index points per condor) = (short put mid - long put mid) +
       (short call mid - long call mid), rounded to the nearest 0.05
       (:data:`SPX_COMBO_TICK`); ``limit_price = -credit``. SKIP if
       ``credit < min_credit``. The rounded credit is what the order asks for,
       so it is also the credit used for sizing and break-evens.
    6. Size: max loss per condor = (wider wing width - credit) * 100 dollars
       (equals ``(wing_width - credit) * 100`` when both wings sit exactly at
       the width); the budget is ``max_loss_pct_of_net_liq`` % of the
       account's current net liquidation ``net_liq``;
       ``contracts = min(max_contracts, floor(budget / max_loss))``. SKIP if
       that is 0 (fewer than one contract fits the budget) or if net
       liquidation is not positive.

    Rationale: a 16-delta short is roughly one standard deviation out of the
    money at expiry; defined-risk wings cap the loss so the risk budget, not
    margin, sets the size, and a budget in percent of *current* net
    liquidation shrinks the size after losses (a fixed dollar budget kept
    risking 25-45% of a shrinking account, issue 9).

    Args:
        ctx: market levels for the session (only recorded as inputs).
        puts, calls: SPX option chain slices, one per expiry and right.
        open_condors: condor positions currently open.
        rules: the condor parameters.
        blocked_reason: a human sentence saying why entries are blocked today,
            or ``None``.
        net_liq: the account's net liquidation now, dollars; ``None`` when
            the engine did not ask (no entry possible): reaching the sizing
            step without it is a SKIP.

    Returns:
        An OPEN decision with legs long put (+1), short put (-1), short call
        (-1), long call (+1), ``quantity`` = contracts and ``limit_price`` =
        -credit; or a SKIP decision.
    """
    inputs: Inputs = {
        "session": ctx.session.isoformat(),
        "spx": ctx.spx,
        "vix": ctx.vix,
        "open_condors": open_condors,
        "max_open_condors": rules.max_open_condors,
        "blocked_reason": blocked_reason,
        "min_dte": rules.min_dte,
        "max_dte": rules.max_dte,
        "target_dte": rules.target_dte,
        "short_delta": rules.short_delta,
        "wing_mode": rules.wing_mode,
        "wing_width": rules.wing_width,
        "wing_pct": rules.wing_pct,
        "wing_delta": rules.wing_delta,
        "min_credit": rules.min_credit,
        "net_liq": net_liq,
        "max_loss_pct_of_net_liq": rules.max_loss_pct_of_net_liq,
        "max_contracts": rules.max_contracts,
    }
    if blocked_reason is not None:
        return _skip(f"Condor entry blocked: {blocked_reason}.", inputs)
    if open_condors >= rules.max_open_condors:
        return _skip(
            f"{open_condors} condor(s) already open, the limit is {rules.max_open_condors}.",
            inputs,
        )

    picked = pick_expiry(puts, calls, rules)
    if picked is None:
        listed = sorted({p.dte for p in puts if p.trading_class == rules.trading_class})
        inputs["listed_dtes"] = ",".join(str(d) for d in listed)
        return _skip(
            f"No {rules.trading_class} expiry with both puts and calls between "
            f"{rules.min_dte} and {rules.max_dte} DTE (listed DTEs: {listed or 'none'}).",
            inputs,
        )
    put_chain, call_chain = picked
    inputs.update(
        expiry=put_chain.expiry.isoformat(),
        dte=put_chain.dte,
        forward=put_chain.forward,
    )

    pick = pick_condor_strikes(ctx.spx, put_chain, call_chain, rules, inputs)
    if isinstance(pick, str):
        return _skip(pick, inputs)
    strikes, credit, legs = pick.strikes, pick.credit, pick.legs
    short_put, short_call = strikes.short_put, strikes.short_call
    if credit < rules.min_credit:
        return _skip(
            f"Credit {credit:.2f} for {strikes.long_put:g}/{short_put:g}P "
            f"{short_call:g}/{strikes.long_call:g}C is below the minimum {rules.min_credit:.2f}.",
            inputs,
        )

    max_loss_points = condor_max_loss_points(strikes, credit)
    max_loss = max_loss_points * CONTRACT_MULTIPLIER
    lower, upper = break_evens(short_put, short_call, credit)
    inputs.update(
        max_loss_points=max_loss_points,
        max_loss_dollars_per_condor=max_loss,
        break_even_lower=lower,
        break_even_upper=upper,
    )
    if max_loss <= 0:
        return _skip(
            f"Credit {credit:.2f} is not below the wing width; the quotes are not credible.",
            inputs,
        )
    if net_liq is None:
        return _skip("Net liquidation unknown; cannot size a condor.", inputs)
    budget = rules.max_loss_pct_of_net_liq / 100.0 * net_liq
    inputs["risk_budget_dollars"] = budget
    if not (math.isfinite(budget) and budget > 0):
        return _skip(
            f"Net liquidation {_usd(net_liq)} leaves no risk budget; no new condor.", inputs
        )
    by_risk = math.floor(budget / max_loss + _EPS)
    contracts = min(rules.max_contracts, by_risk)
    inputs.update(
        contracts_by_risk=by_risk,
        contracts=contracts,
        max_loss_dollars=max_loss * max(contracts, 0),
    )
    if contracts <= 0:
        return _skip(
            f"One condor risks ${max_loss:,.0f}, more than the ${budget:,.0f} risk budget "
            f"({rules.max_loss_pct_of_net_liq:g}% of net liquidation {_usd(net_liq)}); "
            "fewer than one contract fits.",
            inputs,
        )

    limit_price = -credit
    inputs["limit_price"] = limit_price
    reason = (
        f"Open {contracts} {rules.trading_class} {put_chain.expiry.isoformat()} iron condor(s) "
        f"{strikes.long_put:g}/{short_put:g}P {short_call:g}/{strikes.long_call:g}C "
        f"({put_chain.dte} DTE) for a {credit:.2f} credit: short deltas "
        f"{pick.short_put_delta:+.3f}/{pick.short_call_delta:+.3f}, max loss "
        f"${max_loss:,.0f} per condor (budget ${budget:,.0f} = "
        f"{rules.max_loss_pct_of_net_liq:g}% of net liq {_usd(net_liq)}, cap "
        f"{rules.max_contracts}), break-evens {lower:g}-{upper:g}."
    )
    return Decision(
        ENTRY_RULE,
        Action.OPEN,
        Structure.CONDOR,
        reason,
        inputs,
        legs=legs,
        quantity=contracts,
        limit_price=limit_price,
    )


def plan_condor_exit(
    position: OpenStructure,
    quotes: QuoteSource,
    session: date,
    rules: CondorRules,
    path: Sequence[SessionPath] = (),
) -> Decision:
    """Decide whether to close an open iron condor.

    Pricing: the position's value per unit is ``sum(ratio * mid)`` over its
    legs (negative for a short condor). Closing trades every leg with the
    opposite ratio (:meth:`OpenStructure.closing_legs`), so the closing combo's
    net price is ``sum(-ratio * mid)`` = the **debit to close**, positive under
    the domain convention (+ debit). The credit is the opening order's
    (``-position.opening_price``). A condor whose wings were shifted paid
    ``position.adjusted_price`` per unit for it (+ debit): the thresholds
    compare the **effective debit** ``debit + adjusted_price`` with the
    opening credit, so the stop still fires at the same total loss (one
    opening credit at ``stop_multiple`` 2) and a shift never tightens it.
    P&L in dollars at mid is ``(credit - effective debit) * 100 * quantity``.

    Exits, checked in this priority order (the first that holds wins):

    1. **DTE floor**: ``DTE <= exit_dte`` (calendar days to the earliest leg
       expiry). Gamma risk grows sharply in the last days, so time beats P&L.
    2. **Stop**: ``debit >= stop_multiple * credit`` (2.0 = the position has
       lost about one credit).
    3. **Profit target**: ``debit <= (1 - profit_target_pct / 100) * credit``
       (50 = half the credit captured).

    Before these, the **path since the last check** (``path``, see
    :mod:`strategies.exit_path`): a stop or target the market reached in
    between (a session's range, or a gap at its open) closes at the level
    that triggered (the open's mark on a gap), as a resting order would have:
    the decision is ``resting`` with that debit as its limit, and its inputs
    hold the range, the worst/best debits and the trigger level. Without a
    path (live trading), only the current mark is checked.

    Stop and profit target cannot both hold for a positive credit. Thresholds
    compare the unrounded mid debit; the order's ``limit_price`` is that debit
    rounded to the nearest 0.05 (at least one tick). Otherwise HOLD. If a leg
    has no quote (or a non-finite mid) the position cannot be priced and the
    rule HOLDs with that reason; the engine retries on the next cycle.
    ``quotes`` may be a sequence of :class:`LegQuote` or a mapping keyed by
    contract; quotes for other contracts are ignored.

    Returns:
        A CLOSE decision (legs = closing legs, ``quantity`` = position
        quantity, ``limit_price`` = +debit, ``position_id`` = position id) or a
        HOLD decision.

    Raises:
        ValueError: if ``position`` is not a condor.
    """
    if position.structure is not Structure.CONDOR:
        raise ValueError(f"position {position.id!r} is a {position.structure}, not a condor")
    credit = -position.opening_price
    adjusted = position.adjusted_price
    dte = position.dte(session)
    profit_threshold = (1.0 - rules.profit_target_pct / 100.0) * credit
    stop_threshold = rules.stop_multiple * credit
    inputs: Inputs = {
        "session": session.isoformat(),
        "opened_session": position.opened_session.isoformat(),
        "expiry": position.expiry.isoformat(),
        "dte": dte,
        "exit_dte": rules.exit_dte,
        "quantity": position.quantity,
        "credit": credit,
        "profit_target_pct": rules.profit_target_pct,
        "profit_target_debit": profit_threshold,
        "stop_multiple": rules.stop_multiple,
        "stop_debit": stop_threshold,
    }
    if adjusted:
        inputs["adjusted_price"] = adjusted

    def hold(reason: str) -> Decision:
        return Decision(
            EXIT_RULE,
            Action.HOLD,
            Structure.CONDOR,
            reason,
            dict(inputs),
            position_id=position.id,
        )

    by_contract = quote_map(quotes)
    missing = [
        leg.contract.local_symbol
        for leg in position.legs
        if leg.contract not in by_contract or not math.isfinite(by_contract[leg.contract].mid)
    ]
    if missing:
        inputs["missing_quotes"] = ", ".join(missing)
        return hold(f"Cannot price condor {position.id}: no usable quote for {', '.join(missing)}.")

    debit = -sum(leg.ratio * by_contract[leg.contract].mid for leg in position.legs)
    effective = debit + adjusted
    pnl = (credit - effective) * CONTRACT_MULTIPLIER * position.quantity
    inputs.update(debit=debit, pnl_dollars=pnl)
    shown = f"debit {debit:.2f}" + (f" + adjustments {adjusted:.2f}" if adjusted else "")

    if path:
        hit, seen = condor_path_exit(position, path, stop_threshold, profit_threshold, adjusted)
        inputs.update(seen)
        if hit is not None:
            return _resting_close(position, hit, inputs, credit, pnl_at=hit.debit + adjusted)

    if dte <= rules.exit_dte:
        trigger = f"DTE floor: {dte} DTE <= {rules.exit_dte}"
    elif effective >= stop_threshold:
        trigger = (
            f"stop: {shown} >= {rules.stop_multiple:g} x credit {credit:.2f} = {stop_threshold:.2f}"
        )
    elif effective <= profit_threshold:
        trigger = (
            f"profit target: {shown} <= {100 - rules.profit_target_pct:g}% of credit "
            f"{credit:.2f} = {profit_threshold:.2f}"
        )
    else:
        return hold(
            f"Hold condor {position.id}: {shown} to close vs credit {credit:.2f} "
            f"(P&L {_usd(pnl)}); target {profit_threshold:.2f}, stop {stop_threshold:.2f}, "
            f"{dte} DTE > floor {rules.exit_dte}."
        )

    limit_price = max(SPX_COMBO_TICK, round_to_tick(debit, SPX_COMBO_TICK))
    closing = position.closing_legs()
    natural = natural_price(closing, by_contract)
    inputs.update(limit_price=limit_price, natural_price=natural)
    inputs["trigger"] = trigger.split(":", 1)[0]
    return Decision(
        EXIT_RULE,
        Action.CLOSE,
        Structure.CONDOR,
        f"Close {position.quantity} condor(s) {position.id} on {trigger}; debit to close "
        f"{debit:.2f} vs credit {credit:.2f}, P&L {_usd(pnl)}, limit {limit_price:.2f}.",
        inputs,
        legs=closing,
        quantity=position.quantity,
        limit_price=limit_price,
        position_id=position.id,
        natural_price=natural,
    )


def _resting_close(
    position: OpenStructure, hit: PathTrigger, inputs: Inputs, credit: float, pnl_at: float
) -> Decision:
    """The CLOSE of a stop or target the path reached, at the level that triggered."""
    limit_price = max(SPX_COMBO_TICK, round_to_tick(hit.debit, SPX_COMBO_TICK))
    pnl = (credit - pnl_at) * CONTRACT_MULTIPLIER * position.quantity
    where = "the open (gap)" if hit.gap else "inside the session"
    inputs = {
        **inputs,
        "limit_price": limit_price,
        "trigger": hit.kind,
        "trigger_debit": hit.debit,
        "trigger_pnl_dollars": pnl,
        "resting": 1,
    }
    return Decision(
        EXIT_RULE,
        Action.CLOSE,
        Structure.CONDOR,
        f"Close {position.quantity} condor(s) {position.id} on {hit.kind} reached at {where} "
        f"on {hit.session.isoformat()}: debit {hit.debit:.2f} vs credit {credit:.2f}, "
        f"P&L {_usd(pnl)}, resting limit {limit_price:.2f}.",
        inputs,
        legs=position.closing_legs(),
        quantity=position.quantity,
        limit_price=limit_price,
        position_id=position.id,
        resting=True,
    )
