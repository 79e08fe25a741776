"""Settlement prices from IB: the underlying index's daily bar of the expiry session.

Settlement prices come from daily bars (``reqHistoricalData``, ``TRADES``,
regular hours) of the underlying index, asked for only after the expiry
session has closed (16:00 ET): PM-settled SPXW -> the SPX close of the expiry
session; AM-settled SPX monthlies and VIX options -> the index *open* of the
expiry session, a documented proxy for the special opening quotation (SOQ)
that IB does not publish as a bar.

Units: prices in index points.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time
from typing import Any

from ib_async import BarData, Contract

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.errors import ErrorAction, ErrorPolicy
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.market_data import finite
from daemon.clock import NEW_YORK
from strategies.domain import OptionContract


class SettlementPrices:
    """Settlement prices of expired contracts; see the module docstring."""

    def __init__(self, conn: Connection, lookup: ContractLookup) -> None:
        self.conn = conn
        self.lookup = lookup
        self._hist_lock = asyncio.Lock()
        self._hist_errors: list[tuple[int, int, str]] = []
        self._settlements: dict[tuple[str, date, bool], float] = {}
        conn.error_handlers.append(self._on_error)

    def _on_error(
        self, req_id: int, code: int, message: str, contract: Contract | None, policy: ErrorPolicy
    ) -> bool:
        # kept only while a daily-bar request waits: a daemon running for months
        # would otherwise keep every failed request of any kind
        if policy.action is ErrorAction.REQUEST_FAILED and self._hist_lock.locked():
            self._hist_errors.append((req_id, code, message))
        return False

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
            self._hist_errors.clear()
            conn.request_counts["historical_data"] += 1
            bars: list[BarData] = await conn.bounded(
                conn.ib.reqHistoricalDataAsync(
                    index, end, "5 D", "1 day", "TRADES", True, formatDate=1, timeout=0
                ),
                f"reqHistoricalData({index.symbol} daily bars to {day.isoformat()})",
            )
            errors = self._hist_errors[:]
            self._hist_errors.clear()
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
