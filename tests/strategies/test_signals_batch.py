"""Indicator tails of many windows at once are the one-window doubles, bit for bit.

:func:`strategies.signals.batch.indicator_tails` runs the RSI and MACD
recursions across windows; the replay uses its values in place of
:func:`indicator_tail`'s (issue 11: results identical to the last bit).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from strategies.rules import SignalParams
from strategies.signals import SignalHistory
from strategies.signals.batch import indicator_tails
from strategies.signals.hedge_signals import compute_signals, indicator_tail

SESSION = date(2024, 8, 5)


def _window(vix: np.ndarray, vvix: np.ndarray) -> SignalHistory:
    n = len(vix)
    dates = [SESSION - timedelta(days=n - 1 - i) for i in range(n)]
    return SignalHistory.from_arrays(SESSION, dates, vix=vix, spx=np.full(n, 5000.0), vvix=vvix)


def _windows(rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping windows of two random walks (as a replay's are), a few with NaNs."""
    vix_walk = 20.0 + np.abs(rng.standard_normal(m + n).cumsum())
    vvix_walk = 100.0 + rng.standard_normal(m + n).cumsum() * 3.0
    index = np.arange(m)[:, None] + np.arange(n)[None, :]
    vix, vvix = vix_walk[index], vvix_walk[index]
    vix[rng.random(m) < 0.05, int(rng.integers(0, n))] = np.nan
    vvix[rng.random(m) < 0.05, -1] = np.nan
    vix[rng.random(m) < 0.05, -3:] = vix[0, 0]  # flat tails
    return vix, vvix


def _same(a: object, b: object) -> bool:
    return repr(a) == repr(b)


@pytest.mark.parametrize(
    ("params", "n"),
    [
        (SignalParams(), 250),
        (SignalParams(), 36),  # the shortest window with every value
        (SignalParams(rsi_period=5, macd_fast=3, macd_slow=7, macd_signal=4), 60),
        (SignalParams(rsi_period=1, macd_fast=1, macd_slow=2, macd_signal=1), 40),
    ],
)
def test_tails_are_the_single_window_values(params: SignalParams, n: int) -> None:
    rng = np.random.default_rng(n)
    vix, vvix = _windows(rng, 300, n)
    tails = indicator_tails(vix, vvix, params)
    assert len(tails) == 300
    computed = 0
    for k, tail in enumerate(tails):
        window = _window(vix[k], vvix[k])
        if not (np.isfinite(vix[k]).all() and np.isfinite(vvix[k]).all()):
            assert tail is None
            continue
        assert tail is not None
        computed += 1
        assert _same(tail, indicator_tail(window, params))
        assert _same(compute_signals(window, params, tail), compute_signals(window, params))
    assert computed > 200


def test_too_short_windows_are_left_to_the_single_window_path() -> None:
    rng = np.random.default_rng(1)
    vix, vvix = _windows(rng, 5, 35)  # MACD histogram's third-last row needs 36
    assert indicator_tails(vix, vvix, SignalParams()) == [None] * 5
    assert indicator_tails(np.empty((0, 250)), np.empty((0, 250)), SignalParams()) == []
    with pytest.raises(ValueError, match="windows, rows"):
        indicator_tails(vix, vvix[:, 1:], SignalParams())
