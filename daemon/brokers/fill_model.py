"""The simulated fill and cost model, shared by replay and ``alvh run --dry-run``.

One order is one combo (:class:`~daemon.brokers.base.ComboOrder`): every leg
fills at its mid moved *against us* by a share of its half spread (buying
pays up, selling gives up), floored at 0; the combo fills in full at once when
the net of those leg prices (index points, + debit / - credit) is no worse
than the order's worst price (its limit when it has none), and not at all
otherwise. Commission and fees are charged per contract (dollars). No partial
fills, no queue, no walking: the model of a marketable limit order on a
daily bar (replay) or on the quote at the moment of the decision (dry run).

The only difference between the two callers is where the quotes come from:
replay prices them with the option models on the session's close, a dry run
asks the gateway for the legs' live (or delayed) quotes.

The default share, 0.5 of the half spread (a buy pays mid + a quarter of the
full spread; "75% of the spread" in the convention of backtesters that count
from the favourable side), is deliberately conservative, between mid (0) and
the natural (1). The evidence (``docs/cash-and-fills.md``):

* Muravyev and Pearson, "Options Trading Costs Are Lower than You Think",
  *Review of Financial Studies* 33(11), 2020: for options on S&P 500 stocks
  2004-2015 the conventional effective half-spread of liquidity-taking trades
  was 10 cents against a 13-cent quoted half-spread (0.77 of it); measured
  against the option's fair value at execution the average is a quarter
  smaller (about 0.58), and traders who time their orders pay under 40% of
  the conventional figure (about 0.3).
* Practitioner backtesters that fill on real quotes: ORATS fills a 2-leg
  order 66% of the way across the spread (0.32 of the half spread here),
  on quotes taken 14 minutes before the close because closing quotes are
  wider; WhisperTrades recommends 60-75% (0.2-0.5).
* Complex (multi-leg) SPX orders are auctioned for price improvement inside
  the legs' derived natural (Cboe COA), so a 4-leg condor pays less than the
  sum of four single-leg effective spreads.
* The model's spreads (:mod:`strategies.pricing.chain_builder`) are fitted on
  2022-2024 Cboe closing chains, when SPX spreads were at their narrowest;
  2007-2012 spreads were wider, so the same share of the model spread costs
  less than it did then. This, and the replay's one decision per day with no
  timing skill, put the default at the conservative end of the range above.

The replay's results move a lot with this key (``docs/cash-and-fills.md``
has the 2007-2024 figures at 0, 0.25, 0.5 and 1); ``alvh study`` reports
results at mid (0), the default and the natural (1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from daemon.brokers.base import ComboOrder, Fill, OrderResult, OrderStatus
from strategies.domain import LegQuote, OptionContract


@dataclass(frozen=True, slots=True)
class SimulationCosts:
    """Fill and cost model of the simulated broker (``[replay]`` in the config).

    Attributes:
        slippage_pct_of_half_spread: each leg fills at mid moved against us by
            this share of its half spread (0 = mid, 1 = the touch).
        commission_per_contract: broker commission, dollars per contract.
        spx_fee_per_contract: exchange and regulatory fees per SPX/SPXW contract, dollars.
        vix_fee_per_contract: exchange and regulatory fees per VIX contract, dollars.
    """

    slippage_pct_of_half_spread: float = 0.5
    commission_per_contract: float = 0.65
    spx_fee_per_contract: float = 0.66
    vix_fee_per_contract: float = 0.40

    def per_contract(self, contract: OptionContract) -> float:
        """Commission plus fees of one contract, dollars."""
        fee = self.vix_fee_per_contract if contract.symbol == "VIX" else self.spx_fee_per_contract
        return self.commission_per_contract + fee


def unusable_quote(quote: LegQuote) -> str | None:
    """Why ``quote`` cannot price a fill (no two-sided finite quote), or ``None``.

    IB reports a missing side as -1 or NaN; the replay's model quotes always pass.
    """
    if not (math.isfinite(quote.bid) and math.isfinite(quote.ask)):
        return f"no two-sided quote for {quote.contract.local_symbol}"
    if quote.bid < 0 or quote.ask < quote.bid:
        return (
            f"no usable quote for {quote.contract.local_symbol} "
            f"(bid {quote.bid:g}, ask {quote.ask:g})"
        )
    return None


def leg_fill_price(quote: LegQuote, ratio: int, costs: SimulationCosts) -> float:
    """Fill price of one leg, index points: mid moved against us, floored at 0.

    ``ratio`` > 0 buys (pays mid + slip x half spread), < 0 sells (gets mid - it).
    """
    slip = costs.slippage_pct_of_half_spread * (quote.ask - quote.bid) * 0.5
    return max(quote.mid + (slip if ratio > 0 else -slip), 0.0)


def simulate_fill(
    order: ComboOrder,
    quotes: Sequence[LegQuote],
    costs: SimulationCosts,
    next_exec_id: Callable[[], str],
    now: datetime,
) -> OrderResult:
    """Fill ``order`` in full at the model's prices, or not at all.

    Args:
        order: the combo; ``quotes`` holds one quote per leg, in leg order.
        costs: slippage share and per-contract commission and fees.
        next_exec_id: returns a new, unique execution id per leg fill.
        now: the fills' execution time.

    Returns:
        ``FILLED`` with one :class:`Fill` per leg (signed contracts, price in
        index points, commission in dollars) and the net price per combo unit;
        ``CANCELLED`` with no fill when a quote is unusable or the net price is
        worse than the order's bound (the reason gives both numbers);
        ``REJECTED`` for an empty order.
    """
    if order.quantity <= 0 or not order.legs:
        return OrderResult(
            order.order_ref, OrderStatus.REJECTED, 0, None, (), "empty order or quantity"
        )
    for quote in quotes:
        why = unusable_quote(quote)
        if why is not None:
            return OrderResult(order.order_ref, OrderStatus.CANCELLED, 0, None, (), why)
    prices = [
        leg_fill_price(quote, leg.ratio, costs)
        for leg, quote in zip(order.legs, quotes, strict=True)
    ]
    net = sum(leg.ratio * p for leg, p in zip(order.legs, prices, strict=True))
    bound = order.worst_price if order.worst_price is not None else order.limit_price
    if net > bound + 1e-9:
        return OrderResult(
            order.order_ref,
            OrderStatus.CANCELLED,
            0,
            None,
            (),
            f"not filled: simulated fill {net:.2f} is worse than the limit bound {bound:.2f}",
        )
    fills = []
    for leg, price in zip(order.legs, prices, strict=True):
        qty = leg.ratio * order.quantity
        commission = abs(qty) * costs.per_contract(leg.contract)
        fills.append(
            Fill(next_exec_id(), order.order_ref, leg.contract, qty, price, commission, now)
        )
    return OrderResult(order.order_ref, OrderStatus.FILLED, order.quantity, net, tuple(fills))


def resting_fill(
    order: ComboOrder,
    quotes: Sequence[LegQuote],
    costs: SimulationCosts,
    next_exec_id: Callable[[], str],
    now: datetime,
) -> OrderResult:
    """Fill a resting stop/target order at its limit plus the model's slippage.

    The caller has checked that the market reached ``order.limit_price``
    (:meth:`daemon.brokers.simulated.SimulatedBroker.path_since`). ``quotes``
    (one per leg, the market state nearest the limit) give each leg's
    slippage (:func:`leg_fill_price`); the net is the limit moved against us
    by their sum, and the difference between that net and the legs' own fill
    prices is carried by one leg (a bought leg when the net must rise, a sold
    one when it must fall), so the legs sum to the net and stay >= 0.

    Returns:
        ``FILLED`` with one :class:`Fill` per leg, or ``CANCELLED`` when a
        quote is unusable.
    """
    for quote in quotes:
        why = unusable_quote(quote)
        if why is not None:
            return OrderResult(order.order_ref, OrderStatus.CANCELLED, 0, None, (), why)
    legs = order.legs
    prices = [leg_fill_price(q, leg.ratio, costs) for leg, q in zip(legs, quotes, strict=True)]
    slippage = sum(leg.ratio * (p - q.mid) for leg, p, q in zip(legs, prices, quotes, strict=True))
    net = order.limit_price + slippage
    gap = net - sum(leg.ratio * p for leg, p in zip(legs, prices, strict=True))
    # a leg whose price moves by gap / ratio without going below 0
    candidates = [k for k, leg in enumerate(legs) if prices[k] + gap / leg.ratio >= 0.0]
    if candidates:
        k = max(candidates, key=lambda j: prices[j])
        prices[k] += gap / legs[k].ratio
    fills = []
    for leg, price in zip(legs, prices, strict=True):
        qty = leg.ratio * order.quantity
        commission = abs(qty) * costs.per_contract(leg.contract)
        fills.append(
            Fill(next_exec_id(), order.order_ref, leg.contract, qty, price, commission, now)
        )
    filled = sum(leg.ratio * p for leg, p in zip(legs, prices, strict=True))
    return OrderResult(order.order_ref, OrderStatus.FILLED, order.quantity, filled, tuple(fills))
