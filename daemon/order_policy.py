"""How far an order may concede from its decision's limit price (all modes alike).

The executor (:mod:`daemon.execution`) turns a decision into a
:class:`~daemon.brokers.base.ComboOrder` whose ``worst_price`` is
:meth:`OrderPolicy.worst_for`; the simulated broker fills only at or better
than it, the IB adapter walks its limit to it and no further
(:mod:`daemon.brokers.ib.orders`). Its own module so the config
(``[broker]``) can take its defaults from here without importing the executor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from strategies.domain import Action, Decision

Concession = Literal["band", "natural"]


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """How far an order may concede from the decision's limit price.

    The band: ``max_concession_pct`` of the absolute limit, but at least
    ``min_concession`` index points, bounds the worst net price an order may
    fill at (see :attr:`daemon.brokers.base.ComboOrder.worst_price`). Every
    opening order (OPEN, ROLL) keeps the band.

    A risk-reducing order may concede further: with ``close_concession =
    "natural"`` a CLOSE (a stop, target, time exit, flatten, the close of a
    roll, a hedge layer's exit) may walk to the natural price of its legs
    (each bought leg at its ask, each sold leg at its bid, on the quotes the
    rule priced it on: :attr:`strategies.domain.Decision.natural_price`) plus
    ``natural_margin`` index points, when that is worse than the band. A
    trader gets out of a structure whose exit rule fired rather than let it
    ride to expiry because the close missed its limit by a few ticks; the
    natural is the price any marketable order pays, so the bound stays finite
    and known when the order is sent (live, the IB limit walks to it; see
    :mod:`daemon.brokers.ib.orders`).

    ``adjust_concession`` governs an ADJUST (the condor's wing shift) and
    defaults to ``"band"``: the shift buys back the threatened short but
    sells a new one and pays a debit, so it is a discretionary repair, not an
    exit (it passes the risk gates as an order adding risk,
    :data:`strategies.gates.GATED_ACTIONS`); when it misses its limit the
    condor's stop still stands behind it. Measured on the 2007-2024 replay at
    the default fill share (0.5), letting shifts go to the natural cost
    $42,661 of P&L and raised the maximum drawdown from 26.1% to 29.6%
    (``docs/cash-and-fills.md``). ``"natural"`` treats it like a close.

    A decision without a natural price keeps the band. Resting stop/target
    closes are filled by the simulated broker at their trigger plus slippage,
    outside any bound; they keep the band's bound as a live limit.
    """

    max_concession_pct: float = 10.0
    min_concession: float = 0.10
    close_concession: Concession = "natural"
    adjust_concession: Concession = "band"
    natural_margin: float = 0.10

    def worst_price(self, limit: float) -> float:
        """Worst acceptable net price (+ debit, - credit) for ``limit`` by the band (points)."""
        return limit + max(abs(limit) * self.max_concession_pct / 100.0, self.min_concession)

    def worst_for(self, decision: Decision) -> float:
        """Worst acceptable net price of ``decision``'s order, index points (+ debit).

        The band's bound, or for a risk-reducing action whose concession is
        ``"natural"`` and whose decision carries a finite natural price, the
        worse (higher) of the band and natural + ``natural_margin``.
        """
        assert decision.limit_price is not None
        band = self.worst_price(decision.limit_price)
        natural = decision.natural_price
        if natural is None or not math.isfinite(natural) or decision.resting:
            return band
        concession = {
            Action.CLOSE: self.close_concession,
            Action.ADJUST: self.adjust_concession,
        }.get(decision.action, "band")
        if concession != "natural":
            return band
        return max(band, natural + self.natural_margin)
