"""SPX surface: ATM term structure from the VIX family, skew shape, fallbacks."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.domain import MarketContext
from strategies.pricing.black import strike_from_delta
from strategies.pricing.spx_surface import (
    T_VIX,
    T_VIX3M,
    T_VIX9D,
    SpxSurfaceParams,
    build_spx_surface,
    smile_ratio,
    spx_surface_from_context,
)

P = SpxSurfaceParams()


def test_term_structure_hits_index_points_times_ratio():
    s = build_spx_surface(vix=18.33, vix9d=17.76, vix3m=20.78, skew=123.08)
    got = s.atm_vol([T_VIX9D, T_VIX, T_VIX3M])
    # calibrated ratio: depends on SKEW, VIX level and the index tenor
    base = P.atm_ratio * math.exp(
        P.atm_ratio_skew * (123.08 - P.skew_ref) / 10 + P.atm_ratio_vix * math.log(18.33 / 18)
    )
    ratios = base * (np.array([9.0, 30.0, 93.0]) / 30.0) ** P.atm_ratio_term
    np.testing.assert_allclose(got, ratios * np.array([17.76, 18.33, 20.78]) / 100, rtol=1e-12)
    # linear in total variance between knots
    t = 20 / 365
    w = float(s.atm_vol(t)) ** 2 * t
    w9, w30 = s.knot_w[0], s.knot_w[1]
    assert w == pytest.approx(w9 + (w30 - w9) * (t - T_VIX9D) / (T_VIX - T_VIX9D))
    # flat vol outside the knots
    assert float(s.atm_vol(2 / 365)) == pytest.approx(float(s.atm_vol(T_VIX9D)))
    assert float(s.atm_vol(1.0)) == pytest.approx(float(s.atm_vol(T_VIX3M)))


def test_calendar_arbitrage_removed_in_backwardation():
    s = build_spx_surface(vix=40.0, vix9d=60.0, vix3m=30.0)
    w = np.array(s.knot_w)
    assert np.all(np.diff(w) >= 0)
    tt = np.linspace(1 / 365, 1.0, 200)
    total = s.atm_vol(tt) ** 2 * tt
    assert np.all(np.diff(total) >= -1e-15)


def test_fallbacks_for_missing_indexes():
    s = build_spx_surface(vix=20.0, vix9d=None, vix3m=float("nan"), skew=None)
    assert s.vix9d == pytest.approx(-3.74 + 1.170 * 20.0)
    assert s.vix3m == pytest.approx(4.41 + 0.866 * 20.0)
    assert s.skew == P.skew_ref
    with pytest.raises(ValueError):
        build_spx_surface(vix=float("nan"))


@settings(max_examples=50, deadline=None)
@given(
    vix=st.floats(9.0, 80.0),
    skew=st.floats(105.0, 170.0),
    dte=st.integers(1, 120),
)
def test_put_skew_monotone_and_bounded(vix, skew, dte):
    s = build_spx_surface(vix=vix, vix9d=vix, vix3m=vix, skew=skew)
    t = dte / 365
    f = 4000.0
    atm = float(s.atm_vol(t))
    k = f * np.exp(np.linspace(-6.0, 0.0, 121) * atm * math.sqrt(t))  # down to -6 std devs
    vol = s.vol(k, f, t)
    assert np.all(np.diff(vol) <= 1e-15)  # put wing: vol falls as strike rises
    assert vol[0] > atm
    assert np.all((vol >= P.min_vol) & (vol <= P.max_vol))


def test_calls_flatter_than_puts_and_skew_steepens_with_skew_index():
    k = np.array([-1.0, 1.0])
    r = smile_ratio(k, T_VIX, 130.0, P)
    assert r[0] - 1.0 > 0.0 > r[1] - 1.0
    low = smile_ratio(-1.5, T_VIX, 115.0, P)
    high = smile_ratio(-1.5, T_VIX, 150.0, P)
    assert float(high) > float(low)
    # put wing 16-delta strike above the 16-delta call distance-adjusted vol
    s = build_spx_surface(vix=18.33, vix9d=17.76, vix3m=20.78, skew=123.08)
    f, t = 4136.0, 14 / 365
    kp = float(strike_from_delta(f, t, s.sigma_fn(f, t), 0.16, False))
    kc = float(strike_from_delta(f, t, s.sigma_fn(f, t), 0.16, True))
    assert kp < f < kc
    assert float(s.vol(kp, f, t)) > float(s.atm_vol(t)) > float(s.vol(kc, f, t))


def test_surface_from_context_and_expiry():
    ctx = MarketContext(session=date(2023, 2, 3), spx=4136.48, vix=18.33, vix9d=17.76,
                        vix3m=20.78, skew=123.08)  # fmt: skip
    s = spx_surface_from_context(ctx)
    assert s.vix == 18.33 and s.skew == 123.08
    v = s.vol(np.array([4000.0, 4100.0]), 4136.0, 0.0)
    assert v.shape == (2,) and np.all(np.isfinite(v))


def test_a_surface_on_a_shared_session_clock_is_the_surface_built_alone() -> None:
    # speed work: a session's surfaces (open, range extremes, close) share one clock
    from strategies.pricing.spx_surface import session_clock

    session = date(2023, 2, 3)
    holidays = frozenset({date(2023, 2, 20)})
    events = {date(2023, 2, 14): ("CPI",), date(2023, 3, 22): ("FOMC",)}
    params = SpxSurfaceParams()
    clock = session_clock(session, params, holidays, events)
    for levels in ((18.33, 17.76, 20.78, 123.08), (25.0, None, 27.0, None)):
        alone = build_spx_surface(
            *levels, params, session=session, holidays=holidays, events=events
        )
        shared = build_spx_surface(*levels, params, clock=clock)
        assert shared == alone
        for t in (0.0, 2 / 365, 14 / 365, 60 / 365, 200 / 365):
            assert shared.tau(t) == alone.tau(t)
            strikes = np.array([3600.0, 4100.0, 4136.48, 4300.0])
            assert (
                shared.vol(strikes, 4136.48, t).tolist() == alone.vol(strikes, 4136.48, t).tolist()
            )


def test_the_scalar_atm_vol_is_the_array_one() -> None:
    # speed work: the listed strikes' window takes one ATM vol without np.vectorize
    holidays = frozenset({date(2023, 2, 20)})
    events = {date(2023, 2, 14): ("CPI",), date(2023, 3, 22): ("FOMC",)}
    for session in (None, date(2023, 2, 3)):
        surface = build_spx_surface(
            18.33, 17.76, 20.78, 123.08, session=session, holidays=holidays, events=events
        )
        for days in (0.0, 1e-6 * 365, 0.5, 1, 2, 5, 9, 20, 30, 45, 93, 120, 400):
            t = days / 365.0
            assert surface.atm_vol_at(t) == float(surface.atm_vol(t)), days
