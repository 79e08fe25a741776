"""The indicators' fast paths give the reference recursions' doubles, bit for bit.

The seeds use ``np.add.reduce`` instead of ``np.mean``, a series without a
gap skips the scatter, and the hedge signals read only the RSI's last value
(:func:`rsi_last`). Each must reproduce, to the last bit, the
plain Python recursions the replay's golden results were computed with
(issue 11: results identical before and after the speed work). The
references below are those recursions, written out element by element.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.signals import ema, macd, rsi
from strategies.signals.indicators import rsi_last


def _ref_ema_dense(x: np.ndarray, period: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    if len(x) < period:
        return out
    alpha = 2.0 / (period + 1.0)
    keep = 1.0 - alpha
    value = float(np.mean(x[:period]))
    out[period - 1] = value
    for i in range(period, len(x)):
        value = alpha * float(x[i]) + keep * value
        out[i] = value
    return out


def _ref_on_valid(x: np.ndarray, fn) -> np.ndarray:  # type: ignore[no-untyped-def]
    valid = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    if valid.any():
        out[valid] = fn(x[valid])
    return out


def _ref_rsi(x: np.ndarray, period: int) -> np.ndarray:
    def dense(v: np.ndarray) -> np.ndarray:
        out = np.full(v.shape, np.nan)
        if len(v) <= period:
            return out
        change = np.diff(v)
        gain = np.where(change > 0, change, 0.0)
        loss = np.where(change < 0, -change, 0.0)
        avg_gain = float(np.mean(gain[:period]))
        avg_loss = float(np.mean(loss[:period]))
        for i in range(period, len(v)):
            if i > period:
                avg_gain = (avg_gain * (period - 1) + float(gain[i - 1])) / period
                avg_loss = (avg_loss * (period - 1) + float(loss[i - 1])) / period
            if avg_loss == 0.0:
                out[i] = 50.0 if avg_gain == 0.0 else 100.0
            else:
                out[i] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        return out

    return _ref_on_valid(x, dense)


def _ref_macd(x: np.ndarray, fast: int, slow: int, signal: int) -> np.ndarray:
    def dense(v: np.ndarray) -> np.ndarray:
        line = _ref_ema_dense(v, fast) - _ref_ema_dense(v, slow)
        sig = _ref_on_valid(line, lambda w: _ref_ema_dense(w, signal))
        return np.stack([line, sig, line - sig])

    valid = np.isfinite(x)
    out = np.full((3, len(x)), np.nan)
    if valid.any():
        out[:, valid] = dense(x[valid])
    return out


def _series(rng: np.random.Generator) -> np.ndarray:
    """A random walk at a random scale and level, sometimes with NaN gaps."""
    n = int(rng.integers(0, 300))
    scale = 10.0 ** rng.uniform(-3, 4)
    x = rng.standard_normal(n).cumsum() * scale + rng.uniform(-5, 5) * scale
    if n and rng.random() < 0.3:
        x[rng.random(n) < rng.uniform(0.0, 0.3)] = np.nan
    if n and rng.random() < 0.1:
        x[: int(rng.integers(0, n))] = np.nan  # a series that starts late (VVIX before 2007)
    if n > 5 and rng.random() < 0.1:
        x[-5:] = x[-6]  # flat tail: RSI 50 / 100 cases and zero MACD moves
    return x


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("seed", range(4))
def test_ema_and_macd_bit_identical_to_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(300):
        x = _series(rng)
        for period in (1, 2, 3, 9, 12, 14, 26):
            ref = _ref_on_valid(x, lambda v, p=period: _ref_ema_dense(v, p))
            assert _same_bits(ema(x, period), ref)
        for fast, slow, signal in ((12, 26, 9), (3, 7, 4), (1, 2, 1)):
            ours = np.stack(macd(x, fast, slow, signal))
            assert _same_bits(ours, _ref_macd(x, fast, slow, signal))


@pytest.mark.parametrize("seed", range(4))
def test_rsi_and_its_last_value_bit_identical_to_the_loop(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for _ in range(300):
        x = _series(rng)
        for period in (1, 2, 5, 14):
            ref = _ref_rsi(x, period)
            assert _same_bits(rsi(x, period), ref)
            last = rsi_last(x, period)
            assert type(last) is float
            if len(x):
                assert repr(last) == repr(float(ref[-1]))
            else:
                assert math.isnan(last)


def test_rsi_last_edges() -> None:
    assert math.isnan(rsi_last([], 14))
    assert math.isnan(rsi_last([1.0, 2.0, math.nan], 1))  # last row missing
    assert rsi_last([1.0, math.nan, 2.0], 1) == 100.0  # the gap is skipped
    assert rsi_last([3.0, 3.0, 3.0], 2) == 50.0
    with pytest.raises(ValueError, match="period"):
        rsi_last([1.0, 2.0], 0)
