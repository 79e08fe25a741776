"""The simulated broker used by replay: quotes from the option models, fills at mid plus slippage.

It implements :class:`daemon.brokers.base.Broker` over real daily history
(a daily-bar replay). The market a call sees is what of the clock's session
is visible at the clock's time (:mod:`daemon.marketdata.visibility`): before
the close, SPX and the VIX family at the session's open with the previous
session's close-only series and futures settlements; from the close on, the
session's close. Quotes, marks, fills, the account and the margin what-if
all use that one visible context, so no job sees a later price.

Stops and profit targets between two checks (:meth:`SimulatedBroker.path_since`,
:mod:`strategies.exit_path`): once a session has closed, its range (SPX low
and high with the VIX high) is visible, and the broker marks the held
contracts at the open and at the range's extremes. A close order the exit
rule marks ``resting`` (a stop or target the range reached) fills at its limit
(the trigger level, or the open's mark on a gap) plus the fill model's
slippage, not at the current quotes; it is cancelled when no marked state of
the path reached its limit (:mod:`.session_path`). Fills, commissions and
cash settlement follow :class:`~daemon.brokers.fill_model.SimulationCosts` through
:func:`~daemon.brokers.fill_model.simulate_fill` (the model ``alvh run
--dry-run`` shares), and the settlement rules below (:mod:`.book`).

Interest: with a ``cash_rate`` the cash balance earns it,
credited by :meth:`SimulatedBroker.accrue_interest` at the first job of each
session (:mod:`daemon.brokers.interest`).

Settlement is in cash at expiry, at the SPX close (SPXW) or an opening-price
proxy for the SOQ (SPX monthlies, VIX options): :mod:`.book` gives the rules.

Modules: :mod:`.broker` (:class:`SimulatedBroker`: the visible context, the
quote caches, chains, orders, account), :mod:`.history` (:class:`History`,
what it reads from the bundle), :mod:`.quotes` (the vectorised pricing pass
over states, chain look-ups), :mod:`.session_path` (a closed session's
states, resting fills), :mod:`.book` (holdings, settlement).
"""

from daemon.brokers.simulated.book import (
    SPX_AM_SETTLEMENT_TIME,
    SPX_SETTLEMENT_TIME,
    VIX_SETTLEMENT_TIME,
)
from daemon.brokers.simulated.broker import SimulatedBroker
from daemon.brokers.simulated.history import History
from daemon.brokers.simulated.session_path import RESTING_TOLERANCE

__all__ = [
    "RESTING_TOLERANCE",
    "SPX_AM_SETTLEMENT_TIME",
    "SPX_SETTLEMENT_TIME",
    "VIX_SETTLEMENT_TIME",
    "History",
    "SimulatedBroker",
]
