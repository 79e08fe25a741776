"""Combo orders for IB: sign-convention translation and limit-price walking.

Sign convention
---------------
alvh prices a combo as a **net price per unit: + debit paid, - credit
received** (:mod:`strategies.domain`). An iron condor sold for 2.35 credit is
``-2.35``.

A multi-leg order is sent as **one guaranteed IB BAG** (no ``NonGuaranteed``
smart-combo tag, so IB fills all legs or none) whose action is always
``BUY`` and whose combo legs carry the directions of our signed ratios
(``+1`` -> leg action ``BUY``, ``-1`` -> ``SELL``, leg ratio ``|ratio|``).
IB's BAG limit is then exactly our net price: ``BUY`` at ``+1.20`` pays a
1.20 debit, ``BUY`` at ``-2.35`` receives a 2.35 credit. The BAG execution
IB reports is ``BOT`` at that same signed price.

A single-leg order (a VIX call layer) is a plain option order: ratio ``+1``
is ``BUY`` at ``net``; ratio ``-1`` is ``SELL`` at ``-net`` (selling for 1.20
is our net ``-1.20``).

Walking
-------
The limit starts at the decision's limit (the combo mid) and moves toward
``worst_price`` by ``step`` every ``interval_s`` seconds, never beyond worst.
Worse for us is always a *higher* net price (a smaller credit or a larger
debit). Prices are rounded to the tick *in IB's terms* toward the favourable
side (``BUY`` down, ``SELL`` up), so rounding never crosses ``worst_price``.
After ``timeout_s`` the order is cancelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ib_async import Bag, ComboLeg, Contract, LimitOrder, Order

from daemon.brokers.base import ComboOrder
from strategies.domain import Leg

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class OrderWalkPolicy:
    """How a limit walks from the decision's price to ``worst_price``.

    Attributes:
        step: price change per step, index points (> 0).
        interval_s: seconds between steps (> 0).
        timeout_s: seconds after submission at which an unfilled (or partly
            filled) order is cancelled (> 0).
        combo_tick: minimum net-price increment of multi-leg orders, index
            points (SPX/SPXW complex orders: 0.05).
        cancel_wait_s: seconds to wait for IB to confirm a cancel.
    """

    step: float = 0.05
    interval_s: float = 10.0
    timeout_s: float = 120.0
    combo_tick: float = 0.05
    cancel_wait_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("step", "interval_s", "timeout_s", "combo_tick", "cancel_wait_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"OrderWalkPolicy.{name} must be positive, got {value}")


def option_tick(price: float) -> float:
    """Single-leg SPX/VIX option tick: 0.05 below 3.00, 0.10 at or above, index points."""
    return 0.05 if abs(price) < 3.0 - _EPS else 0.10


def round_favourable(price: float, tick: float, action: str) -> float:
    """Round an IB limit to ``tick`` toward the side favourable to us (BUY down, SELL up)."""
    units = price / tick
    n = math.floor(units + _EPS) if action == "BUY" else math.ceil(units - _EPS)
    return round(n * tick, 4)


@dataclass(frozen=True, slots=True)
class IBOrderSpec:
    """How one :class:`ComboOrder` maps onto IB.

    ``action``/``quantity`` are IB's; ``sign`` converts our net price to IB's
    limit (``ib_limit = sign * net / |ratio|``) and back.
    """

    action: str
    quantity: int
    sign: int
    ratio: int
    is_bag: bool

    def ib_limit(self, net: float, tick: float) -> float:
        """IB limit for our net price ``net``, rounded favourably to the tick."""
        raw = self.sign * net / self.ratio
        if not self.is_bag:
            tick = option_tick(raw)
        return round_favourable(raw, tick, self.action)

    def net_price(self, ib_price: float) -> float:
        """Our net price (+ debit / - credit) for an IB limit or fill price."""
        return self.sign * ib_price * self.ratio


def order_spec(order: ComboOrder) -> IBOrderSpec:
    """The IB action/quantity/sign for ``order``.

    Raises:
        ValueError: no legs, a zero ratio, or a non-positive quantity.
    """
    if not order.legs:
        raise ValueError("order has no legs")
    if order.quantity <= 0:
        raise ValueError(f"order quantity must be positive, got {order.quantity}")
    if any(leg.ratio == 0 for leg in order.legs):
        raise ValueError("order has a leg with ratio 0")
    if len(order.legs) == 1:
        ratio = order.legs[0].ratio
        action = "BUY" if ratio > 0 else "SELL"
        return IBOrderSpec(
            action, order.quantity * abs(ratio), 1 if ratio > 0 else -1, abs(ratio), False
        )
    return IBOrderSpec("BUY", order.quantity, 1, 1, True)


def bag_contract(legs: Sequence[Leg], con_ids: Sequence[int]) -> Contract:
    """A guaranteed BAG for ``legs`` (qualified conIds in the same order)."""
    symbol = legs[0].contract.symbol
    combo = [
        ComboLeg(
            conId=con_id,
            ratio=abs(leg.ratio),
            action="BUY" if leg.ratio > 0 else "SELL",
            exchange="SMART",
        )
        for leg, con_id in zip(legs, con_ids, strict=True)
    ]
    return Bag(symbol=symbol, exchange="SMART", currency="USD", comboLegs=combo)


def ib_order(spec: IBOrderSpec, limit: float, order_ref: str, account: str) -> Order:
    """A DAY limit order carrying ``orderRef`` and the checked account (no NonGuaranteed tag)."""
    return LimitOrder(
        spec.action,
        spec.quantity,
        limit,
        orderRef=order_ref,
        account=account,
        tif="DAY",
        transmit=True,
    )


def walk_prices(start: float, worst: float | None, step: float) -> list[float]:
    """Net prices to try, in order: ``start``, ``start + step``, ... up to ``worst``.

    Our convention makes "worse" a higher net price. ``worst=None`` (or worst
    not above start) gives ``[start]``; the last price is ``worst`` exactly
    when the steps do not land on it.
    """
    if worst is None or worst <= start + _EPS:
        return [start] if worst is None or worst >= start - _EPS else [worst]
    prices = [start]
    k = 1
    while start + k * step < worst - _EPS:
        prices.append(round(start + k * step, 6))
        k += 1
    prices.append(worst)
    return prices


def ib_walk(order: ComboOrder, spec: IBOrderSpec, step: float, tick: float) -> list[float]:
    """IB limits for the walk of ``order``, rounded favourably, de-duplicated, in order."""
    out: list[float] = []
    for net in walk_prices(order.limit_price, order.worst_price, step):
        price = spec.ib_limit(net, tick)
        if not out or abs(price - out[-1]) > _EPS:
            out.append(price)
    return out
