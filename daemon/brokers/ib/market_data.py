"""Market data from IB: streaming quotes and the market context.

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

Market-data type: the adapter asks for ``market_data_type`` at connect and
records the type IB actually delivers (the ``marketDataType`` message, the
delayed tick types 66-76/80-83, or 10167). In live mode a batch that
received delayed data raises
:class:`~daemon.brokers.ib.errors.DelayedDataRefusedError`; nothing is
priced on it. :attr:`MarketData.market_data_type` is the delivered type
(the requested one before any tick arrived).

Option chains (which strikes to quote; quoted by :meth:`MarketData.quotes`)
are in :mod:`~daemon.brokers.ib.option_chains`, settlement prices (daily bars)
in :mod:`~daemon.brokers.ib.settlement`.

Units: prices in index points; IB's model vega is per vol *point* and is
multiplied by 100 (ours is per 1.00 of vol); theta is per calendar day.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ib_async import Contract, Ticker

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.errors import DelayedDataRefusedError, ErrorAction, ErrorPolicy
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.settings import DELAYED_TYPES
from strategies.domain import LegQuote, MarketContext, OptionContract

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


class MarketData:
    """Streaming quotes and the market context; see the module docstring."""

    def __init__(self, conn: Connection, lookup: ContractLookup) -> None:
        self.conn = conn
        self.lookup = lookup
        self._md_failed: dict[int, tuple[int, str]] = {}
        self._md_warned: set[tuple[int, int]] = set()
        self._active_lines: dict[int, Contract] = {}
        self._quote_lock = asyncio.Lock()
        self._line_types: dict[int, int] = {}
        self._delivered_type: int | None = None
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
        if action is ErrorAction.DELAYED_MARKET_DATA and contract is not None:
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
