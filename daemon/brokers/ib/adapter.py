"""The Interactive Brokers broker: :class:`daemon.brokers.base.Broker` on ib_async.

One :class:`IBBroker` holds one API session to TWS / IB Gateway (default the
paper Gateway on 127.0.0.1:4002). It is a thin facade over four parts, each in
its own module(s):

* :mod:`~daemon.brokers.ib.connection` - connect (bounded attempts, account
  guard, 326 is fatal, live mode refuses delayed data), reconnect with
  backoff, 1100/1101/1102, and :meth:`Connection.bounded`, through which
  every request is awaited (a timeout is a
  :class:`~daemon.brokers.ib.errors.RequestTimeoutError`, a ``BrokerError``);
* :mod:`~daemon.brokers.ib.market_data` (with
  :mod:`~daemon.brokers.ib.lookup`) - quotes, the market context, the line
  budget, the delivered market-data type; with
  :mod:`~daemon.brokers.ib.option_chains` (which strikes of a chain to quote)
  and :mod:`~daemon.brokers.ib.settlement` (settlement prices from daily bars);
* :mod:`~daemon.brokers.ib.order_flow` - place, walk, cancel, adopt; an
  order whose fate is not known is reported ``UNKNOWN``, never assumed;
* :mod:`~daemon.brokers.ib.executions` - exactly-once fills, execution
  corrections, late commissions, resync after reconnects, open orders,
  positions, account values and reconciliation.

In the order ``alvh run`` uses it: :meth:`IBBroker.connect` (account guard,
market-data type, the day's executions to the fill listeners), then
market data, orders and fills; :meth:`IBBroker.disconnect` at the end.

Units: prices in index points per share; our combo net price is + debit /
- credit (see :mod:`daemon.brokers.ib.orders`); money in dollars; durations
in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from ib_async import IB

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerOrder,
    ComboOrder,
    FillListener,
    MarginImpact,
    OrderResult,
    OrderStatus,
    Position,
    SettlementListener,
)
from daemon.brokers.ib.connection import Connection, NullLog
from daemon.brokers.ib.executions import (
    Executions,
    OpenOrderInfo,
    PositionDifference,
    Reconciliation,
)
from daemon.brokers.ib.history import DailyHistory
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.market_data import MarketData
from daemon.brokers.ib.option_chains import OptionChains
from daemon.brokers.ib.order_flow import OrderDesk
from daemon.brokers.ib.settings import IBSettings
from daemon.brokers.ib.settlement import SettlementPrices
from daemon.brokers.ib.what_if import what_if
from strategies.domain import ChainSlice, LegQuote, MarketContext, OptionContract, Right

__all__ = ["IBBroker", "IBSettings", "OpenOrderInfo", "PositionDifference", "Reconciliation"]


class IBBroker:
    """:class:`daemon.brokers.base.Broker` for TWS / IB Gateway (paper or live).

    Args:
        settings: an :class:`IBSettings` (see :meth:`IBSettings.from_config`).
        log: structlog-style logger (``log.info(event, **fields)``); a silent
            one when ``None``.
        clock: current timezone-aware time (defaults to the system clock);
            decides the session date, DTE and when a settlement is asked for.
        fill_filter: which ``orderRef`` values are ours; executions with an
            empty ``orderRef`` are never delivered. Default: any non-empty ref.
        ib: the ib_async client (tests may pass one); a new ``IB()`` by default.

    Every public coroutine first waits (at most ``request_timeout_s``) for a
    usable session and raises ``BrokerError`` if there is none; a fatal
    refusal (``UnsafeAccountError``, ``ClientIdInUseError``) is raised again
    by every later call.
    """

    name = "ib"

    def __init__(
        self,
        settings: IBSettings | None = None,
        log: Any = None,
        clock: Callable[[], datetime] | None = None,
        fill_filter: Callable[[str], bool] | None = None,
        ib: IB | None = None,
    ) -> None:
        self.settings = settings or IBSettings()
        self.log = log if log is not None else NullLog()
        self.ib = ib or IB()
        self.conn = Connection(
            self.settings, self.log, clock or (lambda: datetime.now(UTC)), self.ib
        )
        self.lookup = ContractLookup(self.conn)
        self.market = MarketData(self.conn, self.lookup)
        self.chains = OptionChains(self.market)
        self.settlements = SettlementPrices(self.conn, self.lookup)
        self.history = DailyHistory(self.conn, self.lookup, self.market)
        self.executions = Executions(self.conn, fill_filter or bool)
        self.orders = OrderDesk(self.conn, self.lookup, self.executions)
        self._settlement_listeners: list[SettlementListener] = []

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Whether the API session is up and the account guard has passed."""
        return self.conn.connected

    @property
    def client_id(self) -> int:
        """Our API client id (``settings.client_id``; never changed)."""
        return self.conn.client_id

    @property
    def account_id(self) -> str | None:
        """The account every order carries (``None`` before the guard passed)."""
        return self.conn.account_id

    @property
    def request_counts(self) -> Counter[str]:
        """API messages sent, by kind, since construction (for logging and tests)."""
        return self.conn.request_counts

    @property
    def market_data_type(self) -> int:
        """IB's market-data type in use (1 live, 2 frozen, 3 delayed, 4 delayed-frozen).

        The type IB last delivered, or the requested one before any tick
        arrived; for the STATUS line.
        """
        return self.market.market_data_type

    # -------------------------------------------------------------- listeners

    def add_fill_listener(self, listener: FillListener) -> None:
        """Call ``listener`` once per leg execution (see :mod:`daemon.brokers.ib.executions`)."""
        self.executions.add_fill_listener(listener)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        """Accepted for the protocol; IB reports no settlements (see :meth:`settlement_price`)."""
        self._settlement_listeners.append(listener)

    # -------------------------------------------------------------- connection

    async def connect(self) -> None:
        """Connect, check the accounts, select the data type and deliver today's fills.

        Raises:
            DelayedDataRefusedError: live mode with market_data_type 3 or 4.
            UnsafeAccountError: the login manages an account the configuration
                does not allow trading (nothing was sent).
            ClientIdInUseError: IB says ``client_id`` is in use (326).
            BrokerError: TWS/Gateway could not be reached, or did not answer
                within ``connect_timeout_s``, in ``connect_attempts`` attempts.
        """
        await self.conn.connect()

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting."""
        await self.conn.disconnect()

    # ------------------------------------------------------- account, positions

    async def account(self) -> AccountSnapshot:
        """Cash and net liquidation (dollars) of the checked account.

        Raises:
            BrokerError: not connected, no values, or the summary timed out.
        """
        await self.conn.ready()
        return await self.executions.account()

    async def positions(self) -> list[Position]:
        """Option positions of the checked account (avg cost per share, index points).

        Raises:
            BrokerError: not connected, or ``reqPositions`` timed out.
        """
        await self.conn.ready()
        return await self.executions.positions()

    async def reconcile(
        self,
        journal_positions: Mapping[OptionContract, int],
        expected_order_refs: Iterable[str] = (),
    ) -> Reconciliation:
        """Compare IB's positions and open orders with the journal's; nothing is changed.

        Raises:
            BrokerError: not connected, or a request timed out.
        """
        await self.conn.ready()
        return await self.executions.reconcile(journal_positions, expected_order_refs)

    async def open_orders(self) -> list[BrokerOrder]:
        """Every order working at IB, of every client (``reqAllOpenOrders``).

        Raises:
            BrokerError: not connected, or no answer within ``request_timeout_s``.
        """
        await self.conn.ready()
        return await self.executions.open_orders()

    async def resync_executions(self) -> None:
        """Ask IB for executions again and deliver any not yet delivered.

        Raises:
            BrokerError: not connected, or no answer within ``request_timeout_s``.
        """
        await self.conn.ready()
        await self.executions.resync()

    # ------------------------------------------------------------- market data

    async def market_context(self) -> MarketContext:
        """Current index levels (index points) and the VIX futures curve.

        Raises:
            BrokerError: not connected, SPX or VIX has no value, or a request
                timed out; ``DelayedDataRefusedError`` in live mode on delayed data.
        """
        await self.conn.ready()
        return await self.market.market_context()

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        """Quoted slices for listed expiries with ``min_dte <= DTE <= max_dte`` (calendar days).

        Raises:
            BrokerError: not connected, no such chain or expiry, no underlying
                level, or a request timed out; ``DelayedDataRefusedError`` in
                live mode on delayed data.
        """
        await self.conn.ready()
        return await self.chains.option_chain(symbol, trading_class, min_dte, max_dte, rights)

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Quotes and model greeks for ``contracts``, in order (NaN fields when IB has none).

        Raises:
            BrokerError: not connected, an option not listed, or a look-up
                timed out; ``DelayedDataRefusedError`` in live mode on delayed data.
        """
        await self.conn.ready()
        return await self.market.quote(contracts)

    async def settlement_price(self, contract: OptionContract) -> float | None:
        """The underlying's settlement value for ``contract``'s expiry, index points.

        SPXW (PM-settled): the SPX close of the expiry session. SPX monthlies
        and VIX options (AM-settled): the index open of the expiry session, a
        proxy for the SOQ. ``None`` before 16:00 ET of the expiry date, or
        while IB has no daily bar for it.

        Raises:
            BrokerError: not connected, a historical-data error (162), or no
                answer within ``request_timeout_s``.
        """
        await self.conn.ready()
        return await self.settlements.settlement_price(contract)

    # ------------------------------------------------------------- daily history

    async def index_daily_closes(self, symbol: str, first: date, last: date) -> dict[date, float]:
        """Daily closes of a CBOE index for sessions ``first..last`` (index points).

        Empty when IB does not list the index. See :mod:`daemon.brokers.ib.history`.

        Raises:
            BrokerError: not connected, a historical-data error, pacing budget
                spent, or no answer within ``request_timeout_s``.
        """
        await self.conn.ready()
        return await self.history.index_closes(symbol, first, last)

    async def vix_future_daily_closes(
        self, expiry: date, first: date, last: date
    ) -> dict[date, float]:
        """Daily closes of the monthly VIX future expiring ``expiry`` (VIX points).

        Raises:
            BrokerError: as :meth:`index_daily_closes`.
        """
        await self.conn.ready()
        return await self.history.vix_future_closes(expiry, first, last)

    async def nyse_breadth(self) -> tuple[float, float]:
        """NYSE ``(advancing, declining)`` issues now (``AD-NYSE``; NaN when unavailable).

        Raises:
            BrokerError: not connected, or the look-up or quote failed.
        """
        await self.conn.ready()
        return await self.history.nyse_breadth()

    # ------------------------------------------------------------------ orders

    async def place_order(self, order: ComboOrder) -> OrderResult:
        """Send ``order`` (one BAG, or one single-leg order), walk it, return how it ended.

        ``UNKNOWN`` (with the units filled so far and the reason) when the
        connection stays down past the order's grace, a cancel is never
        confirmed, or a request times out after ``placeOrder``; ``WORKING``
        for an adopted order of another client. See
        :mod:`daemon.brokers.ib.order_flow`.

        Raises:
            UnsafeAccountError, ClientIdInUseError: a fatal refusal happened.
            BrokerError: nothing was sent (not connected, a look-up timed out).
            asyncio.CancelledError: the task was cancelled; a cancel was sent
                for the working order first (best effort, ``stop_cancel_wait_s``).
        """
        return await self.orders.place_order(order)

    async def what_if(self, order: ComboOrder) -> MarginImpact | None:
        """IB's margin for ``order`` without placing it (a what-if order); see
        :mod:`daemon.brokers.ib.what_if`.

        Raises:
            BrokerError: not connected, a look-up failed, IB refused the
                request or did not answer within ``request_timeout_s``.
        """
        return await what_if(self.conn, self.lookup, order)

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Cancel this client's working order ``order_ref``.

        Returns CANCELLED (confirmed, or nothing working under that ref),
        FILLED (it filled instead), WORKING (another client's order) or
        UNKNOWN (no confirmation within ``walk.cancel_wait_s``).

        Raises:
            BrokerError: not connected, or ``reqAllOpenOrders`` timed out.
        """
        await self.conn.ready()
        return await self.orders.cancel_order(order_ref)
