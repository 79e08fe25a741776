"""Which SPX/SPXW and VIX strikes were listed for an expiry on a given date.

Cboe does not list every 5-point SPX strike: its specification says
"Generally, $5, $10, $25, $50, $100, and $200 strike prices are available.
Newly added and longer-term expirations have less granularity. Granularity
is added over the life of the expiration ... Standard 3rd Friday AM and PM
options always have the most granularity and widest ranges" (Cboe, SPX
Options Product Specifications). A replay that trades a 5-point strike where
only 25-point strikes existed trades something that was not there.

SPX/SPXW model (:func:`spx_listed_strikes`)
    Strikes are the union, over the steps ``s`` of :data:`SPX_STEPS` (5, 10,
    25, 50, 100, 200 index points), of the multiples of ``s`` between
    ``spot * (1 - put_edge_s)`` and ``spot * (1 + call_edge_s)``. The edges
    (fractions of spot, put side below, call side above) depend on the
    expiry's kind (:class:`ExpiryKind`: standard third-Friday monthly,
    end-of-month, other Friday weekly, Monday-Thursday weekly) and on its
    calendar DTE bucket. They are the medians, over the real Cboe chains in
    ``../shared/data/chains`` (2022-01 .. 2024-01), of how far from spot each
    step's strikes ran unbroken (fitted by ``scripts/fit_strike_listing.py``;
    table in :mod:`strategies.pricing.listing_bands`, per-chain match in the
    README "Listed strikes").

Era
    The chains are all from 2022 on. Before :data:`MODERN_STEPS_FROM` the model
    uses Cboe's older specification, "Strike Price Intervals: Five points.
    25-point intervals for far months" (Cboe SPX spec page, archived
    marketswiki copy): no 10-point strikes, the 10-point band becomes
    25-point strikes (coarser). The boundary date is an assumption (the
    first non-Friday SPXW listings, 2016-02-23), not a fitted figure: no chain
    before 2022 was available to check it.

VIX model (:func:`vix_listed_strikes`)
    Cboe's VIX ladder as seen in the 2023 VIX chains: 0.5-point strikes below
    15 for expiries up to :data:`VIX_HALF_POINT_MAX_DTE` days, 1 point to 40,
    2.5 to 50, 5 to 100, 10 beyond; from ``0.55 F`` to ``10 F`` (``F`` the
    VIX future of the expiry).

Spot is today's level: real listings also keep strikes added while the index
stood elsewhere; the model does not track that path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from enum import StrEnum

import numpy as np

from strategies.domain import FloatArray
from strategies.pricing import listing_bands as _bands

__all__ = [
    "MODERN_STEPS_FROM",
    "SPX_STEPS",
    "VIX_HALF_POINT_MAX_DTE",
    "ExpiryKind",
    "band_edges",
    "spx_expiry_kind",
    "spx_listed_strikes",
    "vix_listed_strikes",
]

#: Strike steps of the SPX/SPXW ladder, index points (Cboe specification).
SPX_STEPS: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 100.0, 200.0)

#: First session of the modern ladder (with 10-point strikes); see "Era" above.
MODERN_STEPS_FROM = date(2016, 2, 23)

#: Largest DTE at which VIX options carry 0.5-point strikes below 15.
VIX_HALF_POINT_MAX_DTE = 35

#: (upper bound, step) pairs of the VIX ladder beyond the half-point zone.
VIX_LADDER: tuple[tuple[float, float], ...] = (
    (40.0, 1.0),
    (50.0, 2.5),
    (100.0, 5.0),
    (math.inf, 10.0),
)

_EPS = 1e-9


class ExpiryKind(StrEnum):
    """How densely Cboe lists an SPX/SPXW expiry (densest first)."""

    STANDARD = "standard"  # third Friday (the session before it if a holiday)
    END_OF_MONTH = "end_of_month"  # last session of the month, not a standard expiry
    FRIDAY = "friday"  # other Friday weeklys (the session before a Friday holiday)
    WEEKDAY = "weekday"  # Monday-Thursday weeklys


def _previous_session(day: date, is_session: Callable[[date], bool]) -> date:
    while not is_session(day):
        day -= timedelta(days=1)
    return day


def spx_expiry_kind(expiry: date, is_session: Callable[[date], bool]) -> ExpiryKind:
    """The :class:`ExpiryKind` of an SPX/SPXW ``expiry`` (a session date).

    ``is_session`` is the exchange calendar (passed in: this module does no I/O).
    """
    first = expiry.replace(day=1)
    third_friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
    if expiry == _previous_session(third_friday, is_session):
        return ExpiryKind.STANDARD
    next_month = (first + timedelta(days=32)).replace(day=1)
    if expiry == _previous_session(next_month - timedelta(days=1), is_session):
        return ExpiryKind.END_OF_MONTH
    friday = expiry + timedelta(days=(4 - expiry.weekday()) % 7)
    if expiry.weekday() == 4 or _previous_session(friday, is_session) == expiry:
        return ExpiryKind.FRIDAY
    return ExpiryKind.WEEKDAY


def band_edges(kind: ExpiryKind, dte: int) -> tuple[tuple[float, float], ...]:
    """``(put_edge, call_edge)`` per step of :data:`SPX_STEPS` for ``kind`` at ``dte``.

    Edges are fractions of spot; the bucket is the first of the fitted table
    whose upper DTE bound is at least ``dte`` (the last bucket beyond it).
    """
    buckets = _bands.BANDS[kind.value]
    for max_dte, edges in buckets:
        if dte <= max_dte:
            return edges
    return buckets[-1][1]


def spx_listed_strikes(spot: float, session: date, dte: int, kind: ExpiryKind) -> FloatArray:
    """The SPX/SPXW strikes the model lists for one expiry, ascending, index points.

    Args:
        spot: SPX level of ``session``, index points (> 0).
        session: the quote session (picks the era's steps).
        dte: calendar days from ``session`` to the expiry (>= 0).
        kind: the expiry's :class:`ExpiryKind`.

    Raises:
        ValueError: ``spot`` not a positive number.
    """
    if not spot > 0.0 or not math.isfinite(spot):
        raise ValueError(f"SPX spot must be a positive number, got {spot!r}")
    edges = list(band_edges(kind, dte))
    if session < MODERN_STEPS_FROM:
        # Legacy ladder: the 10-point band is listed at 25 points.
        (p10, c10), (p25, c25) = edges[1], edges[2]
        edges[1] = (0.0, 0.0)
        edges[2] = (max(p10, p25), max(c10, c25))
    parts = []
    for step, (put_edge, call_edge) in zip(SPX_STEPS, edges, strict=True):
        lo = math.ceil(spot * (1.0 - put_edge) / step - _EPS)
        hi = math.floor(spot * (1.0 + call_edge) / step + _EPS)
        if hi >= lo:
            parts.append(np.arange(max(lo, 1), hi + 1, dtype=np.float64) * step)
    if not parts:  # never empty: the 5-point strike nearest spot
        parts.append(np.array([max(round(spot / 5.0), 1) * 5.0]))
    return np.unique(np.concatenate(parts))


def vix_listed_strikes(future: float, dte: int) -> FloatArray:
    """VIX strikes listed for an expiry ``dte`` days out around ``future`` (VIX points).

    Raises:
        ValueError: ``future`` not a positive number.
    """
    if not future > 0.0 or not math.isfinite(future):
        raise ValueError(f"VIX future must be a positive number, got {future!r}")
    lo, hi = future * 0.55, future * 10.0
    strikes: list[float] = []
    half_top = 15.0 if dte <= VIX_HALF_POINT_MAX_DTE else 0.0
    if half_top > 0.0:
        strikes.extend(np.arange(0.5, half_top + _EPS, 0.5).tolist())
    start = max(half_top, 0.0)
    for bound, step in VIX_LADDER:
        top = min(bound, hi + step)
        strikes.extend(np.arange(start + step, top + _EPS, step).tolist())
        if bound >= hi:
            break
        start = bound
    arr = np.asarray(strikes, dtype=np.float64)
    inside = arr[(arr >= lo - _EPS) & (arr <= hi + _EPS)]
    if inside.size == 0:
        inside = np.array([arr[np.argmin(np.abs(arr - future))]])
    return inside
