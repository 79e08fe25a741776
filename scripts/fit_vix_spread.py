"""Fit the VIX option bid/ask model on every real VIX quote at hand; validate by year.

Usage::

    .venv/bin/python scripts/fit_vix_spread.py [--data DIR] [--write]

Data (``--data``, default ``/work/shared/data``, provenance in its ``SOURCES.md``;
raw quotes are not redistributed, only the fitted parameters ship):

* ``vix_options/vxth_vix_calls_2006_2013.csv``: Cboe's VXTH daily quotes of the
  one-month ~30-delta VIX call (two-sided from 2011-04; before, mid only);
* ``vix_options/vix_chains_2023/*.csv`` and ``chains/VIX_2023-05-15_intraday1147.csv``:
  Cboe VIX chain snapshots of 2023 (one file per quote date, as
  ``scripts/fit_vix_model.py`` picks them), standard monthly class only: the
  VIXW weeklies quote two to five times wider and the replay trades the
  monthly class.

Every two-sided quote (bid > 0, ask > bid) is kept, calls and puts, with its
forward (the put-call-parity future of its expiry, else the CFE settlement),
DTE, and the bundled VIX/VVIX closes of its date. The tick grid of each quote
is the one in force on its date (:data:`strategies.pricing.chain_builder.VIX_PENNY_TICKS_FROM`:
0.05/0.10 before 2022-10-03, 0.01/0.05 from then).

What is scored is the model's *expected* full spread at the real mid: the
replay's model mids are continuous, and :func:`strategies.pricing.chain_builder.quote_with_half`
rounds the bid down and the ask up to the tick, which adds about one tick on
average; the expectation is taken over the mid moved across one tick
(8 points). Parameters minimise the mean absolute error of that expected
spread, the 2011-2013 VXTH quotes and the 2023 chain quotes weighted equally
(else the chains, three times as many, would set the nickel era too).
Validation is **leave-one-year-out** (2011, 2012, 2013, 2023: refit without the
year, score it), so the 2023 score is the nickel-era fit predicting the
penny-tick era. Printed: candidate forms (what each driver adds out of
sample), then the shipped form's out-of-sample tables by mid bucket and VIX
regime against the previous model (``max(0.005, 0.02 + 0.01 mid)``, penny ticks).

``--write`` rewrites the VIX spread block of ``strategies/pricing/calibrated.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fit_vix_model import _chain_rows, chain_sources, replace_fitted_block  # noqa: E402

from daemon.marketdata.loader import load_history  # noqa: E402
from daemon.modelcheck import ModelCheckError, context_for  # noqa: E402
from daemon.modelcheck_quotes import price_quotes  # noqa: E402
from daemon.quotes_file import QuoteRows, read_quotes  # noqa: E402
from strategies.pricing.chain_builder import (  # noqa: E402
    VIX_PENNY_TICKS_FROM,
    VIX_SPREAD,
    SpreadParams,
    quote_with_half,
)

DEFAULT_DATA = Path("/work/shared/data")
#: The model before this fit: ``max(0.005, 0.02 + 0.01 mid)`` on penny ticks in every era.
PREVIOUS = SpreadParams(0.01, 0.05, 3.0, half_base=0.02, half_pct=0.01, min_half=0.005)
#: Mid moves across one tick at which the expected spread is taken.
JITTER = (np.arange(8) + 0.5) / 8 - 0.5
MID_BUCKETS = (0.0, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, math.inf)
VIX_REGIMES = (("<15", 0.0, 15.0), ("15-20", 15.0, 20.0), ("20-30", 20.0, 30.0),
               ("30-40", 30.0, 40.0), (">40", 40.0, math.inf))  # fmt: skip


@dataclasses.dataclass
class Quotes:
    """Two-sided VIX option quotes (parallel arrays; spreads and levels in points)."""

    source: np.ndarray  # "vxth" or "chain"
    session: np.ndarray  # datetime64[D]
    mid: np.ndarray
    spread: np.ndarray  # ask - bid
    vix: np.ndarray
    vvix: np.ndarray
    dte: np.ndarray
    lnkf: np.ndarray  # ln(strike / forward)

    def __len__(self) -> int:
        return len(self.mid)

    @property
    def year(self) -> np.ndarray:
        return self.session.astype("datetime64[Y]").astype(int) + 1970

    @property
    def penny(self) -> np.ndarray:
        return self.session >= np.datetime64(VIX_PENNY_TICKS_FROM)

    def take(self, m: np.ndarray) -> Quotes:
        return Quotes(**{f.name: getattr(self, f.name)[m] for f in dataclasses.fields(self)})

    def weights(self) -> np.ndarray:
        """Each source weighs 1 in total."""
        w = np.zeros(len(self))
        for s in np.unique(self.source):
            m = self.source == s
            w[m] = 1.0 / m.sum()
        return w


# -- data -------------------------------------------------------------------------


_ROW_ARRAYS = (
    "line", "quote_date", "expiry", "underlying", "strike", "is_call", "bid", "ask", "mid",
)  # fmt: skip


def _monthly_chain_rows(path: Path, quote_date: date) -> QuoteRows:
    """Two-sided quotes (bid > 0, ask > bid) of the standard (monthly) VIX class of a chain file.

    The file is read by the VIX model fit's reader (:func:`fit_vix_model._chain_rows`);
    the VIXW weeklies quote 2-5 times wider and are never traded, so they are left out.
    """
    rows, classes = _chain_rows(path, quote_date)
    keep = (classes == "VIX") & (rows.bid > 0.0) & (rows.ask > rows.bid)
    return dataclasses.replace(rows, **{f: getattr(rows, f)[keep] for f in _ROW_ARRAYS})


def load(data: Path, history: Any) -> Quotes:
    """Every two-sided quote of the VXTH file and the 2023 monthly chains."""
    sources = [("vxth", read_quotes(data / "vix_options" / "vxth_vix_calls_2006_2013.csv"))]
    sources += [("chain", _monthly_chain_rows(p, d)) for p, d in chain_sources(data)]
    cols: dict[str, list[np.ndarray]] = {f.name: [] for f in dataclasses.fields(Quotes)}
    for name, all_rows in sources:
        two = (all_rows.bid > 0.0) & (all_rows.ask > all_rows.bid)
        if not two.any():
            continue
        rows = dataclasses.replace(
            all_rows, **{f: getattr(all_rows, f)[two] for f in _ROW_ARRAYS}, skipped=0
        )
        try:
            ctx = {d.astype(object): context_for(history, d.astype(object))
                   for d in np.unique(rows.quote_date)}  # fmt: skip
        except ModelCheckError as exc:  # a guessed quote date that is no session
            print(f"note: {rows.path.name} skipped: {exc}")
            continue
        q = price_quotes(rows, ctx)
        for k, v in (("source", np.full(len(rows), name)), ("session", rows.quote_date),
                     ("mid", rows.mid), ("spread", rows.ask - rows.bid), ("vix", q.vix),
                     ("vvix", q.vvix), ("dte", q.dte.astype(float)),
                     ("lnkf", np.log(rows.strike / q.forward))):  # fmt: skip
            cols[k].append(np.asarray(v))
    return Quotes(**{k: np.concatenate(v) for k, v in cols.items()})


# -- model ------------------------------------------------------------------------


def expected_spread(q: Quotes, half: np.ndarray, spread: SpreadParams = VIX_SPREAD) -> np.ndarray:
    """The model's full spread at each real mid, averaged over the mid moved across a tick.

    Rounding is :func:`quote_with_half` on the tick grid of each quote's date.
    """
    out = np.zeros(len(q))
    for era, session in ((q.penny, VIX_PENNY_TICKS_FROM), (~q.penny, date(2000, 1, 3))):
        if not era.any():
            continue
        below, above = spread.ticks(session)
        mid, h = q.mid[era], half[era]
        tick = np.where(mid < spread.tick_break, below, above)
        total = np.zeros(len(mid))
        for j in JITTER:
            bid, ask = quote_with_half(np.maximum(mid + j * tick, 0.0), h, spread, session)
            total += ask - bid
        out[era] = total / len(JITTER)
    return out


HalfFn = Callable[[np.ndarray, Quotes], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Form:
    """A candidate half-spread form: parameter names, start, and ``half(x, quotes)``."""

    name: str
    params: tuple[str, ...]
    start: tuple[float, ...]
    half: HalfFn


def _level(q: Quotes) -> np.ndarray:
    return q.vix / 20.0


_FORMS = (
        Form("a + b mid", ("a", "b"), (0.02, 0.01), lambda x, q: x[0] + x[1] * q.mid),
        Form("a + b sqrt(mid)", ("a", "b"), (0.01, 0.01),
             lambda x, q: x[0] + x[1] * np.sqrt(q.mid)),
        Form("(a + b sqrt(mid)) (VIX/20)^g", ("half_base", "half_sqrt", "half_level_exponent"),
             (0.01, 0.01, 0.3),
             lambda x, q: (x[0] + x[1] * np.sqrt(q.mid)) * _level(q) ** x[2]),
        Form("(a + b sqrt(mid)) (VVIX/90)^g", ("a", "b", "g"), (0.01, 0.01, 0.3),
             lambda x, q: (x[0] + x[1] * np.sqrt(q.mid))
             * (np.nan_to_num(q.vvix, nan=90.0) / 90.0) ** x[2]),
        Form("... (VIX/20)^g (DTE/30)^e", ("a", "b", "g", "e"), (0.01, 0.01, 0.3, 0.0),
             lambda x, q: (x[0] + x[1] * np.sqrt(q.mid)) * _level(q) ** x[2]
             * (np.maximum(q.dte, 1.0) / 30.0) ** x[3]),
        Form("... (VIX/20)^g exp(e |ln K/F|)", ("a", "b", "g", "e"), (0.01, 0.01, 0.3, 0.0),
             lambda x, q: (x[0] + x[1] * np.sqrt(q.mid)) * _level(q) ** x[2]
             * np.exp(x[3] * np.abs(q.lnkf))),
)  # fmt: skip
FORMS: dict[str, Form] = {f.name: f for f in _FORMS}
#: The shipped form (its parameter names are :class:`SpreadParams` fields).
SHIPPED = "(a + b sqrt(mid)) (VIX/20)^g"


def fit(form: Form, q: Quotes) -> np.ndarray:
    """Parameters minimising the weighted mean absolute error of :func:`expected_spread`."""
    w = q.weights()

    def loss(x: np.ndarray) -> float:
        return float(np.sum(w * np.abs(expected_spread(q, form.half(x, q)) - q.spread)))

    res = minimize(loss, np.array(form.start), method="Nelder-Mead",
                   options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10})  # fmt: skip
    return np.asarray(res.x)


def loyo(form: Form, q: Quotes, show: bool = False) -> np.ndarray:
    """Out-of-sample expected spread of every quote: refit without its year."""
    out = np.full(len(q), np.nan)
    for y in np.unique(q.year):
        test = q.year == y
        x = fit(form, q.take(~test))
        if show:
            print(f"  without {y}: " + ", ".join(f"{v:.4f}" for v in x))
        out[test] = expected_spread(q.take(test), form.half(x, q.take(test)))
    return out


def previous_spread(q: Quotes) -> np.ndarray:
    """The previous model's expected spread (penny ticks in every era)."""
    half = PREVIOUS.half_base + PREVIOUS.half_pct * q.mid
    out = np.zeros(len(q))
    tick = np.where(q.mid < PREVIOUS.tick_break, PREVIOUS.tick_below, PREVIOUS.tick_above)
    for j in JITTER:
        bid, ask = quote_with_half(np.maximum(q.mid + j * tick, 0.0), half, PREVIOUS)
        out += ask - bid
    return out / len(JITTER)


# -- report -----------------------------------------------------------------------


def _err(model: np.ndarray, real: np.ndarray) -> str:
    e = np.abs(model - real)
    return f"{np.median(e):.3f} | {np.percentile(e, 90):.3f}"


def drivers_table(q: Quotes) -> str:
    """Each candidate form: all-data fit and its leave-one-year-out errors."""
    lines = ["| form | fit (all years) | LOYO median abs error | p90 | by year: median "
             "| VIX > 30: median | mean |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    prev = previous_spread(q)
    years = np.unique(q.year)
    hi = q.vix > 30.0

    def stress(model: np.ndarray) -> str:
        e = np.abs(model - q.spread)[hi]
        return f"{np.median(e):.3f} | {e.mean():.3f}"

    by = ", ".join(f"{y} {np.median(np.abs(prev - q.spread)[q.year == y]):.3f}" for y in years)
    lines.append(f"| previous: max(0.005, 0.02 + 0.01 mid), penny ticks | fixed | "
                 f"{_err(prev, q.spread)} | {by} | {stress(prev)} |")  # fmt: skip
    for form in FORMS.values():
        x = fit(form, q)
        oos = loyo(form, q)
        by = ", ".join(f"{y} {np.median(np.abs(oos - q.spread)[q.year == y]):.3f}" for y in years)
        names = ("a", "b", "g") if form.name == SHIPPED else form.params
        pars = ", ".join(f"{k}={v:.4f}" for k, v in zip(names, x, strict=True))
        lines.append(f"| {form.name} | {pars} | {_err(oos, q.spread)} | {by} | {stress(oos)} |")
    return "\n".join(lines)


def _bucket_rows(q: Quotes, oos: np.ndarray, prev: np.ndarray,
                 groups: list[tuple[str, np.ndarray]]) -> list[str]:  # fmt: skip
    rows = []
    for label, m in groups:
        for era, em in (("2011-13", q.source == "vxth"), ("2023", q.source == "chain")):
            s = m & em
            if s.sum() < 3:
                continue
            rows.append(
                f"| {label} | {era} | {int(s.sum())} | {np.median(q.mid[s]):.2f} "
                f"| {np.median(q.spread[s]):.3f} | {np.median(oos[s]):.3f} "
                f"| {np.median(prev[s]):.3f} | {_err(oos[s], q.spread[s])} "
                f"| {_err(prev[s], q.spread[s])} |"
            )
    return rows


def validation_tables(q: Quotes, oos: np.ndarray) -> str:
    """Out-of-sample (leave-one-year-out) full-spread errors by mid bucket and VIX regime."""
    prev = previous_spread(q)
    head = ["| {} | era | quotes | median mid | real | new (LOYO) | previous | new: median abs "
            "error | p90 | previous: median abs error | p90 |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    mids = [(f"{lo:g}-{hi:g}", (q.mid > lo) & (q.mid <= hi))
            for lo, hi in itertools.pairwise(MID_BUCKETS)]  # fmt: skip
    regimes = [(label, (q.vix >= lo) & (q.vix < hi)) for label, lo, hi in VIX_REGIMES]
    out = [head[0].format("mid"), head[1]]
    out += _bucket_rows(q, oos, prev, mids)
    out += ["", head[0].format("VIX"), head[1]]
    out += _bucket_rows(q, oos, prev, regimes)
    otm = (q.mid >= 0.3) & (q.mid <= 3.0)
    out += [
        "",
        "Hedge-like quotes (mid 0.30-3.00), by VIX regime:",
        "",
        head[0].format("VIX"),
        head[1],
    ]
    out += _bucket_rows(q, oos, prev, [(lab, m & otm) for lab, m in regimes])
    e_new, e_prev = np.abs(oos - q.spread), np.abs(prev - q.spread)
    out.append(
        f"\nall {len(q)} quotes: new median abs error {np.median(e_new):.3f}, p90 "
        f"{np.percentile(e_new, 90):.3f}; previous {np.median(e_prev):.3f}, p90 "
        f"{np.percentile(e_prev, 90):.3f}; summed spread model/real new "
        f"{oos.sum() / q.spread.sum():.2f}, previous {prev.sum() / q.spread.sum():.2f}"
    )
    return "\n".join(out)


def write_calibrated(x: np.ndarray, n: int) -> None:
    """Rewrite the VIX spread block of ``strategies/pricing/calibrated.py``."""
    body = [f"VIX_SPREAD_FIT_QUOTES: Final[int] = {n}", "VIX_SPREAD: Final[dict[str, float]] = {"]
    body += [f'    "{k}": {float(v)!r},' for k, v in zip(FORMS[SHIPPED].params, x, strict=True)]
    body.append("}")
    replace_fitted_block("# --- BEGIN FITTED VIX SPREAD", "# --- END FITTED VIX SPREAD", body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    ap.add_argument("--write", action="store_true", help="rewrite calibrated.py (VIX spread)")
    args = ap.parse_args(argv)
    q = load(args.data, load_history())
    years = ", ".join(f"{y}: {int((q.year == y).sum())}" for y in np.unique(q.year))
    print(f"two-sided monthly VIX quotes: {len(q)} ({years})\n")
    print("Candidate forms (expected full spread, leave-one-year-out):\n")
    print(drivers_table(q))
    form = FORMS[SHIPPED]
    x = fit(form, q)
    print("\nshipped: " + ", ".join(f"{k}={v:.5f}" for k, v in zip(form.params, x, strict=True)))
    print("\nLeave-one-year-out, shipped form vs previous model (full spread, points):\n")
    print(validation_tables(q, loyo(form, q, show=True)))
    if args.write:
        write_calibrated(x, len(q))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
