"""Shared pieces of the ALVH hedge rules: VIX price grid, strike choice, decision helpers.

Prices in VIX index points; dollars with the 100 dollar multiplier; DTE in
calendar days. Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from strategies.condor import round_to_tick
from strategies.domain import ChainSlice, Right

#: VIX option premium at or above which the coarser tick applies, index points.
VIX_TICK_BREAK = 3.00

EPS = 1e-9

Inputs = dict[str, float | int | str | None]

#: Tag of calls bought with a harvested rung's gain.
RECYCLE_TAG = "recycle"


def rung_tag(slot: int) -> str:
    """The ladder tag of rung ``slot`` (1-based): ``"rung-1"`` is the base rung."""
    return f"rung-{slot}"


def rung_slot(tag: str | None) -> int | None:
    """The slot of a ``"rung-N"`` tag, or None for any other tag."""
    if tag is None or not tag.startswith("rung-"):
        return None
    try:
        return int(tag[5:])
    except ValueError:
        return None


def usd(amount: float) -> str:
    """Dollars for reasons, sign first: ``-$1,550``."""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


def vix_tick(price: float) -> float:
    """Minimum price increment used for a single VIX option at ``price`` (index points).

    Cboe's historical single-leg rule: 0.05 below 3.00, 0.10 at or above
    3.00. Since November 2022 Cboe allows 0.01 below 3.00 and 0.05 at or above,
    but every price on the older, coarser grid is also valid on the newer one,
    so replay (2006 onward) and live trading share one grid that is always
    accepted.
    """
    return 0.05 if price < VIX_TICK_BREAK else 0.10


def round_vix_price(price: float) -> float:
    """Round a VIX option premium (index points) to its tick, never below one tick (0.05).

    Raises:
        ValueError: if ``price`` is not finite.
    """
    rounded = round_to_tick(price, vix_tick(price))
    return max(vix_tick(0.0), rounded)


def usable(chain: ChainSlice) -> np.ndarray:
    """Mask of strikes we can buy and size: quoted, ask > 0, delta > 0."""
    return chain.quoted() & (chain.ask > 0.0) & (chain.delta > 0.0)


def strike_in_band(chain: ChainSlice, otm_min: float, otm_max: float, strict: bool) -> int | None:
    """Index of the usable strike closest to the middle of the OTM band, or None.

    With ``strict`` the strike must lie inside ``[F*(1+otm_min), F*(1+otm_max)]``
    (``F`` = ``chain.forward``, the VIX future of the slice's own expiry).
    Without it, any out-of-the-money strike within one band width of the
    band's edges qualifies: listed VIX strikes are a point apart while the
    8-12% band is often narrower (F = 15 gives 16.20-16.80). Ties go to the
    lower strike inside the band and to the higher (cheaper, further OTM)
    strike outside it.
    """
    forward = chain.forward
    low = forward * (1.0 + otm_min)
    high = forward * (1.0 + otm_max)
    target = forward * (1.0 + (otm_min + otm_max) / 2.0)
    slack = 0.0 if strict else high - low
    mask = (
        usable(chain)
        & (chain.strikes > forward)
        & (chain.strikes >= low - slack - EPS)
        & (chain.strikes <= high + slack + EPS)
    )
    candidates = np.flatnonzero(mask)
    if candidates.size == 0:
        return None
    # Round away binary noise so equal distances tie (25 * 1.10 = 27.500000000000004).
    distance = np.round(np.abs(chain.strikes[candidates] - target), 9)
    tie_break = chain.strikes[candidates] if strict else -chain.strikes[candidates]
    order = np.lexsort((tie_break, distance))
    return int(candidates[order[0]])


@dataclass(frozen=True, slots=True)
class CallPick:
    """A chosen VIX call: ``chain.strikes[index]``; ``in_band`` False when only near it."""

    chain: ChainSlice
    index: int
    in_band: bool


def pick_call(
    calls: Sequence[ChainSlice],
    min_dte: int,
    max_dte: int,
    otm_min: float,
    otm_max: float,
    avoid: Collection[date] = (),
    after: date | None = None,
) -> CallPick | None:
    """The VIX call to buy: expiry in ``[min_dte, max_dte]``, strike in the OTM band.

    Expiries in ``avoid`` (held by other rungs: each rung has its own) and not
    later than ``after`` (a roll's old expiry) are left out. The expiry whose
    DTE is closest to the window's middle is preferred (ties: shorter), far
    enough out that the call decays slowly, near enough to respond to a spike
    (the future's beta to spot VIX falls with T). Every eligible expiry is
    searched for an in-band strike first; only when none has one is the
    nearest OTM strike within one band width taken (see :func:`strike_in_band`).
    """
    middle = (min_dte + max_dte) / 2.0
    eligible = sorted(
        (
            c
            for c in calls
            if c.right is Right.CALL
            and min_dte <= c.dte <= max_dte
            and c.expiry not in avoid
            and (after is None or c.expiry > after)
        ),
        key=lambda c: (abs(c.dte - middle), c.dte),
    )
    for strict in (True, False):
        for chain in eligible:
            found = strike_in_band(chain, otm_min, otm_max, strict)
            if found is not None:
                return CallPick(chain, found, strict)
    return None


def spread_short_index(chain: ChainSlice, long_index: int, short_otm: float) -> int | None:
    """The short call of a call spread: the usable strike above the long one closest to
    ``F * (1 + short_otm)`` (ties: the higher), or None."""
    target = chain.forward * (1.0 + short_otm)
    mask = usable(chain) & (chain.strikes > chain.strikes[long_index] + EPS)
    candidates = np.flatnonzero(mask & np.isfinite(chain.bid))
    if candidates.size == 0:
        return None
    distance = np.round(np.abs(chain.strikes[candidates] - target), 9)
    order = np.lexsort((-chain.strikes[candidates], distance))
    return int(candidates[order[0]])


def finite(value: float) -> bool:
    return math.isfinite(value)
