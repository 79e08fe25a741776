"""Market data from IB: quotes, option chains, the market context, settlement prices.

Quotes open streaming lines in batches no larger than
``IBSettings.lines_at_once`` (``market_data_lines_budget``, default 80, within
the ``market_data_lines`` allowance: headroom for lines TWS or other clients
hold), wait up to ``quote_timeout_s`` for bid, ask and model greeks, then
cancel them; ib_async paces every message at ``max_msgs_per_s``. A line IB
refuses (354 not subscribed, 10197 competing live session, ...) ends its wait
at once and reads NaN; each such code is logged once per contract. Lines
refused with 101 (too many lines) are retried in half-size batches after a
pause, ``line_refused_retries`` times, then the quote raises
:class:`~daemon.brokers.base.BrokerError` rather than return empty strikes.
After 1101 (connectivity restored, data lost) the open lines are
re-subscribed.

Chains quote only the strikes the model says can matter: for a trading class
in ``strike_targets`` the strikes around the Black-76 strike of the target
delta and its wing; for one in ``strike_bands`` the OTM band and one band
width either side; else the expected-move window. When the quotes disagree
with the model the window is widened once (see :meth:`MarketData.option_chain`).

Market-data type: the adapter asks for ``market_data_type`` at connect and
records the type IB actually delivers (the ``marketDataType`` message, the
delayed tick types 66-76/80-83, or 10167). In live mode a batch that
received delayed data raises
:class:`~daemon.brokers.ib.errors.DelayedDataRefusedError`; nothing is
priced on it. :attr:`MarketData.market_data_type` is the delivered type
(the requested one before any tick arrived).

Settlement prices come from daily bars (``reqHistoricalData``, ``TRADES``,
regular hours) of the underlying index, asked for only after the expiry
session has closed (16:00 ET): PM-settled SPXW -> the SPX close of the expiry
session; AM-settled SPX monthlies and VIX options -> the index *open* of the
expiry session, a documented proxy for the special opening quotation (SOQ)
that IB does not publish as a bar.

Units: prices in index points; IB's model vega is per vol *point* and is
multiplied by 100 (ours is per 1.00 of vol); theta is per calendar day.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from statistics import NormalDist
from typing import Any

import numpy as np
from ib_async import BarData, Contract, Ticker

from daemon.brokers.base import BrokerError, closest_expiry
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.errors import DelayedDataRefusedError, ErrorAction, ErrorPolicy
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.settings import DELAYED_TYPES
from daemon.clock import NEW_YORK
from strategies.domain import ChainSlice, LegQuote, MarketContext, OptionContract, Right

_NAN = float("nan")

#: IB error: max number of tickers (market-data lines) reached.
TOO_MANY_LINES = 101

#: IB tick types that only delayed data uses (delayed bid/ask/last/sizes/OHLC, option computations).
DELAYED_TICK_TYPES = frozenset({*range(66, 77), *range(80, 84), 88})


@dataclass(slots=True)
class Quote:
    """What a batch of streaming lines saw for one contract (NaN when absent)."""

    bid: float = _NAN
    ask: float = _NAN
    last: float = _NAN
    close: float = _NAN
    iv: float = _NAN
    delta: float = _NAN
    gamma: float = _NAN
    vega: float = _NAN
    theta: float = _NAN
    und_price: float = _NAN

    @property
    def level(self) -> float:
        """Index/future level: last, else mid, else close (NaN when none)."""
        if math.isfinite(self.last):
            return self.last
        if math.isfinite(self.bid) and math.isfinite(self.ask):
            return (self.bid + self.ask) / 2
        return self.close


def finite(value: float | None) -> float:
    """``value`` as a float, NaN when missing, not a number or infinite."""
    if value is None:
        return _NAN
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _NAN
    return number if math.isfinite(number) else _NAN


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


class MarketData:
    """Quotes, chains, context and settlement prices; see the module docstring."""

    def __init__(self, conn: Connection, lookup: ContractLookup) -> None:
        self.conn = conn
        self.lookup = lookup
        self._md_failed: dict[int, tuple[int, str]] = {}
        self._md_warned: set[tuple[int, int]] = set()
        self._active_lines: dict[int, Contract] = {}
        self._quote_lock = asyncio.Lock()
        self._line_types: dict[int, int] = {}
        self._delivered_type: int | None = None
        self._hist_lock = asyncio.Lock()
        self._hist_errors: list[tuple[int, int, str]] = []
        self._settlements: dict[tuple[str, date, bool], float] = {}
        conn.error_handlers.append(self._on_error)
        conn.restore_handlers.append(self._on_restored)
        conn.ib.pendingTickersEvent += self._on_tickers

    @property
    def market_data_type(self) -> int:
        """The market-data type IB last delivered (1-4), or the requested one before any tick."""
        if self._delivered_type is not None:
            return self._delivered_type
        return self.conn.settings.market_data_type

    # ----------------------------------------------------------------- events

    def _on_error(
        self, req_id: int, code: int, message: str, contract: Contract | None, policy: ErrorPolicy
    ) -> bool:
        action = policy.action
        if action is ErrorAction.REQUEST_FAILED:
            self._hist_errors.append((req_id, code, message))
        elif action is ErrorAction.DELAYED_MARKET_DATA and contract is not None:
            self._line_types[contract.conId] = 3
            self._delivered_type = 3
        elif action is ErrorAction.MARKET_DATA_UNAVAILABLE and contract is not None:
            self._md_failed[contract.conId] = (code, message)
            key = (code, contract.conId if code != 354 else 0)
            if key in self._md_warned:
                return True
            self._md_warned.add(key)
        return False

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        """Record the market-data type each updated line delivered."""
        for ticker in tickers:
            if ticker.contract is None:
                continue
            kind = ticker.marketDataType
            if kind not in DELAYED_TYPES and any(
                t.tickType in DELAYED_TICK_TYPES for t in ticker.ticks
            ):
                kind = 3
            self._line_types[ticker.contract.conId] = kind
            self._delivered_type = kind

    def _on_restored(self, resubscribe: bool) -> None:
        if not resubscribe:
            return
        ib = self.conn.ib
        for contract in list(self._active_lines.values()):
            ib.cancelMktData(contract)
            ib.reqMktData(contract, "", False, False)
            self.conn.request_counts["mkt_data_resubscribe"] += 2
        self.conn.log.info("ib_market_data_resubscribed", lines=len(self._active_lines))

    # ----------------------------------------------------------------- quotes

    async def quotes(self, contracts: Sequence[Contract], options: bool) -> list[Quote]:
        """Quotes for qualified ``contracts`` in batches within the line budget.

        At most :attr:`IBSettings.lines_at_once` lines are open at once. Lines
        IB refuses with error 101 (too many lines: others hold some of the
        allowance) are retried in batches half as large after a short pause,
        at most ``line_refused_retries`` times.

        Raises:
            BrokerError: lines still refused with 101 after the retries.
            DelayedDataRefusedError: live mode and IB delivered delayed data.
        """
        settings = self.conn.settings
        out: list[Quote] = [Quote() for _ in contracts]
        pending = list(range(len(contracts)))
        size = settings.lines_at_once
        attempt = 0
        async with self._quote_lock:
            while True:
                for i in range(0, len(pending), size):
                    chunk = pending[i : i + size]
                    quoted = await self._quote_batch([contracts[j] for j in chunk], options)
                    for j, quote in zip(chunk, quoted, strict=True):
                        out[j] = quote
                refused = [
                    j
                    for j in pending
                    if self._md_failed.get(contracts[j].conId, (0, ""))[0] == TOO_MANY_LINES
                ]
                if not refused:
                    return out
                attempt += 1
                if attempt > settings.line_refused_retries:
                    raise BrokerError(
                        f"IB refused {len(refused)} market-data line(s) with error 101 (too "
                        f"many lines) after {settings.line_refused_retries} retries; other "
                        "clients or TWS hold the allowance (lower broker.market_data_lines_budget)"
                    )
                size = max(1, size // 2)
                self.conn.log.warning(
                    "ib_market_data_lines_refused",
                    refused=len(refused),
                    attempt=attempt,
                    batch=size,
                )
                await asyncio.sleep(settings.line_refused_pause_s * attempt)
                pending = refused

    async def _quote_batch(self, batch: Sequence[Contract], options: bool) -> list[Quote]:
        conn, ib = self.conn, self.conn.ib
        timeout = conn.settings.quote_timeout_s
        loop = asyncio.get_running_loop()
        tickers: list[Ticker] = []
        try:
            for contract in batch:
                self._md_failed.pop(contract.conId, None)
                self._line_types.pop(contract.conId, None)
                # ib_async keeps a contract's Ticker, with the values of its last
                # line, after cancelMktData; reused, a new line would read as
                # complete at once with the previous batch's quote
                ib.wrapper.tickers.pop(hash(contract), None)
                tickers.append(ib.reqMktData(contract, "", False, False))
                self._active_lines[contract.conId] = contract
                conn.request_counts["mkt_data"] += 1
            deadline = loop.time() + timeout
            while True:
                current = [ib.ticker(c) or t for c, t in zip(batch, tickers, strict=True)]
                done = all(
                    c.conId in self._md_failed or self._complete(t, options)
                    for c, t in zip(batch, current, strict=True)
                )
                if conn.throttling:
                    # requests still queued by the pacing throttle: the timeout
                    # runs from when they are actually sent
                    deadline = loop.time() + timeout
                remaining = deadline - loop.time()
                if done or remaining <= 0:
                    break
                await conn.wait_update(min(remaining, 0.25))
            self._check_delivered_type(batch)
            return [self._read(t) for t in current]
        finally:
            for contract in batch:
                self._active_lines.pop(contract.conId, None)
                if ib.isConnected():
                    ib.cancelMktData(contract)
                    conn.request_counts["mkt_data_cancel"] += 1

    def _check_delivered_type(self, batch: Sequence[Contract]) -> None:
        if not self.conn.settings.live:
            return
        delayed = sorted(
            {self._line_types[c.conId] for c in batch if c.conId in self._line_types}
            & DELAYED_TYPES
        )
        if delayed:
            lines = [c.conId for c in batch if self._line_types.get(c.conId) in DELAYED_TYPES]
            self.conn.log.error(
                "ib_delayed_data_in_live", market_data_type=delayed, lines=len(lines)
            )
            raise DelayedDataRefusedError(
                f"live mode received delayed market data (type {delayed[0]}) from IB on "
                f"{len(lines)} line(s); refusing to price on it (check the live data subscriptions)"
            )

    @staticmethod
    def _complete(ticker: Ticker, options: bool) -> bool:
        bid, ask = finite(ticker.bid), finite(ticker.ask)
        if options:
            g = ticker.modelGreeks
            return (
                math.isfinite(bid)
                and math.isfinite(ask)
                and g is not None
                and g.delta is not None
                and g.impliedVol is not None
            )
        return (
            math.isfinite(finite(ticker.last))
            or (math.isfinite(bid) and math.isfinite(ask))
            or math.isfinite(finite(ticker.close))
        )

    @staticmethod
    def _read(ticker: Ticker) -> Quote:
        q = Quote(
            bid=finite(ticker.bid),
            ask=finite(ticker.ask),
            last=finite(ticker.last),
            close=finite(ticker.close),
        )
        if math.isfinite(q.bid) and q.bid < 0:
            q.bid = _NAN
        if math.isfinite(q.ask) and q.ask <= 0:
            q.ask = _NAN
        g = ticker.modelGreeks
        if g is not None:
            q.iv = finite(g.impliedVol)
            q.delta = finite(g.delta)
            q.gamma = finite(g.gamma)
            q.vega = finite(g.vega) * 100.0  # IB: per vol point; ours: per 1.00 of vol
            q.theta = finite(g.theta)
            q.und_price = finite(g.undPrice)
        return q

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Quotes and model greeks for ``contracts``, in order (NaN fields when IB has none).

        Raises:
            BrokerError: an option is not listed, or a look-up timed out.
            DelayedDataRefusedError: live mode and IB delivered delayed data.
        """
        qualified = [await self.lookup.qualified(c) for c in contracts]
        quotes = await self.quotes(qualified, options=True)
        return [
            LegQuote(c, q.bid, q.ask, q.iv, q.delta, q.gamma, q.vega, q.theta)
            for c, q in zip(contracts, quotes, strict=True)
        ]

    # ------------------------------------------------------------- context

    async def market_context(self) -> MarketContext:
        """SPX, VIX, VIX9D, VIX3M, VVIX, SKEW (where available) and the VIX futures curve.

        Raises:
            BrokerError: SPX or VIX has no value, or a look-up timed out.
            DelayedDataRefusedError: live mode and IB delivered delayed data.
        """
        indices = {s: await self.lookup.index(s) for s in ibc.CONTEXT_INDICES}
        futures = await self.lookup.vix_futures()
        contracts = [c for c in indices.values() if c is not None] + [c for _, c in futures]
        quotes = await self.quotes(contracts, options=False)
        by_con = {c.conId: q.level for c, q in zip(contracts, quotes, strict=True)}

        def level(symbol: str) -> float | None:
            contract = indices.get(symbol)
            value = by_con.get(contract.conId, _NAN) if contract is not None else _NAN
            return value if math.isfinite(value) else None

        spx, vix = level("SPX"), level("VIX")
        if spx is None or vix is None:
            raise BrokerError(f"no SPX/VIX level from IB (SPX={spx}, VIX={vix})")
        curve = {expiry: by_con[c.conId] for expiry, c in futures if math.isfinite(by_con[c.conId])}
        self.conn.log.info(
            "ib_market_context", lines=len(contracts), spx=spx, vix=vix, vix_futures=len(curve)
        )
        return MarketContext(
            self.conn.session(),
            spx,
            vix,
            vix9d=level("VIX9D"),
            vix3m=level("VIX3M"),
            vvix=level("VVIX"),
            skew=level("SKEW"),
            vix_futures=curve,
        )

    # --------------------------------------------------------------- chains

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
        quotes = iter(await self.quotes(contracts, options=True))
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
            quotes = await self.quotes(wanted, options=False)
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
        quotes = await self.quotes(wanted, options=False)
        levels = {c.conId: q.level for c, q in zip(wanted, quotes, strict=True)}
        spot = levels.get(spx.conId, _NAN) if spx is not None else _NAN
        if not math.isfinite(spot):
            raise BrokerError(f"no {symbol} level from IB")
        vol = levels.get(vix.conId, _NAN) / 100.0 if vix is not None else _NAN
        return dict.fromkeys(expiries, spot), vol if math.isfinite(vol) and vol > 0 else 0.20

    # ----------------------------------------------------------- settlement

    async def settlement_price(self, contract: OptionContract) -> float | None:
        """The underlying's settlement value for ``contract``'s expiry, index points.

        PM-settled (SPXW): the SPX daily close of the expiry session.
        AM-settled (SPX monthlies, VIX): the index open of the expiry
        session, a proxy for the SOQ. ``None`` before 16:00 ET of the expiry
        date, or while IB has no daily bar for that session.

        Raises:
            BrokerError: no index contract, a historical-data error (162), or
                no bars within ``request_timeout_s``.
        """
        pm = ibc.settlement_time(contract.symbol, contract.trading_class) == ibc.PM_SETTLEMENT
        key = (contract.symbol, contract.expiry, pm)
        if key in self._settlements:
            return self._settlements[key]
        closes_at = datetime.combine(contract.expiry, ibc.SESSION_CLOSE, NEW_YORK)
        if self.conn.now() < closes_at:
            return None
        index = await self.lookup.index(contract.symbol)
        if index is None:
            raise BrokerError(f"IB has no {contract.symbol} index contract for its settlement")
        bar = await self._daily_bar(index, contract.expiry)
        value = finite((bar.close if pm else bar.open) if bar is not None else None)
        if not math.isfinite(value) or value <= 0:
            self.conn.log.warning(
                "ib_settlement_not_available",
                symbol=contract.symbol,
                expiry=contract.expiry.isoformat(),
            )
            return None
        self._settlements[key] = value
        self.conn.log.info(
            "ib_settlement_price",
            symbol=contract.symbol,
            trading_class=contract.trading_class,
            expiry=contract.expiry.isoformat(),
            price=value,
            source="daily close" if pm else "daily open (SOQ proxy)",
        )
        return value

    async def _daily_bar(self, index: Contract, day: date) -> Any:
        """The daily ``TRADES`` bar of ``index`` for session ``day`` (``None`` when IB has none)."""
        conn = self.conn
        end = datetime.combine(day, time(23, 59), NEW_YORK)
        async with self._hist_lock:
            seen = len(self._hist_errors)
            conn.request_counts["historical_data"] += 1
            bars: list[BarData] = await conn.bounded(
                conn.ib.reqHistoricalDataAsync(
                    index, end, "5 D", "1 day", "TRADES", True, formatDate=1, timeout=0
                ),
                f"reqHistoricalData({index.symbol} daily bars to {day.isoformat()})",
            )
            errors = self._hist_errors[seen:]
        if errors and not bars:
            _req_id, code, message = errors[-1]
            raise BrokerError(f"IB historical data error {code} for {index.symbol}: {message}")
        for bar in bars:
            when = bar.date
            if isinstance(when, datetime):
                when = when.astimezone(NEW_YORK).date() if when.tzinfo else when.date()
            if when == day:
                return bar
        return None
