"""Interest on the simulated account's cash balance (replay, ``[replay] cash_rate``).

The whole cash balance earns the rate, including the part that Reg-T margin
holds against the defined-risk spreads: the account is modelled as fully
collateralised in 3-month T-bills, as Cboe's CNDR index assumes, and brokers
accept T-bills as margin collateral for option spreads. A negative balance
(never reached with the default sizing) pays the same rate.

Accrual is simple interest, credited at the first job of each session for the
calendar days since the previous session, on the balance carried over from
it (before any of the new session's fills or settlements: SPX options settle
in cash the next business day, so the expiry's proceeds earn from then on),
at the rate in force on the previous session::

    interest = balance * rate * days / 365      (dollars)

``rate`` is a bond-equivalent yield, decimal per year on an actual/365 basis
(:func:`daemon.marketdata.tbill.bond_equivalent_yield`). Crediting every
session compounds about daily while a rolled 91-day bill compounds
quarterly: at 5% a year that earns 5.13% instead of 5.09% of the balance, a
difference we accept for a simpler book.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["DAYS_PER_YEAR", "CashRate", "InterestCredit", "accrued_interest", "fixed_rate"]

#: Day-count denominator of the bond-equivalent yield (actual/365).
DAYS_PER_YEAR = 365.0

CashRate = Callable[[date], float]
"""The annual rate cash earns from a date on, decimal (actual/365, simple)."""


def fixed_rate(rate: float) -> CashRate:
    """A :data:`CashRate` that is ``rate`` (decimal per year) on every date."""

    def _rate(_day: date) -> float:
        return rate

    return _rate


def accrued_interest(balance: float, rate: float, days: int) -> float:
    """Simple interest on ``balance`` dollars at ``rate`` per year for ``days`` calendar days."""
    return balance * rate * days / DAYS_PER_YEAR


@dataclass(frozen=True, slots=True)
class InterestCredit:
    """Interest credited to the cash balance, journaled in ``interest`` (schema v4).

    Attributes:
        session: the session whose first job credited it (ISO date, New York).
        time: when it was credited (tz-aware).
        accrued_from: the previous session; interest covers ``accrued_from .. session``.
        days: calendar days accrued (``session - accrued_from``).
        balance: the cash balance it accrued on, dollars.
        rate: the annual rate used, decimal (actual/365, simple).
        amount: the interest, dollars (negative on a negative balance).
    """

    session: date
    time: datetime
    accrued_from: date
    days: int
    balance: float
    rate: float
    amount: float
