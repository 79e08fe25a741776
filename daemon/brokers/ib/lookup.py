"""Contract look-ups at IB (contract details, option-chain parameters), cached per session.

Every look-up is one bounded request (``request_timeout_s``; a timeout raises
:class:`~daemon.brokers.ib.errors.RequestTimeoutError`). Index contracts and
qualified options are cached for the life of the adapter; chain parameters
and VIX futures for the session date.
"""

from __future__ import annotations

from datetime import date

from ib_async import Contract

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from strategies.domain import OptionContract, Right


class ContractLookup:
    """IB contracts for domain contracts, indices, VIX futures and option chains."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._index_cache: dict[str, Contract | None] = {}
        self._option_cache: dict[OptionContract, Contract] = {}
        self._listed_cache: dict[tuple[str, str, date, Right], dict[float, Contract]] = {}
        self._chain_cache: dict[tuple[str, str], tuple[date, list[date], list[float]]] = {}
        self._futures_cache: tuple[date, list[tuple[date, Contract]]] | None = None

    async def details(self, query: Contract, kind: str = "contract_details") -> list[Contract]:
        """Contracts IB lists for ``query`` (empty when none).

        Raises:
            RequestTimeoutError: no answer within ``request_timeout_s``.
        """
        self.conn.request_counts[kind] += 1
        details = await self.conn.bounded(
            self.conn.ib.reqContractDetailsAsync(query),
            f"reqContractDetails({query.symbol} {query.secType})",
        )
        return [d.contract for d in details if d.contract is not None]

    async def index(self, symbol: str) -> Contract | None:
        """The CBOE index ``symbol`` (``None`` when IB does not list exactly one)."""
        if symbol not in self._index_cache:
            found = await self.details(ibc.index(symbol))
            self._index_cache[symbol] = found[0] if len(found) == 1 else None
            if len(found) != 1:
                self.conn.log.warning("ib_index_unavailable", symbol=symbol, matches=len(found))
        return self._index_cache[symbol]

    async def vix_futures(self) -> list[tuple[date, Contract]]:
        """Monthly VIX futures expiring today or later, front first (``vix_futures_count``)."""
        session = self.conn.session()
        if self._futures_cache is None or self._futures_cache[0] != session:
            found = await self.details(ibc.vix_futures_query())
            futures = sorted(
                (ibc.parse_ib_date(c.lastTradeDateOrContractMonth), c)
                for c in found
                if c.tradingClass == ibc.VIX_FUTURE_CLASS
            )
            futures = [(d, c) for d, c in futures if d >= session]
            self._futures_cache = (session, futures[: self.conn.settings.vix_futures_count])
        return self._futures_cache[1]

    async def qualified(self, contract: OptionContract) -> Contract:
        """The IB option (with conId) for ``contract``.

        Raises:
            BrokerError: IB lists no such option, or several.
        """
        cached = self._option_cache.get(contract)
        if cached is not None:
            return cached
        found = await self.details(ibc.ib_option(contract))
        if len(found) != 1:
            raise BrokerError(f"IB lists {len(found)} contracts for {contract.local_symbol}")
        self._option_cache[contract] = found[0]
        return found[0]

    async def chain_params(self, symbol: str, trading_class: str) -> tuple[list[date], list[float]]:
        """Listed expiries and strikes of one option class (``reqSecDefOptParams``).

        Raises:
            BrokerError: no underlying index or no such class.
        """
        session = self.conn.session()
        cached = self._chain_cache.get((symbol, trading_class))
        if cached is not None and cached[0] == session:
            return cached[1], cached[2]
        underlying = await self.index(symbol)
        if underlying is None:
            raise BrokerError(f"IB has no {symbol} index contract")
        self.conn.request_counts["sec_def_opt_params"] += 1
        chains = await self.conn.bounded(
            self.conn.ib.reqSecDefOptParamsAsync(symbol, "", "IND", underlying.conId),
            f"reqSecDefOptParams({symbol})",
        )
        mine = [c for c in chains if c.tradingClass == trading_class]
        if not mine:
            raise BrokerError(f"IB lists no {symbol} {trading_class} options")
        chain = next((c for c in mine if c.exchange == "SMART"), mine[0])
        expiries = sorted(ibc.parse_ib_date(e) for e in chain.expirations)
        strikes = sorted(float(k) for k in chain.strikes)
        self._chain_cache[(symbol, trading_class)] = (session, expiries, strikes)
        return expiries, strikes

    async def listed(
        self, symbol: str, trading_class: str, expiry: date, right: Right
    ) -> dict[float, Contract]:
        """Every listed strike of one expiry and right: strike -> IB option."""
        key = (symbol, trading_class, expiry, right)
        if key not in self._listed_cache:
            found = await self.details(ibc.option_query(symbol, trading_class, expiry, right))
            listed = {float(c.strike): c for c in found if c.tradingClass == trading_class}
            self._listed_cache[key] = listed
            for c in listed.values():
                oc = ibc.to_option_contract(c)
                if oc is not None:
                    self._option_cache.setdefault(oc, c)
        return self._listed_cache[key]
