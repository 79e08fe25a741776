"""The Interactive Brokers broker: :class:`daemon.brokers.base.Broker` on ib_async.

One :class:`IBBroker` holds one API session to TWS / IB Gateway (default the
paper Gateway on 127.0.0.1:4002). What it does, in the order ``alvh run``
uses it:

1. :meth:`IBBroker.connect` connects (retrying a busy client id, error 326,
   with a delay or the next id), runs the account guard
   (:func:`daemon.brokers.ib.safety.check_accounts`; raises
   :class:`~daemon.brokers.ib.safety.UnsafeAccountError` before any order
   can exist), selects the market-data type and delivers the day's
   executions that carry an ``orderRef`` to the fill listeners (the journal
   drops the ones it already has, by ``exec_id``).
2. Market data: :meth:`market_context`, :meth:`option_chain` and
   :meth:`quote` open streaming lines in batches no larger than
   ``market_data_lines``, wait up to ``quote_timeout_s`` for bid, ask and
   model greeks, then cancel them. ib_async throttles every message to
   ``max_msgs_per_s`` (<= 50/s, IB's limit). Each chain logs the requests it
   needed (``ib_chain_requests``).
3. Orders: :meth:`place_order` sends one guaranteed BAG (or one single-leg
   order), walks its limit toward ``worst_price`` (see
   :mod:`daemon.brokers.ib.orders`), cancels it after the timeout and returns
   the terminal :class:`~daemon.brokers.base.OrderResult`. An ``orderRef``
   already working or executed at IB is never sent again.
4. Fills: every leg execution with its commission report becomes one
   :class:`~daemon.brokers.base.Fill`, delivered once per ``exec_id``. After
   a reconnect (or 1101/1102) executions since the last one seen are
   requested again, so fills made while disconnected are delivered too.
5. Resilience: a dropped socket (or 1100 not restored within
   ``link_grace_s``) reconnects with exponential backoff; 1101 re-subscribes
   the open market-data lines. Error codes follow
   :mod:`daemon.brokers.ib.errors`.

Units: prices in index points per share; our combo net price is + debit /
- credit. IB's model vega is per vol *point*; :class:`~strategies.domain.ChainSlice`
vega is per 1.00 of vol, so it is multiplied by 100. IB's theta is per
calendar day, like ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from ib_async import IB, Contract, ExecutionFilter, Ticker, Trade
from ib_async import Fill as IBFill

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerOrder,
    ComboOrder,
    Fill,
    FillListener,
    OrderResult,
    OrderState,
    OrderStatus,
    Position,
    SettlementListener,
    closest_expiry,
)
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.errors import ErrorAction, classify
from daemon.brokers.ib.orders import (
    IBOrderSpec,
    OrderWalkPolicy,
    bag_contract,
    ib_order,
    ib_walk,
    order_spec,
)
from daemon.brokers.ib.safety import UnsafeAccountError, check_accounts
from daemon.clock import NEW_YORK
from daemon.crashpoints import crash_point
from strategies.domain import ChainSlice, LegQuote, MarketContext, OptionContract, Right

#: Order statuses after which IB will not fill an order any more.
_IB_DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
_NAN = float("nan")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class IBSettings:
    """Everything the IB adapter is configured with.

    Build it with :meth:`from_config` from ``[broker]``; keys the config does
    not (yet) have keep these defaults.

    Attributes:
        host, port, client_id: where TWS / IB Gateway listens and our API
            client id (Gateway 4002 paper / 4001 live; TWS 7497 / 7496).
        trading_mode, account: see :func:`daemon.brokers.ib.safety.check_accounts`.
        market_data_type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.
        connect_timeout_s: seconds for one connection attempt (handshake + sync).
        request_timeout_s: seconds to wait for one request (details, chain params).
        market_data_lines: most market-data lines open at once (IB's default
            allowance is 100).
        max_msgs_per_s: API messages per second (IB disconnects above 50).
        strike_window_sd: ``n`` in the strike window ``F * iv * sqrt(T) * n``.
        quote_timeout_s: seconds to wait for a batch of quotes to complete.
        vix_option_iv: decimal vol used for the VIX strike window when VVIX
            has no value.
        vix_futures_count: how many VIX futures (front first) market_context reads.
        expiry_targets: trading class -> target DTE (calendar days); when
            given, :meth:`IBBroker.option_chain` quotes only the expiry
            closest to it (ties: shorter), e.g. ``{"SPXW": 14}``.
        walk: limit-price walking (step, interval, timeout).
        commission_wait_s: seconds to wait for commission reports after an
            order ends before delivering fills with commission 0 (logged).
        connect_attempts: attempts of the initial :meth:`IBBroker.connect`.
        client_id_attempts: client ids tried (``client_id``,
            ``client_id + 1``, ...) when IB says the id is in use (326).
        reconnect_initial_s, reconnect_max_s: reconnect backoff, seconds
            (doubling from initial to max).
        link_grace_s: seconds to wait for 1101/1102 after 1100 before
            reconnecting the API session.
        order_disconnect_grace_s: seconds past an order's timeout that
            :meth:`IBBroker.place_order` waits for a reconnect before it
            raises (the order state is then unknown).
    """

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 17
    trading_mode: str = "paper"
    account: str | None = None
    market_data_type: int = 3
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 15.0
    market_data_lines: int = 100
    max_msgs_per_s: int = 45
    strike_window_sd: float = 2.0
    quote_timeout_s: float = 5.0
    vix_option_iv: float = 1.0
    vix_futures_count: int = 8
    expiry_targets: Mapping[str, int] = field(default_factory=dict)
    walk: OrderWalkPolicy = field(default_factory=OrderWalkPolicy)
    commission_wait_s: float = 5.0
    connect_attempts: int = 3
    client_id_attempts: int = 3
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    link_grace_s: float = 30.0
    order_disconnect_grace_s: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.market_data_type <= 4:
            raise ValueError("market_data_type must be 1..4")
        if self.market_data_lines < 1:
            raise ValueError("market_data_lines must be >= 1")
        if not 1 <= self.max_msgs_per_s <= 50:
            raise ValueError("max_msgs_per_s must be 1..50")

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> IBSettings:
        """Settings from a ``BrokerConfig`` (any object with those attributes).

        Walk keys ``walk_step``, ``walk_interval_s``, ``walk_timeout_s`` and
        ``combo_tick`` build :class:`OrderWalkPolicy`; ``overrides`` win.
        """
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name != "walk" and hasattr(config, name):
                values[name] = getattr(config, name)
        walk = OrderWalkPolicy()
        walk_keys = {
            "walk_step": "step",
            "walk_interval_s": "interval_s",
            "walk_timeout_s": "timeout_s",
            "combo_tick": "combo_tick",
        }
        walk_values = {
            target: getattr(config, key)
            for key, target in walk_keys.items()
            if hasattr(config, key)
        }
        if walk_values:
            walk = replace(walk, **walk_values)
        values["walk"] = walk
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PositionDifference:
    """A contract where IB and the journal disagree (signed contracts, + long)."""

    contract: OptionContract
    journal_quantity: int
    broker_quantity: int


@dataclass(frozen=True, slots=True)
class OpenOrderInfo:
    """An order working at IB that the journal does not expect."""

    order_ref: str
    order_id: int
    client_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Result of :meth:`IBBroker.reconcile`; empty lists mean IB agrees with the journal."""

    positions: tuple[PositionDifference, ...]
    unexpected_open_orders: tuple[OpenOrderInfo, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing differs."""
        return not self.positions and not self.unexpected_open_orders


@dataclass(slots=True)
class _Quote:
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


@dataclass(slots=True)
class _Tracker:
    order: ComboOrder
    spec: IBOrderSpec
    order_id: int
    ib_status: str = "PendingSubmit"
    ib_filled: float = 0.0
    reject: str | None = None
    cancel_message: str | None = None


class _NullLog:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


async def _bounded(awaitable: Awaitable[_T], timeout: float) -> _T:
    """``await awaitable`` for at most ``timeout`` seconds (TimeoutError after)."""
    async with asyncio.timeout(timeout):
        return await awaitable


def _finite(value: float | None) -> float:
    if value is None:
        return _NAN
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _NAN
    return number if math.isfinite(number) else _NAN


class IBBroker:
    """:class:`daemon.brokers.base.Broker` for TWS / IB Gateway (paper or live).

    Args:
        settings: an :class:`IBSettings` (see :meth:`IBSettings.from_config`).
        log: structlog-style logger (``log.info(event, **fields)``); a silent
            one when ``None``.
        clock: current timezone-aware time (defaults to the system clock);
            decides the session date and DTE.
        fill_filter: which ``orderRef`` values are ours; executions with an
            empty ``orderRef`` are never delivered. Default: any non-empty ref.
        ib: the ib_async client (tests may pass one); a new ``IB()`` by default.
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
        self.log = log if log is not None else _NullLog()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fill_filter = fill_filter or bool
        self.ib = ib or IB()
        self.ib.client.MaxRequests = self.settings.max_msgs_per_s
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.execDetailsEvent += self._on_exec_details
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_order_status
        self.ib.updateEvent += self._notify
        self.ib.client.throttleStart += self._on_throttle_start
        self.ib.client.throttleEnd += self._on_throttle_end
        self._throttling = False
        self.client_id = self.settings.client_id
        self.account_id: str | None = None
        #: API messages sent, by kind, since construction (for logging and tests).
        self.request_counts: Counter[str] = Counter()
        self._fill_listeners: list[FillListener] = []
        self._settlement_listeners: list[SettlementListener] = []
        self._delivered: set[str] = set()
        self._pending: dict[str, tuple[Fill, IBFill]] = {}
        self._fills_by_ref: dict[str, dict[str, Fill]] = {}
        self._bag_execs: dict[str, dict[str, tuple[float, float]]] = {}
        self._ignored: set[str] = set()
        self._last_exec_time: datetime | None = None
        self._trackers: dict[int, _Tracker] = {}
        self._md_failed: dict[int, tuple[int, str]] = {}
        self._md_warned: set[tuple[int, int]] = set()
        self._active_lines: dict[int, Contract] = {}
        self._quote_lock = asyncio.Lock()
        self._update = asyncio.Event()
        self._connected = asyncio.Event()
        self._closing = False
        self._connecting = False
        self._saw_326 = False
        self._fatal: BaseException | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._index_cache: dict[str, Contract | None] = {}
        self._option_cache: dict[OptionContract, Contract] = {}
        self._listed_cache: dict[tuple[str, str, date, Right], dict[float, Contract]] = {}
        self._chain_cache: dict[tuple[str, str], tuple[date, list[date], list[float]]] = {}
        self._futures_cache: tuple[date, list[tuple[date, Contract]]] | None = None

    # ------------------------------------------------------------------ listeners

    def add_fill_listener(self, listener: FillListener) -> None:
        """Call ``listener`` once per leg execution (with its commission)."""
        self._fill_listeners.append(listener)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        """Accepted for the protocol; IB expiries are not reported as settlements yet."""
        self._settlement_listeners.append(listener)

    # ----------------------------------------------------------------- connection

    @property
    def connected(self) -> bool:
        """Whether the API session is up and the account guard has passed."""
        return self._connected.is_set() and self.ib.isConnected()

    async def connect(self) -> None:
        """Connect, check the accounts, select the data type and deliver today's fills.

        Raises:
            UnsafeAccountError: the login manages an account the configuration
                does not allow trading (nothing was sent).
            BrokerError: TWS/Gateway could not be reached in
                ``connect_attempts`` attempts.
        """
        self._closing = False
        self._fatal = None
        await self._connect_with_retries(self.settings.connect_attempts)

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting."""
        self._closing = True
        for task in (self._reconnect_task, self._link_task, self._resync_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._connected.clear()
        if self.ib.isConnected():
            self.ib.disconnect()

    async def _connect_with_retries(self, attempts: int | None) -> None:
        s = self.settings
        delay = s.reconnect_initial_s
        attempt = 0
        in_use_streak = 0
        while not self._closing:
            attempt += 1
            try:
                await self._connect_once()
                return
            except UnsafeAccountError:
                raise
            except (OSError, ConnectionError, TimeoutError) as exc:
                bumped = False
                if self._saw_326:
                    in_use_streak += 1
                    if in_use_streak >= 2 or attempts is not None:
                        offset = (self.client_id - s.client_id + 1) % max(s.client_id_attempts, 1)
                        self.client_id = s.client_id + offset
                        bumped = True
                else:
                    in_use_streak = 0
                self.log.warning(
                    "ib_connect_failed",
                    host=s.host,
                    port=s.port,
                    attempt=attempt,
                    error=str(exc) or type(exc).__name__,
                    client_id_in_use=self._saw_326,
                    next_client_id=self.client_id,
                )
                if attempts is not None and attempt >= attempts:
                    raise BrokerError(
                        f"cannot connect to TWS/Gateway at {s.host}:{s.port} after {attempt} "
                        f"attempts: {exc or type(exc).__name__}"
                    ) from exc
                if not bumped:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, s.reconnect_max_s)

    async def _connect_once(self) -> None:
        s = self.settings
        self._saw_326 = False
        self._connecting = True
        try:
            if self.ib.isConnected():
                self.ib.disconnect()
            await self.ib.connectAsync(
                s.host, s.port, clientId=self.client_id, timeout=s.connect_timeout_s
            )
        finally:
            self._connecting = False
        managed = self.ib.managedAccounts()
        try:
            self.account_id = check_accounts(managed, s.trading_mode, s.account)
        except UnsafeAccountError as exc:
            self._fatal = exc
            self._closing = True
            self.log.error("ib_unsafe_account", managed_accounts=managed, reason=str(exc))
            self.ib.disconnect()
            raise
        self.ib.reqMarketDataType(s.market_data_type)
        self._connected.set()
        self.log.info(
            "ib_connected",
            host=s.host,
            port=s.port,
            client_id=self.client_id,
            account=self.account_id,
            trading_mode=s.trading_mode,
            market_data_type=s.market_data_type,
        )
        await self._resync_executions()

    def _on_disconnected(self) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self._notify()
        if self._closing or self._connecting or not was:
            return
        self.log.warning("ib_disconnected", client_id=self.client_id)
        self._start_reconnect()

    def _start_reconnect(self) -> None:
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            await self._connect_with_retries(None)
        except UnsafeAccountError:
            pass  # logged; self._fatal makes every later call raise
        except Exception as exc:  # pragma: no cover - defensive: never lose the task silently
            self.log.error("ib_reconnect_failed", error=repr(exc))

    async def _ready(self) -> None:
        """Wait (bounded) for a usable session; raise the fatal error if there is one."""
        if self._fatal is not None:
            raise self._fatal
        if self.connected:
            return
        if self._reconnect_task is None or self._reconnect_task.done():
            if self._closing:
                raise BrokerError("IB broker is disconnected")
            self._start_reconnect()
        try:
            await _bounded(self._connected.wait(), self.settings.order_disconnect_grace_s)
        except TimeoutError as exc:
            raise BrokerError("not connected to TWS/Gateway") from exc
        if self._fatal is not None:
            raise self._fatal

    # --------------------------------------------------------------------- events

    def _notify(self, *_args: Any) -> None:
        """Wake every waiter (called after each batch of IB messages)."""
        if self._pending:
            self._drain()
        event, self._update = self._update, asyncio.Event()
        event.set()

    def _on_throttle_start(self) -> None:
        """ib_async started queueing messages to stay under ``max_msgs_per_s``."""
        self._throttling = True
        self.request_counts["throttled"] += 1
        self.log.debug("ib_throttle_start", max_msgs_per_s=self.settings.max_msgs_per_s)

    def _on_throttle_end(self) -> None:
        self._throttling = False
        self._notify()

    async def _wait_update(self, timeout: float) -> None:
        """Sleep until the next batch of IB messages or ``timeout`` seconds."""
        event = self._update
        # asyncio.timeout, not wait_for: wait_for can swallow a cancellation on 3.11
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await event.wait()

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        policy = classify(code)
        fields: dict[str, Any] = {"code": code, "req_id": req_id, "message": message}
        if contract is None and req_id > 0:
            ticker = self.ib.wrapper.reqId2Ticker.get(req_id)
            contract = ticker.contract if ticker is not None else None
        if contract is not None and contract.conId:
            fields["contract"] = contract.localSymbol or contract.symbol
        action = policy.action
        if action is ErrorAction.MARKET_DATA_UNAVAILABLE and contract is not None:
            self._md_failed[contract.conId] = (code, message)
            key = (code, contract.conId if code != 354 else 0)
            if key in self._md_warned:
                self.log.debug("ib_error", meaning=policy.meaning, **fields)
                self._notify()
                return
            self._md_warned.add(key)
        getattr(self.log, policy.severity.value)("ib_error", meaning=policy.meaning, **fields)
        tracker = self._trackers.get(req_id)
        if action is ErrorAction.ORDER_REJECTED and tracker is not None:
            tracker.reject = message
        elif action is ErrorAction.ORDER_CANCELLED and tracker is not None:
            tracker.cancel_message = message
        elif action is ErrorAction.CLIENT_ID_IN_USE:
            self._saw_326 = True
        elif action is ErrorAction.CONNECTIVITY_LOST:
            self._link_lost()
        elif action is ErrorAction.RESTORED_DATA_LOST:
            self._link_restored(resubscribe=True)
        elif action is ErrorAction.RESTORED:
            self._link_restored(resubscribe=False)
        self._notify()

    def _link_lost(self) -> None:
        if self._link_task is None or self._link_task.done():
            self._link_task = asyncio.ensure_future(self._link_watchdog())

    async def _link_watchdog(self) -> None:
        await asyncio.sleep(self.settings.link_grace_s)
        if self._closing or not self.ib.isConnected():
            return
        self.log.warning("ib_link_not_restored", grace_s=self.settings.link_grace_s)
        self.ib.disconnect()  # emits disconnectedEvent -> reconnect with backoff

    def _link_restored(self, resubscribe: bool) -> None:
        if self._link_task is not None and not self._link_task.done():
            self._link_task.cancel()
        if resubscribe:
            for contract in list(self._active_lines.values()):
                self.ib.cancelMktData(contract)
                self.ib.reqMktData(contract, "", False, False)
                self.request_counts["mkt_data_resubscribe"] += 2
            self.log.info("ib_market_data_resubscribed", lines=len(self._active_lines))
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.ensure_future(self._resync_safely())

    async def _resync_safely(self) -> None:
        try:
            await self._resync_executions()
        except (BrokerError, ConnectionError, TimeoutError) as exc:
            self.log.warning("ib_execution_resync_failed", error=str(exc))

    def _on_order_status(self, trade: Trade) -> None:
        tracker = self._trackers.get(trade.order.orderId)
        if tracker is None or trade.order.clientId not in (0, self.client_id):
            return
        status = trade.orderStatus.status
        if status != "PendingCancel" or tracker.ib_status not in _IB_DONE:
            tracker.ib_status = status
        tracker.ib_filled = max(tracker.ib_filled, float(trade.orderStatus.filled or 0.0))

    def _on_exec_details(self, trade: Trade, fill: IBFill) -> None:
        self._ingest(fill)

    def _on_commission(self, trade: Trade, fill: IBFill, report: Any) -> None:
        self._ingest(fill)
        self._drain()

    # ---------------------------------------------------------------------- fills

    async def _resync_executions(self) -> None:
        """Ask for executions since the last one seen (all of today's the first time)."""
        flt = ExecutionFilter()
        if self._last_exec_time is not None:
            since = self._last_exec_time.astimezone(UTC) - timedelta(minutes=1)
            flt = ExecutionFilter(time=since.strftime("%Y%m%d-%H:%M:%S"))
        self.request_counts["executions"] += 1
        fills = await _bounded(self.ib.reqExecutionsAsync(flt), self.settings.request_timeout_s)
        known = self.ib.wrapper.fills
        for fill in [*self.ib.fills(), *fills]:
            self._ingest(known.get(fill.execution.execId, fill))
        self._drain()
        self.log.info("ib_executions_synced", since=flt.time or None, received=len(fills))

    def _ingest(self, ib_fill: IBFill) -> None:
        """Remember one execution; leg executions wait for their commission report."""
        ex = ib_fill.execution
        exec_id = ex.execId
        if not exec_id or exec_id in self._delivered or exec_id in self._ignored:
            return
        if exec_id in self._pending:
            return
        when = ex.time if ex.time.tzinfo else ex.time.replace(tzinfo=UTC)
        if self._last_exec_time is None or when > self._last_exec_time:
            self._last_exec_time = when
        ref = ex.orderRef or ""
        if ib_fill.contract.secType == "BAG":
            self._bag_execs.setdefault(ref, {})[exec_id] = (float(ex.shares), float(ex.price))
            self._ignored.add(exec_id)
            return
        contract = ibc.to_option_contract(ib_fill.contract)
        if not ref or contract is None or not self._fill_filter(ref):
            self._ignored.add(exec_id)
            return
        sign = 1 if ex.side.upper() in ("BOT", "BUY") else -1
        fill = Fill(
            exec_id,
            ref,
            contract,
            sign * round(float(ex.shares)),
            float(ex.price),
            0.0,
            when,
        )
        self._pending[exec_id] = (fill, ib_fill)

    def _drain(self, force_refs: Iterable[str] = ()) -> None:
        """Deliver pending fills whose commission arrived (or of ``force_refs``, with 0)."""
        forced = set(force_refs)
        for exec_id, (fill, ib_fill) in list(self._pending.items()):
            report = ib_fill.commissionReport
            if report is not None and report.execId:
                self._deliver(replace(fill, commission=float(report.commission)))
            elif fill.order_ref in forced:
                self.log.warning("ib_commission_missing", exec_id=exec_id, order_ref=fill.order_ref)
                self._deliver(fill)

    def _deliver(self, fill: Fill) -> None:
        self._pending.pop(fill.exec_id, None)
        if fill.exec_id in self._delivered:
            return
        self._delivered.add(fill.exec_id)
        self._fills_by_ref.setdefault(fill.order_ref, {})[fill.exec_id] = fill
        for listener in self._fill_listeners:
            try:
                listener(fill)
            except Exception as exc:
                self.log.error("ib_fill_listener_failed", exec_id=fill.exec_id, error=repr(exc))

    # ----------------------------------------------------------------- account

    async def account(self) -> AccountSnapshot:
        """Cash and net liquidation (dollars) of the checked account."""
        await self._ready()
        assert self.account_id is not None
        values = {
            v.tag: v.value
            for v in self.ib.accountValues(self.account_id)
            if v.currency in ("USD", "BASE", "")
        }
        if "NetLiquidation" not in values:
            summary = await _bounded(
                self.ib.accountSummaryAsync(self.account_id), self.settings.request_timeout_s
            )
            values = {v.tag: v.value for v in summary}
        try:
            net_liq = float(values["NetLiquidation"])
            cash = float(values.get("TotalCashValue", values.get("CashBalance", "nan")))
        except (KeyError, ValueError) as exc:
            raise BrokerError(f"IB reported no account values for {self.account_id}") from exc
        return AccountSnapshot(self.account_id, cash, net_liq)

    async def positions(self) -> list[Position]:
        """Option positions of the checked account (avg cost per share, index points)."""
        await self._ready()
        out = []
        for pos in self.ib.positions(self.account_id or ""):
            contract = ibc.to_option_contract(pos.contract)
            if contract is None or not pos.position:
                continue
            out.append(
                Position(contract, round(pos.position), float(pos.avgCost) / contract.multiplier)
            )
        return out

    async def reconcile(
        self,
        journal_positions: Mapping[OptionContract, int],
        expected_order_refs: Iterable[str] = (),
    ) -> Reconciliation:
        """Compare IB's positions and open orders with what the journal thinks.

        Args:
            journal_positions: signed contracts per option the journal holds.
            expected_order_refs: ``orderRef`` values the journal has working.

        Returns:
            The differences (the daemon logs them); nothing is changed.
        """
        await self._ready()
        broker = {p.contract: p.quantity for p in await self.positions()}
        diffs = [
            PositionDifference(c, int(journal_positions.get(c, 0)), broker.get(c, 0))
            for c in sorted(set(broker) | set(journal_positions), key=lambda c: c.local_symbol)
            if int(journal_positions.get(c, 0)) != broker.get(c, 0)
        ]
        expected = set(expected_order_refs)
        self.request_counts["open_orders"] += 1
        trades = await _bounded(self.ib.reqAllOpenOrdersAsync(), self.settings.request_timeout_s)
        unexpected = [
            OpenOrderInfo(t.order.orderRef, t.order.orderId, t.order.clientId, t.orderStatus.status)
            for t in trades
            if t.orderStatus.status not in _IB_DONE and t.order.orderRef not in expected
        ]
        result = Reconciliation(tuple(diffs), tuple(unexpected))
        for d in diffs:
            self.log.warning(
                "ib_reconcile_position",
                contract=d.contract.local_symbol,
                journal=d.journal_quantity,
                broker=d.broker_quantity,
            )
        for o in unexpected:
            self.log.warning(
                "ib_reconcile_open_order",
                order_ref=o.order_ref,
                order_id=o.order_id,
                status=o.status,
            )
        return result

    async def open_orders(self) -> list[BrokerOrder]:
        """Every order working at IB, of every client (``reqAllOpenOrders``)."""
        await self._ready()
        self.request_counts["open_orders"] += 1
        trades = await _bounded(self.ib.reqAllOpenOrdersAsync(), self.settings.request_timeout_s)
        out = []
        for t in trades:
            if t.orderStatus.status in _IB_DONE:
                continue
            filled = round(float(t.orderStatus.filled or 0.0))
            out.append(
                BrokerOrder(
                    t.order.orderRef or "",
                    t.order.orderId,
                    t.order.clientId,
                    OrderState.PARTIALLY_FILLED if filled else OrderState.WORKING,
                    filled,
                    round(float(t.orderStatus.remaining or 0.0)),
                    None,
                    t.order.permId,
                )
            )
        return out

    async def resync_executions(self) -> None:
        """Re-request executions and deliver those not yet delivered."""
        await self._ready()
        await self._resync_executions()

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Cancel this client's working order ``order_ref``."""
        trade = await self._open_trade(order_ref)
        if trade is None:
            return OrderStatus.CANCELLED
        if trade.order.clientId != self.client_id:
            return OrderStatus.WORKING
        self.request_counts["cancel_order"] += 1
        self.ib.cancelOrder(trade.order)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.walk.cancel_wait_s
        while trade.orderStatus.status not in _IB_DONE:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return OrderStatus.UNKNOWN
            await self._wait_update(remaining)
        return OrderStatus.CANCELLED

    async def settlement_price(self, contract: OptionContract) -> float | None:
        """Not read from IB yet: ``None`` (the position stays until IB removes it)."""
        return None

    # ---------------------------------------------------------------- contracts

    async def _details(self, query: Contract, kind: str) -> list[Contract]:
        self.request_counts[kind] += 1
        details = await _bounded(
            self.ib.reqContractDetailsAsync(query), self.settings.request_timeout_s
        )
        return [d.contract for d in details if d.contract is not None]

    async def _index_contract(self, symbol: str) -> Contract | None:
        if symbol not in self._index_cache:
            found = await self._details(ibc.index(symbol), "contract_details")
            self._index_cache[symbol] = found[0] if len(found) == 1 else None
            if len(found) != 1:
                self.log.warning("ib_index_unavailable", symbol=symbol, matches=len(found))
        return self._index_cache[symbol]

    async def _vix_futures(self) -> list[tuple[date, Contract]]:
        session = self._session()
        if self._futures_cache is None or self._futures_cache[0] != session:
            found = await self._details(ibc.vix_futures_query(), "contract_details")
            futures = sorted(
                (ibc.parse_ib_date(c.lastTradeDateOrContractMonth), c)
                for c in found
                if c.tradingClass == ibc.VIX_FUTURE_CLASS
            )
            futures = [(d, c) for d, c in futures if d >= session]
            self._futures_cache = (session, futures[: self.settings.vix_futures_count])
        return self._futures_cache[1]

    async def _qualified(self, contract: OptionContract) -> Contract:
        cached = self._option_cache.get(contract)
        if cached is not None:
            return cached
        found = await self._details(ibc.ib_option(contract), "contract_details")
        if len(found) != 1:
            raise BrokerError(f"IB lists {len(found)} contracts for {contract.local_symbol}")
        self._option_cache[contract] = found[0]
        return found[0]

    async def _chain_params(
        self, symbol: str, trading_class: str
    ) -> tuple[list[date], list[float]]:
        session = self._session()
        cached = self._chain_cache.get((symbol, trading_class))
        if cached is not None and cached[0] == session:
            return cached[1], cached[2]
        underlying = await self._index_contract(symbol)
        if underlying is None:
            raise BrokerError(f"IB has no {symbol} index contract")
        self.request_counts["sec_def_opt_params"] += 1
        chains = await _bounded(
            self.ib.reqSecDefOptParamsAsync(symbol, "", "IND", underlying.conId),
            self.settings.request_timeout_s,
        )
        mine = [c for c in chains if c.tradingClass == trading_class]
        if not mine:
            raise BrokerError(f"IB lists no {symbol} {trading_class} options")
        chain = next((c for c in mine if c.exchange == "SMART"), mine[0])
        expiries = sorted(ibc.parse_ib_date(e) for e in chain.expirations)
        strikes = sorted(float(k) for k in chain.strikes)
        self._chain_cache[(symbol, trading_class)] = (session, expiries, strikes)
        return expiries, strikes

    async def _listed(
        self, symbol: str, trading_class: str, expiry: date, right: Right
    ) -> dict[float, Contract]:
        key = (symbol, trading_class, expiry, right)
        if key not in self._listed_cache:
            found = await self._details(
                ibc.option_query(symbol, trading_class, expiry, right), "contract_details"
            )
            listed = {float(c.strike): c for c in found if c.tradingClass == trading_class}
            self._listed_cache[key] = listed
            for c in listed.values():
                oc = ibc.to_option_contract(c)
                if oc is not None:
                    self._option_cache.setdefault(oc, c)
        return self._listed_cache[key]

    def _session(self) -> date:
        return self._clock().astimezone(NEW_YORK).date()

    # --------------------------------------------------------------- market data

    async def _quotes(self, contracts: Sequence[Contract], options: bool) -> list[_Quote]:
        """Quotes for qualified ``contracts`` in batches within the line budget."""
        out: list[_Quote] = []
        size = self.settings.market_data_lines
        async with self._quote_lock:
            for i in range(0, len(contracts), size):
                out.extend(await self._quote_batch(contracts[i : i + size], options))
        return out

    async def _quote_batch(self, batch: Sequence[Contract], options: bool) -> list[_Quote]:
        loop = asyncio.get_running_loop()
        tickers: list[Ticker] = []
        for contract in batch:
            self._md_failed.pop(contract.conId, None)
            tickers.append(self.ib.reqMktData(contract, "", False, False))
            self._active_lines[contract.conId] = contract
            self.request_counts["mkt_data"] += 1
        deadline = loop.time() + self.settings.quote_timeout_s
        try:
            while True:
                current = [self.ib.ticker(c) or t for c, t in zip(batch, tickers, strict=True)]
                done = all(
                    c.conId in self._md_failed or self._complete(t, options)
                    for c, t in zip(batch, current, strict=True)
                )
                if self._throttling:
                    # requests still queued by the pacing throttle: the timeout
                    # runs from when they are actually sent
                    deadline = loop.time() + self.settings.quote_timeout_s
                remaining = deadline - loop.time()
                if done or remaining <= 0:
                    break
                await self._wait_update(min(remaining, 0.25))
            return [self._read(t) for t in current]
        finally:
            for contract in batch:
                self._active_lines.pop(contract.conId, None)
                if self.ib.isConnected():
                    self.ib.cancelMktData(contract)
                    self.request_counts["mkt_data_cancel"] += 1

    @staticmethod
    def _complete(ticker: Ticker, options: bool) -> bool:
        bid, ask = _finite(ticker.bid), _finite(ticker.ask)
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
            math.isfinite(_finite(ticker.last))
            or (math.isfinite(bid) and math.isfinite(ask))
            or math.isfinite(_finite(ticker.close))
        )

    @staticmethod
    def _read(ticker: Ticker) -> _Quote:
        q = _Quote(
            bid=_finite(ticker.bid),
            ask=_finite(ticker.ask),
            last=_finite(ticker.last),
            close=_finite(ticker.close),
        )
        if math.isfinite(q.bid) and q.bid < 0:
            q.bid = _NAN
        if math.isfinite(q.ask) and q.ask <= 0:
            q.ask = _NAN
        g = ticker.modelGreeks
        if g is not None:
            q.iv = _finite(g.impliedVol)
            q.delta = _finite(g.delta)
            q.gamma = _finite(g.gamma)
            q.vega = _finite(g.vega) * 100.0  # IB: per vol point; ours: per 1.00 of vol
            q.theta = _finite(g.theta)
            q.und_price = _finite(g.undPrice)
        return q

    async def market_context(self) -> MarketContext:
        """SPX, VIX, VIX9D, VIX3M, VVIX, SKEW (where available) and the VIX futures curve.

        Raises:
            BrokerError: SPX or VIX has no value.
        """
        await self._ready()
        indices = {s: await self._index_contract(s) for s in ibc.CONTEXT_INDICES}
        futures = await self._vix_futures()
        contracts = [c for c in indices.values() if c is not None] + [c for _, c in futures]
        quotes = await self._quotes(contracts, options=False)
        by_con = {c.conId: q.level for c, q in zip(contracts, quotes, strict=True)}

        def level(symbol: str) -> float | None:
            contract = indices.get(symbol)
            value = by_con.get(contract.conId, _NAN) if contract is not None else _NAN
            return value if math.isfinite(value) else None

        spx, vix = level("SPX"), level("VIX")
        if spx is None or vix is None:
            raise BrokerError(f"no SPX/VIX level from IB (SPX={spx}, VIX={vix})")
        curve = {expiry: by_con[c.conId] for expiry, c in futures if math.isfinite(by_con[c.conId])}
        self.log.info(
            "ib_market_context",
            lines=len(contracts),
            spx=spx,
            vix=vix,
            vix_futures=len(curve),
        )
        return MarketContext(
            self._session(),
            spx,
            vix,
            vix9d=level("VIX9D"),
            vix3m=level("VIX3M"),
            vvix=level("VVIX"),
            skew=level("SKEW"),
            vix_futures=curve,
        )

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        """Quoted slices for listed expiries with ``min_dte <= DTE <= max_dte``.

        Only strikes inside the expected-move window are quoted (see
        :func:`daemon.brokers.ib.contracts.strike_window`); with an
        ``expiry_targets`` entry for ``trading_class`` only the expiry closest
        to the target DTE is. Strikes without a complete quote are NaN.

        Raises:
            BrokerError: no such chain, no expiry in the window, or no
                underlying level.
        """
        await self._ready()
        started = asyncio.get_running_loop().time()
        before = sum(self.request_counts.values())
        now = self._clock()
        session = now.astimezone(NEW_YORK).date()
        expirations, _strikes = await self._chain_params(symbol, trading_class)
        expiries = [e for e in expirations if min_dte <= (e - session).days <= max_dte]
        target = self.settings.expiry_targets.get(trading_class)
        if target is not None:
            expiries = closest_expiry(expiries, session, target)
        if not expiries:
            raise BrokerError(
                f"IB lists no {symbol} {trading_class} expiry with DTE {min_dte}..{max_dte}"
            )
        forwards, iv = await self._underlying_levels(symbol, expiries)

        plan: list[tuple[date, Right, float, float, list[Contract]]] = []
        for expiry in expiries:
            forward = forwards.get(expiry)
            if forward is None:
                self.log.warning("ib_chain_no_forward", symbol=symbol, expiry=expiry.isoformat())
                continue
            years = ibc.years_to_expiry(now, expiry, symbol, trading_class)
            move = ibc.expected_move(forward, iv, years, self.settings.strike_window_sd)
            for right in rights:
                listed = await self._listed(symbol, trading_class, expiry, right)
                window = ibc.strike_window(list(listed), forward, move, right)
                plan.append((expiry, right, forward, years, [listed[k] for k in window]))
        contracts = [c for *_, cs in plan for c in cs]
        lines = len(contracts)
        batches = math.ceil(lines / self.settings.market_data_lines) if lines else 0
        self.log.info(
            "ib_chain_plan",
            symbol=symbol,
            trading_class=trading_class,
            expiries=[e.isoformat() for e in expiries],
            lines=lines,
            batches=batches,
            line_budget=self.settings.market_data_lines,
        )
        quotes = await self._quotes(contracts, options=True)
        slices: list[ChainSlice] = []
        i = 0
        for expiry, right, forward, years, cs in plan:
            qs = quotes[i : i + len(cs)]
            i += len(cs)
            if symbol == "SPX":
                unds = [q.und_price for q in qs if math.isfinite(q.und_price)]
                if unds:
                    forward = statistics.median(unds)

            def col(name: str, qs: list[_Quote] = qs) -> np.ndarray:
                return np.array([getattr(q, name) for q in qs], dtype=np.float64)

            slices.append(
                ChainSlice(
                    symbol=symbol,
                    trading_class=trading_class,
                    expiry=expiry,
                    right=right,
                    dte=(expiry - session).days,
                    t_years=years,
                    forward=forward,
                    strikes=np.array([float(c.strike) for c in cs], dtype=np.float64),
                    bid=col("bid"),
                    ask=col("ask"),
                    iv=col("iv"),
                    delta=col("delta"),
                    gamma=col("gamma"),
                    vega=col("vega"),
                    theta=col("theta"),
                )
            )
        quoted = sum(int(np.isfinite(s.bid).sum()) for s in slices)
        self.log.info(
            "ib_chain_requests",
            symbol=symbol,
            trading_class=trading_class,
            expiries=len({s.expiry for s in slices}),
            lines=lines,
            quoted=quoted,
            messages=sum(self.request_counts.values()) - before,
            seconds=round(asyncio.get_running_loop().time() - started, 3),
        )
        return slices

    async def _underlying_levels(
        self, symbol: str, expiries: Sequence[date]
    ) -> tuple[dict[date, float], float]:
        """Forward per expiry (index points) and the decimal vol for the strike window."""
        if symbol == "VIX":
            futures = dict(await self._vix_futures())
            vvix = await self._index_contract("VVIX")
            wanted = [c for c in futures.values()] + ([vvix] if vvix is not None else [])
            quotes = await self._quotes(wanted, options=False)
            levels = {c.conId: q.level for c, q in zip(wanted, quotes, strict=True)}
            forwards: dict[date, float] = {}
            for expiry in expiries:
                contract = futures.get(expiry)
                if contract is None and futures:
                    nearest = min(futures, key=lambda d: abs((d - expiry).days))
                    contract = futures[nearest]
                    self.log.warning(
                        "ib_vix_future_mismatch",
                        option_expiry=expiry.isoformat(),
                        future_expiry=nearest.isoformat(),
                    )
                value = levels.get(contract.conId, _NAN) if contract is not None else _NAN
                if math.isfinite(value):
                    forwards[expiry] = value
            vol = levels.get(vvix.conId, _NAN) / 100.0 if vvix is not None else _NAN
            return forwards, vol if math.isfinite(vol) and vol > 0 else self.settings.vix_option_iv
        spx = await self._index_contract(symbol)
        vix = await self._index_contract("VIX")
        wanted = [c for c in (spx, vix) if c is not None]
        quotes = await self._quotes(wanted, options=False)
        levels = {c.conId: q.level for c, q in zip(wanted, quotes, strict=True)}
        spot = levels.get(spx.conId, _NAN) if spx is not None else _NAN
        if not math.isfinite(spot):
            raise BrokerError(f"no {symbol} level from IB")
        vol = levels.get(vix.conId, _NAN) / 100.0 if vix is not None else _NAN
        return dict.fromkeys(expiries, spot), vol if math.isfinite(vol) and vol > 0 else 0.20

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Quotes and model greeks for ``contracts``, in order (NaN fields when IB has none)."""
        await self._ready()
        qualified = [await self._qualified(c) for c in contracts]
        quotes = await self._quotes(qualified, options=True)
        return [
            LegQuote(c, q.bid, q.ask, q.iv, q.delta, q.gamma, q.vega, q.theta)
            for c, q in zip(contracts, quotes, strict=True)
        ]

    # -------------------------------------------------------------------- orders

    async def place_order(self, order: ComboOrder) -> OrderResult:
        """Send ``order`` (one BAG, or one single-leg order), walk it, return its end state.

        Never sends an ``orderRef`` that is already working or executed at IB:
        a working one is adopted (walked and timed out like a new one), an
        executed one is reported from its executions.

        Raises:
            UnsafeAccountError: the account guard failed.
            BrokerError: not connected, or the connection stayed down past the
                order's timeout plus ``order_disconnect_grace_s`` (the order's
                state at IB is then unknown; it is found again by ``orderRef``).
        """
        await self._ready()
        ref = order.order_ref
        try:
            spec = order_spec(order)
            if not math.isfinite(order.limit_price):
                raise ValueError(f"limit price {order.limit_price} is not finite")
        except ValueError as exc:
            return OrderResult(ref, OrderStatus.REJECTED, 0, None, (), str(exc))
        walk = self.settings.walk
        prices = ib_walk(order, spec, walk.step, walk.combo_tick)

        existing = await self._open_trade(ref)
        if existing is None and (self._leg_fills(ref) or ref in self._bag_execs):
            self._drain(force_refs=[ref])
            self.log.warning("ib_order_not_resubmitted", order_ref=ref, reason="executions exist")
            return self._result(
                _Tracker(order, spec, 0, ib_status="Filled"),
                "executions for this orderRef already exist at IB; not resubmitted",
            )
        if existing is not None:
            trade = existing
            contract = trade.contract
            ib_ord = trade.order
            current = float(ib_ord.lmtPrice) if ib_ord.lmtPrice is not None else prices[0]
            step_index = next(
                (
                    i
                    for i, p in enumerate(prices)
                    if (p >= current - 1e-9 if spec.action == "BUY" else p <= current + 1e-9)
                ),
                len(prices) - 1,
            )
            self.log.warning(
                "ib_order_adopted",
                order_ref=ref,
                order_id=ib_ord.orderId,
                client_id=ib_ord.clientId,
                limit=current,
            )
        else:
            con_ids = [(await self._qualified(leg.contract)).conId for leg in order.legs]
            if spec.is_bag:
                contract = bag_contract(order.legs, con_ids)
            else:
                contract = self._option_cache[order.legs[0].contract]
            assert self.account_id is not None
            ib_ord = ib_order(spec, prices[0], ref, self.account_id)
            self.request_counts["place_order"] += 1
            trade = self.ib.placeOrder(contract, ib_ord)
            step_index = 0
            self.log.info(
                "ib_order_submitted",
                order_ref=ref,
                order_id=ib_ord.orderId,
                action=spec.action,
                quantity=spec.quantity,
                ib_limit=prices[0],
                ib_worst=prices[-1],
                legs=len(order.legs),
                bag=spec.is_bag,
            )
        tracker = _Tracker(order, spec, ib_ord.orderId, ib_status=trade.orderStatus.status)
        self._trackers[tracker.order_id] = tracker
        try:
            return await self._work(tracker, contract, ib_ord, prices, step_index, existing)
        finally:
            self._trackers.pop(tracker.order_id, None)

    async def _open_trade(self, ref: str) -> Trade | None:
        self.request_counts["open_orders"] += 1
        trades = await _bounded(self.ib.reqAllOpenOrdersAsync(), self.settings.request_timeout_s)
        for trade in [*trades, *self.ib.openTrades()]:
            if trade.order.orderRef == ref and trade.orderStatus.status not in _IB_DONE:
                return trade
        return None

    async def _work(
        self,
        tracker: _Tracker,
        contract: Contract,
        ib_ord: Any,
        prices: list[float],
        step_index: int,
        adopted: Trade | None,
    ) -> OrderResult:
        walk = self.settings.walk
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + walk.timeout_s
        next_step = start + walk.interval_s
        cancel_at: float | None = None
        reason = ""
        own = adopted is None or adopted.order.clientId == self.client_id
        while True:
            filled = self._filled_units(tracker)
            if filled >= tracker.order.quantity:
                break
            if tracker.reject is not None:
                reason = f"rejected by IB: {tracker.reject}"
                break
            if tracker.ib_status in _IB_DONE and tracker.ib_status != "Filled":
                if not reason:
                    reason = f"cancelled at IB ({tracker.ib_status}) {tracker.cancel_message or ''}"
                break
            now = loop.time()
            if not self.connected:
                if now > deadline + self.settings.order_disconnect_grace_s:
                    raise BrokerError(
                        f"order {tracker.order.order_ref} state unknown: disconnected from IB"
                    )
                await self._wait_update(1.0)
                continue
            if cancel_at is not None:
                if now >= cancel_at:
                    reason += "; IB did not confirm the cancel"
                    self.log.error("ib_cancel_unconfirmed", order_ref=tracker.order.order_ref)
                    break
                await self._wait_update(cancel_at - now)
                continue
            if now >= deadline:
                reason = (
                    f"not filled within {walk.timeout_s:g}s; IB limit walked "
                    f"{prices[0]:g} -> {prices[step_index]:g} (worst {prices[-1]:g}); cancelled"
                )
                if filled:
                    reason = f"filled {filled} of {tracker.order.quantity}; " + reason
                if not own:
                    reason = (
                        f"working order {tracker.order_id} of client {ib_ord.clientId} adopted; "
                        f"not filled within {walk.timeout_s:g}s; left working at IB (only its "
                        "own client can cancel it)"
                    )
                    break
                self.request_counts["cancel_order"] += 1
                self.ib.cancelOrder(ib_ord)
                cancel_at = now + walk.cancel_wait_s
                self.log.info("ib_order_cancel", order_ref=tracker.order.order_ref, filled=filled)
                continue
            if own and now >= next_step and step_index + 1 < len(prices):
                step_index += 1
                next_step += walk.interval_s
                ib_ord.lmtPrice = prices[step_index]
                crash_point("walk_step")
                self.request_counts["place_order"] += 1
                self.ib.placeOrder(contract, ib_ord)
                self.log.info(
                    "ib_order_walk",
                    order_ref=tracker.order.order_ref,
                    ib_limit=prices[step_index],
                    step=step_index,
                )
                continue
            wake = deadline if step_index + 1 >= len(prices) else min(next_step, deadline)
            await self._wait_update(wake - now)
        await self._await_leg_fills(tracker)
        return self._result(tracker, reason)

    def _leg_fills(self, ref: str) -> list[Fill]:
        delivered = list(self._fills_by_ref.get(ref, {}).values())
        pending = [f for f, _ in self._pending.values() if f.order_ref == ref]
        return delivered + pending

    def _filled_units(self, tracker: _Tracker) -> int:
        order, spec = tracker.order, tracker.spec
        ref = order.order_ref
        from_status = (
            round(tracker.ib_filled / spec.ratio) if not spec.is_bag else round(tracker.ib_filled)
        )
        bag = self._bag_execs.get(ref)
        if spec.is_bag and bag:
            return max(round(sum(s for s, _ in bag.values())), from_status)
        held: dict[OptionContract, int] = {}
        for f in self._leg_fills(ref):
            held[f.contract] = held.get(f.contract, 0) + abs(f.quantity)
        units = min(held.get(leg.contract, 0) // abs(leg.ratio) for leg in order.legs)
        return max(units, from_status)

    async def _await_leg_fills(self, tracker: _Tracker) -> None:
        """Wait for the leg executions and commissions of the filled units, then deliver."""
        order = tracker.order
        ref = order.order_ref
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.commission_wait_s
        while True:
            units = self._filled_units(tracker)
            expected = sum(abs(leg.ratio) * units for leg in order.legs)
            delivered = sum(abs(f.quantity) for f in self._fills_by_ref.get(ref, {}).values())
            remaining = deadline - loop.time()
            if delivered >= expected or remaining <= 0:
                break
            await self._wait_update(min(remaining, 0.25))
        self._drain(force_refs=[ref])

    def _result(self, tracker: _Tracker, reason: str) -> OrderResult:
        order, spec = tracker.order, tracker.spec
        ref = order.order_ref
        fills = tuple(sorted(self._fills_by_ref.get(ref, {}).values(), key=lambda f: f.exec_id))
        units = min(self._filled_units(tracker), order.quantity)
        avg: float | None = None
        bag = self._bag_execs.get(ref)
        if units and spec.is_bag and bag:
            shares = sum(s for s, _ in bag.values())
            avg = round(sum(s * p for s, p in bag.values()) / shares, 6) if shares else None
        elif units and fills:
            avg = round(sum(f.quantity * f.price for f in fills) / units, 6)
        if units >= order.quantity:
            status, reason = OrderStatus.FILLED, reason if "not resubmitted" in reason else ""
        elif tracker.reject is not None and units == 0:
            status = OrderStatus.REJECTED
        elif units > 0:
            status = OrderStatus.PARTIAL
        else:
            status = OrderStatus.CANCELLED
        self.log.info(
            "ib_order_done",
            order_ref=ref,
            status=status.value,
            filled=units,
            avg_price=avg,
            fills=len(fills),
            reason=reason,
        )
        return OrderResult(ref, status, units, avg, fills, reason.strip())
