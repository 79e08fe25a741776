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
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from strategies.domain import ChainSlice, Leg, LegQuote, MarketContext, OptionContract, Right


class BrokerError(RuntimeError):
    """A broker could not do what was asked (bad request, no data, disconnected)."""


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Account values in dollars."""

    account_id: str
    cash: float
    net_liquidation: float


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
    """

    order_ref: str
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float
    worst_price: float | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one leg.

    ``quantity`` is signed contracts (+ bought, - sold); ``price`` per share in
    index points; ``commission`` in dollars including exchange fees; ``time``
    timezone-aware.
    """

    exec_id: str
    order_ref: str
    contract: OptionContract
    quantity: int
    price: float
    commission: float
    time: datetime


class OrderStatus(StrEnum):
    FILLED = "filled"
    PARTIAL = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


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
class Settlement:
    """Cash settlement of an expired option position.

    ``quantity`` is the signed position that expired; ``settlement_price`` the
    underlying's settlement value (index points); ``cash`` the dollars credited
    (+) or debited (-).
    """

    contract: OptionContract
    quantity: int
    settlement_price: float
    cash: float
    time: datetime


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
        """Submit ``order`` and wait for its terminal state.

        Fills are also delivered to every fill listener exactly once.
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
