"""Black-76 / Black-Scholes prices and greeks against QuantLib and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.domain import Right
from strategies.pricing.black import (
    black_greeks,
    black_price,
    forward_delta,
    forward_from_spot,
    is_call_flag,
    nearest_strike,
    options_priced,
    strike_from_delta,
)


def _ql_bsm(spot: float, strike: float, days: int, vol: float, r: float, q: float, call: bool):
    today = ql.Date(3, 2, 2023)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
    )
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, strike)
    option = ql.EuropeanOption(payoff, ql.EuropeanExercise(today + days))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option


CASES = [
    (4136.48, 4000.0, 14, 0.18, 0.045, 0.016, True),
    (4136.48, 4000.0, 14, 0.18, 0.045, 0.016, False),
    (4136.48, 4400.0, 45, 0.14, 0.02, 0.015, True),
    (4136.48, 3600.0, 3, 0.35, 0.05, 0.0, False),
    (100.0, 100.0, 365, 0.25, 0.0, 0.0, True),
    (20.0, 26.0, 60, 0.80, 0.03, 0.03, True),
]


@pytest.mark.parametrize(("spot", "strike", "days", "vol", "r", "q", "call"), CASES)
def test_matches_quantlib_bsm(spot, strike, days, vol, r, q, call):
    option = _ql_bsm(spot, strike, days, vol, r, q, call)
    t = days / 365.0
    fwd = float(forward_from_spot(spot, t, r, q))
    g = black_greeks(fwd, strike, t, vol, call, rate=r, carry=r - q)
    assert float(g.price) == pytest.approx(option.NPV(), abs=1e-6)
    assert float(g.delta) == pytest.approx(option.delta(), abs=1e-6)
    assert float(g.gamma) == pytest.approx(option.gamma(), abs=1e-6)
    assert float(g.vega) == pytest.approx(option.vega(), abs=1e-6)
    assert float(g.theta) == pytest.approx(option.thetaPerDay(), abs=1e-6)


@pytest.mark.parametrize(("spot", "strike", "days", "vol", "r", "q", "call"), CASES)
def test_matches_quantlib_black_calculator(spot, strike, days, vol, r, q, call):
    t = days / 365.0
    fwd = spot * math.exp((r - q) * t)
    disc = math.exp(-r * t)
    kind = ql.Option.Call if call else ql.Option.Put
    calc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, strike), fwd, vol * math.sqrt(t), disc)
    g = black_greeks(fwd, strike, t, vol, call, rate=r)
    assert float(black_price(fwd, strike, t, vol, call, r)) == pytest.approx(calc.value(), abs=1e-6)
    assert float(g.delta_forward) == pytest.approx(calc.deltaForward(), abs=1e-6)
    assert float(g.gamma) == pytest.approx(calc.gammaForward(), abs=1e-6)
    assert float(g.vega) == pytest.approx(calc.vega(t), abs=1e-6)


def test_vectorised_shapes_and_mixed_rights():
    k = np.linspace(3500.0, 4700.0, 25)
    calls = k > 4100.0
    g = black_greeks(4100.0, k, 14 / 365, 0.2, calls)
    assert g.price.shape == g.delta.shape == g.theta.shape == (25,)
    assert np.all(g.delta[calls] > 0) and np.all(g.delta[~calls] < 0)
    scalar = black_price(4100.0, 4000.0, 0.1, 0.2, True)
    assert np.ndim(scalar) == 0


@settings(max_examples=200, deadline=None)
@given(
    f=st.floats(1.0, 10_000.0),
    m=st.floats(-1.0, 1.0),
    t=st.floats(1e-3, 3.0),
    vol=st.floats(0.01, 2.0),
    r=st.floats(-0.01, 0.1),
)
def test_put_call_parity(f, m, t, vol, r):
    k = f * math.exp(m)
    c = float(black_price(f, k, t, vol, True, r))
    p = float(black_price(f, k, t, vol, False, r))
    assert c - p == pytest.approx(math.exp(-r * t) * (f - k), abs=1e-9 * max(f, k))


@pytest.mark.parametrize("call", [True, False])
@pytest.mark.parametrize("strike", [3800.0, 4100.0, 4350.0])
def test_greeks_match_finite_differences(call, strike):
    s, t, vol, r, q = 4100.0, 21 / 365, 0.17, 0.04, 0.015
    b = r - q

    def value(spot=s, tt=t, v=vol):
        return float(black_price(spot * math.exp(b * tt), strike, tt, v, call, r))

    g = black_greeks(s * math.exp(b * t), strike, t, vol, call, rate=r, carry=b)
    h = 0.01
    assert float(g.delta) == pytest.approx((value(s + h) - value(s - h)) / (2 * h), abs=1e-6)
    assert float(g.gamma) == pytest.approx(
        (value(s + 1) - 2 * value() + value(s - 1)), rel=1e-4, abs=1e-7
    )
    dv = 1e-5
    assert float(g.vega) == pytest.approx(
        (value(v=vol + dv) - value(v=vol - dv)) / (2 * dv), rel=1e-6
    )
    dt = 1e-6
    theta_fd = (value(tt=t - dt) - value(tt=t + dt)) / (2 * dt) / 365.0
    assert float(g.theta) == pytest.approx(theta_fd, rel=1e-5, abs=1e-8)


def test_expiry_and_zero_vol_limits():
    k = np.array([90.0, 100.0, 110.0])
    g = black_greeks(100.0, k, 0.0, 0.2, True, rate=0.05)
    np.testing.assert_allclose(g.price, [10.0, 0.0, 0.0])
    np.testing.assert_allclose(g.delta, [1.0, 0.5, 0.0])
    assert np.all(g.gamma == 0) and np.all(g.vega == 0) and np.all(g.theta == 0)
    gp = black_greeks(100.0, k, 0.0, 0.2, False)
    np.testing.assert_allclose(gp.price, [0.0, 0.0, 10.0])
    np.testing.assert_allclose(gp.delta, [0.0, -0.5, -1.0])
    # sigma = 0, t > 0: discounted intrinsic, step delta, theta = discount accrual r V / 365.
    t, r = 0.5, 0.04
    g0 = black_greeks(100.0, k, t, 0.0, True, rate=r)
    disc = math.exp(-r * t)
    np.testing.assert_allclose(g0.price, disc * np.array([10.0, 0.0, 0.0]))
    np.testing.assert_allclose(g0.delta, [disc, 0.5 * disc, 0.0])
    np.testing.assert_allclose(g0.theta, r * g0.price / 365.0)
    assert np.all(g0.gamma == 0)
    np.testing.assert_allclose(
        g0.vega, [0.0, disc * 100.0 * math.sqrt(t) / math.sqrt(2 * math.pi), 0.0]
    )
    # tiny vol converges to the sigma = 0 limit
    np.testing.assert_allclose(black_price(100.0, k, t, 1e-9, True, r), g0.price, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(delta=st.floats(0.01, 0.99), t=st.floats(1 / 365, 2.0), vol=st.floats(0.05, 1.5))
def test_strike_from_delta_round_trip_constant_vol(delta, t, vol):
    for call in (True, False):
        k = float(strike_from_delta(4000.0, t, vol, delta, call))
        got = float(forward_delta(4000.0, k, t, vol, call))
        assert got == pytest.approx(delta if call else -delta, abs=1e-9)


def test_strike_from_delta_with_smile():
    f, t = 4100.0, 14 / 365

    def smile(k):
        x = np.log(k / f)
        return 0.16 * (1.0 - 4.0 * x + 30.0 * x * x)

    targets = np.array([0.05, 0.10, 0.16, 0.25, 0.40])
    for right in (Right.PUT, Right.CALL):
        k = strike_from_delta(f, t, smile, targets, right)
        assert k.shape == targets.shape
        got = forward_delta(f, k, t, smile(k), right is Right.CALL)
        np.testing.assert_allclose(np.abs(got), targets, atol=1e-9)
    # puts below the forward, further out for smaller deltas
    kp = strike_from_delta(f, t, smile, targets, Right.PUT)
    assert np.all(np.diff(kp) > 0) and np.all(kp < f)


def test_strike_from_delta_rejects_bad_input():
    with pytest.raises(ValueError):
        strike_from_delta(100.0, 0.0, 0.2, 0.16, True)
    with pytest.raises(ValueError):
        strike_from_delta(100.0, 0.1, 0.2, 1.2, True)


def test_nearest_strike_and_flags():
    grid = np.arange(3900.0, 4300.0, 5.0)
    np.testing.assert_allclose(nearest_strike(grid, [3987.4, 3987.6, 3000.0, 9000.0]),
                               [3985.0, 3990.0, 3900.0, 4295.0])  # fmt: skip
    assert float(nearest_strike(grid, 3987.5)) == 3985.0
    with pytest.raises(ValueError):
        nearest_strike([], 1.0)
    assert bool(is_call_flag(Right.CALL)) and not bool(is_call_flag("P"))
    np.testing.assert_array_equal(is_call_flag([True, False]), [True, False])


def test_options_priced_counts_every_element_priced() -> None:
    """The benchmark's ``option prices``: one per element of each result, nothing else."""
    before = options_priced()
    black_greeks(4_000.0, np.array([3_900.0, 4_000.0, 4_100.0]), 30 / 365, 0.2, True)
    assert options_priced() == before + 3
    black_price(np.full((2, 4), 20.0), 22.0, 0.1, 0.9, False)
    assert options_priced() == before + 3 + 8
    nearest_strike(np.array([1.0, 2.0]), 1.4)  # not a price
    assert options_priced() == before + 11
