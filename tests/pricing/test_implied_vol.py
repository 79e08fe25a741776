"""Implied vol: round trips through Black-76 and no-arbitrage bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.pricing.black import black_price
from strategies.pricing.implied_vol import implied_vol


@settings(max_examples=300, deadline=None)
@given(
    m=st.floats(-0.5, 0.5),
    t=st.floats(1 / 365, 2.0),
    vol=st.floats(0.03, 2.0),
    call=st.booleans(),
    r=st.floats(0.0, 0.08),
)
def test_round_trip(m, t, vol, call, r):
    f = 4100.0
    k = f * math.exp(m * vol * math.sqrt(t) * 4.0)  # within +-2 std devs
    price = float(black_price(f, k, t, vol, call, r))
    iv = float(implied_vol(price, f, k, t, call, r))
    assert iv == pytest.approx(vol, abs=1e-7)


def test_round_trip_vectorised_wide_strip():
    f, t = 4100.0, 30 / 365
    k = np.linspace(2800.0, 5200.0, 241)
    vol = 0.15 + 0.3 * np.log(f / k) ** 2 + 0.05 * np.abs(np.log(k / f))
    call = k >= f  # OTM side, as quoted
    price = black_price(f, k, t, vol, call)
    iv = implied_vol(price, f, k, t, call)
    ok = price > 1e-8
    np.testing.assert_allclose(iv[ok], vol[ok], atol=1e-8)
    # ITM options give the same vol through parity
    iv_itm = implied_vol(black_price(f, k, t, vol, ~call), f, k, t, ~call)
    good = ok & (np.abs(np.log(k / f)) < 0.15)
    np.testing.assert_allclose(iv_itm[good], vol[good], atol=1e-6)


def test_out_of_bounds_gives_nan():
    f, k, t = 100.0, 95.0, 0.25
    got = implied_vol([4.0, -1.0, 100.0, 120.0, float("nan")], f, k, t, True)
    assert np.all(np.isnan(got))  # below intrinsic, negative, >= F, nonsense
    assert math.isnan(float(implied_vol(105.0, f, 105.0, t, False)))  # put at/above K bound
    assert math.isnan(float(implied_vol(1.0, f, k, 0.0, True)))  # expired
    assert float(implied_vol(5.0, f, k, t, True)) == 0.0  # exactly intrinsic
    assert float(implied_vol(0.0, f, 105.0, t, True)) == 0.0  # worthless OTM


def test_shape_preserved():
    price = np.full((2, 3), 2.0)
    assert implied_vol(price, 100.0, 100.0, 0.1, True).shape == (2, 3)
