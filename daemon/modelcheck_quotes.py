"""``alvh model-check`` on a plain quotes file (:mod:`daemon.quotes_file`).

Each quote is priced where it was quoted:

* time: from 16:00 ET of the quote date to settlement (09:30 ET for VIX and
  AM-settled SPX, 16:00 ET for SPXW), calendar years;
* forward: the put-call-parity forward of that date and expiry when the
  file quotes both rights on at least three common strikes (the forward the
  quotes themselves were priced on, taken at the same moment); else, for
  VIX, the CFE settlement of the future of the same expiry on the quote date
  (bundled ``vix_futures.csv``; a call-only file such as Cboe's VXTH data);
  else the modelled curve
  (:func:`strategies.pricing.vix_model.vix_futures_curve`). For SPX the
  parity forward, else the bundled SPX close. Parity comes first because a
  settlement is a 16:15 ET price while a snapshot may be from another moment
  or day (the 2023 VIX chains carry guessed quote dates: on their 24
  expiries with both, parity minus settlement is a median +0.09 points,
  median absolute 0.16, up to 1.59). Rate 0 (the quotes' own
  discounting is within the quote noise at these maturities);
* market IV from the mid (Black-76); model IV from the shipped models with
  the quote date's bundled daily levels (VIX, VIX3M, VVIX, SKEW, VIX9D).

Universe: VIX calls with 7-120 calendar DTE and a mid of at least 0.10
(two ticks: below it the tick alone moves the price by 25 % and the IV by
tens of points); SPX out-of-the-money quotes with 5-45 DTE and |delta|
0.05-0.50. Rows outside it are counted in ``n_excluded``.

Figures: the chain check's keys (``n_quotes``, median and p90 of
``|model IV - market IV|`` in vol points, the flat baseline's, DTE buckets)
plus ``median_abs_price_error_pct`` (``|model price / mid - 1|``, percent)
and ``by_vix_regime`` keyed ``"<20"``, ``"20-30"``, ``">30"`` on the VIX close
of the quote date, ``by_year``, ``by_moneyness`` (keyed on ``ln(K/F)``
buckets of :data:`MONEYNESS_BUCKETS`), ``by_price`` (keyed on the mid, index
points, :data:`PRICE_BUCKETS`: the price error of a cheap call is bounded
below by its tick and spread) and ``share_inside_bid_ask`` (model prices
within the quoted bid-ask, two-sided quotes only; ``null`` without any).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from daemon.quotes_file import QuoteRows
from strategies.domain import MarketContext
from strategies.pricing.black import black_price
from strategies.pricing.implied_vol import implied_vol
from strategies.pricing.spx_surface import SpxSurfaceParams, spx_surface_from_context
from strategies.pricing.vix_model import (
    VixCurveParams,
    VixOptionParams,
    vix_futures_curve,
    vix_option_vol_arrays,
    vvix_or_fallback,
)

__all__ = [
    "MONEYNESS_BUCKETS",
    "PRICE_BUCKETS",
    "VIX_REGIMES",
    "PricedQuotes",
    "price_quotes",
    "quotes_model_iv",
    "quotes_summary",
    "quotes_universe",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: VIX regimes of ``by_vix_regime``: label -> [low, high) on the VIX close.
VIX_REGIMES: tuple[tuple[str, float, float], ...] = (
    ("<20", 0.0, 20.0),
    ("20-30", 20.0, 30.0),
    (">30", 30.0, math.inf),
)
#: ``ln(K/F)`` buckets of ``by_moneyness``: label -> [low, high).
MONEYNESS_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<-0.05", -math.inf, -0.05),
    ("-0.05..0.05", -0.05, 0.05),
    ("0.05..0.20", 0.05, 0.20),
    ("0.20..0.40", 0.20, 0.40),
    ("0.40..0.70", 0.40, 0.70),
    (">=0.70", 0.70, math.inf),
)
#: Mid-price buckets of ``by_price`` (index points): label -> [low, high).
PRICE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<0.20", 0.0, 0.20),
    ("0.20..0.50", 0.20, 0.50),
    ("0.50..1", 0.50, 1.0),
    ("1..3", 1.0, 3.0),
    (">=3", 3.0, math.inf),
)
_MIN_PARITY = 3


@dataclass(frozen=True, eq=False)
class PricedQuotes:
    """Quotes with their forward, time, market IV and the day's levels (parallel arrays).

    Attributes:
        rows: the file's quotes.
        symbol: ``VIX`` or ``SPX`` per quote (SPXW counts as SPX).
        dte: calendar days; t: calendar years to settlement.
        forward: futures/forward price used, index points.
        forward_source: ``settlement``, ``parity``, ``curve`` or ``close``.
        iv: market IV from the mid (decimal, NaN outside the no-arbitrage bounds).
        delta: Black forward delta at the market IV.
        vix, vix3m, vvix, vix9d, skew: bundled closes of the quote date (NaN if missing).
        contexts: quote date -> bundled context.
    """

    rows: QuoteRows
    symbol: npt.NDArray[np.str_]
    dte: npt.NDArray[np.int64]
    t: FloatArray
    forward: FloatArray
    forward_source: npt.NDArray[np.str_]
    iv: FloatArray
    delta: FloatArray
    vix: FloatArray
    vvix: FloatArray
    contexts: Mapping[date, MarketContext]

    def __len__(self) -> int:
        return len(self.t)


def _settle_time(underlying: str, expiry: date) -> datetime:
    return datetime.combine(expiry, time(16, 0) if underlying == "SPXW" else time(9, 30))


def _parity_forward(k_c: FloatArray, p_c: FloatArray, k_p: FloatArray, p_p: FloatArray) -> float:
    """Forward from ``C - P = F - K`` on the common strikes nearest the money (NaN if < 3)."""
    puts = dict(zip(k_p.tolist(), p_p.tolist(), strict=True))
    pairs = [(k, c - puts[k]) for k, c in zip(k_c.tolist(), p_c.tolist(), strict=True) if k in puts]
    if len(pairs) < _MIN_PARITY:
        return math.nan
    pairs.sort(key=lambda kd: abs(kd[1]))
    near = pairs[:8]
    return float(np.median([k + d for k, d in near]))


def price_quotes(
    rows: QuoteRows,
    contexts: Mapping[date, MarketContext],
    *,
    curve: VixCurveParams | None = None,
) -> PricedQuotes:
    """Forwards, times and market IVs for every quote of ``rows``.

    Args:
        rows: the quotes.
        contexts: the bundled context of every quote date in ``rows``.
        curve: modelled VIX curve where neither a settlement nor parity exists.

    Raises:
        KeyError: a quote date missing from ``contexts``.
    """
    n = len(rows)
    forward = np.full(n, np.nan)
    source = np.full(n, "", dtype="<U10")
    t = np.zeros(n)
    keys = np.char.add(
        np.char.add(rows.quote_date.astype(str), rows.underlying), rows.expiry.astype(str)
    )
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        qd: date = rows.quote_date[idx[0]].astype(object)
        ex: date = rows.expiry[idx[0]].astype(object)
        und = str(rows.underlying[idx[0]])
        ctx = contexts[qd]
        tt = (_settle_time(und, ex) - datetime.combine(qd, time(16, 0))).total_seconds()
        tt /= 86400.0 * 365.0
        t[idx] = tt
        c, p = idx[rows.is_call[idx]], idx[~rows.is_call[idx]]
        fwd = _parity_forward(rows.strike[c], rows.mid[c], rows.strike[p], rows.mid[p])
        src = "parity"
        if math.isfinite(fwd):
            pass
        elif und == "VIX" and ex in ctx.vix_futures:
            fwd, src = float(ctx.vix_futures[ex]), "settlement"
        else:
            if und == "VIX":
                fwd = float(vix_futures_curve(ctx.vix, ctx.vix3m, max(tt, 0.0), curve))
                src = "curve"
            else:
                fwd, src = float(ctx.spx), "close"
        forward[idx] = fwd
        source[idx] = src
    ok = t > 0.0
    iv = np.full(n, np.nan)
    iv[ok] = implied_vol(rows.mid[ok], forward[ok], rows.strike[ok], t[ok], rows.is_call[ok])
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = iv * np.sqrt(np.maximum(t, 0.0))
        d1 = np.log(forward / rows.strike) / sd + 0.5 * sd
    delta = np.where(rows.is_call, ndtr(d1), ndtr(d1) - 1.0)
    dates = [d.astype(object) for d in rows.quote_date]

    def level(name: str) -> FloatArray:
        vals = [getattr(contexts[d], name) for d in dates]
        return np.array([math.nan if v is None else float(v) for v in vals], dtype=np.float64)

    symbol = np.where(rows.underlying == "VIX", "VIX", "SPX")
    dte = (rows.expiry - rows.quote_date).astype(np.int64)
    return PricedQuotes(rows, symbol, dte, t, forward, source, iv, delta, level("vix"),
                        level("vvix"), contexts)  # fmt: skip


def quotes_universe(q: PricedQuotes) -> BoolArray:
    """The check universe (module docstring): VIX calls 7-120 DTE, mid >= 0.10; SPX OTM."""
    r = q.rows
    finite = np.isfinite(q.iv) & (q.t > 0.0)
    vix = (q.symbol == "VIX") & r.is_call & (q.dte >= 7) & (q.dte <= 120) & (r.mid >= 0.10)
    otm = np.where(r.is_call, r.strike >= q.forward, r.strike < q.forward)
    ad = np.abs(q.delta)
    spx = (q.symbol == "SPX") & otm & (q.dte >= 5) & (q.dte <= 45) & (ad >= 0.05) & (ad <= 0.50)
    return finite & (vix | spx)


def quotes_model_iv(
    q: PricedQuotes,
    *,
    vix_options: VixOptionParams | None = None,
    spx: SpxSurfaceParams | None = None,
) -> FloatArray:
    """Model IV (decimal) for every quote: VIX model on the quote's future, SPX surface."""
    out = np.full(len(q), np.nan)
    r = q.rows
    live = q.t > 0.0
    vx = np.flatnonzero(live & (q.symbol == "VIX"))
    if len(vx):
        p = vix_options if vix_options is not None else VixOptionParams()
        levels = np.array([vvix_or_fallback(None if math.isnan(a) else a, b, p)
                           for a, b in zip(q.vvix[vx], q.vix[vx], strict=True)])  # fmt: skip
        out[vx] = vix_option_vol_arrays(r.strike[vx], q.forward[vx], q.t[vx], levels, q.vix[vx], p)
    sp = live & (q.symbol != "VIX")
    keys = np.char.add(np.char.add(r.quote_date.astype(str), r.underlying), r.expiry.astype(str))
    for key in np.unique(keys[sp]):
        idx = np.flatnonzero(sp & (keys == key))
        ctx = q.contexts[r.quote_date[idx[0]].astype(object)]
        fwd, tt = float(q.forward[idx[0]]), float(q.t[idx[0]])
        out[idx] = spx_surface_from_context(ctx, spx).vol(r.strike[idx], fwd, tt)
    return out


def _baseline(q: PricedQuotes) -> FloatArray:
    """Flat baseline: VVIX (or its fallback) for VIX options, VIX for SPX; decimal."""
    base = VixOptionParams()
    vv = np.array([vvix_or_fallback(None if math.isnan(a) else a, b, base)
                   for a, b in zip(q.vvix, q.vix, strict=True)])  # fmt: skip
    return np.where(q.symbol == "VIX", vv, q.vix) / 100.0


def _block(iv_err: FloatArray, price_err: FloatArray) -> dict[str, Any]:
    if len(iv_err) == 0:
        return {"n_quotes": 0, "median_abs_iv_error_vol_pts": None,
                "p90_abs_iv_error_vol_pts": None, "median_abs_price_error_pct": None}  # fmt: skip
    return {
        "n_quotes": len(iv_err),
        "median_abs_iv_error_vol_pts": float(np.median(iv_err)),
        "p90_abs_iv_error_vol_pts": float(np.percentile(iv_err, 90)),
        "median_abs_price_error_pct": float(np.median(price_err)),
    }


def quotes_summary(
    q: PricedQuotes,
    model: FloatArray,
    mask: BoolArray,
) -> dict[str, Any]:
    """JSON-ready figures of the quotes in ``mask`` (keys in the module docstring)."""
    from daemon.modelcheck import summarize

    r = q.rows
    sel = np.flatnonzero(mask)
    iv_err = np.abs(model[sel] - q.iv[sel]) * 100.0
    base_err = np.abs(_baseline(q)[sel] - q.iv[sel]) * 100.0
    price = black_price(q.forward[sel], r.strike[sel], q.t[sel], model[sel], r.is_call[sel])
    price_err = np.abs(price / r.mid[sel] - 1.0) * 100.0
    is_vix = bool(len(sel)) and bool(np.all(q.symbol[sel] == "VIX"))
    bx = (r.strike / q.forward - 1.0 if is_vix else np.abs(q.delta))[sel]
    res = summarize(iv_err, base_err, q.dte[sel], bx, vix=is_vix)
    res["median_abs_price_error_pct"] = _block(iv_err, price_err)["median_abs_price_error_pct"]
    vix = q.vix[sel]
    res["by_vix_regime"] = {
        label: _block(iv_err[(vix >= lo) & (vix < hi)], price_err[(vix >= lo) & (vix < hi)])
        for label, lo, hi in VIX_REGIMES
    }
    lm = np.log(r.strike[sel] / q.forward[sel])
    res["by_moneyness"] = {
        label: _block(iv_err[(lm >= lo) & (lm < hi)], price_err[(lm >= lo) & (lm < hi)])
        for label, lo, hi in MONEYNESS_BUCKETS
    }
    mid = r.mid[sel]
    res["by_price"] = {
        label: _block(iv_err[(mid >= lo) & (mid < hi)], price_err[(mid >= lo) & (mid < hi)])
        for label, lo, hi in PRICE_BUCKETS
    }
    two = (r.bid[sel] > 0.0) & (r.ask[sel] > r.bid[sel])
    inside = two & (price >= r.bid[sel]) & (price <= r.ask[sel])
    res["share_inside_bid_ask"] = float(inside.sum() / two.sum()) if two.any() else None
    years = r.quote_date[sel].astype("datetime64[Y]").astype(int) + 1970
    res["by_year"] = {
        str(y): _block(iv_err[years == y], price_err[years == y]) for y in np.unique(years)
    }
    dates = r.quote_date
    symbols = sorted(set(q.symbol.tolist()))
    src, cnt = np.unique(q.forward_source[sel], return_counts=True)
    return {
        "file": r.path.name,
        "symbol": symbols[0] if len(symbols) == 1 else "+".join(symbols),
        "quote_date": str(dates.min()) if len(dates) else None,
        "last_quote_date": str(dates.max()) if len(dates) else None,
        "n_rows": len(r) + r.skipped,
        "n_excluded": len(r) + r.skipped - len(sel),
        "forward_sources": {str(s): int(c) for s, c in zip(src, cnt, strict=True)},
        **res,
    }
