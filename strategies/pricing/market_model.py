"""One entry point to the option models for a simulated market.

:class:`MarketModel` turns a :class:`~strategies.domain.MarketContext` into
quoted :class:`~strategies.domain.ChainSlice` objects for SPX/SPXW and VIX
options: the SPX surface of :mod:`strategies.pricing.spx_surface`, the VIX
model of :mod:`strategies.pricing.vix_model`, the spread model and listing
grids of :mod:`strategies.pricing.chain_builder`.

Listed strikes (:mod:`strategies.pricing.strike_listing`): a chain offers
only the strikes the listing model says were listed that day: for SPX/SPXW
5/10/25/50/100/200-point steps by distance from the money, expiry kind,
DTE and era, cut to ``STRIKE_WINDOW_MOVES`` expected moves around spot (the
pricing window: farther strikes have no model bid); for VIX Cboe's
0.5/1/2.5/5/10-point ladder.

Calendar (:class:`MarketCalendar`): the exchange holidays and the scheduled
CPI/FOMC days, passed in as data. The SPX surface's variance clock counts
them as it did when it was fitted (``scripts/fit_models.py``: holidays from
the exchange calendar, events from the macro calendar), and the expiry kind
of the listing model uses the holidays. The default (empty) calendar knows
weekends only.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from strategies.domain import ChainSlice, FloatArray, MarketContext, Right
from strategies.pricing.black import forward_from_spot
from strategies.pricing.chain_builder import (
    SPX_SPREAD,
    VIX_SPREAD,
    LegArrays,
    SpreadParams,
    spx_chain_slice,
    spx_chain_slices,
    t_years,
    vix_chain_slice,
)
from strategies.pricing.leg_batch import LegBatch, SpxExpiry, split
from strategies.pricing.spx_surface import (
    SessionClock,
    SpxSurface,
    SpxSurfaceParams,
    build_spx_surface,
    session_clock,
    spx_surface_from_context,
)
from strategies.pricing.strike_listing import (
    ExpiryKind,
    spx_expiry_kind,
    spx_listed_strikes,
    vix_listed_strikes,
)
from strategies.pricing.surface_memo import SurfaceMemo
from strategies.pricing.vix_model import (
    VixCurveParams,
    VixOptionParams,
    vix_futures_curve,
    vvix_or_fallback,
)

#: Half-width of the SPXW strike window, in expected moves (sigma * sqrt(t)).
STRIKE_WINDOW_MOVES = 4.0

#: Days after the session the variance clock's calendar window covers (the
#: surface's 93-day knot and every SPX expiry the rules trade).
CLOCK_WINDOW_DAYS = 200

#: Event kinds the variance clock weighs (:class:`SpxSurfaceParams` ``cpi_weight``/``fomc_weight``).
CLOCK_EVENT_KINDS = frozenset({"CPI", "FOMC"})

EventWindow = tuple[tuple[date, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True, eq=False)
class MarketCalendar:
    """Exchange holidays and macro events, passed in as data (this core does no I/O).

    Attributes:
        holidays: weekday dates that are not exchange sessions.
        events: date -> event kinds (``"CPI"``, ``"FOMC"``; others are ignored
            by the variance clock). Give only events known in advance
            (scheduled ones): an unscheduled action on the clock would be look-ahead.

    Compared and hashed by identity (build one per run and share it).
    """

    holidays: frozenset[date] = frozenset()
    events: Mapping[date, tuple[str, ...]] = field(default_factory=dict)

    def is_session(self, day: date) -> bool:
        """A weekday that is not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def window(self, session: date, days: int) -> tuple[frozenset[date], EventWindow]:
        """Holidays and clock events in ``(session, session + days]`` (cached per session)."""
        return _window(self, session, days)


@lru_cache(maxsize=16)
def _window(cal: MarketCalendar, session: date, days: int) -> tuple[frozenset[date], EventWindow]:
    end = session + timedelta(days=days)
    holidays, event_days, events = _sorted_calendar(cal)
    # (session, end] by bisection: the calendar spans decades, a window 200 days
    hol = frozenset(holidays[bisect_right(holidays, session) : bisect_right(holidays, end)])
    ev = events[bisect_right(event_days, session) : bisect_right(event_days, end)]
    return hol, ev


@lru_cache(maxsize=4)
def _sorted_calendar(cal: MarketCalendar) -> tuple[list[date], list[date], EventWindow]:
    """The holidays, and the clock's event days with their clock kinds, in date order."""
    events = tuple(
        sorted(
            (d, tuple(k for k in kinds if k in CLOCK_EVENT_KINDS))
            for d, kinds in cal.events.items()
            if any(k in CLOCK_EVENT_KINDS for k in kinds)
        )
    )
    return sorted(cal.holidays), [d for d, _ in events], events


@lru_cache(maxsize=64)
def _calendar_surface(
    vix: float,
    vix9d: float | None,
    vix3m: float | None,
    skew: float | None,
    params: SpxSurfaceParams,
    session: date,
    holidays: frozenset[date],
    events: EventWindow,
) -> SpxSurface:
    clock = _calendar_clock(params, session, holidays, events)
    return build_spx_surface(vix, vix9d, vix3m, skew, params, clock=clock)


@lru_cache(maxsize=8)
def _calendar_clock(
    params: SpxSurfaceParams, session: date, holidays: frozenset[date], events: EventWindow
) -> SessionClock:
    """The clock a session's surfaces share (its open, range extremes and close)."""
    return session_clock(session, params, holidays, dict(events))


LegRequest = tuple[MarketContext, Sequence[date], Sequence[float], Sequence[bool]]
"""Options of one class in one market state: ``(ctx, expiries, strikes, is_call)``."""

ClassRequest = tuple[str, str, MarketContext, Sequence[date], npt.ArrayLike, npt.ArrayLike]
"""Options of one class in one market state: ``(symbol, trading_class, ctx, expiries,
strikes, is_call)``."""


class UnknownProductError(ValueError):
    """The model prices SPX/SPXW and VIX options only."""


@dataclass(frozen=True, slots=True)
class MarketModel:
    """Models that quote SPX and VIX options from daily market levels.

    Attributes:
        spx: SPX surface parameters.
        vix_options: VIX option vol parameters.
        vix_curve: modelled VIX futures curve (used where no settlement exists).
        spx_spread, vix_spread: bid/ask models.
        rate: continuous annual rate (decimal) for forwards and discounting.
        calendar: holidays and events of the variance clock and the listing
            model's expiry kinds (default: weekends only).
        surfaces: surfaces shared with other runs of the same process
            (:class:`~strategies.pricing.surface_memo.SurfaceMemo`, a sweep
            worker's); ``None``: only this process's small per-day cache.
            Not compared: it changes no price.
    """

    spx: SpxSurfaceParams = field(default_factory=SpxSurfaceParams)
    vix_options: VixOptionParams = field(default_factory=VixOptionParams)
    vix_curve: VixCurveParams = field(default_factory=VixCurveParams)
    spx_spread: SpreadParams = SPX_SPREAD
    vix_spread: SpreadParams = VIX_SPREAD
    rate: float = 0.0
    calendar: MarketCalendar = field(default_factory=MarketCalendar)
    surfaces: SurfaceMemo | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_config(
        cls,
        rate: float = 0.0,
        calendar: MarketCalendar | None = None,
        surfaces: SurfaceMemo | None = None,
    ) -> MarketModel:
        """The shipped model with the configured rate, the run's calendar and surface memo."""
        return cls(
            rate=rate,
            calendar=calendar if calendar is not None else MarketCalendar(),
            surfaces=surfaces,
        )

    def spx_surface(self, ctx: MarketContext, dte: int = 0) -> SpxSurface:
        """The day's SPX surface, its variance clock on :attr:`calendar` (memoised)."""
        cal = self.calendar
        if not cal.holidays and not cal.events:
            return spx_surface_from_context(ctx, self.spx)
        hol, ev = cal.window(ctx.session, max(CLOCK_WINDOW_DAYS, dte + 1))
        key = (ctx.vix, ctx.vix9d, ctx.vix3m, ctx.skew, self.spx, ctx.session, hol, ev)
        if self.surfaces is not None:
            return self.surfaces.get(key, lambda: _calendar_surface(*key))
        return _calendar_surface(*key)

    def listed_strikes(
        self, ctx: MarketContext, symbol: str, trading_class: str, expiry: date
    ) -> FloatArray:
        """Every strike the listing model lists for ``expiry`` on ``ctx.session`` (no window cut).

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
        """
        dte = (expiry - ctx.session).days
        if symbol == "SPX" and trading_class in ("SPXW", "SPX"):
            kind = (
                ExpiryKind.STANDARD
                if trading_class == "SPX"
                else spx_expiry_kind(expiry, self.calendar.is_session)
            )
            return spx_listed_strikes(ctx.spx, ctx.session, dte, kind)
        if symbol == "VIX" and trading_class == "VIX":
            return vix_listed_strikes(self.vix_future(ctx, expiry), dte)
        raise UnknownProductError(f"no model for {symbol} options of class {trading_class}")

    def listed_spx_strikes(
        self, ctx: MarketContext, trading_class: str, expiry: date, surface: SpxSurface
    ) -> FloatArray:
        """Listed SPX/SPXW strikes of ``expiry`` inside the pricing window, ascending.

        The window is ``spot * exp(+-STRIKE_WINDOW_MOVES * sigma_atm * sqrt(t))``;
        if no listed strike falls inside it, the listed strike nearest spot.
        """
        dte = (expiry - ctx.session).days
        listed = self.listed_strikes(ctx, "SPX", trading_class, expiry)
        t = t_years(dte, am_settled=trading_class == "SPX")
        atm = surface.atm_vol_at(max(t, 1e-6))
        move = STRIKE_WINDOW_MOVES * atm * math.sqrt(max(t, 0.0))
        lo, hi = ctx.spx * math.exp(-move), ctx.spx * math.exp(move)
        inside = listed[(listed >= lo - 1e-9) & (listed <= hi + 1e-9)]
        if inside.size == 0:
            inside = listed[[int(np.argmin(np.abs(listed - ctx.spx)))]]
        return inside

    def vix_future(self, ctx: MarketContext, expiry: date) -> float:
        """The VIX future for ``expiry``: its settlement if known, else the modelled curve."""
        price = ctx.vix_futures.get(expiry)
        if price is not None:
            return price
        t = t_years((expiry - ctx.session).days, am_settled=True)
        return float(vix_futures_curve(ctx.vix, ctx.vix3m, t, self.vix_curve))

    def slice(
        self,
        ctx: MarketContext,
        symbol: str,
        trading_class: str,
        expiry: date,
        right: Right,
        strikes: npt.ArrayLike | None = None,
    ) -> ChainSlice:
        """Quotes for one expiry and right; ``strikes=None`` means the listed strikes.

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: ``expiry`` before ``ctx.session``.
        """
        dte = (expiry - ctx.session).days
        if dte < 0:
            raise ValueError(f"{trading_class} {expiry} expired before {ctx.session}")
        if symbol == "SPX" and trading_class in ("SPXW", "SPX"):
            surface = self.spx_surface(ctx, dte)
            if strikes is None:
                strikes = self.listed_spx_strikes(ctx, trading_class, expiry, surface)
            return spx_chain_slice(
                ctx,
                expiry,
                dte,
                right,
                strikes,
                self.spx,
                self.spx_spread,
                rate=self.rate,
                trading_class=trading_class,
                surface=surface,
            )
        if symbol == "VIX" and trading_class == "VIX":
            future = self.vix_future(ctx, expiry)
            if strikes is None:
                strikes = vix_listed_strikes(future, dte)
            return vix_chain_slice(
                ctx,
                expiry,
                dte,
                right,
                strikes,
                future,
                self.vix_options,
                self.vix_spread,
                rate=self.rate,
                curve=self.vix_curve,
            )
        raise UnknownProductError(f"no model for {symbol} options of class {trading_class}")

    def slices(
        self,
        ctx: MarketContext,
        symbol: str,
        trading_class: str,
        expiry: date,
        rights: Sequence[Right],
    ) -> list[ChainSlice]:
        """:meth:`slice` of the listed strikes for each of ``rights``, in order.

        The listed strikes (and the SPX pricing window) are found once for
        the expiry, not once per right: each slice equals :meth:`slice`'s.

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: ``expiry`` before ``ctx.session``.
        """
        if len(rights) < 2:
            return [self.slice(ctx, symbol, trading_class, expiry, r) for r in rights]
        dte = (expiry - ctx.session).days
        strikes: FloatArray | None = None
        if dte >= 0 and symbol == "SPX" and trading_class in ("SPXW", "SPX"):
            surface = self.spx_surface(ctx, dte)
            strikes = self.listed_spx_strikes(ctx, trading_class, expiry, surface)
            return spx_chain_slices(
                ctx,
                expiry,
                dte,
                rights,
                strikes,
                self.spx_spread,
                rate=self.rate,
                trading_class=trading_class,
                surface=surface,
            )
        if dte >= 0 and symbol == "VIX" and trading_class == "VIX":
            strikes = vix_listed_strikes(self.vix_future(ctx, expiry), dte)
        return [self.slice(ctx, symbol, trading_class, expiry, r, strikes) for r in rights]

    def leg_quotes(
        self,
        ctx: MarketContext,
        symbol: str,
        trading_class: str,
        expiries: Sequence[date],
        strikes: npt.ArrayLike,
        is_call: npt.ArrayLike,
    ) -> LegArrays:
        """Quotes of ``(expiry, strike, is_call)`` triples of one class in one vectorised pass.

        Each option's numbers equal those :meth:`slice` gives it (tested).

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: an expiry before ``ctx.session``.
        """
        return self.leg_quotes_flat([(symbol, trading_class, ctx, expiries, strikes, is_call)])

    def leg_quotes_many(
        self,
        symbol: str,
        trading_class: str,
        requests: Sequence[LegRequest],
    ) -> list[LegArrays]:
        """:meth:`leg_quotes` of several requests of one class, in one pricing pass.

        Each request is ``(ctx, expiries, strikes, is_call)``, options of one
        class in one market state (the states may differ: a session's path).
        One :class:`LegArrays` per request, in order; each equals what
        :meth:`leg_quotes` gives for it alone (:meth:`leg_quotes_batch`).

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: an expiry before its context's session.
        """
        return self.leg_quotes_batch([(symbol, trading_class, *r) for r in requests])

    def spx_expiry(self, ctx: MarketContext, trading_class: str, dte: int) -> SpxExpiry:
        """Time, forward and smile of an SPX/SPXW expiry ``dte`` days after ``ctx.session``.

        The numbers :func:`~strategies.pricing.chain_builder.spx_chain_slice`
        computes once per slice (at a zero rate the forward is spot: ``S *
        exp(0) == S`` exactly).
        """
        t = t_years(dte, am_settled=trading_class == "SPX")
        if self.rate == 0.0:
            forward = float(ctx.spx)
        else:
            forward = float(forward_from_spot(ctx.spx, t, self.rate, 0.0))
        return SpxExpiry(t, forward, self.spx_surface(ctx, dte).smile(t))

    def leg_quotes_batch(self, requests: Sequence[ClassRequest]) -> list[LegArrays]:
        """:meth:`leg_quotes_flat`, cut back into one :class:`LegArrays` per request."""
        return split(self.leg_quotes_flat(requests), [len(request[3]) for request in requests])

    def leg_quotes_flat(self, requests: Sequence[ClassRequest]) -> LegArrays:
        """:meth:`leg_quotes` of several requests, classes and market states mixed, in one pass.

        Each request is ``(symbol, trading_class, ctx, expiries, strikes,
        is_call)``; the quotes of every request, each option's numbers equal
        bit for bit to what :meth:`leg_quotes` gives for it alone
        (:mod:`strategies.pricing.leg_batch`), concatenated in request order.

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: an expiry before its context's session.
        """
        batch = LegBatch(self.rate, self.spx, self.vix_options)
        for symbol, trading_class, ctx, expiries, strikes, is_call in requests:
            session = ctx.session
            if isinstance(strikes, list | tuple):
                ks = [float(k) for k in strikes]
            else:
                ks = np.asarray(strikes, dtype=np.float64).ravel().tolist()
            if isinstance(is_call, list | tuple):
                calls = [bool(c) for c in is_call]
            else:
                calls = [bool(c) for c in np.asarray(is_call, dtype=bool).ravel().tolist()]
            n = len(expiries)
            if len(ks) != n or len(calls) != n:
                raise ValueError("expiries, strikes and is_call must have one entry per option")
            # runs of options of one expiry, in order (a run is added as one group)
            runs: list[tuple[date, list[float], list[bool]]] = []
            if n and isinstance(expiries, list) and expiries.count(expiries[0]) == n:
                runs.append((expiries[0], ks, calls))  # one expiry (the usual request)
            else:
                for expiry, k, call in zip(expiries, ks, calls, strict=True):
                    if not runs or runs[-1][0] != expiry:
                        runs.append((expiry, [], []))
                    runs[-1][1].append(k)
                    runs[-1][2].append(call)
            for expiry, _, _ in runs:
                if expiry < session:
                    raise ValueError(f"{trading_class} {expiry} expired before {session}")
            if symbol == "SPX" and trading_class in ("SPXW", "SPX"):
                row = batch.spread_row(self.spx_spread, session, None)
                numbers: dict[date, SpxExpiry] = {}
                for expiry, run_k, run_calls in runs:
                    found = numbers.get(expiry)
                    if found is None:
                        dte = (expiry - session).days
                        found = numbers[expiry] = self.spx_expiry(ctx, trading_class, dte)
                    batch.add_spx(found, run_k, run_calls, row)
            elif symbol == "VIX" and trading_class == "VIX":
                row = batch.spread_row(self.vix_spread, session, ctx.vix)
                level = vvix_or_fallback(ctx.vvix, ctx.vix, self.vix_options)
                futures: dict[date, float] = {}
                for expiry, run_k, run_calls in runs:
                    future = futures.get(expiry)
                    if future is None:
                        future = futures[expiry] = self.vix_future(ctx, expiry)
                    t = t_years((expiry - session).days, am_settled=True)
                    batch.add_vix(t, future, level, ctx.vix, run_k, run_calls, row)
            else:
                raise UnknownProductError(f"no model for {symbol} options of class {trading_class}")
        return batch.price()
