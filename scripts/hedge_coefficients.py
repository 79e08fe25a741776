"""Measure the hedge-sizing coefficients of ``[hedge]`` from the bundled daily history.

Usage::

    .venv/bin/python scripts/hedge_coefficients.py [--start 2007-01-03] [--end 2024-12-31]

Prints, as ordinary least-squares slopes (with an intercept) of daily
close-to-close changes on the daily change of the VIX close (VIX points),
over the sessions where every series has a value:

* ``atm_iv_beta``: the change of the SPX implied vol at the condor's
  tenor (vol points) per VIX point. The tenor vol is read from Cboe's
  VIX9D (9 calendar days) and VIX (30 days) by linear interpolation of total
  variance in calendar time, ``w(T) = w9 + (w30 - w9) (T - 9) / 21`` with
  ``w = index^2 * days``, ``iv(T) = sqrt(w(T) / T)`` (the variance-time
  interpolation Cboe uses for the VIX itself, VIX White Paper 2019); printed
  for 7, 14 and 21 days (``atm_iv_beta``): the tenor's ATM move, an upper
  bound for a condor.
* ``condor_iv_beta`` (fixed strike, the default): a condor's strikes do not
  move, and as SPX falls its short put slides towards the money and its short
  call away from it, so the IV at its strikes rises less than the tenor's ATM
  (or variance-swap) vol. Measured through the replay's calibrated SPX
  surface (:func:`strategies.pricing.spx_surface.spx_surface_from_context`,
  from the bundle's VIX9D, VIX, VIX3M and SKEW): each session, the strikes
  of the 16-delta put and call of a 14-day expiry (``K = F exp(-+0.994
  sigma_atm sqrt(t))``), and the next session's IV at those same strikes one
  day closer to expiry; the slope of the mean change of the two (vol points;
  the shorts carry nearly equal vega) on the VIX change.
* ``spx_return_per_vix``: the SPX daily return (decimal) per VIX point; the
  condor's dollar delta (dollars per SPX point) times ``SPX *
  spx_return_per_vix`` is its delta loss per VIX point.
* ``vvix_log_beta``: the change of ``ln VVIX`` per VIX point. The VIX option
  vol scales with VVIX (``strategies.pricing.vix_model``: ATM vol =
  ``vvix_ratio * VVIX / 100 * term factor``, the smile multiplies it), so a
  VIX call's IV moves by ``iv * vvix_log_beta`` per VIX point and its
  vol-of-vol gain is ``vega * iv * vvix_log_beta`` dollars per contract.

The default window is the acceptance replay's, 2007-2024; the ATM betas use
only sessions with a VIX9D (from 2011); before 2011 the surface estimates
VIX9D from VIX (its documented fallback).
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from daemon.marketdata.history import MarketHistory
from daemon.marketdata.loader import load_history
from strategies.pricing.spx_surface import spx_surface_from_context

#: z of a 16-delta strike: N^-1(0.84).
Z16 = 0.994


def ols_slope(y: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` with an intercept."""
    xc = x - x.mean()
    return float(xc @ (y - y.mean()) / (xc @ xc))


def tenor_iv(vix9d: np.ndarray, vix: np.ndarray, days: float) -> np.ndarray:
    """SPX implied vol (vol points) at ``days`` calendar days from VIX9D and VIX."""
    w9, w30 = vix9d**2 * 9.0, vix**2 * 30.0
    w = w9 + (w30 - w9) * (days - 9.0) / 21.0
    return np.sqrt(np.maximum(w, 0.0) / days)


def fixed_strike_beta(h: MarketHistory, keep: np.ndarray, dte: float = 14.0) -> float:
    """Slope of the 16-delta strikes' IV change (fixed strikes) on the VIX change."""
    changes, dvix = [], []
    for i in np.flatnonzero(keep[:-1] & keep[1:]):
        try:
            c0, c1 = h.context(int(i)), h.context(int(i) + 1)
        except ValueError:  # no VIX that session
            continue
        s0, s1 = spx_surface_from_context(c0), spx_surface_from_context(c1)
        t0 = dte / 365.0
        t1 = t0 - (h.sessions[i + 1] - h.sessions[i]).days / 365.0
        width = Z16 * float(s0.atm_vol(t0)) * math.sqrt(t0)
        strikes = np.array([c0.spx * math.exp(-width), c0.spx * math.exp(width)])
        before = s0.vol(strikes, c0.spx, t0)
        after = s1.vol(strikes, c1.spx, t1)
        changes.append(float(np.mean(after - before)) * 100.0)
        dvix.append(c1.vix - c0.vix)
    return ols_slope(np.array(changes), np.array(dvix))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2007, 1, 3))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2024, 12, 31))
    args = parser.parse_args(argv)
    h = load_history()
    days = np.array(h.sessions, dtype="datetime64[D]")
    keep = (days >= np.datetime64(args.start)) & (days <= np.datetime64(args.end))
    vix, vix9d, spx, vvix = (a[keep] for a in (h.vix_close, h.vix9d, h.spx_close, h.vvix))
    dvix = np.diff(vix)
    print(f"sessions {args.start} .. {args.end}: {int(keep.sum())}")
    for tenor in (7.0, 14.0, 21.0):
        div = np.diff(tenor_iv(vix9d, vix, tenor))
        ok = np.isfinite(div) & np.isfinite(dvix)
        label = "atm_iv_beta"
        print(f"{label:<20} {tenor:>4.0f} d  {ols_slope(div[ok], dvix[ok]):.3f} vol pt / VIX pt")
    print(f"{'condor_iv_beta':<20} fixed strike  {fixed_strike_beta(h, keep):.3f} vol pt / VIX pt")
    ret = np.diff(spx) / spx[:-1]
    ok = np.isfinite(ret) & np.isfinite(dvix)
    print(f"{'spx_return_per_vix':<28} {ols_slope(ret[ok], dvix[ok]):.5f} / VIX pt")
    dlv = np.diff(np.log(vvix))
    ok = np.isfinite(dlv) & np.isfinite(dvix)
    print(f"{'vvix_log_beta':<28} {ols_slope(dlv[ok], dvix[ok]):.4f} / VIX pt")


if __name__ == "__main__":
    main()
