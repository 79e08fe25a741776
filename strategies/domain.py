"""Domain types shared by the pure strategy core and the daemon shell.

Conventions used everywhere in alvh:

* Prices of SPX and VIX options are in **index points** per share; one contract
  is worth ``multiplier`` (100) dollars per index point.
* A leg's ``ratio`` is signed: ``+1`` long (bought), ``-1`` short (sold).
* A combo's net price is **positive for a debit paid and negative for a credit
  received** (index points per combo unit). An iron condor opened for a 2.35
  credit therefore has a net price of ``-2.35``. The Interactive Brokers adapter
  translates this to IB's BAG convention at its boundary.
* Volatility is a decimal (0.20 = 20 vol points) unless a name says ``_pts``.
* Greeks are per one contract-unit *share* (not multiplied by 100): delta per
  index point, gamma per index point squared, vega per 1.00 of vol (decimal;
  divide by 100 for one vol point), theta per calendar day.
* Dates are exchange session dates (America/New_York); DTE is calendar days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Dollars per index point for one SPX or VIX option contract.
CONTRACT_MULTIPLIER = 100


class Right(StrEnum):
    """Option right."""

    CALL = "C"
    PUT = "P"


@dataclass(frozen=True, slots=True)
class OptionContract:
    """One listed option.

    Attributes:
        symbol: underlying symbol, ``"SPX"`` or ``"VIX"``.
        trading_class: ``"SPXW"`` (PM-settled SPX weeklies/dailies), ``"SPX"``
            (AM-settled monthlies) or ``"VIX"``.
        expiry: last trading date (session date, America/New_York).
        strike: strike in index points.
        right: call or put.
        multiplier: dollars per index point (100).
    """

    symbol: str
    trading_class: str
    expiry: date
    strike: float
    right: Right
    multiplier: int = CONTRACT_MULTIPLIER
    # Contracts key every quote, holding and fill map: a replay hashes about 400
    # per session, and the generated __hash__ rebuilt a six-field tuple each time.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the value the generated __hash__ gave (same set and dict behaviour)
        object.__setattr__(self, "_hash", hash(self._fields()))

    def _fields(self) -> tuple[str, str, date, float, Right, int]:
        return (
            self.symbol,
            self.trading_class,
            self.expiry,
            self.strike,
            self.right,
            self.multiplier,
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[OptionContract], tuple[object, ...]]:
        # str hashes differ between processes: unpickling recomputes the hash
        return (OptionContract, self._fields())

    def intrinsic(self, underlying: float) -> float:
        """Exercise value per share at ``underlying`` (index points), never negative."""
        if self.right is Right.CALL:
            return max(underlying - self.strike, 0.0)
        return max(self.strike - underlying, 0.0)

    @property
    def local_symbol(self) -> str:
        """Readable, unique key such as ``"SPXW 2023-02-17 P 4000"``."""
        return f"{self.trading_class} {self.expiry.isoformat()} {self.right.value} {self.strike:g}"


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a combo: a contract and a signed ratio (+1 long, -1 short)."""

    contract: OptionContract
    ratio: int


@dataclass(frozen=True, slots=True)
class ChainSlice:
    """Quotes for one expiry and one right, as parallel arrays sorted by strike.

    All arrays have the same length ``n``. Prices in index points; greeks per
    share as in the module docstring; ``iv`` decimal. ``forward`` is the price
    the options are struck against (SPX forward for SPX options; the VIX
    future of the same expiry for VIX options). ``dte`` is calendar days from
    the quote date to expiry; ``t_years`` the year fraction the pricing model
    used.
    """

    symbol: str
    trading_class: str
    expiry: date
    right: Right
    dte: int
    t_years: float
    forward: float
    strikes: FloatArray
    bid: FloatArray
    ask: FloatArray
    iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray

    @property
    def mid(self) -> FloatArray:
        """Mid price per strike, index points."""
        return (self.bid + self.ask) * 0.5

    def quoted(self) -> npt.NDArray[np.bool_]:
        """Mask of strikes with a finite two-sided quote (0 <= bid <= ask) and a finite delta."""
        return (
            np.isfinite(self.bid)
            & np.isfinite(self.ask)
            & np.isfinite(self.delta)
            & (self.bid >= 0.0)
            & (self.ask >= self.bid)
        )

    def contract(self, index: int) -> OptionContract:
        """The contract at array position ``index``."""
        return OptionContract(
            self.symbol, self.trading_class, self.expiry, float(self.strikes[index]), self.right
        )


@dataclass(frozen=True, slots=True)
class LegQuote:
    """A quote and model greeks for one contract (per share, index points)."""

    contract: OptionContract
    bid: float
    ask: float
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) * 0.5


@dataclass(frozen=True, slots=True)
class MarketContext:
    """The market levels a decision may look at, for one point in time.

    Index levels in index points; ``vix_futures`` maps each VIX futures
    expiry (final settlement date) to its price in VIX points, front first.
    ``None`` means the series has no value for that session (e.g. VIX9D before
    2011). ``advancing``/``declining`` are NYSE issue counts.
    """

    session: date
    spx: float
    vix: float
    vix9d: float | None = None
    vix3m: float | None = None
    vvix: float | None = None
    skew: float | None = None
    vix_futures: Mapping[date, float] = field(default_factory=dict)
    advancing: int | None = None
    declining: int | None = None


class Action(StrEnum):
    """What a decision asks the engine to do.

    ``OPEN`` a new structure; ``CLOSE`` all or part of ``position_id``;
    ``ADJUST`` trade some legs of ``position_id`` (e.g. shift a wing);
    ``ROLL`` open the successor of ``position_id`` (its parent), after a plan's
    CLOSE of it; ``SKIP`` / ``HOLD`` nothing to trade; ``ERROR`` a rule raised.
    """

    OPEN = "open"
    CLOSE = "close"
    ADJUST = "adjust"
    ROLL = "roll"
    SKIP = "skip"
    HOLD = "hold"
    ERROR = "error"

    @property
    def trades(self) -> bool:
        """Whether a decision with this action sends an order."""
        return self in _TRADING_ACTIONS

    @property
    def opens_structure(self) -> bool:
        """Whether the order's fills make a new structure (OPEN, ROLL)."""
        return self in (Action.OPEN, Action.ROLL)


class Structure(StrEnum):
    """The kind of position a decision is about."""

    CONDOR = "condor"
    HEDGE_LAYER = "hedge_layer"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one strategy rule: data plus the reasons behind it.

    A decision is journaled before it becomes an order. ``limit_price`` is the
    net combo price per unit in index points (positive debit, negative credit);
    ``quantity`` the number of combo units (contracts per leg x ratio).
    ``inputs`` holds every number the rule looked at, so the journal can
    explain the decision later; ``position_id`` names the position a CLOSE
    or ADJUST acts on, or the parent a ROLL succeeds; ``tag`` labels a new
    structure (e.g. a hedge rung). ``resting`` marks a close that stands for
    a stop or target order resting at ``limit_price`` which the market reached
    between two checks (:mod:`strategies.exit_path`): a simulated broker fills
    it at that price plus slippage; a live broker sends it as a plain limit.
    ``natural_price`` is the net price of ``legs`` at their natural (each
    bought leg at its ask, each sold leg at its bid; index points, + debit)
    on the quotes the rule priced the decision on, or ``None`` when the rule
    did not compute it; the executor may let a risk-reducing order concede up
    to it (``daemon.order_policy.OrderPolicy``).
    """

    rule: str
    action: Action
    structure: Structure
    reason: str
    inputs: Mapping[str, float | int | str | None]
    legs: tuple[Leg, ...] = ()
    quantity: int = 0
    limit_price: float | None = None
    position_id: str | None = None
    tag: str | None = None
    resting: bool = False
    natural_price: float | None = None

    @property
    def places_order(self) -> bool:
        return self.action.trades and self.quantity > 0 and self.limit_price is not None


_TRADING_ACTIONS = frozenset({Action.OPEN, Action.CLOSE, Action.ADJUST, Action.ROLL})


def natural_price(legs: Sequence[Leg], quotes: Mapping[OptionContract, LegQuote]) -> float | None:
    """Net price of ``legs`` at their natural, index points (+ debit, - credit).

    Each bought leg (ratio > 0) at its ask, each sold leg at its bid: what a
    marketable order crossing every leg's spread pays. A sold leg without a
    usable bid (IB reports -1 or NaN) counts 0, as an exit values it.

    Returns:
        The net price, or ``None`` when a leg has no quote or a bought leg
        has no finite ask.
    """
    total = 0.0
    for leg in legs:
        quote = quotes.get(leg.contract)
        if quote is None:
            return None
        if leg.ratio > 0:
            if not math.isfinite(quote.ask):
                return None
            total += leg.ratio * quote.ask
        else:
            bid = quote.bid if math.isfinite(quote.bid) and quote.bid >= 0.0 else 0.0
            total += leg.ratio * bid
    return total
