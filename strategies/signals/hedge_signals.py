"""Hedge signals of one decision session, computed from a :class:`SignalHistory`.

Pure: no clock, no I/O. Each value is read at the last row of the window
(the decision session, or the last session before it when its row is not
there yet). Definitions:

* ``vix_rsi``: Wilder RSI(``rsi_period``) of the VIX close, 0-100.
* ``vvix_macd``, ``vvix_macd_signal``, ``vvix_macd_hist``: Appel MACD
  (``macd_fast``/``macd_slow``/``macd_signal``) of the VVIX close, VVIX points.
* ``vvix_hist_turning_up``: with ``h0`` today's histogram, ``h1`` and ``h2``
  the two previous sessions', true when ``h0 > h1`` and either ``h1 < 0``
  (it rose from below zero) or ``h1 > h2`` (it has risen two sessions
  running). False when any value it needs is NaN.
* ``ad_line``: the NYSE advance-decline line, the running sum of
  ``advancing - declining`` over the window, issues. Its origin is the start
  of the window, so only its differences mean anything.
* ``ad_divergence`` (bearish): over the last ``N = divergence_lookback``
  rows (today included), SPX closes at its N-session high
  (``spx[-1] >= max(spx[-N:])``) while the A/D line is below its own
  N-session high by more than ``divergence_tolerance`` issues
  (``max(ad[-N:]) - ad[-1] > tolerance``). False unless all N rows of both
  series are present. ``ad_gap`` is that shortfall, issues.
* ``m1_m2_spread``: ``M2 - M1``, VIX points (positive = contango).
  ``backwardation``: ``M1 > M2``. ``front_second_above``: the front future
  above the second by more than ``term_spread_threshold``:
  ``M1 - M2 > threshold``, i.e. ``m1_m2_spread < -threshold`` (a contango
  however steep never sets it). ``spread_change``: today's ``m1_m2_spread``
  minus the previous row's, VIX points.
* ``vix_regime``: ``"calm"`` when VIX < ``regime_calm_below``,
  ``"stressed"`` when VIX > ``regime_stressed_above``, ``"elevated"`` in
  between (both bounds inclusive), ``"unknown"`` when the VIX close is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Literal

import numpy as np

from strategies.rules import SignalParams
from strategies.signals.history import SignalHistory
from strategies.signals.indicators import macd, rsi_last

VixRegime = Literal["calm", "elevated", "stressed", "unknown"]

#: Prefix of every key :meth:`HedgeSignals.as_inputs` writes.
INPUT_PREFIX = "sig_"


@dataclass(frozen=True, slots=True)
class HedgeSignals:
    """The signal values of one session (see the module docstring for each).

    Attributes:
        session: decision session the window ends at.
        as_of: date of the last row the values were read from (None if empty).
        vix: VIX close, VIX points.
        vix_rsi: RSI of VIX, 0-100.
        vvix_macd, vvix_macd_signal, vvix_macd_hist: VVIX MACD, VVIX points.
        vvix_hist_turning_up: the VVIX histogram turned up.
        ad_line: A/D line at the last row, issues (window origin).
        ad_gap: A/D line's N-session high minus its last value, issues.
        spx_at_high: SPX closed at its N-session high.
        ad_divergence: bearish A/D divergence against SPX.
        m1_m2_spread: M2 - M1, VIX points.
        backwardation: M1 > M2.
        front_second_above: M1 - M2 > the threshold, VIX points.
        spread_change: change of ``m1_m2_spread`` since the previous row, VIX points.
        vix_regime: "calm", "elevated", "stressed" or "unknown".
    """

    session: date
    as_of: date | None
    vix: float
    vix_rsi: float
    vvix_macd: float
    vvix_macd_signal: float
    vvix_macd_hist: float
    vvix_hist_turning_up: bool
    ad_line: float
    ad_gap: float
    spx_at_high: bool
    ad_divergence: bool
    m1_m2_spread: float
    backwardation: bool
    front_second_above: bool
    spread_change: float
    vix_regime: VixRegime

    def as_inputs(self) -> dict[str, float | str]:
        """A flat mapping for a Decision's ``inputs``: ``sig_<name>`` keys.

        Floats stay floats (NaN when not available; the journal stores it as
        null), booleans become 1.0/0.0, the regime and dates are strings
        (ISO dates; ``""`` for no ``as_of``).
        """
        out: dict[str, float | str] = {}
        # Every field is a scalar, so reading them directly gives what asdict() gave
        # without its deep copies (this runs for every hedge decision).
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            key = INPUT_PREFIX + name
            if isinstance(value, bool):
                out[key] = 1.0 if value else 0.0
            elif isinstance(value, float):
                out[key] = value
            elif isinstance(value, date):
                out[key] = value.isoformat()
            elif value is None:
                out[key] = ""
            else:
                out[key] = str(value)
        return out


#: HedgeSignals' field names in declaration order (the order of ``as_inputs``).
_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(HedgeSignals))


def _last(arr: np.ndarray, back: int = 0) -> float:
    """``arr[-1 - back]`` as a float, NaN when the array is too short."""
    if len(arr) <= back:
        return math.nan
    return float(arr[-1 - back])


def vix_regime(vix: float, params: SignalParams) -> VixRegime:
    """Classify a VIX close (VIX points) into the configured regime."""
    if not math.isfinite(vix):
        return "unknown"
    if vix < params.regime_calm_below:
        return "calm"
    if vix > params.regime_stressed_above:
        return "stressed"
    return "elevated"


def hist_turning_up(h0: float, h1: float, h2: float) -> bool:
    """MACD histogram turning up: ``h0 > h1`` and (``h1 < 0`` or ``h1 > h2``).

    ``h0`` is today's histogram, ``h1`` and ``h2`` the previous two sessions'.
    A NaN in what the rule needs gives False (``h2`` is only needed when
    ``h1 >= 0``).
    """
    h0, h1, h2 = float(h0), float(h1), float(h2)
    if not (math.isfinite(h0) and math.isfinite(h1)) or h0 <= h1:
        return False
    if h1 < 0:
        return True
    return math.isfinite(h2) and h1 > h2


def ad_line(advancing: np.ndarray, declining: np.ndarray) -> np.ndarray:
    """Cumulative ``advancing - declining`` issues; NaN at rows missing either count.

    A missing row adds nothing to the running sum (the line resumes from its
    last value).
    """
    net = np.asarray(advancing, dtype=np.float64) - np.asarray(declining, dtype=np.float64)
    valid = np.isfinite(net)
    if valid.all():  # no missing row (the usual case): the same sums
        return np.cumsum(net)
    out = np.cumsum(np.where(valid, net, 0.0))
    out[~valid] = np.nan
    return out


def ad_divergence(
    spx: np.ndarray, ad: np.ndarray, lookback: int, tolerance: float
) -> tuple[bool, bool, float]:
    """Bearish A/D divergence at the last row: ``(divergence, spx_at_high, ad_gap)``.

    SPX at its ``lookback``-session closing high while the A/D line is more
    than ``tolerance`` issues below its own ``lookback``-session high. Needs
    ``lookback`` complete rows of both; otherwise ``(False, False, nan)``.
    """
    if len(spx) < lookback:
        return False, False, math.nan
    s = np.asarray(spx[-lookback:], dtype=np.float64)
    a = np.asarray(ad[-lookback:], dtype=np.float64)
    if not (np.isfinite(s).all() and np.isfinite(a).all()):
        return False, False, math.nan
    at_high = bool(s[-1] >= s.max())
    gap = float(a.max() - a[-1])
    return at_high and gap > tolerance, at_high, gap


@dataclass(frozen=True, slots=True)
class IndicatorTail:
    """The indicator values :func:`compute_signals` reads at a window's last rows.

    A pure function of the window's VIX and VVIX series and the parameters
    (:func:`indicator_tail`; :func:`strategies.signals.batch.indicator_tails`
    gives the same doubles for many windows at once).

    Attributes:
        vix_rsi: RSI of VIX at the last row, 0-100.
        vvix_macd, vvix_macd_signal: VVIX MACD line and signal line at the
            last row, VVIX points.
        vvix_macd_hist: the histogram at the last three rows, last row first
            (``h0, h1, h2``), VVIX points.
    """

    vix_rsi: float
    vvix_macd: float
    vvix_macd_signal: float
    vvix_macd_hist: tuple[float, float, float]


def indicator_tail(history: SignalHistory, params: SignalParams) -> IndicatorTail:
    """RSI of VIX and VVIX MACD at the end of ``history`` (see :class:`IndicatorTail`)."""
    p = params
    line, sig, hist = macd(history.vvix, p.macd_fast, p.macd_slow, p.macd_signal)
    return IndicatorTail(
        rsi_last(history.vix, p.rsi_period),
        _last(line),
        _last(sig),
        (_last(hist), _last(hist, 1), _last(hist, 2)),
    )


def compute_signals(
    history: SignalHistory,
    params: SignalParams | None = None,
    tail: IndicatorTail | None = None,
) -> HedgeSignals:
    """All hedge signals at the end of ``history`` (see the module docstring).

    ``tail``: :func:`indicator_tail` of ``history`` and ``params`` when the
    caller already has it (a replay computes it for many sessions at once,
    :mod:`strategies.signals.batch`); computed here otherwise.
    """
    p = params or SignalParams()
    if tail is None:
        tail = indicator_tail(history, p)
    vix_close = _last(history.vix)
    h0, h1, h2 = tail.vvix_macd_hist
    ad = ad_line(history.advancing, history.declining)
    divergence, at_high, gap = ad_divergence(
        history.spx, ad, p.divergence_lookback, p.divergence_tolerance
    )
    spread = history.vix_m2 - history.vix_m1
    today = _last(spread)
    finite = math.isfinite(today)
    return HedgeSignals(
        session=history.session,
        as_of=history.dates[-1] if history.dates else None,
        vix=vix_close,
        vix_rsi=tail.vix_rsi,
        vvix_macd=tail.vvix_macd,
        vvix_macd_signal=tail.vvix_macd_signal,
        vvix_macd_hist=h0,
        vvix_hist_turning_up=hist_turning_up(h0, h1, h2),
        ad_line=_last(ad),
        ad_gap=gap,
        spx_at_high=at_high,
        ad_divergence=divergence,
        m1_m2_spread=today,
        backwardation=finite and today < 0.0,
        front_second_above=finite and -today > p.term_spread_threshold,
        spread_change=today - _last(spread, 1),
        vix_regime=vix_regime(vix_close, p),
    )
