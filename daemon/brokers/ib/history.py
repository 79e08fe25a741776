"""Daily history from IB for the hedge signals: index closes, VIX futures closes, NYSE breadth.

What is asked (``reqHistoricalData``, one-day bars, regular trading hours
only, ``formatDate=1``):

* **Indexes** ``VIX``, ``VVIX``, ``SPX`` (``Index(symbol, "CBOE")``) with
  ``whatToShow="TRADES"``: for an index IB's TRADES bars are the calculated
  index values (indexes have no bid/ask; MIDPOINT/BID/ASK are refused). The
  bar's close is the session's closing value.
* **VIX futures** by contract month (``Future("VIX", "<yyyymmdd expiry>",
  "CFE")``, trading class ``VX``, ``includeExpired=True`` so a contract that
  expired inside the window is still found) with ``whatToShow="TRADES"``; the
  bar's close is IB's daily close of the contract (IB publishes no separate
  CFE settlement series).
* **NYSE breadth**: IB's ``AD-NYSE`` (``Index("AD-NYSE", "NYSE")``) streams
  the advancing issues as its *bid*, the declining issues as its *ask* and the
  unchanged as the bid size, with no last price (Linn Software, "How do I
  follow the advance / decline line in the IB version of Investor/RT?",
  linnsoft.com/qa/a/107.htm, which also says there is no historical data for
  it). So breadth is read as one snapshot of that line (see
  :meth:`DailyHistory.nyse_breadth`, taken by the mark job after the close)
  and never back-filled from bars.

Pacing (IB's historical-data limits: no identical request within 15
seconds, no six or more requests for the same contract within 2 seconds, at
most 60 requests in any 10 minutes, "Historical Data Limitations" in the TWS
API documentation): requests go one at a time, at least
``historical_min_interval_s`` apart, at most ``historical_requests_per_10min``
in any 600 seconds (default 50 of IB's 60, leaving room for the settlement
look-ups and for TWS), and an identical request within 15 seconds is answered
from the previous answer. When the 10-minute budget is spent and the next slot
is further away than ``request_timeout_s``, the request fails with a
``BrokerError`` instead of blocking a job.

Errors: a request IB does not answer within ``request_timeout_s`` raises
:class:`~daemon.brokers.ib.errors.RequestTimeoutError`; a historical-data
error (162 no data / no permission / pacing, 200 no security definition, 321
bad request) raises :class:`~daemon.brokers.base.BrokerError` naming the code,
except 162 "HMDS query returned no data", which is an empty span (a gap).
A contract IB does not list (VVIX on an account without it, a future not
found) is not an error: its series is empty and a warning is logged.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from datetime import date, datetime, time
from typing import Any

from ib_async import BarData, Contract, Future, Index

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.errors import ErrorPolicy
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.market_data import MarketData, finite
from daemon.clock import NEW_YORK

__all__ = ["BREADTH_SYMBOL", "DailyHistory", "duration_for"]

#: IB's NYSE advance/decline issues "index": bid = advancing, ask = declining.
BREADTH_SYMBOL = "AD-NYSE"
BREADTH_EXCHANGE = "NYSE"

#: IB refuses an identical historical request within this many seconds.
IDENTICAL_REQUEST_S = 15.0
#: IB's rolling window for counting historical requests, seconds.
PACING_WINDOW_S = 600.0
#: Text of IB's 162 that means an empty span (a gap), not a failure.
_NO_DATA = "query returned no data"
#: Error codes that fail the historical request they answer.
_HISTORY_ERRORS = frozenset({162, 200, 321, 366})


def duration_for(first: date, last: date) -> str:
    """IB duration string covering the sessions ``first..last`` (calendar days, inclusive).

    IB takes at most 365 days as ``"N D"``; longer spans are whole years
    (``"2 Y"``), which cover more than asked (the caller keeps only its dates).
    """
    days = (last - first).days + 1
    if days < 1:
        raise ValueError(f"empty span {first.isoformat()}..{last.isoformat()}")
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


def _bar_date(bar: BarData) -> date:
    when: Any = bar.date
    if isinstance(when, datetime):
        return when.astimezone(NEW_YORK).date() if when.tzinfo else when.date()
    return when


class DailyHistory:
    """Daily closes of indexes and VIX futures, and the NYSE breadth snapshot (see module)."""

    def __init__(self, conn: Connection, lookup: ContractLookup, market: MarketData) -> None:
        self.conn = conn
        self.lookup = lookup
        self.market = market
        self._lock = asyncio.Lock()
        self._errors: list[tuple[int, int, str]] = []
        self._sent: deque[float] = deque()
        self._recent: dict[tuple[Any, ...], tuple[float, list[BarData]]] = {}
        self._futures: dict[date, Contract | None] = {}
        self._breadth: Contract | bool | None = False  # False: not looked up yet
        conn.error_handlers.append(self._on_error)

    def _on_error(
        self, req_id: int, code: int, message: str, contract: Contract | None, policy: ErrorPolicy
    ) -> bool:
        if self._lock.locked() and req_id > 0 and code in _HISTORY_ERRORS:
            self._errors.append((req_id, code, message))
        return False

    # ----------------------------------------------------------------- public

    async def index_closes(self, symbol: str, first: date, last: date) -> dict[date, float]:
        """Closes of the CBOE index ``symbol`` for sessions ``first..last``, index points.

        Empty when IB does not list the index (logged). Sessions IB has no
        bar for are absent.

        Raises:
            BrokerError: a historical-data error, pacing budget spent, or no
                answer within ``request_timeout_s``.
        """
        contract = await self.lookup.index(symbol)
        if contract is None:
            return {}
        return await self._closes(contract, first, last)

    async def vix_future_closes(self, expiry: date, first: date, last: date) -> dict[date, float]:
        """Daily closes of the monthly VIX future expiring ``expiry``, VIX points.

        Empty when IB lists no such future (logged).

        Raises:
            BrokerError: as :meth:`index_closes`.
        """
        contract = await self._future(expiry)
        if contract is None:
            return {}
        return await self._closes(contract, first, min(last, expiry))

    async def nyse_breadth(self) -> tuple[float, float]:
        """``(advancing, declining)`` NYSE issues now, from one ``AD-NYSE`` snapshot.

        NaN when IB does not list it or sends no bid/ask (no subscription).

        Raises:
            BrokerError: a look-up or the quote failed.
        """
        if self._breadth is False:
            found = await self.lookup.details(Index(BREADTH_SYMBOL, BREADTH_EXCHANGE, "USD"))
            self._breadth = found[0] if len(found) == 1 else None
            if self._breadth is None:
                self.conn.log.warning("ib_breadth_unavailable", symbol=BREADTH_SYMBOL)
        if not isinstance(self._breadth, Contract):
            return math.nan, math.nan
        (quote,) = await self.market.quotes([self._breadth], options=False)
        advancing, declining = finite(quote.bid), finite(quote.ask)
        if not (advancing >= 0 and declining >= 0):
            return math.nan, math.nan
        return advancing, declining

    # ---------------------------------------------------------------- helpers

    async def _future(self, expiry: date) -> Contract | None:
        if expiry not in self._futures:
            query = Future("VIX", ibc.ib_date(expiry), "CFE", currency="USD", includeExpired=True)
            found = [
                c
                for c in await self.lookup.details(query)
                if c.tradingClass == ibc.VIX_FUTURE_CLASS
            ]
            contract = found[0] if len(found) == 1 else None
            if contract is not None:
                contract.includeExpired = True
            else:
                self.conn.log.warning(
                    "ib_vix_future_unavailable", expiry=expiry.isoformat(), matches=len(found)
                )
            self._futures[expiry] = contract
        return self._futures[expiry]

    async def _closes(self, contract: Contract, first: date, last: date) -> dict[date, float]:
        if last < first:
            return {}
        bars = await self._bars(contract, last, duration_for(first, last))
        out: dict[date, float] = {}
        for bar in bars:
            day = _bar_date(bar)
            close = finite(bar.close)
            if first <= day <= last and math.isfinite(close) and close > 0:
                out[day] = close
        return out

    async def _bars(self, contract: Contract, last: date, duration: str) -> list[BarData]:
        """One paced, bounded ``reqHistoricalData`` of daily TRADES bars ending at ``last``."""
        conn = self.conn
        loop = asyncio.get_running_loop()
        end = datetime.combine(last, time(23, 59), NEW_YORK)
        key = (contract.conId, last, duration)
        name = contract.localSymbol or contract.symbol
        what = f"reqHistoricalData({name} daily bars {duration} to {last.isoformat()})"
        async with self._lock:
            for old in [
                k for k, (t, _) in self._recent.items() if loop.time() - t >= IDENTICAL_REQUEST_S
            ]:
                del self._recent[old]
            recent = self._recent.get(key)
            if recent is not None and loop.time() - recent[0] < IDENTICAL_REQUEST_S:
                return recent[1]
            await self._pace(what)
            seen = len(self._errors)
            conn.request_counts["historical_data"] += 1
            self._sent.append(loop.time())
            bars: list[BarData] = list(
                await conn.bounded(
                    conn.ib.reqHistoricalDataAsync(
                        contract, end, duration, "1 day", "TRADES", True, formatDate=1, timeout=0
                    ),
                    what,
                )
            )
            errors = self._errors[seen:]
            del self._errors[:]
            if errors and not bars:
                _req, code, message = errors[-1]
                if not (code == 162 and _NO_DATA in message.lower()):
                    raise BrokerError(f"IB historical data error {code} for {name}: {message}")
                # "HMDS query returned no data": nothing in the span, not a failure
            self._recent[key] = (loop.time(), bars)
        return bars

    async def _pace(self, what: str) -> None:
        """Wait for a slot within IB's historical-data limits (see the module docstring)."""
        settings = self.conn.settings
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._sent and now - self._sent[0] >= PACING_WINDOW_S:
            self._sent.popleft()
        if len(self._sent) >= settings.historical_requests_per_10min:
            wait = PACING_WINDOW_S - (now - self._sent[0])
            if wait > settings.request_timeout_s:
                raise BrokerError(
                    f"{what}: IB historical-data pacing budget spent "
                    f"({settings.historical_requests_per_10min} requests in 10 minutes); "
                    f"next slot in {wait:.0f}s"
                )
            self.conn.log.info("ib_historical_pacing", wait_s=round(wait, 1))
            await asyncio.sleep(wait)
        if self._sent:
            gap = settings.historical_min_interval_s - (loop.time() - self._sent[-1])
            if gap > 0:
                await asyncio.sleep(gap)
