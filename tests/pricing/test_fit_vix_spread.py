"""``scripts/fit_vix_spread.py``: the fit recovers known parameters; the chain reader's filter.

Quotes are generated in the test from chosen parameters (no data outside the
repository), so a fit that works must find those parameters again.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "fit_vix_spread", ROOT / "scripts" / "fit_vix_spread.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fit_vix_spread"] = mod
    spec.loader.exec_module(mod)
    return mod


def _quotes(fs, n: int = 600, seed: int = 7):
    rng = np.random.default_rng(seed)
    nickel = np.arange(n) % 2 == 0
    session = np.where(nickel, np.datetime64("2011-08-08"), np.datetime64("2023-05-15"))
    session = session + (np.arange(n) // 2 % 5).astype("timedelta64[D]")
    mid = np.exp(rng.uniform(np.log(0.05), np.log(40.0), n))
    return fs.Quotes(
        source=np.where(nickel, "vxth", "chain"), session=session, mid=mid,
        spread=np.zeros(n), vix=rng.uniform(12.0, 60.0, n), vvix=rng.uniform(80.0, 140.0, n),
        dte=rng.uniform(5.0, 120.0, n), lnkf=rng.uniform(-0.2, 0.6, n),
    )  # fmt: skip


def test_fit_recovers_the_shipped_form_and_leaves_each_year_out():
    fs = _script()
    form = fs.FORMS[fs.SHIPPED]
    truth = np.array([0.012, 0.008, 0.45])
    q = _quotes(fs)
    q.spread = fs.expected_spread(q, form.half(truth, q))
    x = fs.fit(form, q)
    np.testing.assert_allclose(x, truth, rtol=0.1, atol=0.002)
    oos = fs.loyo(form, q)
    assert np.all(np.isfinite(oos))
    assert np.median(np.abs(oos - q.spread)) < 0.005
    # the nickel era is about one tick wider than the penny era at the same half-spread
    wide = fs.expected_spread(q, np.full(len(q), 0.02))
    cheap = q.mid < 3.0
    nickel = ~q.penny
    assert np.median(wide[cheap & nickel]) == pytest.approx(0.05 + 0.04, abs=0.01)
    assert np.median(wide[cheap & ~nickel]) == pytest.approx(0.01 + 0.04, abs=0.01)


def test_previous_model_is_on_penny_ticks_in_every_era():
    fs = _script()
    q = _quotes(fs, n=40)
    prev = fs.previous_spread(q)
    cheap = q.mid < 1.0
    # 0.02 + 0.01 mid per side on pennies: at most 0.07 + a tick below a 1.0 mid
    assert np.all(prev[cheap] <= 0.08 + 1e-9) and np.all(prev > 0.0)


def test_chain_reader_keeps_two_sided_monthly_quotes_only(tmp_path: Path):
    fs = _script()
    head = ("Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,"
            "Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest")  # fmt: skip

    def row(exp: str, cls: str, k: float, cb: float, ca: float, pb: float, pa: float) -> str:
        sym = f"{cls}230621C000{int(k * 1000):05d}"
        return (f"{exp},{sym},0,0,{cb},{ca},0,0,0.5,0.1,10,{k:.2f},"
                f"{sym.replace('C', 'P', 1)},0,0,{pb},{pa},0,0,-0.5,0.1,10")  # fmt: skip

    lines = [
        head,
        row("Wed Jun 21 2023", "VIX", 18.0, 1.20, 1.25, 0.60, 0.64),
        row("Wed Jun 21 2023", "VIX", 25.0, 0.20, 0.22, 0.0, 0.0),  # put one-sided
        row("Wed Jun 14 2023", "VIXW", 18.0, 1.10, 1.50, 0.50, 0.90),  # weekly class
        row("Wed Jun 21 2023", "VIX", 30.0, 0.12, 0.12, 9.0, 8.0),  # locked call, crossed put
    ]
    path = tmp_path / "VIX_chain.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = fs._monthly_chain_rows(path, date(2023, 5, 15))
    got = sorted(zip(rows.strike.tolist(), rows.is_call.tolist(), strict=True))
    assert got == [(18.0, False), (18.0, True), (25.0, True)]
    assert np.allclose(rows.mid, 0.5 * (rows.bid + rows.ask))
