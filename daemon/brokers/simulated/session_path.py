"""The simulated session path: a closed session's states, and resting orders filled on them.

Stops and profit targets between two checks (:mod:`strategies.exit_path`):
once a session has closed, its range (SPX low and high with the VIX high) is
visible, and the broker marks the held contracts at the open and at the
range's extremes (:class:`DayStates`, :func:`day_states`). A close order the
exit rule marks ``resting`` (a stop or target the range reached) fills at its
limit (the trigger level, or the open's mark on a gap) plus the fill model's
slippage, not at the current quotes; it is cancelled when no marked state of
the path reached its limit (:func:`resting_result`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from daemon.brokers.base import ComboOrder, OrderResult, OrderStatus
from daemon.brokers.fill_model import SimulationCosts, resting_fill
from daemon.brokers.simulated.history import History
from daemon.marketdata.visibility import Phase
from strategies.domain import LegQuote, MarketContext, OptionContract

#: A resting order's limit is rounded to the 0.05 combo tick: it may lie this
#: far (index points) outside the path's net mids and still have been reached.
RESTING_TOLERANCE = 0.025 + 1e-9


@dataclass(frozen=True, slots=True)
class DayStates:
    """A session's path states (open, the range's extremes, close) and the extremes' quotes."""

    opening: MarketContext
    low: MarketContext
    high: MarketContext
    closing: MarketContext
    low_quotes: dict[OptionContract, LegQuote] = field(default_factory=dict)
    high_quotes: dict[OptionContract, LegQuote] = field(default_factory=dict)


def day_states(history: History, day: date) -> DayStates | None:
    """Session ``day``'s path states (None: no market data or no range that session).

    The extremes' contexts: VIX9D and VIX3M scaled by VIX high / VIX close
    (the term structure keeps its shape), the rest the close's.
    """
    try:
        index = history.index_of(day)
    except (KeyError, ValueError):
        return None
    rng = history.session_range(index)
    if rng is None:
        return None
    closing = history.context(index)
    scale = rng.vix_high / closing.vix if closing.vix > 0 else 1.0

    def extreme(spx: float) -> MarketContext:
        return replace(
            closing,
            spx=spx,
            vix=rng.vix_high,
            vix9d=closing.vix9d * scale if closing.vix9d is not None else None,
            vix3m=closing.vix3m * scale if closing.vix3m is not None else None,
        )

    return DayStates(
        history.visible_context(index, Phase.OPEN),
        extreme(rng.spx_low),
        extreme(rng.spx_high),
        closing,
    )


def resting_result(
    order: ComboOrder,
    path_states: Sequence[dict[OptionContract, LegQuote]],
    costs: SimulationCosts,
    next_exec_id: Callable[[], str],
    clock: Callable[[], datetime],
) -> OrderResult:
    """Fill a resting stop/target at its limit plus slippage if the path reached it.

    ``path_states`` are the marked states of the path last handed out
    (:meth:`~daemon.brokers.simulated.SimulatedBroker.path_since`); the state
    whose net mid is nearest the limit gives the legs' spreads (its slippage)
    and their prices. Cancelled when no state of the path priced every leg or
    the limit lies outside the path's net mids (by more than half a tick).
    """
    legs = order.legs
    nets: list[tuple[float, list[LegQuote]]] = []
    for quotes in path_states:
        if all(leg.contract in quotes for leg in legs):
            chosen = [quotes[leg.contract] for leg in legs]
            nets.append(
                (sum(leg.ratio * q.mid for leg, q in zip(legs, chosen, strict=True)), chosen)
            )
    low = min((n for n, _ in nets), default=math.nan)
    high = max((n for n, _ in nets), default=math.nan)
    if not nets or not low - RESTING_TOLERANCE <= order.limit_price <= high + RESTING_TOLERANCE:
        return OrderResult(
            order.order_ref,
            OrderStatus.CANCELLED,
            0,
            None,
            (),
            f"not filled: resting limit {order.limit_price:.2f} was not reached by the "
            f"path since the last check (net mids {low:.2f}..{high:.2f})",
        )
    _, base = min(nets, key=lambda item: abs(item[0] - order.limit_price))
    return resting_fill(order, base, costs, next_exec_id, clock())
