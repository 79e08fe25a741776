"""Calibrated SPX surface and VIX model: shipped parameters, variance clock, fit on real quotes."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from daemon import modelcheck as mc
from daemon.chains import read_chain
from daemon.marketdata.loader import load_history
from strategies.domain import MarketContext
from strategies.pricing import calibrated
from strategies.pricing.spx_surface import (
    CLOCK_DAYS_PER_YEAR,
    T_VIX,
    SpxSurfaceParams,
    build_spx_surface,
    spx_surface_from_context,
    variance_days,
)
from strategies.pricing.vix_model import VixCurveParams, VixOptionParams

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chains"
P = SpxSurfaceParams()


def test_shipped_parameters_are_the_defaults():
    names = {f.name for f in dataclasses.fields(SpxSurfaceParams)}
    assert set(calibrated.SPX) <= names
    for k, v in calibrated.SPX.items():
        assert getattr(P, k) == v
    vp = VixOptionParams()
    for k, v in calibrated.VIX.items():
        assert getattr(vp, k) == v
    cp = VixCurveParams()
    for k, v in calibrated.VIX_CURVE.items():
        assert getattr(cp, k) == v
    assert len(calibrated.FIT_DATES) >= 15
    assert any("vxth" in s for s in calibrated.VIX_FIT_SOURCES)
    assert calibrated.VIX_FIT_CLASSES == ("VIX",)  # the class the replay trades


def test_fitted_values_are_plausible():
    # weekends carry less variance than a session, events more
    assert 0.0 <= P.nonsession_weight < 0.7
    assert P.cpi_weight > 0.0 and P.fomc_weight > 0.0
    assert 0.7 < P.atm_ratio < 0.95
    assert P.atm_ratio_skew < 0.0  # a fatter left tail (higher SKEW) lowers ATM vs VIX
    assert P.put_slope > 0.0 and P.call_slope > 0.0


def test_variance_clock_counts_weekends_holidays_and_events():
    fri = date(2023, 2, 3)
    assert variance_days(fri, 3 / 365, P) == pytest.approx(1.0 + 2 * P.nonsession_weight)
    tue = date(2023, 2, 7)
    assert variance_days(tue, 3 / 365, P) == pytest.approx(3.0)
    # Presidents' Day 2023-02-20 as a holiday
    hol = variance_days(date(2023, 2, 17), 3 / 365, P, holidays={date(2023, 2, 20)})
    assert hol == pytest.approx(3 * P.nonsession_weight)
    cpi = variance_days(tue, 7 / 365, P, events={date(2023, 2, 14): ("CPI",)})
    assert cpi == pytest.approx(5.0 + 2 * P.nonsession_weight + P.cpi_weight)
    # AM settlement: the last day counts pro rata (17.5 of 24 hours)
    am = variance_days(tue, (3 - 6.5 / 24) / 365, P)
    assert am == pytest.approx(2.0 + 17.5 / 24)


def test_weekend_lowers_calendar_vol_and_knots_hit_index_levels():
    ctx_fri = MarketContext(session=date(2023, 2, 3), spx=4136.0, vix=18.33, vix9d=17.76,
                            vix3m=20.78, skew=123.08)  # fmt: skip
    s = spx_surface_from_context(ctx_fri)
    # Friday -> Monday (one session, two weekend days) has lower calendar vol
    # than Friday -> Tuesday...
    assert float(s.atm_vol(3 / 365)) < float(s.atm_vol(4 / 365))
    # ... and the tau of 30 calendar days is its clock value
    assert s.knot_tau[1] == pytest.approx(variance_days(ctx_fri.session, T_VIX, P) /
                                          CLOCK_DAYS_PER_YEAR)  # fmt: skip
    xs = (123.08 - P.skew_ref) / 10
    ratio = P.atm_ratio * math.exp(P.atm_ratio_skew * xs + P.atm_ratio_vix * math.log(18.33 / 18))
    assert s.knot_w[1] == pytest.approx((ratio * 0.1833) ** 2 * T_VIX)
    # the 30-day ATM vol over the VIX window equals ratio * VIX
    assert float(s.atm_vol(T_VIX)) == pytest.approx(ratio * 0.1833, rel=1e-9)


def test_atm_ratio_falls_with_skew():
    lo = build_spx_surface(18.0, 18.0, 18.0, skew=120.0)
    hi = build_spx_surface(18.0, 18.0, 18.0, skew=150.0)
    assert hi.knot_w[1] < lo.knot_w[1]


@pytest.mark.parametrize("name", ["SPX_2023-02-03.csv", "SPX_2023-08-18.csv"])
def test_calibrated_surface_fits_real_quotes(name):
    history = load_history()
    chain = read_chain(FIXTURES / name)
    ctx = mc.context_for(history, chain.quote_date)
    hol = mc.holidays_between(history, chain.quote_date, date(2023, 12, 31))
    chk = mc.check_chain(chain, ctx, holidays=hol, events=mc.load_events())
    me, be = chk.errors()
    assert len(me) > 40
    assert np.median(me) <= 1.0 and np.percentile(me, 90) <= 2.5
    assert np.median(be) >= 2.0 * np.median(me)


def test_weekend_and_event_clock_matters_on_a_cpi_week():
    # 2023-02-03 (Friday): CPI on 2023-02-14 inside the 14-day expiry. A
    # calendar-time clock with a flat ATM ratio misses the term structure.
    history = load_history()
    chain = read_chain(FIXTURES / "SPX_2023-02-03.csv")
    ctx = mc.context_for(history, chain.quote_date)
    hol = mc.holidays_between(history, chain.quote_date, date(2023, 12, 31))
    new = mc.check_chain(chain, ctx, holidays=hol, events=mc.load_events())
    flat = dataclasses.replace(P, nonsession_weight=1.0, cpi_weight=0.0, fomc_weight=0.0,
                               atm_ratio=0.83, atm_ratio_skew=0.0)  # fmt: skip
    old = mc.check_chain(chain, ctx, spx=flat)
    assert np.median(old.errors()[0]) > 1.5 * np.median(new.errors()[0])


def test_vix_model_fits_real_calls():
    history = load_history()
    chain = read_chain(FIXTURES / "VIX_2023-05-15_intraday1147.csv")
    chk = mc.check_chain(chain, mc.context_for(history, chain.quote_date))
    me, _ = chk.errors()
    assert len(me) >= 15
    assert np.median(me) <= 5.0
    # upward call skew: model IV rises with strike within each expiry
    for e in np.unique(chk.quotes.expiry):
        m = chk.quotes.expiry == e
        o = np.argsort(chk.quotes.strike[m])
        assert np.all(np.diff(chk.model[m][o]) >= -1e-12)
        assert chk.model[m][o][-1] > chk.model[m][o][0]
