"""``scripts/fit_vix_model.py``: the fits recover known parameters from synthetic data.

Quotes and futures are generated in the test from chosen parameters on real
bundled dates (no data outside the repository), so a fit that works must find
those parameters again.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from daemon.marketdata.loader import load_history
from daemon.modelcheck_quotes import price_quotes, quotes_universe
from daemon.quotes_file import QuoteRows
from strategies.pricing.black import black_price
from strategies.pricing.vix_model import VixCurveParams, VixOptionParams, vix_option_vol

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "fit_vix_model", ROOT / "scripts" / "fit_vix_model.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fit_vix_model"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_vix_option_fit_recovers_parameters_and_leaves_a_year_out():
    fv = _script()
    truth = dataclasses.replace(
        VixOptionParams(), vvix_ratio=0.9, call_slope=1.2, basis_exponent=0.3
    )
    history = load_history()
    rows: dict[str, list] = {k: [] for k in ("qd", "ex", "k", "mid")}
    for qd in (date(2008, 10, 1), date(2009, 3, 2), date(2010, 5, 20), date(2011, 8, 30),
               date(2012, 6, 1), date(2013, 1, 2)):  # fmt: skip
        ctx = history.context(history.index_of(qd))
        for ex, f in sorted(ctx.vix_futures.items())[:3]:
            if not 7 <= (ex - qd).days <= 120:
                continue
            t = ((ex - qd).days - 6.5 / 24) / 365
            for k in np.round(f * np.array([1.0, 1.1, 1.25, 1.4, 1.6])):
                iv = float(vix_option_vol(k, f, t, ctx.vvix, truth, vix=ctx.vix))
                rows["qd"].append(qd), rows["ex"].append(ex), rows["k"].append(k)
                rows["mid"].append(float(black_price(f, k, t, iv, True)))
    n = len(rows["k"])
    qr = QuoteRows(Path("synthetic.csv"), np.arange(2, n + 2),
                   np.array(rows["qd"], dtype="datetime64[D]"),
                   np.array(rows["ex"], dtype="datetime64[D]"), np.full(n, "VIX"),
                   np.array(rows["k"]), np.ones(n, dtype=bool), np.zeros(n), np.zeros(n),
                   np.array(rows["mid"]), 0)  # fmt: skip
    ctxs = {d.astype(object): history.context(history.index_of(d.astype(object)))
            for d in np.unique(qr.quote_date)}  # fmt: skip
    q = price_quotes(qr, ctxs)
    mask = quotes_universe(q) & (q.rows.mid >= 0.10)
    assert mask.sum() > 40
    ds = fv.Dataset([q], [mask])
    got = fv.fit_vix(ds, set())
    for key in ("vvix_ratio", "call_slope", "basis_exponent"):
        assert getattr(got, key) == pytest.approx(getattr(truth, key), rel=0.05, abs=0.03)
    table = fv.validate_vix(fv.score_loo(ds))
    assert "| 2011 | " in table and "| **all** |" in table
    all_row = next(line for line in table.splitlines() if line.startswith("| **all**"))
    assert float(all_row.split("|")[3]) < 0.5  # out-of-sample median IV error, vol points


def test_curve_fit_recovers_parameters():
    fv = _script()
    truth = dataclasses.replace(VixCurveParams(), kappa0=5.0, kappa_ratio_exponent=1.5,
                                theta_c0=3.0, theta_vix3m=1.8, theta_vix=-0.9)  # fmt: skip
    rng = np.random.default_rng(7)
    vix = rng.uniform(11, 60, 400)
    v3 = vix * rng.uniform(0.75, 1.3, 400)
    t = rng.uniform(5, 200, 400) / 365
    a = np.column_stack([np.full(400, 2010.0), vix, v3, t, np.zeros(400), t * 365])
    a[:, 4] = fv.curve_vec(np.array([getattr(truth, k) for k in fv.CURVE_FREE]), a)
    got = fv.fit_curve(a)
    np.testing.assert_allclose(fv.curve_model(got, a[:50]), a[:50, 4], atol=0.05)
