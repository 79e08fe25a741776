"""Fit the VIX option model and the modelled VIX futures curve on real data; validate by year.

Usage::

    .venv/bin/python scripts/fit_vix_model.py [--data DIR] [--write] [--fit-weeklies]

Data (``--data``, default ``/work/shared/data``, provenance in its ``SOURCES.md``;
raw quotes are not redistributed, only the fitted parameters):

* ``vix_options/vxth_vix_calls_2006_2013.csv``: Cboe's VXTH daily data, the
  one-month ~30-delta VIX call the VIX Tail Hedge index holds (a plain quotes
  file, :mod:`daemon.quotes_file`; mid only before 2011);
* ``vix_options/vix_chains_2023/*.csv``: Cboe VIX/VIXW chain snapshots of 2023
  (quote date = ``INDEX.csv``'s guess from the commit time) and
  ``chains/VIX_2023-05-15_intraday1147.csv``.

Every quote is priced as ``alvh model-check`` prices a quotes file
(:mod:`daemon.modelcheck_quotes`: the put-call-parity future of its expiry
where the file quotes both rights (the chains), else the CFE settlement of
the future of its expiry (VXTH), market IV from the mid) and kept if it is in
the check universe (calls, 7-120 DTE, mid >= 0.10). :data:`VIX_FREE` of
:class:`strategies.pricing.vix_model.VixOptionParams` are fitted by robust
least squares (``soft_l1``, scale 2 vol points) on ``model - market`` IV,
on the standard monthly class only (:data:`FIT_CLASSES`: the class the
replay trades; the chains' VIXW weeklies quote 2-5 times wider and are scored,
not fitted; ``--fit-weeklies`` fits them too).
Validation is **leave-one-year-out**: refit without a year, score it; the
printed tables pool those out-of-sample errors by year, VIX regime, trading
class, DTE band, moneyness ``ln(K/F)`` and mid price, for all calls of the
universe and for the out-of-the-money ones (``K >= F``: an in-the-money call's IV is mostly
the forward's noise, e.g. a 0.5 % price error is 12 vol points).

Futures curve: :data:`CURVE_FREE` of :class:`strategies.pricing.vix_model.VixCurveParams`
on the bundled CFE settlements (``market/vix_futures.csv`` via the bundle, M1-M7,
2009-09-18 .. 2024-12-31, sessions with VIX3M), robust least squares on the
price error in points, validated leave-one-year-out; scored by DTE bucket and
VIX regime, with the 2020-03-16 curve printed.

``--write`` rewrites the VIX block of ``strategies/pricing/calibrated.py``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.chains import read_chain  # noqa: E402
from daemon.marketdata.loader import load_history  # noqa: E402
from daemon.modelcheck import ModelCheckError, context_for  # noqa: E402
from daemon.modelcheck_quotes import (  # noqa: E402
    MONEYNESS_BUCKETS,
    PRICE_BUCKETS,
    PricedQuotes,
    price_quotes,
    quotes_model_iv,
    quotes_universe,
)
from daemon.quotes_file import QuoteRows, read_quotes  # noqa: E402
from strategies.pricing.black import black_price  # noqa: E402
from strategies.pricing.vix_model import (  # noqa: E402
    VixCurveParams,
    VixOptionParams,
    vix_futures_curve,
)

DEFAULT_DATA = Path("/work/shared/data")

#: Fitted VIX option parameters with (lower, upper) bounds.
VIX_FREE: dict[str, tuple[float, float]] = {
    "vvix_ratio": (0.3, 2.0),
    "vvix_exponent": (0.3, 2.0),
    "term_exponent": (-0.5, 1.0),
    "skew_term_exponent": (-0.5, 1.5),
    "call_slope": (0.0, 5.0),
    "call_curvature": (-5.0, 0.0),
    "call_slope_level": (-3.0, 3.0),
    "basis_exponent": (-2.0, 2.0),
    "level_exponent": (-2.0, 2.0),
}
#: Fitted futures-curve parameters with bounds.
CURVE_FREE: dict[str, tuple[float, float]] = {
    "kappa0": (0.5, 30.0),
    "kappa_ratio_exponent": (-5.0, 5.0),
    "theta_c0": (-20.0, 30.0),
    "theta_vix3m": (-3.0, 4.0),
    "theta_vix": (-3.0, 3.0),
}
#: Fixed starting points of the fits (not the shipped values, so a rerun reproduces
#: the same numbers whatever ``calibrated.py`` holds).
VIX_START: dict[str, float] = {
    "vvix_ratio": 0.93,
    "vvix_exponent": 0.87,
    "term_exponent": 0.13,
    "skew_term_exponent": 0.18,
    "call_slope": 1.36,
    "call_curvature": -0.23,
    "call_slope_level": -0.55,
    "basis_exponent": 0.33,
    "level_exponent": 0.07,
}
CURVE_START: dict[str, float] = {
    "kappa0": 7.73,
    "kappa_ratio_exponent": 1.97,
    "theta_c0": 2.65,
    "theta_vix3m": 2.06,
    "theta_vix": -1.23,
}
REGIMES = (("<20", 0.0, 20.0), ("20-30", 20.0, 30.0), (">30", 30.0, math.inf))
#: Calendar-DTE bands of the tables: the replay's hedge rungs are 30-90 DTE, its
#: recycled calls 45-90 DTE.
DTE_BANDS = (("<30", 0, 30), ("30-90", 30, 91), (">90", 91, 10_000))
#: Trading classes the fit sees. The replay trades only the standard monthly
#: class (``VIX``); the 2023 chains also hold weeklies (``VIXW``), never traded
#: and quoted 2-5 times wider (median bid-ask 0.31 against 0.05 at a 0.5-1.0
#: mid), so their mids are noisier. ``--fit-weeklies`` adds them back.
FIT_CLASSES: tuple[str, ...] = ("VIX",)


# -- VIX option quotes -------------------------------------------------------------


def _chain_rows(path: Path, quote_date: date) -> tuple[QuoteRows, np.ndarray]:
    """Calls and puts of a Cboe VIX chain (either header layout) as plain quote rows.

    Also returns each row's trading class, the root of its OSI symbol (``VIX`` for
    the standard monthly options, ``VIXW`` for the weeklies).
    """
    keys = ("line", "qd", "ex", "k", "call", "bid", "ask", "mid", "cls")
    rows: dict[str, list[Any]] = {k: [] for k in keys}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    start = next(i for i, r in enumerate(lines) if r and r[0].strip() == "Expiration Date")
    seen: set[tuple[date, float, bool]] = set()
    for n, r in enumerate(lines[start + 1 :], start=start + 2):
        if len(r) < 22 or not r[0].strip():
            continue
        try:
            ex = datetime.strptime(r[0].strip(), "%a %b %d %Y").date()
            k = float(r[11])
            sides = ((True, float(r[4]), float(r[5])), (False, float(r[15]), float(r[16])))
        except ValueError:
            continue
        for (is_call, bid, ask), sym in zip(sides, (r[1], r[12]), strict=True):
            if bid <= 0.0 or ask < bid or ex <= quote_date or (ex, k, is_call) in seen:
                continue
            seen.add((ex, k, is_call))
            cls = "VIXW" if sym.strip().startswith("VIXW") else "VIX"
            vals = (n, quote_date, ex, k, is_call, bid, ask, 0.5 * (bid + ask), cls)
            for key, v in zip(rows, vals, strict=True):
                rows[key].append(v)
    return QuoteRows(
        path, np.array(rows["line"], dtype=np.int64),
        np.array(rows["qd"], dtype="datetime64[D]"), np.array(rows["ex"], dtype="datetime64[D]"),
        np.full(len(rows["k"]), "VIX"), np.array(rows["k"]), np.array(rows["call"], dtype=bool),
        np.array(rows["bid"]), np.array(rows["ask"]), np.array(rows["mid"]), 0,
    ), np.array(rows["cls"], dtype=str)  # fmt: skip


def chain_sources(data: Path) -> list[tuple[Path, date]]:
    """2023 VIX chain files with their quote dates (one file per date: the widest)."""
    out: dict[date, Path] = {}
    index = data / "vix_options" / "vix_chains_2023" / "INDEX.csv"
    if index.is_file():
        with index.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                d = date.fromisoformat(r["quote_date_GUESS_from_commit_time"])
                p = index.parent / r["file"]
                if d not in out or p.stat().st_size > out[d].stat().st_size:
                    out[d] = p
    snap = data / "chains" / "VIX_2023-05-15_intraday1147.csv"
    if snap.is_file():
        out[read_chain(snap).quote_date] = snap
    return sorted(((p, d) for d, p in out.items()), key=lambda x: x[1])


@dataclasses.dataclass
class Dataset:
    """Universe quotes of every source, priced, with their year and trading class.

    ``classes[i]`` holds each quote's trading class (``VIX`` monthly, ``VIXW``
    weekly; VXTH's calls are monthly); empty means all monthly. ``fit_classes``
    are the classes the fit sees; every class of the universe is scored.
    """

    parts: list[PricedQuotes]
    masks: list[np.ndarray]
    classes: list[np.ndarray] = dataclasses.field(default_factory=list)
    fit_classes: tuple[str, ...] = FIT_CLASSES

    def year_of(self, i: int) -> np.ndarray:
        q = self.parts[i].rows.quote_date
        return q.astype("datetime64[Y]").astype(int) + 1970

    def class_of(self, i: int) -> np.ndarray:
        return self.classes[i] if self.classes else np.full(len(self.parts[i]), "VIX")

    def fit_mask(self, i: int) -> np.ndarray:
        """Universe quotes of part ``i`` in a class the fit sees."""
        return self.masks[i] & np.isin(self.class_of(i), self.fit_classes)


def load_quotes(data: Path, history: Any, fit_classes: tuple[str, ...] = FIT_CLASSES) -> Dataset:
    """Price the VXTH file and the 2023 chains; keep each part's universe mask and classes."""
    vxth = read_quotes(data / "vix_options" / "vxth_vix_calls_2006_2013.csv")
    # VXTH holds the standard monthly VIX call (Cboe's VXTH methodology)
    sources: list[tuple[QuoteRows, np.ndarray]] = [(vxth, np.full(len(vxth), "VIX"))]
    sources += [_chain_rows(p, d) for p, d in chain_sources(data)]
    parts, masks, classes = [], [], []
    for rows, cls in sources:
        if len(rows) == 0:
            continue
        try:
            ctx = {d.astype(object): context_for(history, d.astype(object))
                   for d in np.unique(rows.quote_date)}  # fmt: skip
        except ModelCheckError as exc:  # a guessed quote date that is no session
            print(f"note: {rows.path.name} skipped: {exc}")
            continue
        q = price_quotes(rows, ctx)
        parts.append(q)
        masks.append(quotes_universe(q))
        classes.append(cls)
    return Dataset(parts, masks, classes, fit_classes)


def vix_params(x: np.ndarray) -> VixOptionParams:
    return dataclasses.replace(VixOptionParams(), **dict(zip(VIX_FREE, map(float, x), strict=True)))


def _errors(ds: Dataset, p: VixOptionParams, keep: Callable[[int], np.ndarray]) -> np.ndarray:
    out = []
    for i, q in enumerate(ds.parts):
        m = keep(i)
        if m.any():
            out.append((quotes_model_iv(q, vix_options=p)[m] - q.iv[m]) * 100.0)
    return np.concatenate(out) if out else np.zeros(0)


def fit_vix(ds: Dataset, years_out: set[int]) -> VixOptionParams:
    lo = np.array([b[0] for b in VIX_FREE.values()])
    hi = np.array([b[1] for b in VIX_FREE.values()])
    x0 = np.clip([VIX_START[k] for k in VIX_FREE], lo + 1e-6, hi - 1e-6)

    def keep(i: int) -> np.ndarray:
        return ds.fit_mask(i) & ~np.isin(ds.year_of(i), list(years_out))

    res = least_squares(lambda x: _errors(ds, vix_params(x), keep), x0, bounds=(lo, hi),
                        loss="soft_l1", f_scale=2.0)  # fmt: skip
    return vix_params(res.x)


def _stats(iv: np.ndarray, pr: np.ndarray) -> str:
    if len(iv) == 0:
        return "| 0 | | | |"
    return (f"| {len(iv)} | {np.median(iv):.2f} | {np.percentile(iv, 90):.2f} | "
            f"{np.median(pr):.1f} |")  # fmt: skip


@dataclasses.dataclass
class Scored:
    """Out-of-sample errors of every universe quote (parallel arrays)."""

    iv: np.ndarray  # |model - market| IV, vol points
    price: np.ndarray  # |model price / mid - 1|, percent
    year: np.ndarray
    vix: np.ndarray
    lnkf: np.ndarray  # ln(K/F)
    mid: np.ndarray
    inside: np.ndarray  # model price within a two-sided bid-ask
    two_sided: np.ndarray
    dte: np.ndarray  # calendar days
    cls: np.ndarray  # trading class, VIX or VIXW


def score_loo(ds: Dataset) -> Scored:
    """Refit without each year and score that year's universe quotes."""
    years = sorted({int(y) for i in range(len(ds.parts)) for y in ds.year_of(i)[ds.masks[i]]})
    cols: dict[str, list[np.ndarray]] = {f.name: [] for f in dataclasses.fields(Scored)}
    for y in years:
        p = fit_vix(ds, {y})
        print(f"  without {y}: " + ", ".join(f"{k}={getattr(p, k):.3f}" for k in VIX_FREE),
              flush=True)  # fmt: skip
        for i, q in enumerate(ds.parts):
            m = ds.masks[i] & (ds.year_of(i) == y)
            if not m.any():
                continue
            model = quotes_model_iv(q, vix_options=p)[m]
            r = q.rows
            price = black_price(q.forward[m], r.strike[m], q.t[m], model, r.is_call[m])
            two = (r.bid[m] > 0) & (r.ask[m] > r.bid[m])
            for k, v in (("iv", np.abs(model - q.iv[m]) * 100.0),
                         ("price", np.abs(price / r.mid[m] - 1.0) * 100.0),
                         ("year", np.full(int(m.sum()), y)), ("vix", q.vix[m]),
                         ("lnkf", np.log(r.strike[m] / q.forward[m])), ("mid", r.mid[m]),
                         ("inside", two & (price >= r.bid[m]) & (price <= r.ask[m])),
                         ("two_sided", two), ("dte", q.dte[m]),
                         ("cls", ds.class_of(i)[m])):  # fmt: skip
                cols[k].append(v)
    return Scored(**{k: np.concatenate(v) for k, v in cols.items()})


def validate_vix(sc: Scored) -> str:
    """Leave-one-year-out tables (markdown): by year, VIX regime, class, DTE, moneyness, price.

    The first table pools every universe quote, the second only the standard
    monthly class (what the replay trades), the third the weeklies by DTE.
    """
    otm = sc.lnkf >= 0.0
    head = (
        "| {} | n | median abs IV error (vol pts) | p90 | median abs price error (%) | "
        "OTM calls (K >= F): n | median abs IV error | median abs price error (%) |"
    )
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    monthly, weekly = sc.cls == "VIX", sc.cls == "VIXW"

    def row(label: str, s: np.ndarray) -> str:
        o = s & otm
        tail = (f" {int(o.sum())} | {np.median(sc.iv[o]):.2f} | {np.median(sc.price[o]):.1f} |"
                if o.any() else " 0 | | |")  # fmt: skip
        return f"| {label} " + _stats(sc.iv[s], sc.price[s]) + tail

    def dte_rows(base: np.ndarray, prefix: str) -> list[str]:
        return [row(f"{prefix}DTE {label}", base & (sc.dte >= lo) & (sc.dte < hi))
                for label, lo, hi in DTE_BANDS]  # fmt: skip

    def split_rows(base: np.ndarray) -> list[str]:
        out = [row(str(y), base & (sc.year == y)) for y in np.unique(sc.year[base])]
        for label, lo, hi in REGIMES:
            out.append(row(f"VIX {label}", base & (sc.vix >= lo) & (sc.vix < hi)))
        out.append(row("VIX > 20", base & (sc.vix >= 20)))
        return out

    everything = np.ones(len(sc.iv), dtype=bool)
    out = [head.format("all calls (monthly and weekly)"), rule, *split_rows(everything)]
    out.append(row("**all**", everything))
    out.append(row("all but 2006 (no VVIX)", sc.year >= 2007))
    out.append(row("VXTH 2006-2013", sc.year < 2023))
    out.append(row("2023 monthly (VIX)", monthly & (sc.year == 2023)))
    out.append(row("2023 weekly (VIXW)", weekly))
    out.append(row("monthly class (VIX)", monthly))
    out += dte_rows(everything, "")
    out += ["", head.format("monthly class (VIX) only"), rule, *split_rows(monthly)]
    out += dte_rows(monthly, "")
    out.append(row("**monthly, all**", monthly))
    out.append(row("monthly, 30-90 DTE, OTM", monthly & otm & (sc.dte >= 30) & (sc.dte <= 90)))
    out += ["", head.format("weekly class (VIXW), out of class"), rule]
    out += dte_rows(weekly, "")
    out.append(row("**weekly, all**", weekly))
    out += [
        "",
        "| ln(K/F) | n | median abs IV error (vol pts) | p90 | median abs price error (%) "
        "| median mid | model price inside bid-ask |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, lo, hi in MONEYNESS_BUCKETS:
        s = (sc.lnkf >= lo) & (sc.lnkf < hi)
        out.append(_by_row(sc, label, s))
    out += ["", "| mid (points) | n | median abs IV error (vol pts) | p90 | median abs price "
            "error (%) | median mid | model price inside bid-ask |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, lo, hi in PRICE_BUCKETS:
        s = (sc.mid >= lo) & (sc.mid < hi)
        out.append(_by_row(sc, label, s))
    return "\n".join(out)


def _by_row(sc: Scored, label: str, s: np.ndarray) -> str:
    if not s.any():
        return f"| {label} | 0 | | | | | |"
    t = s & sc.two_sided
    share = f"{100 * sc.inside[t].mean():.0f} % of {int(t.sum())}" if t.any() else "no bid/ask"
    return (
        f"| {label} " + _stats(sc.iv[s], sc.price[s]) + f" {np.median(sc.mid[s]):.2f} | {share} |"
    )


def basis_table(ds: Dataset) -> str:
    """Parity future minus the quote date's CFE settlement, per chain expiry with both."""
    diffs = []
    for q in ds.parts:
        r = q.rows
        for key in np.unique(np.char.add(r.quote_date.astype(str), r.expiry.astype(str))):
            i = int(np.flatnonzero(np.char.add(r.quote_date.astype(str),
                                               r.expiry.astype(str)) == key)[0])  # fmt: skip
            ctx = q.contexts[r.quote_date[i].astype(object)]
            settle = ctx.vix_futures.get(r.expiry[i].astype(object))
            if q.forward_source[i] == "parity" and settle:
                diffs.append(float(q.forward[i]) - float(settle))
    if not diffs:
        return "no chain expiry with both a parity future and a settlement"
    d = np.array(diffs)
    return (
        f"parity future - settlement on the (guessed) quote date, {len(d)} chain expiries: "
        f"median {np.median(d):+.2f}, median abs {np.median(np.abs(d)):.2f}, "
        f"max abs {np.max(np.abs(d)):.2f} points"
    )


# -- futures curve ------------------------------------------------------------------


def futures_rows(history: Any) -> np.ndarray:
    """``(year, vix, vix3m, t, future, dte)`` per settlement, sessions with VIX3M."""
    rows = []
    for i in range(history.index_of(date(2009, 9, 18)), history.index_of(history.last_session) + 1):
        c = history.context(i)
        if not c.vix3m:
            continue
        for e, f in c.vix_futures.items():
            dte = (e - c.session).days
            t = (dte - 6.5 / 24.0) / 365.0  # 16:00 ET close to the 09:30 ET settlement
            if t > 0:
                rows.append((c.session.year, c.vix, c.vix3m, t, f, dte))
    return np.array(rows)


def curve_params(x: np.ndarray) -> VixCurveParams:
    return dataclasses.replace(
        VixCurveParams(), **dict(zip(CURVE_FREE, map(float, x), strict=True))
    )


def curve_model(p: VixCurveParams, a: np.ndarray) -> np.ndarray:
    return np.array([float(vix_futures_curve(v, v3, t, p)) for v, v3, t in a[:, 1:4]])


def curve_vec(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Vectorised curve (same formula as :func:`vix_futures_curve`) for the fit."""
    p = curve_params(x)
    vix, v3, t = a[:, 1], a[:, 2], a[:, 3]
    kappa = np.clip(p.kappa0 * (vix / v3) ** p.kappa_ratio_exponent, p.min_kappa, p.max_kappa)
    theta = np.clip(p.theta_c0 + p.theta_vix3m * v3 + p.theta_vix * vix, p.min_theta, p.max_theta)
    return theta + (vix - theta) * np.exp(-kappa * t)


def fit_curve(a: np.ndarray) -> VixCurveParams:
    lo = np.array([b[0] for b in CURVE_FREE.values()])
    hi = np.array([b[1] for b in CURVE_FREE.values()])
    x0 = np.clip([CURVE_START[k] for k in CURVE_FREE], lo + 1e-6, hi - 1e-6)
    res = least_squares(lambda x: curve_vec(x, a) - a[:, 4], x0, bounds=(lo, hi),
                        loss="soft_l1", f_scale=0.5)  # fmt: skip
    return curve_params(res.x)


def validate_curve(a: np.ndarray) -> str:
    pred = np.full(len(a), np.nan)
    for y in np.unique(a[:, 0]):
        s = a[:, 0] == y
        p = fit_curve(a[~s])
        pred[s] = curve_vec(np.array([getattr(p, k) for k in CURVE_FREE]), a[s])
    err = pred - a[:, 4]
    out = ["| DTE | VIX | n | median abs error (pts) | median error | p90 abs |",
           "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for lo, hi in ((1, 44), (45, 90), (91, 250)):
        for label, vlo, vhi in REGIMES:
            s = (a[:, 5] >= lo) & (a[:, 5] <= hi) & (a[:, 1] >= vlo) & (a[:, 1] < vhi)
            e = err[s]
            out.append(f"| {lo}-{hi} | {label} | {int(s.sum())} | {np.median(np.abs(e)):.2f} "
                       f"| {np.median(e):+.2f} | {np.percentile(np.abs(e), 90):.2f} |")  # fmt: skip
    return "\n".join(out)


# -- output -------------------------------------------------------------------------


def write_calibrated(
    p: VixOptionParams, c: VixCurveParams, sources: list[str], classes: tuple[str, ...]
) -> None:
    body = ["VIX_FIT_SOURCES: Final[tuple[str, ...]] = ("]  # one per line, as ruff formats
    body += [f'    "{s}",' for s in sources]
    body.append(")")
    quoted = "".join(f'"{c}", ' for c in classes).rstrip(" ")  # ruff's double quotes
    body.append(f"VIX_FIT_CLASSES: Final[tuple[str, ...]] = ({quoted})")
    body.append("VIX: Final[dict[str, float]] = {")
    body += [f'    "{k}": {getattr(p, k)!r},' for k in VIX_FREE]
    body += ["}", "VIX_CURVE: Final[dict[str, float]] = {"]
    body += [f'    "{k}": {getattr(c, k)!r},' for k in CURVE_FREE]
    body.append("}")
    replace_fitted_block("# --- BEGIN VIX FITTED", "# --- END VIX FITTED", body)


def replace_fitted_block(begin: str, end: str, body: list[str]) -> None:
    """Rewrite the lines between the ``begin`` and ``end`` marker lines of calibrated.py.

    The marker lines stay as they are; ``body`` replaces everything between them.
    """
    path = ROOT / "strategies" / "pricing" / "calibrated.py"
    text = path.read_text(encoding="utf-8")
    start = text.index("\n", text.index(begin)) + 1
    stop = text.index(end)
    path.write_text(text[:start] + "\n".join(body) + "\n" + text[stop:], encoding="utf-8")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--write", action="store_true", help="rewrite calibrated.py (VIX block)")
    ap.add_argument(
        "--fit-weeklies",
        action="store_true",
        help="fit on the VIXW weeklies too (the old universe)",
    )
    args = ap.parse_args(argv)
    t0 = time.time()
    history = load_history()
    fut = futures_rows(history)
    curve = fit_curve(fut)
    print("VIX futures curve (all years):",
          ", ".join(f"{k}={getattr(curve, k):.4f}" for k in CURVE_FREE))  # fmt: skip
    d = date(2020, 3, 16)
    ctx = history.context(history.index_of(d))
    for e, f in sorted(ctx.vix_futures.items()):
        t = ((e - d).days - 6.5 / 24.0) / 365.0
        # the previous curve (F(0.12 y) = VIX3M, kappa 6) in this form: e = exp(-0.72)
        e_a = math.exp(-6.0 * 0.12)
        old = VixCurveParams(kappa0=6.0, kappa_ratio_exponent=0.0, theta_c0=0.0,
                             theta_vix3m=1 / (1 - e_a), theta_vix=-e_a / (1 - e_a))  # fmt: skip
        print(
            f"  2020-03-16 {e} ({(e - d).days:3d} d): settlement {f:6.2f} model "
            f"{float(vix_futures_curve(ctx.vix, ctx.vix3m, t, curve)):6.2f}"
            f" (previous curve: {float(vix_futures_curve(ctx.vix, ctx.vix3m, t, old)):6.2f})"
        )
    print("\nleave-one-year-out, futures curve:")
    print(validate_curve(fut))
    fit_classes = ("VIX", "VIXW") if args.fit_weeklies else FIT_CLASSES
    ds = load_quotes(args.data, history, fit_classes)
    n = sum(int(m.sum()) for m in ds.masks)
    n_fit = sum(int(ds.fit_mask(i).sum()) for i in range(len(ds.parts)))
    print(f"\nVIX quotes: {sum(len(q) for q in ds.parts)}, in the universe: {n}, "
          f"fitted on (classes {', '.join(fit_classes)}): {n_fit}")  # fmt: skip
    full = fit_vix(ds, set())
    print(
        "VIX option fit (all years): " + ", ".join(f"{k}={getattr(full, k):.4f}" for k in VIX_FREE)
    )
    print(basis_table(ds))
    print("\nleave-one-year-out, VIX calls:")
    print(validate_vix(score_loo(ds)))
    if args.write:
        sources = ["vix_options/vxth_vix_calls_2006_2013.csv"]
        sources += [f"{p.parent.name}/{p.name}" for p, _ in chain_sources(args.data)]
        write_calibrated(full, curve, sources, fit_classes)
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
