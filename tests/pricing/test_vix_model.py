"""VIX futures curve, futures beta and VIX option vol model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.pricing.vix_model import (
    DEFAULT_KAPPA,
    VixCurveParams,
    VixOptionParams,
    future_spot_beta,
    vix_futures_curve,
    vix_option_atm_vol,
    vix_option_vol,
)


def test_future_spot_beta_signature_and_values():
    b = future_spot_beta(60 / 365)
    assert isinstance(b, float)
    assert b == pytest.approx(math.exp(-DEFAULT_KAPPA * 60 / 365))
    assert future_spot_beta(0.0) == 1.0
    arr = future_spot_beta(np.array([0.1, 0.2, 0.5]), kappa=2.0)
    assert isinstance(arr, np.ndarray)
    np.testing.assert_allclose(arr, np.exp(-2.0 * np.array([0.1, 0.2, 0.5])))
    assert np.all(np.diff(arr) < 0)


def test_curve_shape_and_regime_dependent_speed():
    p = VixCurveParams()
    np.testing.assert_allclose(vix_futures_curve(18.33, 20.78, 0.0, p), 18.33)
    # contango when VIX3M > VIX, backwardation when VIX3M < VIX
    t = np.linspace(0.0, 0.7, 30)
    assert np.all(np.diff(vix_futures_curve(15.0, 18.0, t)) > 0)
    assert np.all(np.diff(vix_futures_curve(45.0, 35.0, t)) < 0)
    # a spike (VIX far above VIX3M) reverts faster than a calm curve moves
    near = 20 / 365
    calm = (vix_futures_curve(15.0, 18.0, near) - 15.0) / (
        vix_futures_curve(15.0, 18.0, 5.0) - 15.0
    )
    spike = (vix_futures_curve(80.0, 60.0, near) - 80.0) / (
        vix_futures_curve(80.0, 60.0, 5.0) - 80.0
    )
    assert float(spike) > float(calm)


def test_curve_sane_in_the_2020_spike():
    # 2020-03-16: VIX 82.69, VIX3M 67.7; CFE settlements (bundled vix_futures.csv)
    # 44.875 (2020-05-20, 65 d) and 38.95 (2020-06-17, 93 d). The previous curve
    # said 63.6 and 59.8.
    got = vix_futures_curve(82.69, 67.7, np.array([65.0, 93.0]) / 365)
    np.testing.assert_allclose(got, [44.875, 38.95], atol=4.5)
    assert abs(float(got[0]) - 44.875) < 3.0


def test_curve_fallback_and_clip():
    p = VixCurveParams()
    a = vix_futures_curve(20.0, None, 0.3, p)
    b = vix_futures_curve(20.0, 4.41 + 0.866 * 20.0, 0.3, p)
    assert float(a) == pytest.approx(float(b))
    far = vix_futures_curve(80.0, 30.0, 5.0, p)  # theta clipped at min_theta
    assert float(far) == pytest.approx(p.min_theta, abs=1e-3)
    with pytest.raises(ValueError):
        vix_futures_curve(0.0, 20.0, 0.1)


def test_atm_vol_of_vol_term_decay():
    p = VixOptionParams()
    v30 = float(vix_option_atm_vol(94.65, 30 / 365, p))
    assert v30 == pytest.approx(p.vvix_ratio * 0.9465**p.vvix_exponent)
    t = np.array([9, 30, 65, 93, 184]) / 365
    v = vix_option_atm_vol(94.65, t, p)
    assert np.all(np.diff(v) < 0)
    assert float(vix_option_atm_vol(None, 30 / 365, p)) == pytest.approx(
        p.vvix_ratio * 0.9**p.vvix_exponent
    )
    # missing VVIX falls back on VIX (ln VVIX = c0 + c1 ln VIX); basis and level factors
    fb = math.exp(p.vvix_fallback[0] + p.vvix_fallback[1] * math.log(20.0))
    assert float(vix_option_atm_vol(None, 30 / 365, p, vix=20.0, future=20.0)) == pytest.approx(
        float(vix_option_atm_vol(fb, 30 / 365, p))
    )
    spike = float(vix_option_atm_vol(120.0, 30 / 365, p, vix=40.0, future=30.0))
    flat = float(vix_option_atm_vol(120.0, 30 / 365, p, vix=30.0, future=30.0))
    assert spike == pytest.approx(flat * (40 / 30) ** p.basis_exponent)
    assert np.isfinite(float(vix_option_atm_vol(90.0, 0.0, p)))


def test_call_skew_upward():
    f, t = 20.0, 60 / 365
    k = np.arange(20.0, 61.0, 1.0)
    v = vix_option_vol(k, f, t, 90.0)
    assert np.all(np.diff(v) >= 0)
    assert v[10] > v[0] * 1.2  # 50% OTM call clearly above ATM
    # rough check against the 2023-05-15 Cboe chain: 65-day ATM ~77%, 10% OTM ~85%
    t65 = 65 / 365 - 6.5 / 24 / 365
    v65 = vix_option_vol(np.array([21.85, 24.0]), 21.85, t65, 94.65, vix=17.12)
    np.testing.assert_allclose(v65, [0.77, 0.85], atol=0.08)
