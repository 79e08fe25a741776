"""Execution records shared by the pure core and the shell: fills, settlements, order states.

These are plain data. The portfolio (:mod:`strategies.portfolio`) changes only
by folding :class:`Fill` and :class:`Settlement` records, which the daemon
journals exactly once before it applies them. The order lifecycle
(:class:`OrderState`) is journaled as transitions; *unknown* is a state of its
own that only reconciliation may leave (it is never assumed cancelled or
filled).

Units: quantities in contracts (signed, + bought / long, - sold / short);
prices per share in index points; cash and commissions in dollars; times
timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from strategies.domain import Leg, OptionContract


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one leg.

    ``quantity`` is signed contracts (+ bought, - sold); ``price`` per share in
    index points; ``commission`` in dollars including exchange fees; ``time``
    timezone-aware. ``exec_id`` is the broker's execution id, unique per
    journal (the simulated broker prefixes it with the run id).
    """

    exec_id: str
    order_ref: str
    contract: OptionContract
    quantity: int
    price: float
    commission: float
    time: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    """Cash settlement of an expired option position.

    ``quantity`` is the signed position that expired; ``settlement_price`` the
    underlying's settlement value (index points); ``cash`` the dollars credited
    (+) or debited (-). ``structure_id`` names the structure whose holding was
    settled when the engine settles per structure (live); ``None`` when a
    broker settles the account's net position (replay), which the portfolio
    then spreads over every structure holding the contract.
    """

    contract: OptionContract
    quantity: int
    settlement_price: float
    cash: float
    time: datetime
    structure_id: str | None = None


class OrderState(StrEnum):
    """Where an order is in its lifecycle; every transition is journaled.

    ``intent`` is committed before anything is sent to the broker.
    ``unknown`` means the daemon cannot tell (timeout, disconnect, a cancel the
    broker never confirmed): it is left only by reconciliation, never assumed.
    """

    INTENT = "intent"
    SUBMITTED = "submitted"
    WORKING = "working"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """Filled, cancelled or rejected: nothing more can happen to the order."""
        return self in _TERMINAL


_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED})

#: States in which an order may still fill: a new entry waits while any order is in one.
LIVE_STATES = frozenset(
    {
        OrderState.INTENT,
        OrderState.SUBMITTED,
        OrderState.WORKING,
        OrderState.PARTIALLY_FILLED,
        OrderState.UNKNOWN,
    }
)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order as decided, journaled (state ``intent``) before it is sent.

    Attributes:
        order_ref: unique across restarts and runs of one journal
            (``r<run>-<decision seq>``); sent to the broker as IB's ``orderRef``.
        decision_id: the journaled decision this order carries out.
        structure_id: the portfolio structure its fills belong to.
        legs: legs with signed ratios (+1 buy, -1 sell per combo unit).
        quantity: combo units (> 0).
        limit_price: starting net price per unit, index points (+ debit, - credit).
        worst_price: least favourable net price the order may walk to.
    """

    order_ref: str
    decision_id: str
    structure_id: str
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float
    worst_price: float | None
