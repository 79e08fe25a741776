"""The first layer of the Adaptive Layered VIX Hedge (ALVH): long VIX calls.

An iron condor is short volatility: when the S&P 500 sells off, SPX implied
volatility jumps and the condor loses about its (negative) vega per vol point.
The VIX index *is* 30-day SPX implied volatility, so SPX vol and spot VIX move
about one for one. A layer of out-of-the-money VIX calls gains when VIX jumps
and offsets a chosen share (``HedgeRules.vega_share``) of that loss.

VIX options are struck on the VIX *future* of their expiry, not on spot VIX,
and futures move less than spot because VIX mean-reverts: a 1-point spot move
moves a future ``T`` years out by about ``beta(T) = exp(-kappa * T)`` points
(:func:`strategies.pricing.vix_model.future_spot_beta`). A VIX call with delta
``d`` (per future point) therefore gains about ``d * beta(T) * 100`` dollars
per contract per 1-point rise in spot VIX; the layer is sized with that number.

Prices in index (VIX) points; dollars with the 100 dollar multiplier; DTE in
calendar days; vol decimals. Pure functions: dates come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import numpy as np

from strategies.condor import round_to_tick
from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Action,
    ChainSlice,
    Decision,
    Leg,
    LegQuote,
    MarketContext,
    Right,
    Structure,
)
from strategies.positions import OpenStructure
from strategies.pricing.vix_model import future_spot_beta
from strategies.risk import QuoteSource, structure_greeks
from strategies.rules import HedgeRules

ENTRY_RULE = "hedge_layer_entry"
EXIT_RULE = "hedge_layer_exit"

#: VIX option premium at or above which the coarser tick applies, index points.
VIX_TICK_BREAK = 3.00

_EPS = 1e-9

Inputs = dict[str, float | int | str | None]


def _usd(amount: float) -> str:
    """Dollars for reasons, sign first: ``-$1,550``."""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


def vix_tick(price: float) -> float:
    """Minimum price increment used for a single VIX option at ``price`` (index points).

    Cboe's historical single-leg rule: 0.05 below 3.00, 0.10 at or above
    3.00. Since November 2022 Cboe allows 0.01 below 3.00 and 0.05 at or above,
    but every price on the older, coarser grid is also valid on the newer one,
    so replay (2006 onward) and live trading share one grid that is always
    accepted.
    """
    return 0.05 if price < VIX_TICK_BREAK else 0.10


def round_vix_price(price: float) -> float:
    """Round a VIX option premium (index points) to its tick, never below one tick (0.05).

    Raises:
        ValueError: if ``price`` is not finite.
    """
    rounded = round_to_tick(price, vix_tick(price))
    return max(vix_tick(0.0), rounded)


def condor_short_vega_dollars(position: OpenStructure, quotes: QuoteSource) -> float:
    """Net vega of a condor position, dollars per 1 SPX vol point.

    ``sum(ratio * vega * 100 * quantity / 100)``: domain vega is per share and
    per 1.00 of vol, so one contract's dollar vega per vol point (0.01) is
    ``vega * 100 / 100 = vega``. Negative for a short-vol condor.

    Raises:
        ValueError: if a leg has no quote.
    """
    return structure_greeks(position, quotes).vega


def _skip(reason: str, inputs: Inputs) -> Decision:
    return Decision(ENTRY_RULE, Action.SKIP, Structure.HEDGE_LAYER, reason, dict(inputs))


def _usable(chain: ChainSlice) -> np.ndarray:
    """Mask of strikes we can buy and size: quoted, ask > 0, delta > 0."""
    return chain.quoted() & (chain.ask > 0.0) & (chain.delta > 0.0)


def _strike_in_band(chain: ChainSlice, rules: HedgeRules, strict: bool) -> int | None:
    """Index of the usable strike closest to the middle of the OTM band, or None.

    With ``strict`` the strike must lie inside ``[F*(1+otm_min), F*(1+otm_max)]``.
    Without it, any out-of-the-money strike within one band width of the
    band's edges qualifies: listed VIX strikes are a point apart while the
    8-12% band is often narrower (F = 15 gives 16.20-16.80). Ties go to the
    lower strike inside the band and to the higher (cheaper, further OTM)
    strike outside it.
    """
    forward = chain.forward
    low = forward * (1.0 + rules.otm_min)
    high = forward * (1.0 + rules.otm_max)
    target = forward * (1.0 + (rules.otm_min + rules.otm_max) / 2.0)
    slack = 0.0 if strict else high - low
    mask = (
        _usable(chain)
        & (chain.strikes > forward)
        & (chain.strikes >= low - slack - _EPS)
        & (chain.strikes <= high + slack + _EPS)
    )
    candidates = np.flatnonzero(mask)
    if candidates.size == 0:
        return None
    # Round away binary noise so equal distances tie (25 * 1.10 = 27.500000000000004).
    distance = np.round(np.abs(chain.strikes[candidates] - target), 9)
    tie_break = chain.strikes[candidates] if strict else -chain.strikes[candidates]
    order = np.lexsort((tie_break, distance))
    return int(candidates[order[0]])


def plan_hedge_layer(
    ctx: MarketContext,
    vix_calls: Sequence[ChainSlice],
    condor_vega_dollars: float,
    open_layers: int,
    rules: HedgeRules,
    session: date,
) -> Decision:
    """Decide whether to buy the first ALVH layer of VIX calls, and how many.

    Steps (each failure is a SKIP whose reason names the numbers):

    1. SKIP if ``open_layers >= rules.max_layers``, if ``condor_vega_dollars``
       is not finite (a condor leg without model greeks: the size is
       unknown), or if it is ``>= 0`` (no short vega to hedge).
    2. Expiry: VIX call slices with DTE (``ChainSlice.dte``, calendar days)
       in ``[min_dte, max_dte]``, preferring the DTE closest to the middle of
       the window (ties: shorter). Far enough out that the layer decays slowly
       and survives several condor cycles, near enough to respond to spikes
       (beta falls with T). If the preferred expiry lists no usable strike in
       the band, the next expiry in that order is tried.
    3. Strike: with ``F`` = that expiry's VIX future (``ChainSlice.forward``),
       the usable listed strike inside ``[F*(1+otm_min), F*(1+otm_max)]``
       closest to ``F*(1+(otm_min+otm_max)/2)`` (ties: the lower strike);
       every eligible expiry is searched for an in-band strike first; only
       when none has one is the nearest OTM strike within one band width of
       the band taken (see :func:`_strike_in_band`).
       Usable means finite quotes, ``ask > 0`` and ``delta > 0``. SKIP if no
       eligible expiry has one.
    4. Size: the condor loses ``|condor_vega_dollars|`` per 1-point rise in
       SPX vol ~ spot VIX. One call gains ``delta * beta(T) * 100`` dollars per
       1-point rise in spot VIX, with ``beta(T) = future_spot_beta(t_years)``.
       ``contracts = ceil(vega_share * |condor_vega_dollars| / (delta * beta *
       100))``, then capped at ``floor(max_debit_dollars / (ask * 100))`` so
       the layer never costs more than its budget even when filled at the ask
       (the reason says so when capped). SKIP if the cap is 0.
    5. Limit: ``+mid`` rounded to the VIX tick (:func:`round_vix_price`).

    This is a first-order (delta) hedge for the first point or two of a VIX
    move; the calls' convexity makes the realised offset larger in a real spike.

    Args:
        ctx: market levels (spot VIX and SPX are recorded as inputs).
        vix_calls: VIX call chain slices, one per expiry.
        condor_vega_dollars: net vega of the open condors, dollars per SPX vol
            point (negative when short vol), e.g. from
            :func:`condor_short_vega_dollars`.
        open_layers: hedge layers currently open.
        rules: the hedge parameters.
        session: the session date of the decision (recorded).

    Returns:
        An OPEN decision with one leg (+1 VIX call), ``quantity`` = contracts,
        ``limit_price`` = +mid rounded; or a SKIP decision.
    """
    inputs: Inputs = {
        "session": session.isoformat(),
        "spx": ctx.spx,
        "vix": ctx.vix,
        "condor_vega_dollars": condor_vega_dollars,
        "open_layers": open_layers,
        "max_layers": rules.max_layers,
        "min_dte": rules.min_dte,
        "max_dte": rules.max_dte,
        "otm_min": rules.otm_min,
        "otm_max": rules.otm_max,
        "vega_share": rules.vega_share,
        "max_debit_dollars": rules.max_debit_dollars,
    }
    if open_layers >= rules.max_layers:
        return _skip(
            f"{open_layers} hedge layer(s) already open, the limit is {rules.max_layers}.",
            inputs,
        )
    if not math.isfinite(condor_vega_dollars):
        return _skip(
            "Cannot size a hedge layer: the condors' vega is not known (a leg has no "
            "finite model greeks).",
            inputs,
        )
    if not condor_vega_dollars < 0:
        return _skip(
            f"No short vega to hedge: condor vega is {_usd(condor_vega_dollars)} per vol point.",
            inputs,
        )

    middle = (rules.min_dte + rules.max_dte) / 2.0
    eligible = sorted(
        (c for c in vix_calls if c.right is Right.CALL and rules.min_dte <= c.dte <= rules.max_dte),
        key=lambda c: (abs(c.dte - middle), c.dte),
    )
    if not eligible:
        listed = sorted({c.dte for c in vix_calls})
        return _skip(
            f"No VIX call expiry between {rules.min_dte} and {rules.max_dte} DTE "
            f"(listed DTEs: {listed or 'none'}).",
            inputs,
        )
    chosen: tuple[ChainSlice, int, bool] | None = None
    for in_band in (True, False):
        for chain in eligible:
            found = _strike_in_band(chain, rules, strict=in_band)
            if found is not None:
                chosen = (chain, found, in_band)
                break
        if chosen is not None:
            break
    if chosen is None:
        first = eligible[0]
        inputs.update(
            expiry=first.expiry.isoformat(),
            dte=first.dte,
            future=first.forward,
            band_low=first.forward * (1.0 + rules.otm_min),
            band_high=first.forward * (1.0 + rules.otm_max),
        )
        bands = "; ".join(
            f"{c.expiry.isoformat()} F={c.forward:.2f} band "
            f"{c.forward * (1 + rules.otm_min):.2f}-{c.forward * (1 + rules.otm_max):.2f}"
            for c in eligible
        )
        return _skip(
            f"No listed, quoted VIX call strike in or near the OTM band ({bands}).", inputs
        )

    chain, i, in_band = chosen
    forward = chain.forward
    strike = float(chain.strikes[i])
    delta = float(chain.delta[i])
    bid = float(chain.bid[i])
    ask = float(chain.ask[i])
    mid = float(chain.mid[i])
    beta = float(future_spot_beta(chain.t_years))
    per_contract = delta * beta * CONTRACT_MULTIPLIER
    target = rules.vega_share * abs(condor_vega_dollars)
    inputs.update(
        expiry=chain.expiry.isoformat(),
        dte=chain.dte,
        t_years=chain.t_years,
        future=forward,
        band_low=forward * (1.0 + rules.otm_min),
        band_high=forward * (1.0 + rules.otm_max),
        strike=strike,
        otm_pct=(strike / forward - 1.0) * 100.0,
        iv=float(chain.iv[i]),
        delta=delta,
        beta=beta,
        bid=bid,
        ask=ask,
        mid=mid,
        strike_in_band=int(in_band),
        per_contract_dollars_per_vix_point=per_contract,
        target_offset_dollars_per_vix_point=target,
    )
    if not per_contract > 0:
        return _skip(
            f"VIX {strike:g} call has no sensitivity to spot VIX (delta {delta:.3f}, "
            f"beta {beta:.3f}).",
            inputs,
        )
    wanted = math.ceil(target / per_contract - _EPS)
    cap = math.floor(rules.max_debit_dollars / (ask * CONTRACT_MULTIPLIER) + _EPS)
    contracts = min(wanted, cap)
    inputs.update(contracts_wanted=wanted, contracts_cap=cap, contracts=contracts)
    if contracts <= 0:
        return _skip(
            f"One VIX {strike:g} call costs ${ask * CONTRACT_MULTIPLIER:,.0f} at the ask, more "
            f"than the ${rules.max_debit_dollars:,.0f} layer budget.",
            inputs,
        )
    limit_price = round_vix_price(mid)
    inputs["limit_price"] = limit_price
    capped = (
        f" (capped from {wanted} by the ${rules.max_debit_dollars:,.0f} budget at the "
        f"{ask:.2f} ask)"
        if contracts < wanted
        else ""
    )
    reason = (
        f"Buy {contracts} VIX {chain.expiry.isoformat()} {strike:g} calls{capped} "
        f"({chain.dte} DTE, {(strike / forward - 1.0) * 100:.1f}% over the {forward:.2f} "
        f"future{'' if in_band else ', nearest listed strike to the band'}) "
        f"at {limit_price:.2f}: each gains ~${per_contract:,.2f} per spot-VIX point "
        f"(delta {delta:.3f} x beta {beta:.3f} x 100) against a target of ${target:,.0f} "
        f"= {rules.vega_share:.0%} of the condor's ${abs(condor_vega_dollars):,.0f} short vega."
    )
    return Decision(
        ENTRY_RULE,
        Action.OPEN,
        Structure.HEDGE_LAYER,
        reason,
        inputs,
        legs=(Leg(chain.contract(i), 1),),
        quantity=contracts,
        limit_price=limit_price,
    )


def plan_hedge_exit(
    layer: OpenStructure,
    quote: LegQuote,
    session: date,
    rules: HedgeRules,
    condor_open: bool,
) -> Decision:
    """Decide whether to close an open hedge layer.

    CLOSE when ``DTE <= rules.close_dte`` (calendar days to expiry): the calls
    are sold rather than carried into the VIX special opening quotation, whose
    settlement can differ a lot from the last traded future. Otherwise HOLD.
    ``condor_open`` is recorded for the journal; the layer is not closed just
    because the condor closed, since it keeps protecting the next condor.

    Closing sells the calls: the closing combo's net price is
    ``sum(-ratio * mid)`` = ``-mid`` for a long call, a credit, so
    ``limit_price = -round_vix_price(mid)``.

    Note:
        Harvesting a layer after a VIX spike (selling at +150-200% of its
        cost, then re-layering) is a later issue and intentionally not
        implemented here.

    Returns:
        A CLOSE decision (closing legs, ``quantity`` = layer quantity,
        ``position_id`` = layer id) or a HOLD decision. If the quote's mid is
        not finite the rule HOLDs with that reason.

    Raises:
        ValueError: if ``layer`` is not a single-leg hedge layer or ``quote``
            is for a different contract.
    """
    if layer.structure is not Structure.HEDGE_LAYER or len(layer.legs) != 1:
        raise ValueError(f"position {layer.id!r} is not a single-leg hedge layer")
    leg = layer.legs[0]
    if quote.contract != leg.contract:
        raise ValueError(
            f"quote for {quote.contract.local_symbol} does not match layer leg "
            f"{leg.contract.local_symbol}"
        )
    dte = layer.dte(session)
    inputs: Inputs = {
        "session": session.isoformat(),
        "opened_session": layer.opened_session.isoformat(),
        "expiry": layer.expiry.isoformat(),
        "strike": leg.contract.strike,
        "dte": dte,
        "close_dte": rules.close_dte,
        "quantity": layer.quantity,
        "open_price": layer.open_price,
        "bid": quote.bid,
        "ask": quote.ask,
        "mid": quote.mid,
        "condor_open": int(condor_open),
    }
    mid = quote.mid
    if not math.isfinite(mid):
        return Decision(
            EXIT_RULE,
            Action.HOLD,
            Structure.HEDGE_LAYER,
            f"Cannot price hedge layer {layer.id}: {leg.contract.local_symbol} has no usable "
            "quote.",
            inputs,
            position_id=layer.id,
        )
    value = leg.ratio * mid
    pnl = (value - layer.open_price) * CONTRACT_MULTIPLIER * layer.quantity
    inputs["pnl_dollars"] = pnl
    if dte > rules.close_dte:
        return Decision(
            EXIT_RULE,
            Action.HOLD,
            Structure.HEDGE_LAYER,
            f"Hold hedge layer {layer.id} ({layer.quantity} x {leg.contract.local_symbol}): "
            f"{dte} DTE > {rules.close_dte}, mid {mid:.2f} vs paid {layer.open_price:.2f} "
            f"(P&L {_usd(pnl)}).",
            inputs,
            position_id=layer.id,
        )
    limit_price = -leg.ratio * round_vix_price(mid)
    inputs["limit_price"] = limit_price
    return Decision(
        EXIT_RULE,
        Action.CLOSE,
        Structure.HEDGE_LAYER,
        f"Close hedge layer {layer.id} ({layer.quantity} x {leg.contract.local_symbol}): "
        f"{dte} DTE <= {rules.close_dte}, sell at {abs(limit_price):.2f} vs paid "
        f"{layer.open_price:.2f} (P&L {_usd(pnl)}); condor "
        f"{'still open' if condor_open else 'closed'}.",
        inputs,
        legs=layer.closing_legs(),
        quantity=layer.quantity,
        limit_price=limit_price,
        position_id=layer.id,
    )
