"""Hedge signals: indicators against talipp, A/D divergence, term structure, regime, history."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from talipp.indicators import EMA as TalippEMA
from talipp.indicators import MACD as TalippMACD
from talipp.indicators import RSI as TalippRSI

from strategies.rules import SignalParams
from strategies.signals import SignalHistory, compute_signals, ema, macd, rsi
from strategies.signals.hedge_signals import (
    ad_divergence,
    ad_line,
    hist_turning_up,
    vix_regime,
)

SESSION = date(2024, 8, 5)


def walk(n: int, seed: int = 7, start: float = 20.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start + np.cumsum(rng.normal(0.0, 1.0, n))


def talipp_values(indicator: object, n: int) -> np.ndarray:
    """talipp's outputs (None before defined) as a float array, NaN for None."""
    values = list(indicator)  # type: ignore[call-overload]
    assert len(values) == n
    return np.array([math.nan if v is None else float(v) for v in values])


def sessions(n: int, end: date = SESSION) -> list[date]:
    return [end - timedelta(days=n - 1 - i) for i in range(n)]


# --- indicators against talipp ---------------------------------------------------------


@pytest.mark.parametrize("period", [2, 5, 14])
def test_ema_matches_talipp(period: int) -> None:
    x = walk(80)
    ours = ema(x, period)
    ref = talipp_values(TalippEMA(period, input_values=list(x)), len(x))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], rtol=1e-12)
    assert np.isnan(ours[: period - 1]).all() and not np.isnan(ours[period - 1])


@pytest.mark.parametrize(("period", "seed"), [(14, 1), (14, 2), (5, 3), (2, 4)])
def test_rsi_matches_talipp(period: int, seed: int) -> None:
    x = walk(120, seed)
    ours = rsi(x, period)
    ref = talipp_values(TalippRSI(period, input_values=list(x)), len(x))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], rtol=1e-10)
    assert np.isnan(ours[:period]).all() and not np.isnan(ours[period])
    assert ((ours[period:] >= 0) & (ours[period:] <= 100)).all()


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (3, 7, 4)])
def test_macd_matches_talipp(fast: int, slow: int, signal: int) -> None:
    x = walk(150, seed=11, start=95.0)
    line, sig, hist = macd(x, fast, slow, signal)
    ref = list(TalippMACD(fast, slow, signal, input_values=list(x)))

    def field(name: str) -> np.ndarray:
        return np.array(
            [math.nan if v is None or getattr(v, name) is None else getattr(v, name) for v in ref]
        )

    for ours, name in ((line, "macd"), (sig, "signal"), (hist, "histogram")):
        theirs = field(name)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=name)
        np.testing.assert_allclose(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], rtol=1e-10)
    assert np.isnan(line[: slow - 1]).all() and not np.isnan(line[slow - 1])
    first = slow + signal - 2
    assert np.isnan(hist[:first]).all() and not np.isnan(hist[first])
    np.testing.assert_allclose(hist, line - sig, equal_nan=True)


def test_rsi_wilder_hand_checked() -> None:
    """Four rises of 1 then a fall of 2 at period 4: AvgU 1 -> 0.75, AvgD 0 -> 0.5."""
    out = rsi([10.0, 11.0, 12.0, 13.0, 14.0, 12.0], period=4)
    assert np.isnan(out[:4]).all()
    assert out[4] == 100.0
    assert out[5] == pytest.approx(100.0 - 100.0 / (1.0 + 0.75 / 0.5))  # 60


# --- indicator edge cases --------------------------------------------------------------


def test_flat_series() -> None:
    x = np.full(60, 17.5)
    assert (rsi(x)[14:] == 50.0).all()
    line, sig, hist = macd(x)
    assert (line[25:] == 0.0).all() and (sig[33:] == 0.0).all() and (hist[33:] == 0.0).all()
    np.testing.assert_allclose(ema(x, 10)[9:], 17.5)


def test_too_short_series_is_all_nan() -> None:
    x = walk(14)
    assert np.isnan(rsi(x, 14)).all()
    assert not np.isnan(rsi(walk(15), 14)[-1])
    line, sig, hist = macd(walk(33))
    assert np.isnan(sig).all() and np.isnan(hist).all() and not np.isnan(line[-1])
    assert np.isnan(ema([1.0, 2.0], 3)).all()
    assert rsi([], 14).shape == (0,)


def test_nan_gap_is_a_missing_session() -> None:
    """A NaN row is skipped: the values around it equal the series without the row."""
    x = walk(80, seed=5)
    gapped = np.insert(x, [30, 30, 55], np.nan)  # two missing rows at 30, one at 57
    keep = ~np.isnan(gapped)
    for fn in (lambda v: rsi(v, 14), lambda v: ema(v, 10), lambda v: macd(v)[2]):
        ours = fn(gapped)
        assert np.isnan(ours[~keep]).all()
        np.testing.assert_allclose(ours[keep], fn(x), equal_nan=True)


def test_leading_nans_delay_the_first_value() -> None:
    x = np.concatenate([np.full(5, np.nan), walk(20)])
    out = rsi(x, 14)
    assert np.isnan(out[: 5 + 14]).all() and not np.isnan(out[5 + 14])


def test_bad_periods_rejected() -> None:
    with pytest.raises(ValueError):
        rsi([1.0, 2.0], 0)
    with pytest.raises(ValueError):
        macd([1.0, 2.0], fast=26, slow=12)
    with pytest.raises(ValueError):
        ema(np.ones((2, 2)), 2)


# --- MACD histogram turning up ----------------------------------------------------------


@pytest.mark.parametrize(
    ("h0", "h1", "h2", "expected"),
    [
        (-0.5, -1.0, -0.2, True),  # rose from below zero (h2 irrelevant)
        (0.3, -0.1, math.nan, True),  # crossed up from below zero
        (0.5, 0.3, 0.1, True),  # rising two sessions above zero
        (0.5, 0.3, 0.4, False),  # rose once above zero
        (-1.0, -0.5, -2.0, False),  # fell
        (0.3, 0.3, 0.1, False),  # unchanged
        (0.5, 0.3, math.nan, False),  # above zero, cannot tell two sessions
        (math.nan, -1.0, -2.0, False),
    ],
)
def test_hist_turning_up(h0: float, h1: float, h2: float, expected: bool) -> None:
    assert hist_turning_up(h0, h1, h2) is expected


# --- A/D line and divergence ------------------------------------------------------------


def test_ad_line_is_cumulative_net_advances() -> None:
    line = ad_line(np.array([1500.0, 1000.0, np.nan, 2000.0]), np.array([1000.0, 1800.0, 900, 500]))
    np.testing.assert_array_equal(line[[0, 1, 3]], [500.0, -300.0, 1200.0])
    assert np.isnan(line[2])


def breadth_history(spx: np.ndarray, net: np.ndarray, **extra: np.ndarray) -> SignalHistory:
    n = len(spx)
    return SignalHistory.from_arrays(
        SESSION,
        sessions(n),
        vix=np.full(n, 15.0),
        spx=spx,
        advancing=1500.0 + net / 2,
        declining=1500.0 - net / 2,
        **extra,
    )


def test_ad_divergence_true_when_spx_at_high_and_breadth_lags() -> None:
    spx = np.linspace(5000.0, 5200.0, 30)  # at a 20-session high today
    net = np.concatenate([np.full(20, 300.0), np.full(10, -200.0)])  # breadth faded
    sig = compute_signals(breadth_history(spx, net))
    assert sig.spx_at_high and sig.ad_divergence
    assert sig.ad_gap == pytest.approx(2000.0)  # ten sessions of -200 issues
    assert sig.ad_line == pytest.approx(20 * 300.0 - 10 * 200.0)


def test_ad_divergence_false_cases() -> None:
    spx = np.linspace(5000.0, 5200.0, 30)
    confirming = np.full(30, 300.0)  # A/D line at its own high too
    assert not compute_signals(breadth_history(spx, confirming)).ad_divergence
    faded = np.concatenate([np.full(20, 300.0), np.full(10, -200.0)])
    below_high = spx.copy()
    below_high[-1] = 5100.0  # SPX not at its 20-session high
    sig = compute_signals(breadth_history(below_high, faded))
    assert not sig.spx_at_high and not sig.ad_divergence
    # within the tolerance: a 2,000-issue gap is not more than 2,000
    params = SignalParams(divergence_tolerance=2000.0)
    assert not compute_signals(breadth_history(spx, faded), params).ad_divergence
    # too short a window, or a missing row inside it: not evaluated
    assert ad_divergence(spx[-19:], ad_line(faded, np.zeros(30))[-19:], 20, 0.0) == (
        False,
        False,
        pytest.approx(math.nan, nan_ok=True),
    )
    gappy = breadth_history(spx, faded)
    adv = gappy.advancing.copy()
    adv[-5] = np.nan
    sig = compute_signals(replace(gappy, advancing=adv))
    assert not sig.ad_divergence and math.isnan(sig.ad_gap)


# --- term structure -----------------------------------------------------------------------


def term_history(m1: list[float], m2: list[float]) -> SignalHistory:
    n = len(m1)
    return SignalHistory.from_arrays(
        SESSION, sessions(n), vix=np.full(n, 15.0), spx=np.full(n, 5000.0), vix_m1=m1, vix_m2=m2
    )


def test_contango() -> None:
    sig = compute_signals(term_history([15.0, 15.0], [16.5, 17.0]))
    assert sig.m1_m2_spread == pytest.approx(2.0)
    assert not sig.backwardation and not sig.front_second_above  # steep contango never sets it
    assert sig.spread_change == pytest.approx(0.5)


def test_backwardation_below_and_above_threshold() -> None:
    mild = compute_signals(term_history([17.0, 20.0], [18.0, 19.0]))
    assert mild.m1_m2_spread == pytest.approx(-1.0)
    assert mild.backwardation and not mild.front_second_above
    assert mild.spread_change == pytest.approx(-2.0)
    at = compute_signals(term_history([20.0], [18.5]))  # exactly 1.5: not above
    assert at.backwardation and not at.front_second_above
    steep = compute_signals(term_history([25.0], [23.0]))
    assert steep.front_second_above and math.isnan(steep.spread_change)
    loose = SignalParams(term_spread_threshold=2.5)
    assert not compute_signals(term_history([25.0], [23.0]), loose).front_second_above


def test_missing_futures_give_nan_and_false() -> None:
    sig = compute_signals(term_history([math.nan], [math.nan]))
    assert math.isnan(sig.m1_m2_spread) and not sig.backwardation and not sig.front_second_above


# --- regime ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vix", "regime"),
    [
        (12.0, "calm"),
        (19.99, "calm"),
        (20.0, "elevated"),
        (30.0, "elevated"),
        (30.01, "stressed"),
        (math.nan, "unknown"),
    ],
)
def test_regime_boundaries(vix: float, regime: str) -> None:
    assert vix_regime(vix, SignalParams()) == regime


def test_regime_thresholds_configurable() -> None:
    params = SignalParams(regime_calm_below=15.0, regime_stressed_above=25.0)
    assert vix_regime(16.0, params) == "elevated"
    assert vix_regime(26.0, params) == "stressed"
    with pytest.raises(ValueError):
        SignalParams(regime_calm_below=35.0)


# --- history ---------------------------------------------------------------------------------


def test_history_rejects_rows_after_the_session() -> None:
    days = sessions(3, end=SESSION + timedelta(days=1))
    with pytest.raises(ValueError, match="after the decision session"):
        SignalHistory.from_arrays(SESSION, days, vix=[1.0, 2.0, 3.0], spx=[1.0, 2.0, 3.0])


def test_history_validation() -> None:
    with pytest.raises(ValueError, match="shape"):
        SignalHistory.from_arrays(SESSION, sessions(3), vix=[1.0, 2.0], spx=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="increasing"):
        SignalHistory.from_arrays(SESSION, [SESSION, SESSION], vix=[1.0, 2.0], spx=[1.0, 2.0])
    # a window ending before the session (today's row not in yet) is fine
    h = SignalHistory.from_arrays(
        SESSION, sessions(2, SESSION - timedelta(days=1)), vix=[1, 2], spx=[1, 2]
    )
    assert len(h) == 2 and np.isnan(h.vvix).all()
    with pytest.raises(ValueError):
        h.vix[0] = 5.0  # read-only


def test_history_copies_its_inputs() -> None:
    vix = np.array([15.0, 16.0])
    h = SignalHistory.from_arrays(SESSION, sessions(2), vix=vix, spx=[1.0, 2.0])
    vix[0] = 99.0
    assert h.vix[0] == 15.0


# --- compute_signals and as_inputs ---------------------------------------------------------


def full_history(n: int = 120) -> SignalHistory:
    rng = np.random.default_rng(3)
    return SignalHistory.from_arrays(
        SESSION,
        sessions(n),
        vix=walk(n, 1, 18.0),
        vvix=walk(n, 2, 95.0),
        spx=walk(n, 3, 5000.0),
        advancing=rng.integers(800, 2200, n).astype(float),
        declining=rng.integers(800, 2200, n).astype(float),
        vix_m1=walk(n, 4, 19.0),
        vix_m2=walk(n, 5, 20.0),
    )


def test_compute_signals_reads_the_last_row() -> None:
    h = full_history()
    sig = compute_signals(h)
    assert sig.vix == h.vix[-1] and sig.as_of == h.dates[-1] == SESSION
    assert sig.vix_rsi == pytest.approx(rsi(h.vix, 14)[-1])
    line, signal, hist = macd(h.vvix, 12, 26, 9)
    assert (sig.vvix_macd, sig.vvix_macd_signal, sig.vvix_macd_hist) == pytest.approx(
        (line[-1], signal[-1], hist[-1])
    )
    assert sig.vvix_hist_turning_up is hist_turning_up(hist[-1], hist[-2], hist[-3])
    assert sig.m1_m2_spread == pytest.approx(h.vix_m2[-1] - h.vix_m1[-1])


def test_as_inputs_is_flat_floats_and_strings() -> None:
    inputs = compute_signals(full_history()).as_inputs()
    assert all(k.startswith("sig_") for k in inputs)
    assert all(isinstance(v, float | str) and not isinstance(v, bool) for v in inputs.values())
    assert inputs["sig_session"] == SESSION.isoformat()
    assert inputs["sig_vix_regime"] in {"calm", "elevated", "stressed"}
    assert inputs["sig_backwardation"] in (0.0, 1.0)
    assert {"sig_vix_rsi", "sig_vvix_macd_hist", "sig_ad_divergence", "sig_spread_change"} <= set(
        inputs
    )


def test_short_history_gives_nan_not_errors() -> None:
    h = SignalHistory.from_arrays(SESSION, sessions(5), vix=walk(5), spx=walk(5, 2, 5000.0))
    sig = compute_signals(h)
    assert math.isnan(sig.vix_rsi) and math.isnan(sig.vvix_macd_hist)
    assert not sig.vvix_hist_turning_up and not sig.ad_divergence
    empty = compute_signals(SignalHistory.from_arrays(SESSION, [], vix=[], spx=[]))
    assert empty.as_of is None and empty.vix_regime == "unknown"
    assert empty.as_inputs()["sig_as_of"] == ""
