"""IB contract definitions and conversions to and from :mod:`strategies.domain`.

Products:

* SPX index: ``Index("SPX", "CBOE")``; VIX, VIX9D, VIX3M, VVIX and SKEW are
  CBOE indexes too.
* SPXW options: ``Option("SPX", expiry, strike, right, "SMART",
  tradingClass="SPXW")`` - PM-settled weeklies/dailies (last trade 16:00 ET).
  ``tradingClass="SPX"`` are the AM-settled monthlies.
* VIX futures: ``Future("VIX", exchange="CFE")`` with trading class ``VX``
  (the weekly ``VX01``.. classes are ignored), multiplier 1000.
* VIX options: ``Option("VIX", ..., tradingClass="VIX")``, AM-settled on the
  VIX special opening quotation; priced off the VIX future of the same expiry.

Strike windows: a decision only asks quotes for strikes inside
``forward +- forward * iv * sqrt(T) * n`` (the expected move, ``n`` standard
deviations), on the out-of-the-money side of each right, so one decision fits
the market-data line budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time

from ib_async import Contract, Future, Index, Option

from daemon.clock import NEW_YORK
from strategies.domain import CONTRACT_MULTIPLIER, OptionContract, Right

#: Index symbols read by ``market_context`` (all on CBOE); SPX and VIX are required.
CONTEXT_INDICES: tuple[str, ...] = ("SPX", "VIX", "VIX9D", "VIX3M", "VVIX", "SKEW")

#: VIX futures trading class (monthlies); weeklies use VX01..VX52 and are ignored.
VIX_FUTURE_CLASS = "VX"

#: Settlement time of PM-settled SPXW options (ET) and AM-settled VIX / SPX options.
PM_SETTLEMENT = time(16, 0)
AM_SETTLEMENT = time(9, 30)

#: Regular close of the Cboe index session (ET); a settlement value is asked for after it.
SESSION_CLOSE = time(16, 0)

SECONDS_PER_YEAR = 365.0 * 86400.0


def index(symbol: str) -> Contract:
    """A CBOE index contract (``SPX``, ``VIX``, ``VIX9D``, ...)."""
    return Index(symbol, "CBOE", "USD")


def vix_futures_query() -> Contract:
    """Query contract for every listed VIX future (filter the class afterwards)."""
    return Future("VIX", exchange="CFE", currency="USD")


def option_query(symbol: str, trading_class: str, expiry: date, right: Right) -> Contract:
    """Query contract for every strike of one expiry and right (contract details)."""
    return Option(
        symbol,
        ib_date(expiry),
        0.0,
        right.value,
        "SMART",
        currency="USD",
        tradingClass=trading_class,
    )


def ib_option(contract: OptionContract) -> Contract:
    """The ib_async option for ``contract`` (unqualified: no conId)."""
    return Option(
        contract.symbol,
        ib_date(contract.expiry),
        contract.strike,
        contract.right.value,
        "SMART",
        multiplier=str(contract.multiplier),
        currency="USD",
        tradingClass=contract.trading_class,
    )


def ib_date(day: date) -> str:
    """``yyyymmdd`` as IB writes expiries."""
    return day.strftime("%Y%m%d")


def parse_ib_date(text: str) -> date:
    """An IB expiry (``yyyymmdd``, possibly followed by a time) as a date."""
    return datetime.strptime(text[:8], "%Y%m%d").date()


def to_option_contract(contract: Contract) -> OptionContract | None:
    """The domain contract for an ib_async option; ``None`` for anything else."""
    if contract.secType not in ("OPT", "FOP") or not contract.lastTradeDateOrContractMonth:
        return None
    right = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}.get(
        contract.right.upper()
    )
    if right is None:
        return None
    try:
        multiplier = int(float(contract.multiplier)) if contract.multiplier else 0
    except ValueError:
        multiplier = 0
    return OptionContract(
        contract.symbol,
        contract.tradingClass or contract.symbol,
        parse_ib_date(contract.lastTradeDateOrContractMonth),
        float(contract.strike),
        right,
        multiplier or CONTRACT_MULTIPLIER,
    )


def settlement_time(symbol: str, trading_class: str) -> time:
    """Settlement time (ET) of an option class: 16:00 for SPXW, 09:30 for SPX/VIX."""
    if symbol == "SPX" and trading_class == "SPXW":
        return PM_SETTLEMENT
    return AM_SETTLEMENT


def years_to_expiry(now: datetime, expiry: date, symbol: str, trading_class: str) -> float:
    """Year fraction (365-day) from ``now`` to the option's settlement, at least one minute."""
    end = datetime.combine(expiry, settlement_time(symbol, trading_class), NEW_YORK)
    seconds = (end - now).total_seconds()
    return max(seconds, 60.0) / SECONDS_PER_YEAR


def expected_move(forward: float, iv: float, years: float, n_sd: float) -> float:
    """``forward * iv * sqrt(years) * n_sd``, index points (iv decimal)."""
    return forward * iv * math.sqrt(max(years, 0.0)) * n_sd


def strike_window(
    strikes: Sequence[float], forward: float, move: float, right: Right, itm_steps: int = 1
) -> list[float]:
    """Strikes to quote for one right: out of the money within ``move`` of ``forward``.

    Puts take ``forward - move <= K``, calls ``K <= forward + move``; both keep
    ``itm_steps`` listed strikes on the in-the-money side of the forward so the
    at-the-money strike is always included. Returned sorted ascending.
    """
    ordered = sorted(set(strikes))
    if not ordered:
        return []
    if right is Right.PUT:
        otm = [k for k in ordered if forward - move <= k <= forward]
        itm = [k for k in ordered if k > forward][:itm_steps]
    else:
        otm = [k for k in ordered if forward <= k <= forward + move]
        itm = [k for k in ordered if k < forward][-itm_steps:] if itm_steps else []
    return sorted(set(otm) | set(itm))
