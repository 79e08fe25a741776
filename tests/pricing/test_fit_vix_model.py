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


def _synthetic_quotes(truth: VixOptionParams, mid_scale: float = 1.0):
    """Model-priced VIX calls on real dates (mids times ``mid_scale``) and their universe."""
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
                rows["mid"].append(mid_scale * float(black_price(f, k, t, iv, True)))
    n = len(rows["k"])
    qr = QuoteRows(Path("synthetic.csv"), np.arange(2, n + 2),
                   np.array(rows["qd"], dtype="datetime64[D]"),
                   np.array(rows["ex"], dtype="datetime64[D]"), np.full(n, "VIX"),
                   np.array(rows["k"]), np.ones(n, dtype=bool), np.zeros(n), np.zeros(n),
                   np.array(rows["mid"]), 0)  # fmt: skip
    ctxs = {d.astype(object): history.context(history.index_of(d.astype(object)))
            for d in np.unique(qr.quote_date)}  # fmt: skip
    q = price_quotes(qr, ctxs)
    return q, quotes_universe(q) & (q.rows.mid >= 0.10)


TRUTH = dataclasses.replace(VixOptionParams(), vvix_ratio=0.9, call_slope=1.2, basis_exponent=0.3)


def test_vix_option_fit_recovers_parameters_and_leaves_a_year_out():
    fv = _script()
    q, mask = _synthetic_quotes(TRUTH)
    assert mask.sum() > 40
    ds = fv.Dataset([q], [mask])
    got = fv.fit_vix(ds, set())
    for key in ("vvix_ratio", "call_slope", "basis_exponent"):
        assert getattr(got, key) == pytest.approx(getattr(TRUTH, key), rel=0.05, abs=0.03)
    table = fv.validate_vix(fv.score_loo(ds))
    assert "| 2011 | " in table and "| **all** |" in table
    all_row = next(line for line in table.splitlines() if line.startswith("| **all**"))
    assert float(all_row.split("|")[3]) < 0.5  # out-of-sample median IV error, vol points


def test_weeklies_are_scored_but_not_fitted():
    """Quotes of a class outside ``fit_classes`` do not move the fit; the tables score them."""
    fv = _script()
    assert fv.FIT_CLASSES == ("VIX",)  # the replay trades the standard monthly class only
    q, mask = _synthetic_quotes(TRUTH)
    noisy, noisy_mask = _synthetic_quotes(TRUTH, mid_scale=1.4)  # 40 % rich "weeklies"
    weekly = np.full(len(noisy), "VIXW")
    ds = fv.Dataset([q, noisy], [mask, noisy_mask], [np.full(len(q), "VIX"), weekly])
    got = fv.fit_vix(ds, set())
    for key in ("vvix_ratio", "call_slope", "basis_exponent"):
        assert getattr(got, key) == pytest.approx(getattr(TRUTH, key), rel=0.05, abs=0.03)
    with_weeklies = fv.fit_vix(dataclasses.replace(ds, fit_classes=("VIX", "VIXW")), set())
    assert with_weeklies.vvix_ratio > got.vvix_ratio + 0.05  # the rich quotes pull it up
    table = fv.validate_vix(fv.score_loo(ds)).splitlines()
    monthly = next(line for line in table if line.startswith("| **monthly, all**"))
    weeklies = next(line for line in table if line.startswith("| **weekly, all**"))
    assert int(monthly.split("|")[2]) == int(mask.sum())
    assert int(weeklies.split("|")[2]) == int(noisy_mask.sum())
    assert float(monthly.split("|")[3]) < 0.5 < float(weeklies.split("|")[3])


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
