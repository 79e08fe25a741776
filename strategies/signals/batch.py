"""The indicator values of many signal windows at once: :class:`IndicatorTail` per window.

:func:`strategies.signals.compute_signals` reads the RSI of VIX and the VVIX
MACD at the last rows of one window; window by window that is four
recursions over ~250 rows in Python per session (about two thirds of a
window's cost). A replay knows the windows of the coming sessions, so it
can run the same recursions for many windows together: one numpy
operation per row, across windows (:func:`indicator_tails`).

The same doubles as :func:`~strategies.signals.hedge_signals.indicator_tail`,
bit for bit: every step performs the same IEEE operations in the same order
as the scalar recursion (numpy's elementwise ``+ - * /`` round exactly as
Python's floats do; no fused multiply-add between separate operations), and
the seeds are the same pairwise sums (``np.add.reduce`` along the rows of a
C-ordered array sums each row as the 1-D reduction does; checked by
``tests/strategies/test_signals_batch.py``, which compares every output with
the scalar path on random and real-like windows).

Only windows without a missing value (NaN) in either series are computed;
for the others (a missing VVIX print, the years before VVIX) the result is
``None`` and the caller computes that window alone. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np

from strategies.domain import FloatArray
from strategies.rules import SignalParams
from strategies.signals.hedge_signals import IndicatorTail
from strategies.signals.indicators import _rsi_values

__all__ = ["indicator_tails"]


def _seeds(block: FloatArray) -> FloatArray:
    """Each row's mean as the scalar path's seed: its pairwise sum over the count."""
    return np.add.reduce(np.ascontiguousarray(block), axis=1) / block.shape[1]


def _ema_columns(x: FloatArray, period: int) -> FloatArray:
    """EMA of every row of ``x`` (windows x rows) from its ``period``-th column on.

    Column ``c`` of the result is the EMA at row ``period - 1 + c`` (the seed
    first), as :func:`strategies.signals.indicators._ema_dense` computes it.
    """
    m, n = x.shape
    alpha = 2.0 / (period + 1.0)
    keep = 1.0 - alpha
    value = _seeds(x[:, :period])
    cols = np.ascontiguousarray(x.T)  # one contiguous row per session row
    out = np.empty((n - period + 1, m))
    out[0] = value
    for j in range(period, n):
        value = alpha * cols[j] + keep * value
        out[j - period + 1] = value
    return out.T


def _rsi_last(x: FloatArray, period: int) -> FloatArray:
    """Wilder RSI at the last column of every row of ``x``, as ``rsi_last`` computes it."""
    change = np.diff(x, axis=1)
    gain = np.where(change > 0, change, 0.0)
    loss = np.where(change < 0, -change, 0.0)
    avg_gain = _seeds(gain[:, :period])
    avg_loss = _seeds(loss[:, :period])
    back, n = float(period - 1), float(period)
    gains = np.ascontiguousarray(gain.T)
    losses = np.ascontiguousarray(loss.T)
    for j in range(period, gains.shape[0]):
        avg_gain = (avg_gain * back + gains[j]) / n
        avg_loss = (avg_loss * back + losses[j]) / n
    return _rsi_values(avg_gain, avg_loss)


def indicator_tails(
    vix: FloatArray, vvix: FloatArray, params: SignalParams
) -> list[IndicatorTail | None]:
    """:class:`IndicatorTail` of each window; ``None`` where it must be computed alone.

    Args:
        vix, vvix: ``(windows, rows)`` arrays, one window per row, oldest
            first (VIX and VVIX closes, points); the same shape.
        params: the signal parameters (RSI and MACD periods, sessions).

    Returns:
        One entry per window: its tail, or ``None`` for a window with a
        missing value; all ``None`` when the windows are too short for every
        value the tail holds (then the scalar path gives the NaNs).
    """
    vix = np.asarray(vix, dtype=np.float64)
    vvix = np.asarray(vvix, dtype=np.float64)
    if vix.ndim != 2 or vix.shape != vvix.shape:
        raise ValueError(f"expected two (windows, rows) arrays, got {vix.shape} and {vvix.shape}")
    m, n = vix.shape
    p = params
    none: list[IndicatorTail | None] = [None] * m
    # every value defined: RSI needs period + 1 rows, the histogram's third-last
    # row slow + signal + 1
    if m == 0 or n <= p.rsi_period or n < p.macd_slow + p.macd_signal + 1:
        return none
    ok = np.isfinite(vix).all(axis=1) & np.isfinite(vvix).all(axis=1)
    if not ok.any():
        return none
    if ok.all():  # the usual case: no copy
        rows, x, v = np.arange(m), vix, vvix
    else:
        rows = np.flatnonzero(ok)
        x, v = vix[rows], vvix[rows]
    rsi = _rsi_last(x, p.rsi_period)
    fast = _ema_columns(v, p.macd_fast)[:, p.macd_slow - p.macd_fast :]
    line = fast - _ema_columns(v, p.macd_slow)  # rows slow - 1 .. n - 1
    del fast  # the chunk's arrays are the replay's largest transient ones: free early
    sig = _ema_columns(line, p.macd_signal)  # rows slow + signal - 2 .. n - 1
    hist = line[:, -3:] - sig[:, -3:]
    out = none
    for k, r in enumerate(rows.tolist()):
        out[r] = IndicatorTail(
            float(rsi[k]),
            float(line[k, -1]),
            float(sig[k, -1]),
            (float(hist[k, 2]), float(hist[k, 1]), float(hist[k, 0])),
        )
    return out
