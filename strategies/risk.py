"""Small, exact risk arithmetic for condors and the portfolio.

Units: strikes, credits and break-evens in index points; losses in dollars
(``CONTRACT_MULTIPLIER`` = 100 dollars per index point per contract); greeks as
documented on :class:`Greeks`. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    Leg,
    LegQuote,
    OptionContract,
    Right,
    Structure,
)
from strategies.positions import OpenStructure

#: Quotes as a sequence of :class:`LegQuote` or already keyed by contract.
QuoteSource = Iterable[LegQuote] | Mapping[OptionContract, LegQuote]


def quote_map(quotes: QuoteSource) -> Mapping[OptionContract, LegQuote]:
    """Key quotes by contract; a mapping is returned as it is (read it, do not change
    it: a job's quotes hold hundreds of chain strikes, copied per structure before),
    an iterable is keyed into a new dict."""
    if isinstance(quotes, Mapping):
        return quotes
    return {quote.contract: quote for quote in quotes}


@dataclass(frozen=True, slots=True)
class CondorStrikes:
    """The four strikes of an iron condor, index points.

    Ordered long put < short put < short call < long call.
    """

    long_put: float
    short_put: float
    short_call: float
    long_call: float

    @property
    def put_width(self) -> float:
        """Short put minus long put, index points."""
        return self.short_put - self.long_put

    @property
    def call_width(self) -> float:
        """Long call minus short call, index points."""
        return self.long_call - self.short_call


def condor_strikes(legs: Iterable[Leg]) -> CondorStrikes:
    """Identify the four strikes of an iron condor from its legs (any order).

    Raises:
        ValueError: unless the legs are exactly one long put (+1), one short put
            (-1), one short call (-1) and one long call (+1) with
            long put < short put < short call < long call, i.e. a defined-risk
            iron condor where every short has its long wing further out.
    """
    by_role: dict[tuple[Right, int], float] = {}
    count = 0
    for leg in legs:
        count += 1
        key = (leg.contract.right, leg.ratio)
        if key in by_role or leg.ratio not in (1, -1):
            raise ValueError(f"not an iron condor: unexpected leg {leg.contract.local_symbol}")
        by_role[key] = leg.contract.strike
    if count != 4 or len(by_role) != 4:
        raise ValueError(f"not an iron condor: expected 4 distinct legs, got {count}")
    strikes = CondorStrikes(
        long_put=by_role[(Right.PUT, 1)],
        short_put=by_role[(Right.PUT, -1)],
        short_call=by_role[(Right.CALL, -1)],
        long_call=by_role[(Right.CALL, 1)],
    )
    if not strikes.long_put < strikes.short_put < strikes.short_call < strikes.long_call:
        raise ValueError(
            "not an iron condor: strikes must satisfy long put < short put < short call < "
            f"long call, got {strikes}"
        )
    return strikes


def break_evens(put_short: float, call_short: float, credit: float) -> tuple[float, float]:
    """Expiry break-evens ``(lower, upper)`` of an iron condor, index points.

    At expiry the condor loses money once the index settles below
    ``put_short - credit`` or above ``call_short + credit`` (the credit
    received, index points per condor, cushions either short strike).

    Raises:
        ValueError: if ``credit`` is negative or ``put_short >= call_short``.
    """
    if credit < 0:
        raise ValueError(f"credit must be >= 0 index points, got {credit}")
    if put_short >= call_short:
        raise ValueError(f"short put {put_short} must be below short call {call_short}")
    return put_short - credit, call_short + credit


def condor_max_loss_points(strikes: CondorStrikes, credit: float) -> float:
    """Maximum expiry loss of one iron condor, index points per combo unit.

    Only one side can finish in the money (the shorts do not cross), so the
    loss is bounded by the wider wing minus the credit received. It can be
    negative (a riskless credit) only if the credit exceeds the width, which no
    real market offers.
    """
    return max(strikes.put_width, strikes.call_width) - credit


def max_loss_dollars(condor: OpenStructure) -> float:
    """Maximum expiry loss of an open condor position, dollars.

    ``(max(put width, call width) - credit) * 100 * quantity`` where the credit
    is ``-open_price`` (open_price is negative for a credit).

    Raises:
        ValueError: if the structure is not a condor or its legs are not an
            iron condor (see :func:`condor_strikes`).
    """
    if condor.structure is not Structure.CONDOR:
        raise ValueError(f"position {condor.id!r} is a {condor.structure}, not a condor")
    strikes = condor_strikes(condor.legs)
    credit = -condor.open_price
    return condor_max_loss_points(strikes, credit) * CONTRACT_MULTIPLIER * condor.quantity


@dataclass(frozen=True, slots=True)
class Greeks:
    """Position greeks in dollars, for one underlying.

    Attributes:
        delta: dollars per 1 index-point move of the underlying (equivalently,
            shares of the underlying held): ``sum(ratio * delta * 100 * qty)``.
        gamma: change of :attr:`delta` (dollars per point) per 1-point move:
            ``sum(ratio * gamma * 100 * qty)``.
        vega: dollars per 1 vol point (0.01) of implied volatility:
            ``sum(ratio * vega * qty)`` (domain vega is per 1.00 of vol and per
            share, so ``vega / 100 * 100``).
        theta: dollars per calendar day: ``sum(ratio * theta * 100 * qty)``.
    """

    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0

    def __add__(self, other: Greeks) -> Greeks:
        return Greeks(
            self.delta + other.delta,
            self.gamma + other.gamma,
            self.vega + other.vega,
            self.theta + other.theta,
        )


def structure_greeks(
    position: OpenStructure, quotes: QuoteSource, symbol: str | None = None
) -> Greeks:
    """Dollar greeks of one structure, optionally only its legs on ``symbol``.

    ``symbol=None`` sums every leg (use it only when all legs share one
    underlying, as in a condor or a hedge layer). Units: see :class:`Greeks`.

    Raises:
        ValueError: if a summed leg has no quote.
    """
    by_contract = quote_map(quotes)
    # the sums of Greeks() + one Greeks per leg, in the same order with the same
    # operations (so the same floats), without two objects per leg: the hedge
    # sizing and every mark ask for them
    quantity = position.quantity
    delta = gamma = vega = theta = 0.0
    for leg in position.legs:
        contract = leg.contract
        if symbol is not None and contract.symbol != symbol:
            continue
        quote = by_contract.get(contract)
        if quote is None:
            raise ValueError(
                f"no quote for leg {contract.local_symbol} of position {position.id!r}"
            )
        units = leg.ratio * quantity
        delta = delta + units * quote.delta * CONTRACT_MULTIPLIER
        gamma = gamma + units * quote.gamma * CONTRACT_MULTIPLIER
        vega = vega + units * quote.vega
        theta = theta + units * quote.theta * CONTRACT_MULTIPLIER
    return Greeks(delta, gamma, vega, theta)


def portfolio_greeks(
    structures: Iterable[OpenStructure], quotes: QuoteSource, symbol: str = "SPX"
) -> Greeks:
    """Sum the dollar greeks of every leg on ``symbol`` across ``structures``.

    Only legs whose underlying is ``symbol`` are summed, because greeks of
    different underlyings do not add: a VIX call's delta is per VIX-future
    point and its vega per point of VIX *option* implied vol (vol of vol), not
    per SPX point or SPX vol point. Call once with ``"SPX"`` (condors) and once
    with ``"VIX"`` (hedge layers). Units: see :class:`Greeks`.

    Raises:
        ValueError: if a leg on ``symbol`` has no quote.
    """
    by_contract = quote_map(quotes)
    total = Greeks()
    for position in structures:
        total = total + structure_greeks(position, by_contract, symbol)
    return total
