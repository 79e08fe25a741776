"""The Interactive Brokers error-code policy, as one table.

TWS / IB Gateway reports everything through ``error(reqId, code, message)``:
real errors, order rejections, connectivity changes and plain information
("market data farm connection is OK"). :data:`ERROR_POLICIES` says, for every
code the adapter handles, how loud to log it, what the adapter does about it
(:class:`ErrorAction`) and what it means for the operator (the same text is in
``docs/interactive-brokers.md``). Codes not in the table are logged as
warnings (``2100``-``2199`` as info) and otherwise ignored.

It also defines the adapter's own :class:`~daemon.brokers.base.BrokerError`
subclasses, so callers can tell a refusal (client id in use, delayed data in
live mode) from a request that merely timed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from daemon.brokers.base import BrokerError, FatalBrokerError


class RequestTimeoutError(BrokerError):
    """IB did not answer one request within its timeout (``request_timeout_s``).

    Nothing about the request's effect can be assumed; a caller may retry it.
    """


class ClientIdInUseError(FatalBrokerError):
    """IB refused the API session: the client id is in use (error 326).

    Another API client - possibly another alvh on the same login - holds the
    id. The adapter never moves to another id: an order can only be managed by
    the client id that placed it.
    """


class DelayedDataRefusedError(FatalBrokerError):
    """Live trading was asked to run on delayed market data (types 3/4), or IB delivered it."""


class ErrorAction(StrEnum):
    """What the adapter does when it sees a code."""

    LOG = "log"  # log only
    CONNECTIVITY_LOST = "connectivity_lost"  # 1100: TWS lost IB; reconnect if it does not recover
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: re-subscribe market data, resync fills
    RESTORED = "restored"  # 1102: resync fills
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: connect fails (ClientIdInUseError)
    ORDER_REJECTED = "order_rejected"  # the order is dead: return REJECTED with the reason
    ORDER_CANCELLED = "order_cancelled"  # the order was cancelled (by us or by IB)
    MARKET_DATA_UNAVAILABLE = "market_data_unavailable"  # no quote will come for this request
    DELAYED_MARKET_DATA = "delayed_market_data"  # 10167: delayed data served (refused in live)
    REQUEST_FAILED = "request_failed"  # the request that asked gets a BrokerError (e.g. 162)


class Severity(StrEnum):
    """Log level used for a code (the names of the structlog methods)."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ErrorPolicy:
    """How one IB error code is handled.

    Attributes:
        code: IB's error code.
        severity: log level.
        action: what the adapter does.
        meaning: one line for the operator (what happened, what to do).
    """

    code: int
    severity: Severity
    action: ErrorAction
    meaning: str


_I, _W, _E, _D = Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.DEBUG
_A = ErrorAction

#: The table. Keep ``docs/interactive-brokers.md`` in step with it.
ERROR_POLICIES: dict[int, ErrorPolicy] = {
    p.code: p
    for p in (
        # -- connectivity --------------------------------------------------------
        ErrorPolicy(
            1100,
            _E,
            _A.CONNECTIVITY_LOST,
            "TWS/Gateway lost its connection to IB; the adapter waits for 1101/1102 and "
            "reconnects the API session if they do not come",
        ),
        ErrorPolicy(
            1101,
            _W,
            _A.RESTORED_DATA_LOST,
            "connection to IB restored, market data lost; the adapter re-subscribes and "
            "re-reads executions",
        ),
        ErrorPolicy(
            1102,
            _I,
            _A.RESTORED,
            "connection to IB restored, data maintained; the adapter re-reads executions",
        ),
        ErrorPolicy(
            1300,
            _W,
            _A.CONNECTIVITY_LOST,
            "TWS socket port was reset; the adapter reconnects",
        ),
        ErrorPolicy(
            326,
            _W,
            _A.CLIENT_ID_IN_USE,
            "API client id already in use (another alvh or a stale session); connect fails "
            "with ClientIdInUseError: stop the other client or set another broker.client_id",
        ),
        ErrorPolicy(
            502,
            _E,
            _A.LOG,
            "could not connect to TWS/Gateway: is it running, is the API enabled, is the "
            "port right (Gateway 4002 paper / 4001 live; TWS 7497 / 7496)?",
        ),
        ErrorPolicy(504, _E, _A.LOG, "not connected to TWS/Gateway"),
        # -- information -------------------------------------------------------------
        ErrorPolicy(2104, _I, _A.LOG, "market data farm connection is OK (information)"),
        ErrorPolicy(2106, _I, _A.LOG, "historical data farm connection is OK (information)"),
        ErrorPolicy(2158, _I, _A.LOG, "security definition server connection is OK (information)"),
        ErrorPolicy(2107, _I, _A.LOG, "historical data farm inactive but available (information)"),
        ErrorPolicy(2108, _I, _A.LOG, "market data farm inactive but available (information)"),
        ErrorPolicy(2119, _I, _A.LOG, "market data farm is connecting (information)"),
        ErrorPolicy(
            2103,
            _W,
            _A.LOG,
            "market data farm connection is broken; quotes may be missing until it recovers",
        ),
        ErrorPolicy(
            2105,
            _W,
            _A.LOG,
            "historical data farm connection is broken; settlement prices may be late",
        ),
        ErrorPolicy(
            2157,
            _W,
            _A.LOG,
            "security definition server connection is broken; chains may fail until it recovers",
        ),
        # -- market data ---------------------------------------------------------
        ErrorPolicy(
            354,
            _E,
            _A.MARKET_DATA_UNAVAILABLE,
            "market data not subscribed for this contract: subscribe to CBOE indexes "
            "(SPX, VIX, ...), OPRA (SPX/VIX options) and CFE (VIX futures), or use "
            "delayed data (market_data_type 3)",
        ),
        ErrorPolicy(
            10197,
            _E,
            _A.MARKET_DATA_UNAVAILABLE,
            "no market data during a competing live session: the same username is logged "
            "in to TWS/mobile elsewhere; log that session out or share data to paper",
        ),
        ErrorPolicy(
            10090,
            _W,
            _A.LOG,
            "part of the requested market data is not subscribed; greeks or some ticks "
            "may be missing",
        ),
        ErrorPolicy(
            10167,
            _W,
            _A.DELAYED_MARKET_DATA,
            "live data not subscribed, showing delayed data instead (refused in live mode)",
        ),
        ErrorPolicy(
            10168,
            _E,
            _A.MARKET_DATA_UNAVAILABLE,
            "delayed market data is not enabled for this account",
        ),
        ErrorPolicy(
            101,
            _E,
            _A.MARKET_DATA_UNAVAILABLE,
            "too many simultaneous market data lines; lower broker.market_data_lines_budget",
        ),
        ErrorPolicy(
            100,
            _E,
            _A.LOG,
            "API message rate exceeded (pacing); lower the request rate",
        ),
        ErrorPolicy(
            200,
            _W,
            _A.MARKET_DATA_UNAVAILABLE,
            "no security definition for the request (contract not listed)",
        ),
        ErrorPolicy(300, _D, _A.LOG, "cancel for an unknown market data ticker id"),
        # -- historical data -------------------------------------------------------
        ErrorPolicy(
            162,
            _E,
            _A.REQUEST_FAILED,
            "historical data request failed (no data, no permission or pacing); the "
            "settlement price is retried at the next job",
        ),
        # -- orders --------------------------------------------------------------
        ErrorPolicy(
            201,
            _E,
            _A.ORDER_REJECTED,
            "order rejected by IB; the reason is in the message (margin, permissions, price)",
        ),
        ErrorPolicy(
            202,
            _I,
            _A.ORDER_CANCELLED,
            "order cancelled (by alvh after its timeout, or by IB)",
        ),
        ErrorPolicy(103, _E, _A.ORDER_REJECTED, "duplicate order id"),
        ErrorPolicy(
            110,
            _E,
            _A.LOG,
            "price does not conform to the minimum tick; check the order's tick setting",
        ),
        ErrorPolicy(
            135,
            _W,
            _A.LOG,
            "the order to modify or cancel is not known to IB (not taken as a cancel)",
        ),
        ErrorPolicy(
            161,
            _W,
            _A.LOG,
            "cancel attempted while the order is not cancellable (already filling); the "
            "order's fate stays unknown until IB reports it",
        ),
        ErrorPolicy(
            10147,
            _W,
            _A.LOG,
            "cancel for an order IB does not know (already filled or cancelled; not taken "
            "as a cancel)",
        ),
        ErrorPolicy(
            10148,
            _W,
            _A.LOG,
            "order cannot be cancelled in its current state (not taken as a cancel)",
        ),
        ErrorPolicy(
            399,
            _W,
            _A.LOG,
            "order message warning (e.g. will be placed at the next session open)",
        ),
    )
}


def classify(code: int) -> ErrorPolicy:
    """The policy for ``code``; unknown codes log as warnings (2100-2199 as info)."""
    policy = ERROR_POLICIES.get(code)
    if policy is not None:
        return policy
    if 2100 <= code < 2200:
        return ErrorPolicy(code, Severity.INFO, ErrorAction.LOG, "information from TWS")
    return ErrorPolicy(code, Severity.WARNING, ErrorAction.LOG, "unhandled IB message")
