"""Fit the SPX surface on Cboe chain snapshots; validate leave-one-date-out.

Usage::

    .venv/bin/python scripts/fit_models.py [--chains DIR] [--write] [--no-loo]

Reads every ``*.csv`` chain in ``--chains`` (default ``/work/shared/data/chains``,
layout in ``../shared/data/SOURCES.md``) with :mod:`daemon.chains`, takes
each quote date's daily levels from the bundled history, and recomputes
market IVs from mids (:func:`daemon.modelcheck.market_quotes`).

SPX: the free parameters of :class:`strategies.pricing.spx_surface.SpxSurfaceParams`
listed in :data:`SPX_FREE` are fitted by robust least squares (``soft_l1``,
scale 1 vol point) on ``model - market`` IV in vol points over the check
universe (OTM, 5-45 calendar DTE, |delta| 0.05-0.50), every date weighted
equally. Validation refits without each date in turn and scores the left-out
date (leave-one-date-out); the pooled figures pool those out-of-sample errors.

VIX chains are skipped here: the VIX option model and futures curve are
fitted on real VIX quotes by ``scripts/fit_vix_model.py``.

``--write`` rewrites the SPX block of ``strategies/pricing/calibrated.py`` with the fit on all
dates. The markdown validation table is printed (paste into
the README (Option model validation)).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon import modelcheck as mc  # noqa: E402
from daemon.chains import read_chains  # noqa: E402
from daemon.marketdata.loader import load_history  # noqa: E402
from strategies.domain import MarketContext  # noqa: E402
from strategies.pricing.spx_surface import SpxSurfaceParams  # noqa: E402

DEFAULT_CHAINS = Path("/work/shared/data/chains")

#: Fitted SPX parameters with (lower, upper) bounds.
SPX_FREE: dict[str, tuple[float, float]] = {
    "nonsession_weight": (0.0, 1.0),
    "cpi_weight": (0.0, 5.0),
    "fomc_weight": (0.0, 5.0),
    "atm_ratio": (0.5, 1.1),
    "atm_ratio_skew": (-0.3, 0.3),
    "atm_ratio_vix": (-1.0, 1.0),
    "atm_ratio_term": (-0.5, 0.5),
    "put_slope": (0.0, 1.0),
    "put_slope_skew": (-0.3, 0.3),
    "put_slope_vix": (-1.0, 1.0),
    "put_curvature": (0.0, 0.3),
    "put_curvature_skew": (-0.1, 0.1),
    "call_slope": (0.0, 1.0),
    "call_slope_vix": (-1.0, 1.0),
    "call_curvature": (0.0, 0.5),
    "slope_term_exponent": (-0.5, 1.0),
}


@dataclass
class DateData:
    """One chain's universe quotes and the inputs of its model."""

    chain_name: str
    quote_date: date
    quotes: mc.MarketQuotes
    ctx: MarketContext
    holidays: frozenset[date]


def load(chains_dir: Path) -> tuple[list[DateData], list[DateData], list[str]]:
    """SPX and VIX datasets (universe quotes only); problems as messages."""
    history = load_history()
    events = mc.load_events()
    chains, problems = read_chains([chains_dir])
    spx: list[DateData] = []
    vix: list[DateData] = []
    for c in chains:
        try:
            ctx = mc.context_for(history, c.quote_date, c)
            q = mc.market_quotes(c)
        except mc.ModelCheckError as exc:
            problems.append(str(exc))
            continue
        hol = mc.holidays_between(history, c.quote_date, c.quote_date + timedelta(days=130))
        q = q.select(mc.vix_universe(q) if c.symbol == "VIX" else mc.spx_universe(q))
        if len(q) == 0:
            problems.append(f"{c.path.name}: no quote in the check universe (skipped)")
            continue
        (vix if c.symbol == "VIX" else spx).append(DateData(c.path.name, c.quote_date, q, ctx, hol))
    global EVENTS
    EVENTS = events
    return spx, vix, problems


EVENTS: dict[date, tuple[str, ...]] = {}


def spx_params(x: np.ndarray, base: SpxSurfaceParams) -> SpxSurfaceParams:
    values: dict[str, Any] = dict(zip(SPX_FREE, map(float, x), strict=True))
    return dataclasses.replace(base, **values)


def spx_errors(d: DateData, p: SpxSurfaceParams) -> np.ndarray:
    """Signed model - market IV, vol points."""
    m = mc.model_iv(d.quotes, d.ctx, spx=p, holidays=d.holidays, events=EVENTS)
    return (m - d.quotes.iv) * 100.0


def fit_spx(data: list[DateData], x0: np.ndarray | None = None) -> SpxSurfaceParams:
    base = SpxSurfaceParams()
    lo = np.array([b[0] for b in SPX_FREE.values()])
    hi = np.array([b[1] for b in SPX_FREE.values()])
    start = np.array([getattr(base, k) for k in SPX_FREE]) if x0 is None else x0
    start = np.clip(start, lo + 1e-9, hi - 1e-9)
    weights = [1.0 / np.sqrt(len(d.quotes)) for d in data]

    def resid(x: np.ndarray) -> np.ndarray:
        p = spx_params(x, base)
        return np.concatenate([w * spx_errors(d, p) for d, w in zip(data, weights, strict=True)])

    scale = float(np.mean(weights))
    res = least_squares(resid, start, bounds=(lo, hi), loss="soft_l1", f_scale=scale,
                        x_scale="jac", max_nfev=400)  # fmt: skip
    return spx_params(res.x, base)


def stats(err: np.ndarray) -> tuple[float, float]:
    a = np.abs(err)
    return float(np.median(a)), float(np.percentile(a, 90))


def baseline(d: DateData) -> np.ndarray:
    return (mc.baseline_iv(d.quotes, d.ctx) - d.quotes.iv) * 100.0


def validation_rows(
    data: list[DateData], loo: bool, full: SpxSurfaceParams
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    rows = []
    all_err, all_base = [], []
    x_full = np.array([getattr(full, k) for k in SPX_FREE])
    for i, d in enumerate(data):
        p = fit_spx(data[:i] + data[i + 1 :], x_full) if loo else full
        err, base = spx_errors(d, p), baseline(d)
        all_err.append(err)
        all_base.append(base)
        med, p90 = stats(err)
        bmed, bp90 = stats(base)
        rows.append({"date": d.chain_name, "n": len(err), "median": med, "p90": p90,
                     "base_median": bmed, "base_p90": bp90,
                     "atm_ratio": p.atm_ratio})  # fmt: skip
        print(f"  {d.chain_name}: n={len(err)} median {med:.2f} p90 {p90:.2f} "
              f"baseline {bmed:.2f}/{bp90:.2f}", flush=True)  # fmt: skip
    return rows, np.concatenate(all_err), np.concatenate(all_base)


def table(rows: list[dict[str, Any]], pooled: tuple[float, float, float, float, int]) -> str:
    out = [
        "| chain | quotes | median | p90 | flat-VIX median | flat-VIX p90 "
        "| median x better | meets |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        tight = r["median"] <= 1.0 and r["p90"] <= 2.5
        every = r["median"] <= 1.5 and r["p90"] <= 3.0 and r["base_median"] >= 2 * r["median"]
        flag = "yes" if tight and every else ("every-date only" if every else "NO")
        out.append(
            f"| {r['date']} | {r['n']} | {r['median']:.2f} | {r['p90']:.2f} | "
            f"{r['base_median']:.2f} | {r['base_p90']:.2f} | "
            f"{r['base_median'] / r['median']:.1f} | {flag} |"
        )
    med, p90, bmed, bp90, n = pooled
    out.append(
        f"| **pooled** | {n} | {med:.2f} | {p90:.2f} | {bmed:.2f} | {bp90:.2f} | "
        f"{bmed / med:.1f} | |"
    )
    return "\n".join(out)


def write_calibrated(spx: SpxSurfaceParams, dates: list[str]) -> None:
    path = ROOT / "strategies" / "pricing" / "calibrated.py"
    text = path.read_text(encoding="utf-8")
    start = text.index("# --- BEGIN FITTED")
    end = text.index("# --- END FITTED")
    body = ["# --- BEGIN FITTED (written by scripts/fit_models.py --write; do not edit by hand)"]
    body.append(f"FIT_DATES: Final[tuple[str, ...]] = {tuple(dates)!r}")
    body.append("SPX: Final[dict[str, float]] = {")
    body += [f'    "{k}": {getattr(spx, k)!r},' for k in SPX_FREE]
    body.append("}")
    path.write_text(text[:start] + "\n".join(body) + "\n" + text[end:], encoding="utf-8")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", type=Path, default=DEFAULT_CHAINS, help="chain directory")
    ap.add_argument("--write", action="store_true", help="rewrite calibrated.py")
    ap.add_argument("--no-loo", action="store_true", help="skip leave-one-date-out")
    args = ap.parse_args(argv)
    t0 = time.time()
    spx, vix, problems = load(args.chains)
    for p in problems:
        print(f"note: {p}")
    print(f"SPX dates: {len(spx)}, quotes: {sum(len(d.quotes) for d in spx)}; "
          f"VIX dates: {len(vix)}")  # fmt: skip
    full = fit_spx(spx)
    print("SPX fit (all dates):")
    for k in SPX_FREE:
        print(f"  {k} = {getattr(full, k):.4f}")
    print("in-sample:")
    validation_rows(spx, False, full)
    print("leave-one-date-out:" if not args.no_loo else "")
    rows, err, base = validation_rows(spx, not args.no_loo, full)
    pooled = (*stats(err), *stats(base), len(err))
    print()
    print(table(rows, pooled))
    ok_dates = sum(r["median"] <= 1.0 and r["p90"] <= 2.5 for r in rows)
    print(f"\ndates meeting median<=1.0 & p90<=2.5: {ok_dates}/{len(rows)} "
          f"({100 * ok_dates / len(rows):.0f}%)")  # fmt: skip
    if args.write:
        write_calibrated(full, [d.chain_name for d in spx])
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
