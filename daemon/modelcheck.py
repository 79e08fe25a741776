"""``alvh model-check``: compare the option models with a real Cboe chain.

For each chain file (:mod:`daemon.chains`) the check

1. takes the quote date's end-of-day levels from the bundled daily history
   (:func:`daemon.marketdata.loader.load_history`; a date outside it is an
   error), plus the exchange holidays and the bundled CPI/FOMC calendar; for
   an intraday SPX file the VIX-family levels are moved back from the close
   to the quote time (:func:`context_for`);
2. recomputes the market IV of every quote **from its mid** with Black-76
   (:func:`strategies.pricing.implied_vol.implied_vol`), on the forward and
   discount factor implied by put-call parity of that expiry (regression of
   ``C - P = D (F - K)`` on the 8 strikes nearest the money), with time
   measured from the moment the quotes are from (16:00 ET of the quote date,
   or the download time of an intraday file) to settlement (16:00 ET for
   PM-settled SPXW, 09:30 ET for AM-settled SPX monthlies and VIX). Cboe's own
   IV column measures time from the download moment, which can be days
   later, so it is not used for the comparison;
3. keeps out-of-the-money quotes with 5-45 calendar DTE, |delta| 0.05-0.50
   (delta from the market IV) and a two-sided quote (SPX); for a VIX chain,
   calls with 30-120 DTE from at the money to 40 % out of the money, priced
   on the VIX future implied by parity;
4. reports (JSON: ``null`` where a chain has no quote in the universe,
   e.g. a long-dated-only file) the number of quotes, the median and 90th percentile of
   ``|model IV - market IV|`` in vol points, the same for the flat-VIX
   baseline (IV = VIX for SPX; IV = VVIX for VIX options), and a breakdown by
   DTE and delta bucket. Several files also give pooled figures.

Units: IV errors in vol points (1 = 0.01 of vol); DTE calendar days.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from daemon.chains import OptionChain
from strategies.domain import MarketContext
from strategies.pricing.implied_vol import implied_vol
from strategies.pricing.spx_surface import (
    CLOCK_DAYS_PER_YEAR,
    SpxSurfaceParams,
    spx_surface_from_context,
)
from strategies.pricing.vix_model import VixOptionParams, vix_option_vol

__all__ = [
    "DELTA_BUCKETS",
    "DTE_BUCKETS",
    "MarketQuotes",
    "add_parser",
    "baseline_iv",
    "check_chain",
    "market_quotes",
    "model_iv",
    "run",
    "spx_universe",
    "summarize",
    "vix_universe",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: (low, high) calendar-DTE buckets of the breakdown (inclusive).
DTE_BUCKETS: tuple[tuple[int, int], ...] = ((5, 10), (11, 20), (21, 30), (31, 45))
#: (low, high) |delta| buckets of the breakdown.
DELTA_BUCKETS: tuple[tuple[float, float], ...] = ((0.05, 0.15), (0.15, 0.30), (0.30, 0.50))
#: VIX buckets: calendar DTE and OTM-ness ``K/F - 1``.
VIX_DTE_BUCKETS: tuple[tuple[int, int], ...] = ((30, 60), (61, 90), (91, 120))
VIX_OTM_BUCKETS: tuple[tuple[float, float], ...] = ((0.0, 0.15), (0.15, 0.40))

_SESSION_HOURS = 6.5
_PARITY_STRIKES = 8


class ModelCheckError(RuntimeError):
    """The check cannot run (file unreadable, date outside the bundled data)."""


@dataclass(frozen=True, eq=False)
class MarketQuotes:
    """A chain's OTM quotes with market IVs recomputed from mids (parallel arrays).

    Attributes:
        chain: the source chain.
        expiry: expiry per quote (``datetime64[D]``); dte: calendar days.
        trading_class: per quote.
        t: calendar years from the quote moment to settlement.
        t_close: calendar years from 16:00 ET of the quote date to settlement.
        session_left: fraction of the quote date's session still to come
            (0 for end-of-day files).
        forward: parity forward of the quote's expiry, index points.
        rate: continuous rate implied by the parity discount factor.
        strike, is_call, mid, bid, ask: the quotes (index points).
        iv: market IV from the mid (decimal, NaN if outside no-arbitrage bounds).
        delta: Black forward delta at the market IV (signed).
    """

    chain: OptionChain
    expiry: npt.NDArray[np.datetime64]
    dte: npt.NDArray[np.int64]
    trading_class: npt.NDArray[np.str_]
    t: FloatArray
    t_close: FloatArray
    session_left: float
    forward: FloatArray
    rate: FloatArray
    strike: FloatArray
    is_call: BoolArray
    mid: FloatArray
    bid: FloatArray
    ask: FloatArray
    iv: FloatArray
    delta: FloatArray

    def __len__(self) -> int:
        return len(self.strike)

    def select(self, mask: BoolArray) -> MarketQuotes:
        """The quotes where ``mask`` is True."""
        return MarketQuotes(
            self.chain, self.expiry[mask], self.dte[mask], self.trading_class[mask],
            self.t[mask], self.t_close[mask], self.session_left, self.forward[mask],
            self.rate[mask], self.strike[mask], self.is_call[mask], self.mid[mask],
            self.bid[mask], self.ask[mask], self.iv[mask], self.delta[mask],
        )  # fmt: skip


def _parity(strike: FloatArray, call_mid: FloatArray, put_mid: FloatArray) -> tuple[float, float]:
    """Forward and discount factor from ``C - P = D (F - K)`` near the money."""
    diff = call_mid - put_mid
    sel = np.argsort(np.abs(diff))[:_PARITY_STRIKES]
    if len(sel) >= 3 and np.ptp(strike[sel]) > 0:
        a = np.vstack([np.ones(len(sel)), -strike[sel]]).T
        (intercept, disc), *_ = np.linalg.lstsq(a, diff[sel], rcond=None)
        if 0.8 < disc < 1.05:
            return float(intercept / disc), float(disc)
    return float(np.median(strike[sel] + diff[sel])), 1.0


def market_quotes(chain: OptionChain) -> MarketQuotes:
    """Recompute forwards, market IVs and deltas for a chain's OTM quotes.

    Each (trading class, expiry) group needs at least two strikes quoted on
    both sides for the parity forward; others are dropped.
    """
    close = datetime.combine(chain.quote_date, time(16, 0))
    left = max((close - chain.quote_time).total_seconds() / 3600.0, 0.0) / _SESSION_HOURS
    parts: list[dict[str, Any]] = []
    for cls in np.unique(chain.trading_class):
        for exp in np.unique(chain.expiry[chain.trading_class == cls]):
            m = (chain.trading_class == cls) & (chain.expiry == exp)
            ed: date = exp.astype(object)
            am = str(cls) in ("SPX", "VIX")
            settle = datetime.combine(ed, time(9, 30) if am else time(16, 0))
            t = (settle - chain.quote_time).total_seconds() / 86400.0 / 365.0
            t_close = (settle - close).total_seconds() / 86400.0 / 365.0
            if t <= 0.0:
                continue
            k, call, mid = chain.strike[m], chain.is_call[m], chain.mid[m]
            calls = dict(zip(k[call].tolist(), mid[call].tolist(), strict=True))
            puts = dict(zip(k[~call].tolist(), mid[~call].tolist(), strict=True))
            common = sorted(set(calls) & set(puts))
            if len(common) < 2:
                continue
            ck = np.array(common)
            fwd, disc = _parity(
                ck, np.array([calls[x] for x in common]), np.array([puts[x] for x in common])
            )
            rate = -math.log(disc) / t
            otm = np.where(call, k >= fwd, k < fwd)
            kk, cc = k[otm], call[otm]
            iv = implied_vol(mid[otm], fwd, kk, t, cc, rate)
            with np.errstate(divide="ignore", invalid="ignore"):
                d1 = np.log(fwd / kk) / (iv * math.sqrt(t)) + 0.5 * iv * math.sqrt(t)
            delta = np.where(cc, ndtr(d1), ndtr(d1) - 1.0) * disc
            n = int(otm.sum())
            parts.append(
                {
                    "expiry": np.full(n, exp, dtype="datetime64[D]"),
                    "dte": np.full(n, (ed - chain.quote_date).days, dtype=np.int64),
                    "trading_class": np.full(n, str(cls)),
                    "t": np.full(n, t),
                    "t_close": np.full(n, t_close),
                    "forward": np.full(n, fwd),
                    "rate": np.full(n, rate),
                    "strike": kk,
                    "is_call": cc,
                    "mid": mid[otm],
                    "bid": chain.bid[m][otm],
                    "ask": chain.ask[m][otm],
                    "iv": iv,
                    "delta": delta,
                }
            )
    if not parts:
        raise ModelCheckError(f"{chain.path}: no expiry with a put-call parity forward")
    cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return MarketQuotes(chain=chain, session_left=left, **cat)


def spx_universe(q: MarketQuotes, dte: tuple[int, int] = (5, 45)) -> BoolArray:
    """Mask of the SPX check universe: ``dte`` calendar days, |delta| 0.05-0.50, IV known."""
    ad = np.abs(q.delta)
    return (
        (q.dte >= dte[0]) & (q.dte <= dte[1]) & (ad >= 0.05) & (ad <= 0.50)
        & np.isfinite(q.iv) & (q.bid > 0) & (q.ask > q.bid * 0.999)
    )  # fmt: skip


def vix_universe(q: MarketQuotes) -> BoolArray:
    """Mask of the VIX check universe: calls, 30-120 DTE, ``0 <= K/F - 1 <= 0.40``."""
    otm = q.strike / q.forward - 1.0
    return (
        q.is_call & (q.dte >= 30) & (q.dte <= 120) & (otm >= 0.0) & (otm <= 0.40)
        & np.isfinite(q.iv) & (q.bid > 0)
    )  # fmt: skip


def _groups(q: MarketQuotes) -> list[tuple[npt.NDArray[np.intp], float, float, float]]:
    """Index arrays of each (class, expiry) group with its forward, t and t_close."""
    out = []
    keys = np.char.add(q.trading_class.astype(str), q.expiry.astype(str))
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        out.append((idx, float(q.forward[idx[0]]), float(q.t[idx[0]]), float(q.t_close[idx[0]])))
    return out


def model_iv(
    q: MarketQuotes,
    ctx: MarketContext,
    *,
    spx: SpxSurfaceParams | None = None,
    vix_options: VixOptionParams | None = None,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> FloatArray:
    """Model IV (decimal, calendar-time convention) for every quote of ``q``.

    SPX: :func:`~strategies.pricing.spx_surface.spx_surface_from_context` on
    the chain's parity forward; an intraday file adds the rest of the session
    to the clock. VIX: :func:`~strategies.pricing.vix_model.vix_option_vol`
    on the parity future (the market's VIX future of that expiry).
    """
    out = np.full(len(q), np.nan)
    if q.chain.symbol == "VIX":
        for idx, fwd, t, _ in _groups(q):
            out[idx] = vix_option_vol(q.strike[idx], fwd, t, ctx.vvix, vix_options, vix=ctx.vix)
        return out
    surface = spx_surface_from_context(ctx, spx, holidays=holidays, events=events)
    for idx, fwd, t, t_close in _groups(q):
        tau = surface.tau(t_close) + q.session_left / CLOCK_DAYS_PER_YEAR
        out[idx] = surface.vol(q.strike[idx], fwd, t, tau)
    return out


def baseline_iv(q: MarketQuotes, ctx: MarketContext) -> FloatArray:
    """Flat baseline: IV = VIX / 100 for SPX, VVIX / 100 for VIX options."""
    level = ctx.vvix if q.chain.symbol == "VIX" and ctx.vvix is not None else ctx.vix
    return np.full(len(q), level / 100.0)


def _stats(err: FloatArray) -> tuple[float, float]:
    if len(err) == 0:
        return math.nan, math.nan
    return float(np.median(err)), float(np.percentile(err, 90))


def summarize(
    model_err: FloatArray,
    base_err: FloatArray,
    dte: npt.NDArray[np.int64] | None = None,
    bucket_x: FloatArray | None = None,
    *,
    vix: bool = False,
) -> dict[str, Any]:
    """Figures of one set of absolute IV errors (vol points) and its baseline.

    Args:
        model_err, base_err: ``|model - market|`` and ``|baseline - market|``, vol points.
        dte, bucket_x: per-quote calendar DTE and |delta| (SPX) or ``K/F - 1``
            (VIX) for the breakdown; omitted = no breakdown.
        vix: use the VIX buckets.
    """
    med, p90 = _stats(model_err)
    bmed, bp90 = _stats(base_err)
    res: dict[str, Any] = {
        "n_quotes": len(model_err),
        "median_abs_iv_error_vol_pts": med,
        "p90_abs_iv_error_vol_pts": p90,
        "baseline_median_abs_iv_error_vol_pts": bmed,
        "baseline_p90_abs_iv_error_vol_pts": bp90,
    }
    if dte is not None and bucket_x is not None:
        rows = []
        dte_b = VIX_DTE_BUCKETS if vix else DTE_BUCKETS
        x_b = VIX_OTM_BUCKETS if vix else DELTA_BUCKETS
        for lo, hi in dte_b:
            for xlo, xhi in x_b:
                m = (dte >= lo) & (dte <= hi) & (bucket_x >= xlo) & (bucket_x <= xhi)
                if not m.any():
                    continue
                bm, bp = _stats(model_err[m])
                bb, _ = _stats(base_err[m])
                rows.append(
                    {
                        "dte": [lo, hi],
                        ("otm" if vix else "abs_delta"): [xlo, xhi],
                        "n_quotes": int(m.sum()),
                        "median_abs_iv_error_vol_pts": bm,
                        "p90_abs_iv_error_vol_pts": bp,
                        "baseline_median_abs_iv_error_vol_pts": bb,
                    }
                )
        res["buckets"] = rows
    return res


@dataclass(frozen=True, eq=False)
class ChainCheck:
    """Result of checking one chain: the universe quotes, model and baseline IVs."""

    quotes: MarketQuotes
    ctx: MarketContext
    model: FloatArray
    baseline: FloatArray

    @property
    def is_vix(self) -> bool:
        return self.quotes.chain.symbol == "VIX"

    def errors(self) -> tuple[FloatArray, FloatArray]:
        """``(|model - market|, |baseline - market|)`` in vol points."""
        return (
            np.abs(self.model - self.quotes.iv) * 100.0,
            np.abs(self.baseline - self.quotes.iv) * 100.0,
        )

    def bucket_x(self) -> FloatArray:
        q = self.quotes
        return q.strike / q.forward - 1.0 if self.is_vix else np.abs(q.delta)

    def summary(self) -> dict[str, Any]:
        me, be = self.errors()
        res = summarize(me, be, self.quotes.dte, self.bucket_x(), vix=self.is_vix)
        c = self.quotes.chain
        return {"file": c.path.name, "symbol": c.symbol, "quote_date": c.quote_date.isoformat(),
                **res}  # fmt: skip


def check_chain(
    chain: OptionChain,
    ctx: MarketContext,
    *,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
    spx: SpxSurfaceParams | None = None,
    vix_options: VixOptionParams | None = None,
) -> ChainCheck:
    """Model and baseline IVs on the check universe of one chain."""
    q = market_quotes(chain)
    q = q.select(vix_universe(q) if chain.symbol == "VIX" else spx_universe(q))
    model = model_iv(q, ctx, spx=spx, vix_options=vix_options, holidays=holidays, events=events)
    return ChainCheck(q, ctx, model, baseline_iv(q, ctx))


# -- calendar inputs ------------------------------------------------------------------

_EVENTS_FILE = Path(__file__).resolve().parent / "calendars" / "data" / "macro_events.csv"


def load_events(path: Path = _EVENTS_FILE) -> dict[date, tuple[str, ...]]:
    """CPI and FOMC dates of the bundled macro calendar (``date,time_et,event,...``)."""
    events: dict[date, tuple[str, ...]] = {}
    if not path.is_file():
        return events
    with path.open(encoding="utf-8") as fh:
        next(fh, None)
        for line in fh:
            cells = line.split(",")
            if len(cells) < 3 or cells[2] not in ("CPI", "FOMC"):
                continue
            try:
                d = date.fromisoformat(cells[0])
            except ValueError:
                continue
            events[d] = (*events.get(d, ()), cells[2])
    return events


def holidays_between(history: Any, start: date, end: date) -> frozenset[date]:
    """Weekday non-sessions of the exchange calendar between ``start`` and ``end``."""
    cal = history.calendar
    out = set()
    d = start
    while d <= end:
        try:
            if d.weekday() < 5 and not cal.is_session(d):
                out.add(d)
        except Exception:  # beyond the calendar's range: assume a session
            pass
        d += timedelta(days=1)
    return frozenset(out)


#: Daily log elasticity of VIX to SPX (OLS slope of d ln VIX on d ln SPX,
#: bundled Cboe/S&P closes 2009-2024: -4.95).
VIX_SPX_ELASTICITY = -4.95


def context_for(history: Any, quote_date: date, chain: OptionChain | None = None) -> MarketContext:
    """The bundled end-of-day context of ``quote_date``.

    For an intraday SPX ``chain`` the daily data are closes taken hours
    after the quotes, so VIX9D, VIX and VIX3M are moved back to the quote
    time with the chain's own SPX level:
    ``index * (S_quote / S_close) ** VIX_SPX_ELASTICITY`` (SKEW unchanged),
    and ``spx`` is set to ``S_quote``.

    Raises:
        ModelCheckError: the date is not a session of the bundled history.
    """
    from daemon.marketdata.loader import MarketDataError

    try:
        ctx: MarketContext = history.context(history.index_of(quote_date))
    except MarketDataError as exc:
        raise ModelCheckError(
            f"no bundled daily data for quote date {quote_date.isoformat()}: {exc} "
            f"(bundled history {history.first_session}..{history.last_session})"
        ) from None
    if chain is not None and chain.intraday and chain.symbol == "SPX" and ctx.spx > 0:
        f = (chain.underlying / ctx.spx) ** VIX_SPX_ELASTICITY

        def scaled(x: float | None) -> float | None:
            return None if x is None else x * f

        ctx = replace(
            ctx, spx=chain.underlying, vix=ctx.vix * f, vix9d=scaled(ctx.vix9d),
            vix3m=scaled(ctx.vix3m),
        )  # fmt: skip
    return ctx


# -- CLI (daemon.modelcheck_cli) ------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Add the ``model-check`` subcommand (see :mod:`daemon.modelcheck_cli`)."""
    from daemon import modelcheck_cli

    modelcheck_cli.add_parser(subparsers)


def run(args: argparse.Namespace) -> int:
    """Run ``alvh model-check`` (see :func:`daemon.modelcheck_cli.run`)."""
    from daemon import modelcheck_cli

    return modelcheck_cli.run(args)
