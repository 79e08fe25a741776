"""An in-process scripted broker, and the small rig the engine tests share.

:class:`ScriptedBroker` implements :class:`daemon.brokers.base.Broker`
without any I/O. Each :meth:`~ScriptedBroker.place_order` takes the next
scripted :class:`Outcome`: it executes the scripted fills *at the gateway*
(they change :meth:`~ScriptedBroker.positions` and are remembered as
executions), hands them to the fill listeners now or later, and returns the
scripted :class:`OrderResult` (or raises the scripted error). Open orders,
positions, executions, cancels and settlement prices are scripted too, and
every call is recorded so tests can assert what was (not) asked.

:class:`Gateway` is the state that outlives a daemon: a restarted daemon gets
a new :class:`ScriptedBroker` on the same gateway, whose
:meth:`~ScriptedBroker.resync_executions` delivers every execution of the
gateway to the new listeners (the journal must make that exactly-once).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

import numpy as np

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerOrder,
    ComboOrder,
    Fill,
    FillListener,
    MarginImpact,
    OrderResult,
    OrderState,
    OrderStatus,
    Position,
    Settlement,
    SettlementListener,
)
from daemon.clock import NEW_YORK
from strategies.domain import (
    ChainSlice,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
)

#: The exchange time zone, defined here so the tests do not depend on where the daemon keeps it.

#: Commission per contract of every scripted fill, dollars.
COMMISSION = 1.31

Delivery = Literal["now", "later"]


@dataclass
class Outcome:
    """What one ``place_order`` does.

    Attributes:
        status: the status the broker reports.
        filled: combo units executed; default all for FILLED without ``error``, else 0.
        contracts: exact signed contracts executed per contract (uneven
            partial fills); overrides ``filled`` for the fills, not for the
            reported ``filled_quantity``.
        prices: fill price per share per contract, index points (default 1.00).
        reason: the broker's words for a cancel or reject.
        error: raised from ``place_order`` after the fills executed (a
            timeout or disconnect after the order reached the gateway).
        delivery: ``now`` (listeners see the fills before ``place_order``
            returns) or ``later`` (only :meth:`ScriptedBroker.deliver_pending`
            or :meth:`ScriptedBroker.resync_executions` deliver them).
        working: leave the unfilled rest working at the gateway (open orders).
        before: called with the order first, inside ``place_order``.
        hold: ``place_order`` waits for this event after the fills executed
            (an order being walked; cancel the caller to stop it there).
    """

    status: OrderStatus = OrderStatus.FILLED
    filled: int | None = None
    contracts: Mapping[OptionContract, int] | None = None
    prices: Mapping[OptionContract, float] | None = None
    reason: str = ""
    error: BaseException | None = None
    delivery: Delivery = "now"
    working: bool = False
    before: Callable[[ComboOrder], None] | None = None
    hold: asyncio.Event | None = None


@dataclass
class Gateway:
    """What the broker side knows, shared by every daemon run against it."""

    executions: list[Fill] = field(default_factory=list)
    working: dict[str, BrokerOrder] = field(default_factory=dict)
    #: Replaces the positions derived from executions (a scripted difference).
    positions: list[Position] | None = None
    settlement_prices: dict[OptionContract, float | None] = field(default_factory=dict)
    account_id: str = "DU123"
    exec_ids: Any = field(default_factory=lambda: itertools.count(1))
    order_ids: Any = field(default_factory=lambda: itertools.count(1))

    def net(self) -> dict[OptionContract, int]:
        held: dict[OptionContract, int] = {}
        for fill in self.executions:
            held[fill.contract] = held.get(fill.contract, 0) + fill.quantity
        return {c: q for c, q in held.items() if q}

    def execute(
        self,
        order_ref: str,
        contracts: Mapping[OptionContract, int],
        prices: Mapping[OptionContract, float] | None,
        when: datetime,
    ) -> list[Fill]:
        """Execute signed ``contracts`` for ``order_ref``; returns the new fills."""
        fills = [
            Fill(
                f"x{next(self.exec_ids)}",
                order_ref,
                contract,
                qty,
                (prices or {}).get(contract, 1.0),
                abs(qty) * COMMISSION,
                when,
            )
            for contract, qty in contracts.items()
            if qty
        ]
        self.executions.extend(fills)
        return fills

    def leave_working(self, order: ComboOrder, filled: int) -> BrokerOrder:
        """Put ``order`` in the open orders with ``filled`` of its units done."""
        working = BrokerOrder(
            order.order_ref,
            next(self.order_ids),
            0,
            OrderState.PARTIALLY_FILLED if filled else OrderState.WORKING,
            filled,
            order.quantity - filled,
            order.limit_price,
        )
        self.working[order.order_ref] = working
        return working


def leg_contracts(legs: Sequence[Leg], units: int) -> dict[OptionContract, int]:
    """Signed contracts ``units`` combo units of ``legs`` trade."""
    out: dict[OptionContract, int] = {}
    for leg in legs:
        out[leg.contract] = out.get(leg.contract, 0) + leg.ratio * units
    return out


class ScriptedBroker:
    """A :class:`daemon.brokers.base.Broker` that does what the test scripted.

    Args:
        clock: the time stamped on fills.
        gateway: the broker-side state (a new one by default).
    """

    name = "scripted"

    def __init__(self, clock: Callable[[], datetime], gateway: Gateway | None = None) -> None:
        self.clock = clock
        self.gateway = gateway if gateway is not None else Gateway()
        self.outcomes: deque[Outcome] = deque()
        self.context: MarketContext | None = None
        self.chains: dict[str, list[ChainSlice]] = {}
        self.quotes: dict[OptionContract, LegQuote] = {}
        #: Method name -> error that method raises (e.g. ``"resync_executions"``).
        self.errors: dict[str, BaseException] = {}
        self.cancel_status = OrderStatus.CANCELLED
        self.connected = True
        # what was asked
        self.placed: list[ComboOrder] = []
        self.cancels: list[str] = []
        self.chain_requests: list[str] = []
        self.settlement_requests: list[OptionContract] = []
        self.resyncs = 0
        self.what_ifs: list[ComboOrder] = []
        #: What :meth:`what_if` answers.
        self.margin: MarginImpact | None = None
        #: What :meth:`account` answers (cash, net liquidation); 5% of 500,000 is the
        #: $25,000 max-loss budget the tests' condors are sized to (5 condors).
        self.cash = 500_000.0
        self.net_liq = 500_000.0
        self._fill_listeners: list[FillListener] = []
        self._settlement_listeners: list[SettlementListener] = []
        self._delivered: set[str] = set()
        self._pending: list[Fill] = []

    @property
    def account_id(self) -> str:
        return self.gateway.account_id

    def restarted(self) -> ScriptedBroker:
        """A broker for a restarted daemon: same gateway, new listeners, nothing delivered."""
        broker = ScriptedBroker(self.clock, self.gateway)
        broker.context, broker.chains, broker.quotes = self.context, self.chains, self.quotes
        return broker

    # -- scripting -------------------------------------------------------------
    def script(self, *outcomes: Outcome) -> None:
        self.outcomes.extend(outcomes)

    def deliver_pending(self) -> list[Fill]:
        """Hand the fills withheld so far (``delivery="later"``) to the listeners."""
        pending, self._pending = self._pending, []
        for fill in pending:
            self._deliver(fill)
        return pending

    def _deliver(self, fill: Fill) -> None:
        self._delivered.add(fill.exec_id)
        for listener in self._fill_listeners:
            listener(fill)

    def _raise_if_scripted(self, method: str) -> None:
        error = self.errors.get(method)
        if error is not None:
            raise error

    # -- Broker ---------------------------------------------------------------
    async def connect(self) -> None:
        self._raise_if_scripted("connect")

    async def disconnect(self) -> None:
        self.connected = False

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(self.account_id, self.cash, self.net_liq)

    async def positions(self) -> list[Position]:
        self._raise_if_scripted("positions")
        if self.gateway.positions is not None:
            return list(self.gateway.positions)
        # options past their expiry session are settled and gone from the account
        today = self.clock().astimezone(NEW_YORK).date()
        return [Position(c, q, 0.0) for c, q in self.gateway.net().items() if c.expiry >= today]

    async def market_context(self) -> MarketContext:
        self._raise_if_scripted("market_context")
        if self.context is None:
            session = self.clock().astimezone(NEW_YORK).date()
            return MarketContext(session=session, spx=4000.0, vix=18.0)
        return self.context

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        self.chain_requests.append(symbol)
        self._raise_if_scripted("option_chain")
        return [s for s in self.chains.get(symbol, []) if s.right in rights]

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        self._raise_if_scripted("quote")
        nan = math.nan
        return [
            self.quotes.get(c) or LegQuote(c, nan, nan, nan, nan, nan, nan, nan) for c in contracts
        ]

    async def what_if(self, order: ComboOrder) -> MarginImpact | None:
        """``self.margin`` (scripted; ``None``: the broker gives no estimate)."""
        self.what_ifs.append(order)
        self._raise_if_scripted("what_if")
        return self.margin

    async def place_order(self, order: ComboOrder) -> OrderResult:
        self.placed.append(order)
        if not self.outcomes:
            raise AssertionError(f"place_order({order.order_ref}) was not scripted")
        outcome = self.outcomes.popleft()
        if outcome.before is not None:
            outcome.before(order)
        adopted = self.gateway.working.pop(order.order_ref, None)
        if outcome.filled is not None:
            units = outcome.filled
        else:
            filled_all = outcome.status is OrderStatus.FILLED and outcome.error is None
            units = order.quantity if filled_all else 0
        contracts = (
            outcome.contracts
            if outcome.contracts is not None
            else leg_contracts(order.legs, units - (adopted.filled_quantity if adopted else 0))
        )
        fills = self.gateway.execute(order.order_ref, contracts, outcome.prices, self.clock())
        if outcome.delivery == "now":
            for fill in fills:
                self._deliver(fill)
        else:
            self._pending.extend(fills)
        if outcome.working:
            self.gateway.leave_working(order, units)
        if outcome.hold is not None:
            await outcome.hold.wait()
        if outcome.error is not None:
            raise outcome.error
        return OrderResult(
            order.order_ref,
            outcome.status,
            units,
            order.limit_price if units else None,
            tuple(fills),
            outcome.reason,
        )

    async def open_orders(self) -> list[BrokerOrder]:
        self._raise_if_scripted("open_orders")
        return list(self.gateway.working.values())

    async def resync_executions(self) -> None:
        self.resyncs += 1
        self._raise_if_scripted("resync_executions")
        self._pending = []
        for fill in list(self.gateway.executions):
            if fill.exec_id not in self._delivered:
                self._deliver(fill)

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        self.cancels.append(order_ref)
        self._raise_if_scripted("cancel_order")
        if self.cancel_status is OrderStatus.CANCELLED:
            self.gateway.working.pop(order_ref, None)
        return self.cancel_status

    async def settlement_price(self, contract: OptionContract) -> float | None:
        self.settlement_requests.append(contract)
        self._raise_if_scripted("settlement_price")
        return self.gateway.settlement_prices.get(contract)

    def add_fill_listener(self, listener: FillListener) -> None:
        self._fill_listeners.append(listener)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        self._settlement_listeners.append(listener)

    def settle(self, settlement: Settlement) -> None:
        """Report a settlement to the listeners (as a broker that settles itself would)."""
        for listener in self._settlement_listeners:
            listener(settlement)


# --------------------------------------------------------------------------- rig helpers


class ManualClock:
    """A clock the test moves by hand (timezone-aware)."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def set(self, session: date, at: time = time(15, 45)) -> None:
        self.current = datetime.combine(session, at, NEW_YORK)


class RecordingLog:
    """A structlog-style logger that keeps every event as ``(level, event, fields)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self, **_: Any) -> RecordingLog:
        return self

    def _record(self, level: str, event: str, **fields: Any) -> None:
        self.events.append((level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._record("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._record("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._record("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._record("error", event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._record("error", event, **fields)

    def of(self, event: str, level: str | None = None) -> list[dict[str, Any]]:
        """Fields of every ``event`` logged (at ``level``, if given)."""
        return [f for lv, ev, f in self.events if ev == event and (level is None or lv == level)]


def leg_quote(contract: OptionContract, bid: float, ask: float, vega: float = 0.0) -> LegQuote:
    delta = 0.1 if contract.right is Right.CALL else -0.1
    return LegQuote(contract, bid, ask, 0.2, delta, 0.001, vega, -0.05)


def spx_slice(
    session: date, expiry: date, right: Right, strikes: list[float], deltas: list[float],
    mids: list[float],
) -> ChainSlice:  # fmt: skip
    """A small SPXW chain slice (bid/ask = mid -/+ 0.05, vega 1.0 per share)."""
    k = np.asarray(strikes, dtype=np.float64)
    m = np.asarray(mids, dtype=np.float64)
    n = len(k)
    dte = (expiry - session).days
    return ChainSlice(
        "SPX", "SPXW", expiry, right, dte, dte / 365.0, 4000.0, k, m - 0.05, m + 0.05,
        np.full(n, 0.18), np.asarray(deltas, dtype=np.float64), np.zeros(n), np.ones(n),
        np.zeros(n),
    )  # fmt: skip


def condor_chain(session: date, expiry: date) -> list[ChainSlice]:
    """Puts and calls on which the default condor rules open a 5-lot at a 2.90 credit.

    Legs: +3850P -3900P -4100C +4150C (see ``tests/strategies/test_condor.py``).
    """
    return [
        spx_slice(
            session, expiry, Right.PUT, [3800, 3850, 3900, 3950, 4000],
            [-0.05, -0.10, -0.16, -0.27, -0.50], [1.0, 2.0, 3.5, 7.0, 40.0],
        ),
        spx_slice(
            session, expiry, Right.CALL, [4000, 4050, 4100, 4150, 4200],
            [0.50, 0.30, 0.16, 0.10, 0.04], [40.0, 9.0, 3.0, 1.6, 0.5],
        ),
    ]  # fmt: skip


def vix_call_chain(session: date, expiry: date, future: float = 20.0) -> list[ChainSlice]:
    """VIX calls around ``future`` (8-12 % OTM strikes quoted), for the hedge rule."""
    strikes = [20.0, 21.0, 22.0, 23.0, 24.0, 25.0]
    mids = [2.0, 1.7, 1.5, 1.3, 1.1, 1.0]
    k = np.asarray(strikes)
    m = np.asarray(mids)
    n = len(k)
    dte = (expiry - session).days
    return [
        ChainSlice(
            "VIX", "VIX", expiry, Right.CALL, dte, dte / 365.0, future, k, m - 0.05, m + 0.05,
            np.full(n, 0.9), np.full(n, 0.4), np.zeros(n), np.full(n, 0.05), np.zeros(n),
        )
    ]  # fmt: skip
