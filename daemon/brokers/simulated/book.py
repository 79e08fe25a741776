"""The simulated broker's book: holdings at average cost, and cash settlement at expiry.

Settlement (cash, at expiry):

* SPXW (PM-settled): the SPX close of the expiry session, at that session's
  close (16:00 ET, 13:00 ET on early closes).
* SPX (AM-settled standard monthlies, :mod:`daemon.brokers.monthly`): the
  SOQ of the expiry morning, for which the bundle has no series; the proxy
  is the SPX *open* of the expiry session, at 09:30 ET.
* VIX options: the special opening quotation (SOQ) of expiry morning, for
  which the bundled data has no series; the proxy is the VIX *open* of the
  expiry session (the previous close when the open is missing), at 09:30 ET.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from daemon.brokers.base import Fill
from daemon.brokers.simulated.history import History
from daemon.clock import NEW_YORK
from strategies.domain import OptionContract

SPX_SETTLEMENT_TIME = time(16, 0)
VIX_SETTLEMENT_TIME = time(9, 30)
#: AM-settled SPX monthlies settle to the SOQ: the open is its proxy.
SPX_AM_SETTLEMENT_TIME = time(9, 30)


@dataclass(slots=True)
class Holding:
    """A held contract: signed quantity (contracts) and average cost (index points per share)."""

    quantity: int
    avg_cost: float


def apply_fill(holdings: dict[OptionContract, Holding], fill: Fill) -> None:
    """Fold ``fill`` into ``holdings`` (the cash is the caller's)."""
    contract = fill.contract
    holding = holdings.get(contract)
    if holding is None:
        holdings[contract] = Holding(fill.quantity, fill.price)
        return
    new_qty = holding.quantity + fill.quantity
    if new_qty == 0:
        del holdings[contract]
    elif (holding.quantity > 0) == (fill.quantity > 0):
        total = holding.quantity + fill.quantity
        holding.avg_cost = (
            holding.avg_cost * holding.quantity + fill.price * fill.quantity
        ) / total
        holding.quantity = new_qty
    else:
        if (new_qty > 0) != (holding.quantity > 0):
            # The fill went through zero: what remains was opened at this fill's price.
            holding.avg_cost = fill.price
        holding.quantity = new_qty


def settlement_value(history: History, contract: OptionContract) -> float:
    """The expiry session's SPX close (SPXW), SPX open (SPX monthlies) or VIX open."""
    if contract.symbol == "VIX":
        return history.vix_settlement(contract.expiry)
    if contract.trading_class == "SPX":
        return history.spx_am_settlement(contract.expiry)
    return history.spx_settlement(contract.expiry)


def pm_settlement_time(
    contract: OptionContract, session_close: Callable[[date], datetime] | None
) -> time:
    """The close of the expiry session (13:00 ET on early closes), else 16:00 ET."""
    if session_close is None:
        return SPX_SETTLEMENT_TIME
    return session_close(contract.expiry).astimezone(NEW_YORK).time()


def settlement_time(
    contract: OptionContract, session_close: Callable[[date], datetime] | None
) -> time:
    """When ``contract`` settles on its expiry day (New York time)."""
    if contract.symbol == "VIX":
        return VIX_SETTLEMENT_TIME
    if contract.trading_class == "SPX":
        return SPX_AM_SETTLEMENT_TIME
    return pm_settlement_time(contract, session_close)
