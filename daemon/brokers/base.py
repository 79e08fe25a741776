"""The broker interface shared by the simulated broker and Interactive Brokers.

The engine talks only to :class:`Broker`. The simulated broker (replay) and
the ib_async adapter (paper/live) implement it, so live, paper and replay run
the same engine; only the broker and the clock differ.

Price convention (see :mod:`strategies.domain`): a combo's net price is
positive for a debit paid and negative for a credit received, index points
per combo unit. Fill prices are per share of one leg, always positive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from strategies.domain import ChainSlice, Leg, LegQuote, MarketContext, OptionContract, Right
from strategies.execution import Fill, OrderState, Settlement
from strategies.margin import MarginImpact

__all__ = [
    "AccountSnapshot",
    "Broker",
    "BrokerError",
    "BrokerOrder",
    "ComboOrder",
    "FatalBrokerError",
    "Fill",
    "MarginImpact",
    "NotListedError",
    "OrderResult",
    "OrderState",
    "OrderStatus",
    "Position",
    "Settlement",
]


class BrokerError(RuntimeError):
    """A broker could not do what was asked (bad request, no data, disconnected)."""


class FatalBrokerError(BrokerError):
    """A refusal no retry or restart can cure (an unsafe account, delayed data in
    live mode, a client id another client holds): the daemon stops instead of
    failing every job."""


class NotListedError(BrokerError):
    """The product had no listed options on the session asked about (replay only).

    The message is one line naming the product and its first listing date; the
    engine journals it as the SKIP reason (it is history, not a data failure).
    """


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account values in dollars.

    ``init_margin`` is the initial margin in use (IB's ``InitMarginReq``; the
    simulated broker's Reg-T model), ``None`` when the broker did not say.
    """

    account_id: str
    cash: float
    net_liquidation: float
    init_margin: float | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A held option: signed contracts (+ long) and average cost per share, index points."""

    contract: OptionContract
    quantity: int
    avg_cost: float


@dataclass(frozen=True, slots=True)
class ComboOrder:
    """A limit order for a combo (one or more legs), tied to a journaled decision.

    Attributes:
        order_ref: the journaled decision's id; a broker must never accept two
            live orders with the same ``order_ref``.
        legs: the legs with signed ratios.
        quantity: combo units (> 0).
        limit_price: starting net price per unit (+ debit, - credit).
        worst_price: the least favourable net price the order may walk to;
            ``None`` means no walking.
        resting: the order stands for a stop or target that rested at
            ``limit_price`` and that the market reached between two checks
            (:attr:`strategies.domain.Decision.resting`). The simulated broker
            fills it at that price plus slippage when its path reached it;
            the IB adapter ignores the flag (live exits have no path).
    """

    order_ref: str
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float
    worst_price: float | None = None
    resting: bool = False


class OrderStatus(StrEnum):
    """How :meth:`Broker.place_order` left an order.

    ``PARTIAL``: part filled, the rest cancelled (terminal). ``WORKING``: left
    working at the broker (e.g. an adopted order only its own client may
    cancel). ``UNKNOWN``: the broker did not say (timeout, disconnect, a
    cancel never confirmed); reconciliation settles it later.
    """

    FILLED = "filled"
    PARTIAL = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    WORKING = "working"
    UNKNOWN = "unknown"

    def lifecycle_state(self, filled_quantity: int) -> OrderState:
        """The journal's :class:`OrderState` for a result with ``filled_quantity`` units."""
        if self is OrderStatus.WORKING:
            return OrderState.PARTIALLY_FILLED if filled_quantity else OrderState.WORKING
        return {
            OrderStatus.FILLED: OrderState.FILLED,
            OrderStatus.PARTIAL: OrderState.CANCELLED,
            OrderStatus.CANCELLED: OrderState.CANCELLED,
            OrderStatus.REJECTED: OrderState.REJECTED,
            OrderStatus.UNKNOWN: OrderState.UNKNOWN,
        }[self]


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The terminal state of a combo order.

    ``filled_quantity`` in combo units; ``avg_price`` net per unit
    (+ debit, - credit), ``None`` when nothing filled; ``reason`` explains a
    cancel or rejection in the broker's words.
    """

    order_ref: str
    status: OrderStatus
    filled_quantity: int
    avg_price: float | None
    fills: tuple[Fill, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order working at the broker, as reconciliation sees it (any client).

    ``filled_quantity`` and ``remaining`` are combo units; ``limit_price`` the
    current net limit per unit in the domain convention (+ debit, - credit),
    ``None`` when unknown; ``state`` WORKING or PARTIALLY_FILLED.
    """

    order_ref: str
    order_id: int
    client_id: int
    state: OrderState
    filled_quantity: int
    remaining: int
    limit_price: float | None = None
    perm_id: int = 0


FillListener = Callable[[Fill], None]
SettlementListener = Callable[[Settlement], None]


class Broker(Protocol):
    """What the engine needs from a broker. All prices in index points."""

    name: str

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def account(self) -> AccountSnapshot: ...

    async def positions(self) -> list[Position]: ...

    async def market_context(self) -> MarketContext:
        """Current index levels and the VIX futures curve."""
        ...

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        """Quoted slices for every listed expiry with ``min_dte <= DTE <= max_dte``.

        Raises:
            BrokerError: no chain could be had.
        """
        ...

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Quotes and model greeks for specific contracts, in the given order."""
        ...

    async def place_order(self, order: ComboOrder) -> OrderResult:
        """Submit ``order`` and walk it until it ends, or report that its fate is unknown.

        An order with the same ``order_ref`` already working at the broker is
        adopted, not sent again; one that already executed is reported from
        its executions. Fills are also delivered to every fill listener
        exactly once. A timeout, a disconnect past the order's grace or a
        cancel the broker never confirmed gives :attr:`OrderStatus.UNKNOWN`.

        Raises:
            BrokerError: the order could not be sent at all (not connected,
                a request timed out before ``placeOrder``).
        """
        ...

    async def open_orders(self) -> list[BrokerOrder]:
        """Every order working at the broker, of every client.

        Raises:
            BrokerError: the broker did not answer within its request timeout.
        """
        ...

    async def resync_executions(self) -> None:
        """Ask the broker for its executions again and deliver any not yet delivered.

        Fill listeners see each execution at most once per broker session;
        the journal keys fills by ``exec_id``, so redelivery is harmless.

        Raises:
            BrokerError: the broker did not answer within its request timeout.
        """
        ...

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Cancel the working order with ``order_ref``.

        Returns CANCELLED (confirmed, or nothing working under that ref),
        WORKING (another client's order this client may not cancel) or
        UNKNOWN (no confirmation in time).

        Raises:
            BrokerError: not connected.
        """
        ...

    async def what_if(self, order: ComboOrder) -> MarginImpact | None:
        """The margin ``order`` would need if it filled at its limit, without placing it.

        IB: a what-if order (``whatIfOrder``), answered with IB's own margin
        figures. The simulated broker: the Reg-T model of
        :mod:`strategies.margin`. ``None`` when the broker cannot say.

        Raises:
            BrokerError: the broker did not answer within its request timeout.
        """
        ...

    async def settlement_price(self, contract: OptionContract) -> float | None:
        """The underlying's settlement value for an expired ``contract``, index points.

        SPXW: the SPX close of the expiry session. VIX options: the special
        opening quotation (SOQ) of the expiry morning, or the broker's
        documented proxy. ``None`` while it is not yet known.

        Raises:
            BrokerError: the broker did not answer within its request timeout.
        """
        ...

    def add_fill_listener(self, listener: FillListener) -> None: ...

    def add_settlement_listener(self, listener: SettlementListener) -> None: ...


def closest_expiry(expiries: Sequence[date], session: date, target_dte: int) -> list[date]:
    """The one expiry whose DTE (calendar days from ``session``) is closest to ``target_dte``.

    Ties go to the shorter DTE, as in :func:`strategies.condor.plan_condor_entry`,
    so a broker that quotes only this expiry offers the rule the expiry it
    would pick anyway. Empty input gives an empty list.
    """
    if not expiries:
        return []
    return [min(expiries, key=lambda e: (abs((e - session).days - target_dte), (e - session).days))]


def expiring_on(positions: Sequence[Position], session: date) -> list[Position]:
    """Positions whose option expires on ``session``."""
    return [p for p in positions if p.contract.expiry == session]
