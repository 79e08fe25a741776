"""Option chains from IB: which strikes to quote, quoted through :class:`MarketData`.

Chains quote only the strikes the model says can matter: for a trading class
in ``strike_targets`` the strikes around the Black-76 strike of the target
delta and its wing; for one in ``strike_bands`` the OTM band and one band
width either side; else the expected-move window. When the quotes disagree
with the model the window is widened once (see :meth:`OptionChains.option_chain`).

The quotes themselves (line budget, retries, delivered market-data type)
are :meth:`daemon.brokers.ib.market_data.MarketData.quotes`.

Units: prices in index points; IB's model vega is per vol *point* and is
multiplied by 100 (ours is per 1.00 of vol); theta is per calendar day.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

import numpy as np
from ib_async import Contract

from daemon.brokers.base import BrokerError, closest_expiry
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.market_data import MarketData, Quote
from daemon.clock import NEW_YORK
from strategies.domain import ChainSlice, Right

_NAN = float("nan")


def model_strike(forward: float, vol: float, years: float, delta: float, right: Right) -> float:
    """The Black-76 strike whose (undiscounted) |delta| is ``delta`` at ``vol``."""
    sq = vol * math.sqrt(years)
    d1 = NormalDist().inv_cdf(delta if right is Right.CALL else 1.0 - delta)
    return forward * math.exp(-d1 * sq + 0.5 * sq * sq)


@dataclass(slots=True)
class _SlicePlan:
    """One expiry and right of a chain: listed strikes and the quotes taken so far."""

    expiry: date
    right: Right
    forward: float
    years: float
    listed: dict[float, Contract]
    strikes: list[float] = field(default_factory=list)
    quotes: dict[float, Quote] = field(default_factory=dict)


class OptionChains:
    """Quoted option chains; see the module docstring."""

    def __init__(self, market: MarketData) -> None:
        self.market = market
        self.conn = market.conn
        self.lookup = market.lookup

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        """Quoted slices for listed expiries with ``min_dte <= DTE <= max_dte``.

        Only the strikes that can matter are quoted: with a
        ``strike_targets`` entry for ``trading_class`` (short delta, wing) the
        strikes from ``strike_pad_sd`` one-SD moves inside the model's
        target-delta strike out to its wing plus that pad; with a
        ``strike_bands`` entry the band plus one band width either side;
        otherwise the expected-move window (see
        :func:`daemon.brokers.ib.contracts.strike_window`). The window is
        widened once, to the expected-move window plus the wing, when no
        usable quoted strike is within ``delta_tolerance`` of the target
        delta, its wing is not covered, or the band holds no usable strike.
        With an ``expiry_targets`` entry for ``trading_class`` only the expiry
        closest to the target DTE is quoted. Strikes without a complete quote
        are NaN.

        Raises:
            BrokerError: no such chain, no expiry in the window, no underlying
                level, a look-up timed out, or lines refused with 101 after
                the retries.
            DelayedDataRefusedError: live mode and IB delivered delayed data.
        """
        conn = self.conn
        settings = conn.settings
        started = asyncio.get_running_loop().time()
        before = sum(conn.request_counts.values())
        now = conn.now()
        session = now.astimezone(NEW_YORK).date()
        expirations, _strikes = await self.lookup.chain_params(symbol, trading_class)
        expiries = [e for e in expirations if min_dte <= (e - session).days <= max_dte]
        target = settings.expiry_targets.get(trading_class)
        if target is not None:
            expiries = closest_expiry(expiries, session, target)
        if not expiries:
            raise BrokerError(
                f"IB lists no {symbol} {trading_class} expiry with DTE {min_dte}..{max_dte}"
            )
        forwards, iv = await self._underlying_levels(symbol, expiries)

        plan: list[_SlicePlan] = []
        for expiry in expiries:
            forward = forwards.get(expiry)
            if forward is None:
                conn.log.warning("ib_chain_no_forward", symbol=symbol, expiry=expiry.isoformat())
                continue
            years = ibc.years_to_expiry(now, expiry, symbol, trading_class)
            for right in rights:
                listed = dict(await self.lookup.listed(symbol, trading_class, expiry, right))
                item = _SlicePlan(expiry, right, forward, years, listed)
                item.strikes = self._narrow_window(trading_class, item, iv)
                plan.append(item)
        await self._quote_plan(plan, [list(p.strikes) for p in plan])
        # the quotes disagree with the model (no strike near the target delta,
        # the wing not covered, nothing usable in the band): widen once
        widened = [p for p in plan if not self._window_holds(trading_class, p)]
        extra: list[list[float]] = []
        for item in widened:
            wide = self._wide_window(trading_class, item, iv)
            extra.append([k for k in wide if k not in set(item.strikes)])
        if any(extra):
            await self._quote_plan(widened, extra)
        lines = sum(len(p.strikes) for p in plan)
        conn.log.info(
            "ib_chain_plan",
            symbol=symbol,
            trading_class=trading_class,
            expiries=[e.isoformat() for e in expiries],
            lines=lines,
            widened=sum(1 for e in extra if e),
            batches=math.ceil(lines / settings.lines_at_once) if lines else 0,
            line_budget=settings.lines_at_once,
        )
        slices = [self._slice(symbol, trading_class, session, p) for p in plan]
        conn.log.info(
            "ib_chain_requests",
            symbol=symbol,
            trading_class=trading_class,
            expiries=len({s.expiry for s in slices}),
            lines=lines,
            quoted=sum(int(np.isfinite(s.bid).sum()) for s in slices),
            messages=sum(conn.request_counts.values()) - before,
            seconds=round(asyncio.get_running_loop().time() - started, 3),
        )
        return slices

    async def _quote_plan(self, plan: Sequence[_SlicePlan], strikes: Sequence[list[float]]) -> None:
        """Quote ``strikes[i]`` of ``plan[i]`` (one batched request) and merge them in, sorted."""
        contracts = [p.listed[k] for p, ks in zip(plan, strikes, strict=True) for k in ks]
        if not contracts:
            return
        quotes = iter(await self.market.quotes(contracts, options=True))
        for item, ks in zip(plan, strikes, strict=True):
            for k in ks:
                item.quotes[k] = next(quotes)
            item.strikes = sorted(item.quotes)

    def _narrow_window(self, trading_class: str, item: _SlicePlan, iv: float) -> list[float]:
        """Strikes the model says can matter (see :class:`IBSettings` ``strike_targets``)."""
        settings = self.conn.settings
        forward, right, listed = item.forward, item.right, sorted(item.listed)
        sd1 = ibc.expected_move(forward, iv, item.years, 1.0)
        pad = settings.strike_pad_sd * sd1
        target = settings.strike_targets.get(trading_class)
        band = settings.strike_bands.get(trading_class)
        if target is not None and sd1 > 0:
            delta, wing = target
            short = model_strike(forward, iv, item.years, delta, right)
            if right is Right.PUT:
                lo, hi = short - wing - pad, short + pad
            else:
                lo, hi = short - pad, short + wing + pad
        elif band is not None:
            otm_min, otm_max = band
            width = otm_max - otm_min
            if right is Right.CALL:
                lo, hi = forward * (1 + otm_min - width), forward * (1 + otm_max + width)
            else:
                lo, hi = forward * (1 - otm_max - width), forward * (1 - otm_min + width)
        else:
            return self._wide_window(trading_class, item, iv)
        inside = [i for i, k in enumerate(listed) if lo <= k <= hi]
        if not inside:
            return self._wide_window(trading_class, item, iv)
        # one listed strike beyond each edge, so a strike just outside still counts
        first, last = max(inside[0] - 1, 0), min(inside[-1] + 1, len(listed) - 1)
        return listed[first : last + 1]

    def _wide_window(self, trading_class: str, item: _SlicePlan, iv: float) -> list[float]:
        """The expected-move window (``strike_window_sd``), with the wing beyond it."""
        settings = self.conn.settings
        listed = sorted(item.listed)
        move = ibc.expected_move(item.forward, iv, item.years, settings.strike_window_sd)
        window = set(ibc.strike_window(listed, item.forward, move, item.right))
        target = settings.strike_targets.get(trading_class)
        if target is not None and window:
            wing = target[1]
            if item.right is Right.PUT:
                edge = min(window)
                window.update(k for k in listed if edge - wing <= k < edge)
            else:
                edge = max(window)
                window.update(k for k in listed if edge < k <= edge + wing)
        return sorted(window | set(item.strikes))

    def _window_holds(self, trading_class: str, item: _SlicePlan) -> bool:
        """Whether the quoted window agrees with the model (else it is widened once)."""
        settings = self.conn.settings
        strikes = np.array(item.strikes, dtype=np.float64)
        qs = [item.quotes[k] for k in item.strikes]
        bid = np.array([q.bid for q in qs], dtype=np.float64)
        ask = np.array([q.ask for q in qs], dtype=np.float64)
        delta = np.array([q.delta for q in qs], dtype=np.float64)
        usable = np.isfinite(bid) & np.isfinite(ask) & np.isfinite(delta)
        target = settings.strike_targets.get(trading_class)
        if target is not None:
            if not usable.any():
                return False
            distance = np.where(usable, np.abs(np.abs(delta) - target[0]), np.inf)
            best = int(np.argmin(distance))
            if distance[best] > settings.delta_tolerance:
                return False
            if item.right is Right.PUT:
                return bool((usable & (strikes <= strikes[best] - target[1])).any())
            return bool((usable & (strikes >= strikes[best] + target[1])).any())
        band = settings.strike_bands.get(trading_class)
        if band is not None:
            lo, hi = band
            if item.right is Right.CALL:
                low, high = item.forward * (1 + lo), item.forward * (1 + hi)
            else:
                low, high = item.forward * (1 - hi), item.forward * (1 - lo)
            in_band = (strikes >= low) & (strikes <= high) & (ask > 0) & (np.abs(delta) > 0)
            return bool((usable & in_band).any())
        return True

    @staticmethod
    def _slice(symbol: str, trading_class: str, session: date, item: _SlicePlan) -> ChainSlice:
        qs = [item.quotes[k] for k in item.strikes]
        forward = item.forward
        if symbol == "SPX":
            unds = [q.und_price for q in qs if math.isfinite(q.und_price)]
            if unds:
                forward = statistics.median(unds)

        def col(name: str) -> np.ndarray:
            return np.array([getattr(q, name) for q in qs], dtype=np.float64)

        return ChainSlice(
            symbol=symbol,
            trading_class=trading_class,
            expiry=item.expiry,
            right=item.right,
            dte=(item.expiry - session).days,
            t_years=item.years,
            forward=forward,
            strikes=np.array(
                [float(item.listed[k].strike) for k in item.strikes], dtype=np.float64
            ),
            bid=col("bid"),
            ask=col("ask"),
            iv=col("iv"),
            delta=col("delta"),
            gamma=col("gamma"),
            vega=col("vega"),
            theta=col("theta"),
        )

    async def _underlying_levels(
        self, symbol: str, expiries: Sequence[date]
    ) -> tuple[dict[date, float], float]:
        """Forward per expiry (index points) and the decimal vol for the strike window."""
        if symbol == "VIX":
            futures = dict(await self.lookup.vix_futures())
            vvix = await self.lookup.index("VVIX")
            wanted = [*futures.values()] + ([vvix] if vvix is not None else [])
            quotes = await self.market.quotes(wanted, options=False)
            levels = {c.conId: q.level for c, q in zip(wanted, quotes, strict=True)}
            forwards: dict[date, float] = {}
            for expiry in expiries:
                contract = futures.get(expiry)
                if contract is None and futures:
                    nearest = min(futures, key=lambda d: abs((d - expiry).days))
                    contract = futures[nearest]
                    self.conn.log.warning(
                        "ib_vix_future_mismatch",
                        option_expiry=expiry.isoformat(),
                        future_expiry=nearest.isoformat(),
                    )
                value = levels.get(contract.conId, _NAN) if contract is not None else _NAN
                if math.isfinite(value):
                    forwards[expiry] = value
            vol = levels.get(vvix.conId, _NAN) / 100.0 if vvix is not None else _NAN
            fallback = self.conn.settings.vix_option_iv
            return forwards, vol if math.isfinite(vol) and vol > 0 else fallback
        spx = await self.lookup.index(symbol)
        vix = await self.lookup.index("VIX")
        wanted = [c for c in (spx, vix) if c is not None]
        quotes = await self.market.quotes(wanted, options=False)
        levels = {c.conId: q.level for c, q in zip(wanted, quotes, strict=True)}
        spot = levels.get(spx.conId, _NAN) if spx is not None else _NAN
        if not math.isfinite(spot):
            raise BrokerError(f"no {symbol} level from IB")
        vol = levels.get(vix.conId, _NAN) / 100.0 if vix is not None else _NAN
        return dict.fromkeys(expiries, spot), vol if math.isfinite(vol) and vol > 0 else 0.20
