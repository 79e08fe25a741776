"""Technical indicators over daily float arrays: EMA, Wilder's RSI, Appel's MACD.

Every function takes a 1-D float array (one value per session, oldest first)
and returns a float64 array of the same length, aligned with the input.

NaN handling (the same for every indicator):

* **Leading NaNs until enough data.** An output is NaN until the indicator has
  seen enough valid inputs to be defined (see each function).
* **NaN gaps are missing sessions, not zeros.** The indicator is computed over
  the valid (finite) inputs only, as if the missing rows were not there, and
  the output is NaN at each missing row. The recursion resumes after a gap
  from the last valid value, so a gap delays nothing and resets nothing.

Only the last value of an RSI is read by the hedge signals:
:func:`rsi_last` gives it without building the series (the same double as
``rsi(values)[-1]``).

Seeding follows the usual published conventions (and agrees with the talipp
library, the tests' reference): an EMA starts from the simple mean of its
first ``period`` inputs; Wilder's averages start from the simple mean of the
first ``period`` changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray

ArrayLike = npt.ArrayLike


def _as_series(values: ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {arr.shape}")
    return arr


def _on_valid(values: ArrayLike, fn: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """Apply ``fn`` to the finite values only and scatter the result back (NaN elsewhere)."""
    arr = _as_series(values)
    valid = np.isfinite(arr)
    if valid.all():  # no gap (the usual case): nothing to scatter
        return fn(arr)
    out = np.full(arr.shape, np.nan)
    if valid.any():
        out[valid] = fn(arr[valid])
    return out


def _mean(x: FloatArray) -> float:
    """``float(np.mean(x))`` of a non-empty float64 array: the same pairwise sum
    (``np.add.reduce``) divided by the count, without np.mean's Python overhead."""
    return float(np.add.reduce(x)) / len(x)


def _ema_dense(x: FloatArray, period: int) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if len(x) < period:
        return out
    alpha = 2.0 / (period + 1.0)
    keep = 1.0 - alpha
    value = _mean(x[:period])
    # The recursion on Python floats (IEEE doubles, as numpy's): the same numbers
    # as indexing the arrays element by element, without numpy scalar overhead.
    # (scipy.signal.lfilter runs it in C with the same roundings, but importing
    # scipy.signal costs about 0.4 s per process, more than it saves a replay.)
    values = [value]
    append = values.append
    for xi in x[period:].tolist():
        value = alpha * xi + keep * value
        append(value)
    out[period - 1 :] = values
    return out


def ema(values: ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, in the units of ``values``.

    ``EMA_t = a * x_t + (1 - a) * EMA_{t-1}`` with ``a = 2 / (period + 1)``,
    seeded with the simple mean of the first ``period`` valid values (the
    first defined output, at the ``period``-th valid value; NaN before).

    Args:
        values: one value per session, oldest first (NaN = missing session).
        period: smoothing period, sessions (>= 1).
    """
    if period < 1:
        raise ValueError("period must be at least 1")
    return _on_valid(values, lambda x: _ema_dense(x, period))


def _wilder_changes(x: FloatArray, period: int) -> tuple[float, float, list[float], list[float]]:
    """Seed averages (means of the first ``period`` rises and falls) and the later ones."""
    change = np.diff(x)
    gain = np.where(change > 0, change, 0.0)
    loss = np.where(change < 0, -change, 0.0)
    return (
        _mean(gain[:period]),
        _mean(loss[:period]),
        gain[period:].tolist(),
        loss[period:].tolist(),
    )


def _rsi_dense(x: FloatArray, period: int) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if len(x) <= period:
        return out
    avg_gain, avg_loss, later_gains, later_losses = _wilder_changes(x, period)
    gains = [avg_gain]
    losses = [avg_loss]
    # Python floats (IEEE doubles, as numpy's): the same numbers as indexing the
    # arrays element by element, less overhead per step (the periods as floats:
    # an int operand is converted exactly at every step). Wilder's form
    # (avg * (n - 1) + x) / n has no linear-filter equivalent with the same
    # roundings, so it stays a loop.
    back, n = float(period - 1), float(period)
    add_gain, add_loss = gains.append, losses.append
    for g, lo in zip(later_gains, later_losses, strict=True):
        avg_gain = (avg_gain * back + g) / n
        avg_loss = (avg_loss * back + lo) / n
        add_gain(avg_gain)
        add_loss(avg_loss)
    out[period:] = _rsi_values(np.array(gains), np.array(losses))
    return out


def _rsi_values(avg_gain: FloatArray, avg_loss: FloatArray) -> FloatArray:
    """:func:`_rsi_value` element by element (numpy's + - / round as Python's do)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    flat = np.where(avg_gain == 0.0, 50.0, 100.0)
    return np.where(avg_loss == 0.0, flat, rsi)


def _rsi_value(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def rsi(values: ArrayLike, period: int = 14) -> FloatArray:
    """Relative Strength Index with Wilder's smoothing, 0-100.

    Source: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems*
    (1978), "Relative Strength Index". With ``U_t = max(x_t - x_{t-1}, 0)``
    and ``D_t = max(x_{t-1} - x_t, 0)``, the first averages are the simple
    means of the first ``period`` changes, then
    ``AvgU_t = (AvgU_{t-1} * (period - 1) + U_t) / period`` (likewise
    ``AvgD``), and ``RSI = 100 - 100 / (1 + AvgU / AvgD)``.

    The first defined value is at the ``period + 1``-th valid input (``period``
    changes); NaN before. ``AvgD == 0`` gives 100 (only rises), or 50 when
    ``AvgU`` is 0 too (a flat series: no rises, no falls).

    Args:
        values: closes, one per session, oldest first (NaN = missing session).
        period: Wilder period, sessions (>= 1; Wilder's default 14).

    Returns:
        RSI per session, dimensionless 0-100.
    """
    if period < 1:
        raise ValueError("period must be at least 1")
    return _on_valid(values, lambda x: _rsi_dense(x, period))


def rsi_last(values: ArrayLike, period: int = 14) -> float:
    """``rsi(values, period)[-1]`` as a float, without the series before it.

    The same double (the same recursion on the same valid inputs, one
    :func:`_rsi_value` at the end); NaN when the last row is missing, the
    series is empty, or it has at most ``period`` valid inputs.
    """
    if period < 1:
        raise ValueError("period must be at least 1")
    arr = _as_series(values)
    if not len(arr) or not np.isfinite(arr[-1]):
        return float("nan")
    valid = np.isfinite(arr)
    x = arr if valid.all() else arr[valid]
    if len(x) <= period:
        return float("nan")
    avg_gain, avg_loss, later_gains, later_losses = _wilder_changes(x, period)
    back, n = float(period - 1), float(period)  # as in _rsi_dense
    for g in later_gains:
        avg_gain = (avg_gain * back + g) / n
    for lo in later_losses:
        avg_loss = (avg_loss * back + lo) / n
    return _rsi_value(avg_gain, avg_loss)


def macd(
    values: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Moving Average Convergence/Divergence: line, signal line and histogram.

    Source: Gerald Appel, *The Moving Average Convergence-Divergence Trading
    Method* (1979); 12/26/9 are Appel's standard periods.
    ``line = EMA_fast(x) - EMA_slow(x)``, ``signal = EMA_signal(line)``,
    ``histogram = line - signal`` (EMAs as in :func:`ema`).

    The line is defined from the ``slow``-th valid input, the signal and the
    histogram ``signal - 1`` sessions later (``slow + signal - 1`` valid
    inputs: 34 at 12/26/9); NaN before and at missing sessions.

    Args:
        values: closes, one per session, oldest first (NaN = missing session).
        fast, slow, signal: EMA periods, sessions (``fast < slow``).

    Returns:
        ``(line, signal, histogram)``, each in the units of ``values``
        (index points for an index).
    """
    if not 1 <= fast < slow or signal < 1:
        raise ValueError("need 1 <= fast < slow and signal >= 1")
    arr = _as_series(values)
    valid = np.isfinite(arr)
    x = arr if valid.all() else arr[valid]
    line = _ema_dense(x, fast) - _ema_dense(x, slow)
    sig = _on_valid(line, lambda v: _ema_dense(v, signal))
    hist = line - sig
    if len(x) == len(arr):  # no gap: the dense series are the rows
        return line, sig, hist
    out = np.full((3, len(arr)), np.nan)
    out[0, valid] = line
    out[1, valid] = sig
    out[2, valid] = hist
    return out[0].copy(), out[1].copy(), out[2].copy()
