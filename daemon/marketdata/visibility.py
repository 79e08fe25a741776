"""What a replay job may see of the daily history at its fire time (no look-ahead).

The bundle holds one row per session: the open, high, low and close of SPX
and VIX (VIX9D and VIX3M from the dates Cboe publishes real opens), closes
only of VVIX, SKEW and NYSE breadth, and the daily settlements of the VIX
futures. A replay job fires at a New York wall-clock time inside a session;
it must see only values stamped at or before that time. The rule, by
:class:`Phase` of the fire time within the session:

* :attr:`Phase.PRE_OPEN` (before 09:30 ET): everything as of the previous
  session's close (the context's ``session`` is still today's date).
* :attr:`Phase.OPEN` (09:30 ET up to the session's close, 16:00 ET or 13:00 ET
  on early closes): SPX and VIX at today's **open**; VIX9D and VIX3M at
  today's open where the file has a real one, else the previous close; VVIX,
  SKEW and breadth (close-only series) at the **previous session's close**;
  VIX futures at the **previous session's settlements** (contracts expiring
  today or earlier dropped). A missing open falls back to the previous close.
* :attr:`Phase.CLOSE` (at or after the close): the session's close, as
  :meth:`MarketHistory.context` gives it.

The day's range (SPX high and low, VIX high) is visible only from the close
on (:func:`session_range`); the replay's exits use it then (see
:mod:`strategies.exit_path`). The shipped schedule fires entry, hedge check
and manage before the close (they see the open) and the mark job at 16:15 ET
(it sees the close). Settlement of expiring options is not a job and is not
affected: SPXW at the expiry session's close, VIX at the open proxy of the SOQ.

Live trading never reads this module: live jobs see live quotes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from daemon.clock import NEW_YORK
from daemon.marketdata.history import MarketHistory
from strategies.domain import MarketContext

__all__ = [
    "SESSION_OPEN",
    "Phase",
    "SessionRange",
    "phase_at",
    "session_range",
    "visible_context",
    "visible_signal_row",
]

#: Regular opening time of the NYSE and of the Cboe indices (New York time).
SESSION_OPEN = time(9, 30)


class Phase(StrEnum):
    """Where a moment lies within its session, for what of that session is visible."""

    PRE_OPEN = "pre_open"
    OPEN = "open"
    CLOSE = "close"


def phase_at(now: datetime, close: datetime | None) -> Phase:
    """The phase of ``now`` in its New York session whose close is ``close``.

    ``close`` ``None`` means 16:00 ET (the regular close).
    """
    local = now.astimezone(NEW_YORK)
    if local.time() < SESSION_OPEN:
        return Phase.PRE_OPEN
    if close is None:
        close = datetime.combine(local.date(), time(16, 0), NEW_YORK)
    return Phase.CLOSE if local >= close else Phase.OPEN


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else x


def _first(*values: float) -> float:
    """The first finite value (NaN if none)."""
    for v in values:
        if not math.isnan(v):
            return v
    return math.nan


def visible_context(history: MarketHistory, i: int, phase: Phase) -> MarketContext:
    """The :class:`MarketContext` of session ``i`` as a job in ``phase`` sees it.

    Raises:
        IndexError: ``i`` out of range.
        MarketDataError: no VIX level is visible (none before the first VIX row).
    """
    if phase is Phase.CLOSE:
        return history.context(i)
    if not 0 <= i < len(history.sessions):
        raise IndexError(f"session index {i} out of range 0..{len(history.sessions) - 1}")
    session = history.sessions[i]
    if i == 0:  # no previous session: the open where it exists
        base = history.context(i)
        if phase is Phase.PRE_OPEN:
            return base
        return MarketContext(
            session=session,
            spx=_first(float(history.spx_open[i]), base.spx),
            vix=_first(float(history.vix_open[i]), base.vix),
        )
    prev = history.context(i - 1)
    curve = {e: p for e, p in prev.vix_futures.items() if e > session}
    if phase is Phase.PRE_OPEN:
        spx, vix, vix9d, vix3m = prev.spx, prev.vix, prev.vix9d, prev.vix3m
    else:
        spx = _first(float(history.spx_open[i]), prev.spx)
        vix = _first(float(history.vix_open[i]), prev.vix)
        vix9d = _opt(_first(float(history.vix9d_open[i]), prev.vix9d or math.nan))
        vix3m = _opt(_first(float(history.vix3m_open[i]), prev.vix3m or math.nan))
    return MarketContext(
        session=session,
        spx=spx,
        vix=vix,
        vix9d=vix9d,
        vix3m=vix3m,
        vvix=prev.vvix,
        skew=prev.skew,
        vix_futures=curve,
        advancing=prev.advancing,
        declining=prev.declining,
    )


@dataclass(frozen=True, slots=True)
class SignalRow:
    """The last row of a signal window as visible in a phase (NaN = no value)."""

    vix: float
    spx: float
    vvix: float
    advancing: float
    declining: float
    vix_m1: float
    vix_m2: float


def visible_signal_row(history: MarketHistory, i: int, phase: Phase) -> SignalRow:
    """Session ``i``'s row of the hedge signals' daily window as visible in ``phase``.

    At the close: the session's own closes. Before it: VIX and SPX at the
    open (PRE_OPEN: the previous close), the close-only series and the
    futures settlements of the previous session.
    """
    h = history
    if phase is Phase.CLOSE or i == 0:
        j = i
        vix, spx = float(h.vix_close[i]), float(h.spx_close[i])
        if phase is not Phase.CLOSE:
            vix = _first(float(h.vix_open[i]), vix)
            spx = _first(float(h.spx_open[i]), spx)
    else:
        j = i - 1
        vix, spx = float(h.vix_close[j]), float(h.spx_close[j])
        if phase is Phase.OPEN:
            vix = _first(float(h.vix_open[i]), vix)
            spx = _first(float(h.spx_open[i]), spx)
    return SignalRow(
        vix=vix,
        spx=spx,
        vvix=float(h.vvix[j]),
        advancing=float(h.advancing[j]),
        declining=float(h.declining[j]),
        vix_m1=float(h.futures[j, 0]),
        vix_m2=float(h.futures[j, 1]),
    )


@dataclass(frozen=True, slots=True)
class SessionRange:
    """One session's range, visible from its close: index points (SPX), VIX points.

    ``vix_high`` is the VIX high (the open/close maximum where the file has no
    real high, e.g. close-only rows).
    """

    session: date
    spx_open: float
    spx_low: float
    spx_high: float
    vix_open: float
    vix_high: float


def session_range(history: MarketHistory, i: int) -> SessionRange | None:
    """The range of session ``i``, or ``None`` when SPX has no high/low that day."""
    h = history
    spx_open = _first(float(h.spx_open[i]), float(h.spx_close[i - 1]) if i > 0 else math.nan)
    lo, hi = float(h.spx_low[i]), float(h.spx_high[i])
    close = float(h.spx_close[i])
    if math.isnan(lo) or math.isnan(hi) or math.isnan(spx_open):
        return None
    vix_close = float(h.vix_close[i])
    vix_open = _first(float(h.vix_open[i]), float(h.vix_close[i - 1]) if i > 0 else math.nan)
    vix_open = _first(vix_open, vix_close)
    vix_high = max(_first(float(h.vix_high[i]), vix_close), vix_open, vix_close)
    # a few old rows have an open or close outside high-low: widen the range to hold them
    return SessionRange(
        session=h.sessions[i],
        spx_open=spx_open,
        spx_low=min(lo, spx_open, close),
        spx_high=max(hi, spx_open, close),
        vix_open=vix_open,
        vix_high=vix_high,
    )
