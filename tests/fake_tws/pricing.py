"""Quotes and model greeks the fake TWS serves: Black-76 with a simple skew, Cboe ticks."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Greeks:
    """Model option computation (tickOptionComputation fields)."""

    implied_vol: float
    delta: float
    gamma: float
    vega: float
    theta: float
    opt_price: float
    und_price: float
    pv_dividend: float = 0.0


@dataclass(slots=True)
class Quote:
    """Top-of-book quote for one contract; None fields are not sent."""

    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    close: float | None = None
    bid_size: float = 10.0
    ask_size: float = 10.0
    last_size: float = 1.0
    greeks: Greeks | None = None

    @property
    def mid(self) -> float | None:
        """Midpoint of bid and ask, else last, else None."""
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black76(
    forward: float, strike: float, years: float, vol: float, rate: float, right: str
) -> tuple[float, float, float, float, float]:
    """Black-76 price and greeks: (price, delta, gamma, vega per vol point, theta per day)."""
    years = max(years, 1e-6)
    sq = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * sq * sq) / sq
    d2 = d1 - sq
    df = math.exp(-rate * years)
    if right == "C":
        price = df * (forward * _norm_cdf(d1) - strike * _norm_cdf(d2))
        delta = _norm_cdf(d1)
    else:
        price = df * (strike * _norm_cdf(-d2) - forward * _norm_cdf(-d1))
        delta = _norm_cdf(d1) - 1.0
    gamma = df * _norm_pdf(d1) / (forward * sq)
    vega = df * forward * _norm_pdf(d1) * math.sqrt(years) / 100.0
    theta = -(df * forward * _norm_pdf(d1) * vol / (2.0 * math.sqrt(years))) / 365.0
    return price, delta, gamma, vega, theta


def to_tick(value: float, tick: float, mode: str = "nearest") -> float:
    """Round ``value`` to a multiple of ``tick`` (``mode``: nearest, down or up)."""
    units = value / tick
    if mode == "down":
        n = math.floor(units + 1e-9)
    elif mode == "up":
        n = math.ceil(units - 1e-9)
    else:
        n = round(units)
    return round(n * tick, 4)


def option_tick(price: float) -> float:
    """Cboe index option minimum tick: 0.05 below $3, 0.10 at or above."""
    return 0.05 if price < 3.0 else 0.10
