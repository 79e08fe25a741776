"""Gates 6 and 7: the quality of the order's quotes (bid-ask width, put-call parity).

Prices are index points; the tick is the exchange's minimum tick on the
session (:func:`strategies.pricing.chain_builder.min_tick`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from strategies.domain import Decision, OptionContract, Right
from strategies.gates.base import GateResult, Inputs, RiskSnapshot, _off, _result
from strategies.pricing.chain_builder import SPX_SPREAD, VIX_SPREAD, min_tick
from strategies.rules import RiskRules


def _tick(contract: OptionContract, price: float, session: date) -> float:
    """The contract's minimum tick at ``price`` on ``session`` (index points)."""
    return min_tick(VIX_SPREAD if contract.symbol == "VIX" else SPX_SPREAD, price, session)


def quote_width_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 6: each leg's bid-ask width within ``max(pct x mid, ticks x tick)``."""
    name = "quote_width"
    if not rules.quote_width_enabled:
        return _off(name)
    worst_ratio = 0.0
    worst_leg = ""
    for leg in decision.legs:
        quote = snap.quotes.get(leg.contract)
        sym = leg.contract.local_symbol
        if quote is None or not (
            math.isfinite(quote.bid) and math.isfinite(quote.ask) and 0 <= quote.bid <= quote.ask
        ):
            return _result(name, "block", f"{sym} has no two-sided quote", leg=sym)
        width = quote.ask - quote.bid
        mid = quote.mid
        allowed = max(
            rules.quote_max_width_pct / 100.0 * mid,
            rules.quote_min_width_ticks * _tick(leg.contract, mid, snap.ctx.session),
        )
        ratio = width / allowed if allowed > 0 else math.inf
        if ratio > worst_ratio:
            worst_ratio, worst_leg = ratio, sym
        if width > allowed + 1e-9:
            return _result(
                name,
                "block",
                f"{sym} quotes {quote.bid:.2f}/{quote.ask:.2f}: width {width:.2f} exceeds "
                f"{allowed:.2f} = max({rules.quote_max_width_pct:g}% of mid {mid:.2f}, "
                f"{rules.quote_min_width_ticks} ticks)",
                leg=sym,
                width=round(width, 4),
                allowed=round(allowed, 4),
            )
    return _result(name, "pass", widest_leg=worst_leg, widest_use=round(worst_ratio, 3))


def _median(values: Sequence[float]) -> float:
    """``float(np.median(values))`` of a few floats, without numpy's overhead.

    The same double: the middle value, or the mean of the two middle values as
    ``(a + b) / 2`` (what np.median's mean of two computes); NaN if any is NaN
    or there is none.
    """
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def parity_gate(decision: Decision, snap: RiskSnapshot, rules: RiskRules) -> GateResult:
    """Gate 7: put-call parity at the legs' strikes.

    European options on one forward satisfy ``C - P = DF x (F - K)`` (Hull
    §11.4; SPX and VIX options are European). For each leg's strike the
    other right must be quoted too (the engine quotes it); a strike without it
    is left out and named. The residual ``(C_mid - P_mid) - DF (F - K)`` must
    stay within the two options' half-spreads plus ``parity_tolerance`` index
    points: a larger residual means one of the quotes is stale or wrong.

    ``F`` and ``DF``: with two or more strikes (a condor) they are fitted to
    the strikes' ``C - P = DF (F - K)`` robustly: ``DF`` = minus the median of
    the pairwise slopes (Theil-Sen; clipped to [0.9, 1]), ``F`` = the median of
    the implied forwards ``K + (C - P) / DF``. No outside rate or dividend is
    needed, the check is that the strikes agree on one forward, and one bad
    quote among four strikes cannot pull the fit onto itself. With one
    strike (a VIX call), ``F`` is the forward of the chain the decision came
    from (the VIX future) and ``DF = 1`` (a few weeks of discounting on a VIX
    future is below a tick). Without it the check is skipped (``n/a``).
    """
    name = "parity"
    if not rules.parity_enabled:
        return _off(name)
    rows: list[tuple[float, float, float]] = []  # strike, C - P, half spreads
    missing: list[str] = []
    seen: set[float] = set()
    for leg in decision.legs:
        c = leg.contract
        if c.strike in seen:
            continue
        seen.add(c.strike)
        other = OptionContract(
            c.symbol,
            c.trading_class,
            c.expiry,
            c.strike,
            Right.PUT if c.right is Right.CALL else Right.CALL,
            c.multiplier,
        )
        call, put = (c, other) if c.right is Right.CALL else (other, c)
        qc, qp = snap.quotes.get(call), snap.quotes.get(put)
        if qc is None or qp is None or not (math.isfinite(qc.mid) and math.isfinite(qp.mid)):
            missing.append(other.local_symbol)
            continue
        rows.append((c.strike, qc.mid - qp.mid, (qc.ask - qc.bid + qp.ask - qp.bid) / 2.0))
    if not rows:
        return _result(name, "n/a", note=f"other right not quoted: {','.join(missing)}")
    first = decision.legs[0].contract
    if len(rows) >= 2:
        # Theil-Sen: the median of the pairwise slopes, then the median implied
        # forward, so one bad quote cannot drag the fit onto itself.
        slopes = [(b[1] - a[1]) / (b[0] - a[0]) for i, a in enumerate(rows) for b in rows[i + 1 :]]
        df = min(max(-_median(slopes), 0.9), 1.0)
        forward = _median([strike + diff / df for strike, diff, _ in rows])
        source = "fitted"
    else:
        fwd = snap.forwards.get((first.symbol, first.expiry))
        if fwd is None:
            return _result(name, "n/a", note="one strike and no chain forward")
        forward, df, source = fwd, 1.0, "chain"
    worst_excess, worst_strike, worst_resid, worst_allowed = -math.inf, 0.0, 0.0, 0.0
    for strike, diff, half in rows:
        resid = diff - df * (forward - strike)
        excess = abs(resid) - half - rules.parity_tolerance
        if excess > worst_excess:
            worst_excess, worst_strike, worst_resid = excess, strike, resid
            worst_allowed = half + rules.parity_tolerance
    numbers: Inputs = {
        "forward": round(forward, 3),
        "df": round(df, 5),
        "forward_source": source,
        "worst_strike": worst_strike,
        "worst_residual": round(worst_resid, 4),
        "worst_allowed": round(worst_allowed, 4),
    }
    if missing:
        numbers["note"] = f"other right not quoted: {','.join(missing)}"
    if worst_excess > 0:
        return _result(
            name,
            "block",
            f"put-call parity broken at strike {worst_strike:g}: C - P differs from "
            f"DF x (F - K) by {worst_resid:+.2f} (F {forward:.2f}, DF {df:.4f}), more than the "
            f"half-spreads plus {rules.parity_tolerance:g}",
            **numbers,
        )
    return _result(name, "pass", **numbers)
